"""DurableQueue: an SQS queue that cannot lose a message quietly."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .nag import acknowledge

__all__ = ["DEFAULT_MAX_RECEIVE_COUNT", "DurableQueue"]

DEFAULT_MAX_RECEIVE_COUNT = 5
"""AWS recommends at least 5 receives before redrive for Lambda consumers: fewer and throttled or partially failed
batches push healthy messages into the DLQ."""


class DurableQueue(Construct):
    """An SQS queue with a dead-letter queue, encryption, TLS-only access and alarms.

    Example::

        orders = DurableQueue(self, "Orders", consumer_timeout=Duration.seconds(30), allow_services=["sns"])
        orders.queue, orders.dead_letter_queue, orders.key

    :param fifo: FIFO queue (and FIFO DLQ). Default: standard.
    :param consumer_timeout: timeout of the Lambda function consuming the queue; the visibility timeout is set to at
        least 6x this plus ``max_batching_window``, as AWS recommends. Default: 30 s assumed.
    :param max_batching_window: the consumer's batching window. Default: 0.
    :param visibility_timeout: a larger visibility timeout. Default: computed as above.
    :param max_receive_count: receives before SQS moves a message to the DLQ. Default: 5.
    :param retention_period: Default: 4 days (SQS default). The DLQ always keeps messages 14 days (the maximum).
    :param allow_services: service principals that must deliver to the queue ("sns", "events"); they get use of the
        queue's KMS key. Default: none.
    :param encryption_key: customer-managed key to encrypt with. Default: a new rotating KMS key when
        ``allow_services`` is set (SNS and EventBridge cannot use SQS-managed keys... nor the AWS managed key),
        SQS-managed SSE otherwise.
    :param alarms: create alarms on DLQ depth (>= 1 message) and oldest message age. Default: True.
    :param max_message_age: age of the oldest message that raises the age alarm. Default: 15 minutes.
    :param content_based_deduplication: FIFO only. Default: False.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        fifo: bool = False,
        consumer_timeout: Duration | None = None,
        max_batching_window: Duration | None = None,
        visibility_timeout: Duration | None = None,
        max_receive_count: int = DEFAULT_MAX_RECEIVE_COUNT,
        retention_period: Duration | None = None,
        allow_services: Sequence[str] = (),
        encryption_key: kms.IKey | None = None,
        alarms: bool = True,
        max_message_age: Duration | None = None,
        content_based_deduplication: bool | None = None,
    ) -> None:
        super().__init__(scope, id)
        if max_receive_count < 1:
            raise ValueError(f"{self.node.path}: max_receive_count must be >= 1, got {max_receive_count}")
        consumer = (consumer_timeout or Duration.seconds(30)).to_seconds()
        window = (max_batching_window or Duration.seconds(0)).to_seconds()
        required = int(6 * consumer + window)
        if visibility_timeout is not None and visibility_timeout.to_seconds() < required:
            raise ValueError(
                f"{self.node.path}: visibility timeout {visibility_timeout.to_seconds()} s is shorter than 6 x the "
                f"consumer timeout + batching window ({required} s); in-flight messages would be delivered twice. "
                "Raise it or leave it unset"
            )
        visibility = visibility_timeout or Duration.seconds(min(required, 43_200))

        self.key: kms.IKey | None = encryption_key
        if self.key is None and allow_services:
            self.key = kms.Key(
                self,
                "Key",
                enable_key_rotation=True,
                description=f"Encrypts {self.node.path} and its DLQ",
                removal_policy=RemovalPolicy.DESTROY,
            )
        services = [f"{name}.amazonaws.com" if "." not in name else name for name in allow_services]
        if self.key is not None and services:
            self.key.add_to_resource_policy(
                iam.PolicyStatement(
                    actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                    principals=[iam.ServicePrincipal(s) for s in services],
                    resources=["*"],  # in a key policy "*" means this key
                )
            )
        encryption = sqs.QueueEncryption.KMS if self.key is not None else sqs.QueueEncryption.SQS_MANAGED

        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetters",
            fifo=fifo or None,
            retention_period=Duration.days(14),
            encryption=encryption,
            encryption_master_key=self.key,
            enforce_ssl=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        acknowledge(self.dead_letter_queue, "dlq-without-dlq")
        self.queue = sqs.Queue(
            self,
            "Queue",
            fifo=fifo or None,
            content_based_deduplication=content_based_deduplication if fifo else None,
            visibility_timeout=visibility,
            retention_period=retention_period,
            encryption=encryption,
            encryption_master_key=self.key,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=max_receive_count, queue=self.dead_letter_queue),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.max_receive_count = max_receive_count
        self.visibility_timeout = visibility

        self.dlq_alarm: cloudwatch.Alarm | None = None
        self.age_alarm: cloudwatch.Alarm | None = None
        if alarms:
            self.dlq_alarm = self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(1), statistic="Maximum"
            ).create_alarm(
                self,
                "DeadLettersAlarm",
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=f"Messages in the dead-letter queue of {self.node.path}: inspect and redrive",
            )
            self.age_alarm = self.queue.metric_approximate_age_of_oldest_message(
                period=Duration.minutes(1), statistic="Maximum"
            ).create_alarm(
                self,
                "OldestMessageAlarm",
                threshold=(max_message_age or Duration.minutes(15)).to_seconds(),
                evaluation_periods=5,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=f"Consumers of {self.node.path} are falling behind",
            )

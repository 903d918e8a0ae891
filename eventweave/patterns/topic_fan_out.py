"""TopicFanOut: an SNS topic -> N subscribers, each an SQS queue (+DLQ) drained by its own Lambda function."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from eventweave.constructs.nag import acknowledge
from eventweave.constructs.queue import DEFAULT_MAX_RECEIVE_COUNT, DurableQueue
from eventweave.handlers.base import BaseHandler

from .queue_worker import QueueWorker

__all__ = [
    "FanOutSubscriber",
    "SecureTopic",
    "Subscriber",
    "SubscriptionDeadLetterQueue",
    "TopicFanOut",
    "grant_publish",
]

_RESTRICT_SNS_KEY_USE = "@aws-cdk/aws-sns-subscriptions:restrictSqsDescryption"
"""CDK feature flag (its spelling): SqsSubscription scopes the queue key's grant to SNS with ``aws:SourceArn``."""


def grant_publish(topic: sns.ITopic, grantee: iam.IGrantable) -> iam.Grant:
    """Allow ``grantee`` to publish to ``topic``: ``sns:Publish`` on it and, when it is encrypted, exactly the two KMS
    actions publishing needs (``kms:GenerateDataKey``, ``kms:Decrypt``) on its key.

    ``ITopic.grant_publish`` grants ``kms:GenerateDataKey*`` (a wildcard AwsSolutions-IAM5 flags). A principal of this
    account gets an IAM statement; a service principal (``events.amazonaws.com``, ``cloudwatch.amazonaws.com``) gets
    topic-policy and key-policy statements: give it conditions (``iam.ServicePrincipal(..., conditions=...)``) to
    scope it to your rule or alarm.
    """
    grant = iam.Grant.add_to_principal_or_resource(
        grantee=grantee, actions=["sns:Publish"], resource_arns=[topic.topic_arn], resource=topic
    )
    if topic.master_key is not None:
        topic.master_key.grant(grantee, "kms:GenerateDataKey", "kms:Decrypt")
    return grant


class SecureTopic(Construct):
    """An SNS topic encrypted with a customer-managed KMS key, TLS-only, with SHA256 message signatures.

    SNS encrypts messages at rest with the topic's key, so whoever publishes needs ``kms:GenerateDataKey`` and
    ``kms:Decrypt`` on it: :meth:`grant_publish` grants both with ``sns:Publish`` (for a service principal such as
    ``events.amazonaws.com``, the grants go to the topic policy and the key policy).

    Example::

        orders = SecureTopic(self, "Orders", publishers=[checkout.function])
        orders.topic, orders.key

    :param fifo: a FIFO topic (``.fifo`` name generated). Default: standard.
    :param content_based_deduplication: FIFO only. Default: off (publishers set a deduplication id).
    :param encryption_key: the key to encrypt with. Default: a new key with rotation on.
    :param publishers: principals allowed to publish (``sns:Publish`` plus use of the key). Default: none.
    :param topic_name: Default: generated.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        fifo: bool = False,
        content_based_deduplication: bool | None = None,
        encryption_key: kms.IKey | None = None,
        publishers: Sequence[iam.IGrantable] = (),
        topic_name: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        if content_based_deduplication and not fifo:
            raise ValueError(f"{self.node.path}: content_based_deduplication needs a FIFO topic (fifo=True)")
        self.key: kms.IKey = encryption_key or kms.Key(
            self,
            "Key",
            enable_key_rotation=True,
            description=f"Encrypts messages of the SNS topic {self.node.path}",
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.topic = sns.Topic(
            self,
            "Topic",
            fifo=fifo or None,
            content_based_deduplication=content_based_deduplication if fifo else None,
            master_key=self.key,
            enforce_ssl=True,
            signature_version="2",
            topic_name=topic_name,
        )
        for publisher in publishers:
            grant_publish(self.topic, publisher)

    def grant_publish(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to publish (``sns:Publish`` and use of the topic's key); see :func:`grant_publish`."""
        return grant_publish(self.topic, grantee)


class SubscriptionDeadLetterQueue(Construct):
    """The dead-letter queue of an SNS subscription (its redrive policy): notifications SNS could not deliver.

    SNS retries a Lambda or SQS endpoint for days; what it still cannot deliver (endpoint deleted, policy or key
    denying SNS) is discarded unless the subscription has a dead-letter queue. This one is encrypted with a KMS key
    SNS may use for ``topic`` only (``aws:SourceArn``), TLS-only, keeps messages 14 days and alarms on the
    first one. It has no DLQ of its own: it is the end of the line.

    Example::

        undelivered = SubscriptionDeadLetterQueue(self, "Undelivered", topic=orders.topic)
        topic.add_subscription(subscriptions.LambdaSubscription(fn, dead_letter_queue=undelivered.queue))

    :param topic: the topic whose subscription redrives here.
    :param key: KMS key to encrypt with; SNS must be allowed to use it for ``topic`` (an ``SqsSubscription`` to a
        queue under the same key adds that grant). Default: a new key with rotation on, SNS allowed for ``topic``.
    :param fifo: FIFO queue (a FIFO topic's subscription needs one). Default: standard.
    :param alarm: alarm when the queue holds a message. Default: True.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        topic: sns.ITopic,
        key: kms.IKey | None = None,
        fifo: bool = False,
        alarm: bool = True,
    ) -> None:
        super().__init__(scope, id)
        self.key: kms.IKey = key or kms.Key(
            self,
            "Key",
            enable_key_rotation=True,
            description=f"Encrypts the subscription dead-letter queue {self.node.path}",
            removal_policy=RemovalPolicy.DESTROY,
        )
        if key is None:
            # CDK's subscription adds the queue policy (sqs:SendMessage for this topic), not the key grant.
            self.key.add_to_resource_policy(
                iam.PolicyStatement(
                    actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                    principals=[iam.ServicePrincipal("sns.amazonaws.com")],
                    resources=["*"],  # in a key policy "*" means this key
                    conditions={"ArnEquals": {"aws:SourceArn": topic.topic_arn}},
                )
            )
        self.queue = sqs.Queue(
            self,
            "Queue",
            fifo=fifo or None,
            retention_period=Duration.days(14),
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.key,
            enforce_ssl=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        acknowledge(self.queue, "dlq-without-dlq")
        acknowledge(self.queue, "sns-subscription-dlq")
        self.alarm: cloudwatch.Alarm | None = None
        if alarm:
            self.alarm = self.queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(1), statistic="Maximum"
            ).create_alarm(
                self,
                "Alarm",
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=(
                    f"Notifications SNS could not deliver, in {self.node.path}: fix the endpoint, then redrive"
                ),
            )


@dataclass(frozen=True)
class Subscriber:
    """One subscriber of a :class:`TopicFanOut`, declared up front (the options of :meth:`TopicFanOut.add_subscriber`).

    Example::

        TopicFanOut(self, "Orders", subscribers=[
            Subscriber("Stock", ReserveStock),
            Subscriber("Large", FlagLargeOrder,
                       filter_policy_with_message_body={"amount": sns.FilterOrPolicy.filter(
                           sns.SubscriptionFilter.numeric_filter(greater_than_or_equal_to=1000))}),
        ])
    """

    id: str
    handler: type[BaseHandler[Any, Any]]
    filter_policy: Mapping[str, sns.SubscriptionFilter] | None = None
    filter_policy_with_message_body: Mapping[str, sns.FilterOrPolicy] | None = None
    raw_message_delivery: bool = True
    batch_size: int = 10
    max_batching_window: Duration | None = None
    max_concurrency: int | None = None
    max_receive_count: int = DEFAULT_MAX_RECEIVE_COUNT
    timeout: Duration | None = None
    idempotency_table: dynamodb.ITable | None = None
    function_props: Mapping[str, Any] = field(default_factory=dict)


class FanOutSubscriber(Construct):
    """A subscriber of a :class:`TopicFanOut`: its own queue (+DLQ), subscription (+redrive queue) and worker.

    Created by :meth:`TopicFanOut.add_subscriber`; the attributes are what it provisions.

    Example::

        stock = fan_out.add_subscriber("Stock", handler=ReserveStock)
        stock.queue, stock.dead_letter_queue, stock.subscription_dead_letter_queue
        stock.function, stock.subscription, stock.event_source
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        topic: sns.ITopic,
        handler: type[BaseHandler[Any, Any]],
        fifo: bool,
        filter_policy: Mapping[str, sns.SubscriptionFilter] | None,
        filter_policy_with_message_body: Mapping[str, sns.FilterOrPolicy] | None,
        raw_message_delivery: bool,
        batch_size: int,
        max_batching_window: Duration | None,
        max_concurrency: int | None,
        max_receive_count: int,
        timeout: Duration | None,
        idempotency_table: dynamodb.ITable | None,
        function_props: Mapping[str, Any],
    ) -> None:
        super().__init__(scope, id)
        timeout = timeout or Duration.seconds(30)
        # One key for the subscriber's three queues. SNS may use it for exactly this topic: SqsSubscription adds
        # the key-policy statement (scoped with aws:SourceArn under TopicFanOut's feature flag).
        self.key = kms.Key(
            self,
            "Key",
            enable_key_rotation=True,
            description=f"Encrypts the queues of {self.node.path}",
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.durable_queue = DurableQueue(
            self,
            "Queue",
            fifo=fifo,
            consumer_timeout=timeout,
            max_batching_window=max_batching_window,
            max_receive_count=max_receive_count,
            encryption_key=self.key,
        )
        self.queue: sqs.IQueue = self.durable_queue.queue
        self.dead_letter_queue: sqs.IQueue = self.durable_queue.dead_letter_queue
        self.undelivered = SubscriptionDeadLetterQueue(self, "Undelivered", topic=topic, key=self.key, fifo=fifo)
        self.subscription_dead_letter_queue: sqs.IQueue = self.undelivered.queue

        self.worker = QueueWorker(
            self,
            "Worker",
            handler=handler,
            queue=self.queue,
            dead_letter_queue=self.dead_letter_queue,
            batch_size=batch_size,
            max_batching_window=max_batching_window,
            max_concurrency=max_concurrency,
            max_receive_count=max_receive_count,
            timeout=timeout,
            idempotency_table=idempotency_table,
            **{"service_name": id, **function_props},
        )
        self.function: lambda_.Function = self.worker.function
        self.event_source: event_sources.SqsEventSource = self.worker.event_source

        self.subscription: sns.Subscription = topic.add_subscription(
            subscriptions.SqsSubscription(
                self.queue,
                raw_message_delivery=raw_message_delivery,
                filter_policy=dict(filter_policy) if filter_policy else None,
                filter_policy_with_message_body=(
                    dict(filter_policy_with_message_body) if filter_policy_with_message_body else None
                ),
                dead_letter_queue=self.subscription_dead_letter_queue,
            )
        )


class TopicFanOut(Construct):
    """An SNS topic whose messages fan out to subscribers, each an SQS queue drained by an eventweave ``SqsHandler``.

    Each subscriber gets its own :class:`DurableQueue` (with its DLQ, alarms and a KMS key SNS may use for this
    topic only), an SQS subscription (raw delivery by default, optional filter policy on message attributes or on
    the message body) whose redrive policy sends undeliverable notifications to a
    :class:`SubscriptionDeadLetterQueue`, and a :class:`QueueWorker` (partial batch responses, poison to the DLQ,
    visibility timeout 6x the function timeout).
    The topic is encrypted with a customer-managed key and denies non-TLS requests. A FIFO topic feeds FIFO queues
    and needs ``SqsFifoHandler`` subscribers.

    The handler works with raw delivery on or off: ``SqsHandler`` unwraps SNS envelopes itself. Raw delivery is the
    default: the queue (and its DLQ) then hold each message as published, with its SNS message attributes as SQS
    message attributes, instead of a JSON envelope around it.

    Example::

        orders = TopicFanOut(self, "Orders", publishers=[checkout.function])
        orders.add_subscriber("Stock", handler=ReserveStock, max_concurrency=5)
        orders.add_subscriber(
            "Large", handler=FlagLargeOrder,
            filter_policy_with_message_body={"amount": sns.FilterOrPolicy.filter(
                sns.SubscriptionFilter.numeric_filter(greater_than_or_equal_to=1000))},
        )
        orders.topic, orders.key, orders.subscribers[0].queue

    :param topic: bring your own topic (its encryption and policy are then yours; SNS's use of the subscriber keys
        is scoped to it with ``aws:SourceArn`` only if your app enables the CDK feature flag
        ``@aws-cdk/aws-sns-subscriptions:restrictSqsDescryption``). Default: a new :class:`SecureTopic`, which
        always gets the scoped grant.
    :param fifo: a FIFO topic; subscribers must then be ``SqsFifoHandler`` and get FIFO queues. With your own
        topic, taken from the topic. Default: False.
    :param content_based_deduplication: FIFO topic only. Default: off.
    :param encryption_key: key for the new topic. Default: a new key with rotation on.
    :param publishers: principals allowed to publish (``sns:Publish`` plus use of the key). Default: none; call
        :meth:`grant_publish` later.
    :param subscribers: subscribers to add at once (same as calling :meth:`add_subscriber` for each). Default: none.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        topic: sns.ITopic | None = None,
        fifo: bool = False,
        content_based_deduplication: bool | None = None,
        encryption_key: kms.IKey | None = None,
        publishers: Sequence[iam.IGrantable] = (),
        subscribers: Sequence[Subscriber] = (),
    ) -> None:
        super().__init__(scope, id)
        # Before any child exists: subscriptions created in this construct grant SNS the queue keys for this topic
        # only (aws:SourceArn), not for every topic of every account.
        self.node.set_context(_RESTRICT_SNS_KEY_USE, True)
        self.secure_topic: SecureTopic | None = None
        if topic is None:
            self.secure_topic = SecureTopic(
                self,
                "Topic",
                fifo=fifo,
                content_based_deduplication=content_based_deduplication,
                encryption_key=encryption_key,
                publishers=publishers,
            )
            topic = self.secure_topic.topic
        else:
            if fifo and not topic.fifo:
                raise ValueError(f"{self.node.path}: fifo=True, but the topic you passed is a standard topic")
            for publisher in publishers:
                grant_publish(topic, publisher)
        self.topic: sns.ITopic = topic
        self.fifo = bool(topic.fifo)
        self.key: kms.IKey | None = self.secure_topic.key if self.secure_topic is not None else topic.master_key
        self.subscribers: list[FanOutSubscriber] = []
        for subscriber in subscribers:
            self.add_subscriber(
                subscriber.id,
                handler=subscriber.handler,
                filter_policy=subscriber.filter_policy,
                filter_policy_with_message_body=subscriber.filter_policy_with_message_body,
                raw_message_delivery=subscriber.raw_message_delivery,
                batch_size=subscriber.batch_size,
                max_batching_window=subscriber.max_batching_window,
                max_concurrency=subscriber.max_concurrency,
                max_receive_count=subscriber.max_receive_count,
                timeout=subscriber.timeout,
                idempotency_table=subscriber.idempotency_table,
                **subscriber.function_props,
            )

    def add_subscriber(
        self,
        id: str,
        *,
        handler: type[BaseHandler[Any, Any]],
        filter_policy: Mapping[str, sns.SubscriptionFilter] | None = None,
        filter_policy_with_message_body: Mapping[str, sns.FilterOrPolicy] | None = None,
        raw_message_delivery: bool = True,
        batch_size: int = 10,
        max_batching_window: Duration | None = None,
        max_concurrency: int | None = None,
        max_receive_count: int = DEFAULT_MAX_RECEIVE_COUNT,
        timeout: Duration | None = None,
        idempotency_table: dynamodb.ITable | None = None,
        **function_props: Any,
    ) -> FanOutSubscriber:
        """Subscribe a new queue + worker running ``handler`` to the topic.

        :param handler: an ``SqsHandler`` (``SqsFifoHandler`` for a FIFO topic).
        :param filter_policy: filter on message attributes (``FilterPolicyScope`` MessageAttributes). Default: every
            message.
        :param filter_policy_with_message_body: filter on the JSON message body (``FilterPolicyScope`` MessageBody).
            Default: none. Not together with ``filter_policy``.
        :param raw_message_delivery: deliver the message as published, without the SNS envelope. Default: True.
        :param batch_size: Default: 10.
        :param max_batching_window: Default: none (not with FIFO).
        :param max_concurrency: maximum concurrent invocations from this subscriber's queue. Default: no limit.
        :param max_receive_count: receives before SQS moves a message to the subscriber's DLQ. Default: 5.
        :param timeout: function timeout (the queue's visibility timeout follows). Default: 30 s.
        :param idempotency_table: Default: a new table if the handler declares idempotency.
        :param function_props: further :class:`EventFunction` options (memory_size, environment, max_hops, ...).
        :returns: the subscriber, with its queue, dead_letter_queue, subscription_dead_letter_queue, function,
            subscription and event_source.
        """
        contract = handler.contract()
        where = f"{self.node.path}/{id}"
        if contract.source != "sqs":
            raise TypeError(
                f"{where}: TopicFanOut subscribers are SQS queues and need an SqsHandler "
                f"({'SqsFifoHandler' if self.fifo else 'SqsHandler'}); {handler.__qualname__} handles "
                f"{contract.source!r} events. For a function subscribed directly to the topic use TopicFunction"
            )
        if self.fifo and not contract.fifo:
            raise TypeError(
                f"{where}: the topic is FIFO, so the subscriber's queue is FIFO and its handler must keep message "
                f"group order: make {handler.__qualname__} an SqsFifoHandler"
            )
        if not self.fifo and contract.fifo:
            raise TypeError(
                f"{where}: {handler.__qualname__} is an SqsFifoHandler but the topic is a standard topic, which "
                "cannot deliver to FIFO queues: create the fan-out with fifo=True, or make the handler an SqsHandler"
            )
        if filter_policy and filter_policy_with_message_body:
            raise ValueError(
                f"{where}: a subscription has one filter policy scope: pass filter_policy (message attributes) or "
                "filter_policy_with_message_body (message body), not both"
            )
        subscriber = FanOutSubscriber(
            self,
            id,
            topic=self.topic,
            handler=handler,
            fifo=self.fifo,
            filter_policy=filter_policy,
            filter_policy_with_message_body=filter_policy_with_message_body,
            raw_message_delivery=raw_message_delivery,
            batch_size=batch_size,
            max_batching_window=max_batching_window,
            max_concurrency=max_concurrency,
            max_receive_count=max_receive_count,
            timeout=timeout,
            idempotency_table=idempotency_table,
            function_props=function_props,
        )
        self.subscribers.append(subscriber)
        return subscriber

    def grant_publish(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to publish to the topic (``sns:Publish`` and use of its key); see :func:`grant_publish`."""
        return grant_publish(self.topic, grantee)

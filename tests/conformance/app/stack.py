"""ConformanceStack: one of each Lambda delivery path, in plain aws-cdk-lib (no eventweave), for the conformance
scenarios. Every function runs the same small handler (functions/observe.py), which writes down what it saw.

Timeouts are short so retries happen within a test's patience: functions time out after 2 s, and each queue's
visibility timeout covers the function timeout plus its batching window (AWS raises the effective visibility timeout
to window + timeout + 30 s otherwise).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

FUNCTIONS = Path(__file__).resolve().parent / "functions"
TIMEOUT = Duration.seconds(2)
EVENT_SOURCE = "conformance.test"
"""The ``source`` the EventBridge rule matches."""


class ConformanceStack(Stack):
    """Queues, a FIFO queue, a topic, a bus, two Kinesis streams, two DynamoDB streams and an async function, each
    wired to a function the way a user's plain CDK app would wire it."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.observations = dynamodb.Table(
            self,
            "Observations",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.code = lambda_.Code.from_asset(str(FUNCTIONS))
        outputs: dict[str, str] = {"ObservationsTable": self.observations.table_name}

        # -- SQS standard queues -------------------------------------------------------------------------------------
        # Partial batch responses on; a 1 s window so messages sent together arrive together.
        rbif = self._queue("Rbif", visibility=4, max_receive_count=3)
        self._function("RbifFn").add_event_source(
            sources.SqsEventSource(
                rbif, batch_size=10, max_batching_window=Duration.seconds(1), report_batch_item_failures=True
            )
        )
        # No partial batch responses: a function error fails the whole batch; SQS redrives after 2 receives.
        plain = self._queue("Plain", visibility=3, max_receive_count=2)
        self._function("PlainFn").add_event_source(
            sources.SqsEventSource(plain, batch_size=10, max_batching_window=Duration.seconds(1))
        )
        # One message per batch, partial batch responses on: each message's response is its batch's response.
        single = self._queue("Single", visibility=2, max_receive_count=3)
        self._function("SingleFn").add_event_source(
            sources.SqsEventSource(single, batch_size=1, report_batch_item_failures=True)
        )
        # A 2 s batching window (visibility 30 s: nothing here fails).
        window = self._queue("Window", visibility=30)
        self._function("WindowFn").add_event_source(
            sources.SqsEventSource(window, batch_size=10, max_batching_window=Duration.seconds(2))
        )
        # BatchSize above 10 (needs a window).
        big = self._queue("Big", visibility=30)
        self._function("BigFn").add_event_source(
            sources.SqsEventSource(big, batch_size=50, max_batching_window=Duration.seconds(2))
        )
        for name, queue in (("Rbif", rbif), ("Plain", plain), ("Single", single), ("Window", window), ("Big", big)):
            outputs[f"{name}QueueUrl"] = queue.queue_url
            outputs[f"{name}QueueArn"] = queue.queue_arn
            if queue.dead_letter_queue is not None:
                outputs[f"{name}DlqUrl"] = queue.dead_letter_queue.queue.queue_url

        # -- SQS FIFO ------------------------------------------------------------------------------------------------
        fifo_dlq = sqs.Queue(self, "FifoDlq", fifo=True, removal_policy=RemovalPolicy.DESTROY)
        fifo = sqs.Queue(
            self,
            "FifoQueue",
            fifo=True,
            visibility_timeout=Duration.seconds(6),  # 3x the function timeout: a cold start must not outlast it
            dead_letter_queue=sqs.DeadLetterQueue(queue=fifo_dlq, max_receive_count=5),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self._function("FifoFn", STOP_AT_FIRST_FAILURE="1").add_event_source(
            sources.SqsEventSource(fifo, batch_size=10, report_batch_item_failures=True)
        )
        outputs.update(FifoQueueUrl=fifo.queue_url, FifoQueueArn=fifo.queue_arn, FifoDlqUrl=fifo_dlq.queue_url)

        # -- SNS ---------------------------------------------------------------------------------------------------
        topic = sns.Topic(self, "Topic")
        topic_failures = self._plain_queue("TopicFnFailures")
        topic_fn = self._function("TopicFn", retry_attempts=1, on_failure=destinations.SqsDestination(topic_failures))
        topic.add_subscription(subscriptions.LambdaSubscription(topic_fn))
        envelope = self._plain_queue("EnvelopeQueue")
        raw = self._plain_queue("RawQueue")
        topic.add_subscription(subscriptions.SqsSubscription(envelope, raw_message_delivery=False))
        topic.add_subscription(subscriptions.SqsSubscription(raw, raw_message_delivery=True))
        outputs.update(
            TopicArn=topic.topic_arn,
            TopicFnFailuresUrl=topic_failures.queue_url,
            EnvelopeQueueUrl=envelope.queue_url,
            RawQueueUrl=raw.queue_url,
        )

        # -- EventBridge -------------------------------------------------------------------------------------------
        bus = events.EventBus(self, "Bus")
        rule_queue = self._plain_queue("RuleQueue")
        rule = events.Rule(self, "Rule", event_bus=bus, event_pattern=events.EventPattern(source=[EVENT_SOURCE]))
        rule.add_target(targets.LambdaFunction(self._function("RuleFn")))
        rule.add_target(targets.SqsQueue(rule_queue))
        outputs.update(BusName=bus.event_bus_name, BusArn=bus.event_bus_arn, RuleQueueUrl=rule_queue.queue_url)

        # -- Kinesis -----------------------------------------------------------------------------------------------
        # Bisect on function error, 2 retries, then the on-failure record to a queue.
        bisect_stream = kinesis.Stream(self, "BisectStream", shard_count=1)
        bisect_failures = self._plain_queue("BisectFailures")
        self._function("BisectFn").add_event_source(
            sources.KinesisEventSource(
                bisect_stream,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=10,
                bisect_batch_on_error=True,
                retry_attempts=2,
                on_failure=sources.SqsDlq(bisect_failures),
            )
        )
        # Partial batch responses (sequence numbers), no bisect.
        checkpoint_stream = kinesis.Stream(self, "CheckpointStream", shard_count=1)
        checkpoint_failures = self._plain_queue("CheckpointFailures")
        self._function("CheckpointFn").add_event_source(
            sources.KinesisEventSource(
                checkpoint_stream,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=10,
                report_batch_item_failures=True,
                retry_attempts=2,
                on_failure=sources.SqsDlq(checkpoint_failures),
            )
        )
        outputs.update(
            BisectStreamName=bisect_stream.stream_name,
            BisectStreamArn=bisect_stream.stream_arn,
            BisectFailuresUrl=bisect_failures.queue_url,
            CheckpointStreamName=checkpoint_stream.stream_name,
            CheckpointStreamArn=checkpoint_stream.stream_arn,
            CheckpointFailuresUrl=checkpoint_failures.queue_url,
        )

        # -- DynamoDB Streams --------------------------------------------------------------------------------------
        ddb_fn = self._function("DdbFn")
        for name, view in (
            ("ImagesTable", dynamodb.StreamViewType.NEW_AND_OLD_IMAGES),
            ("KeysTable", dynamodb.StreamViewType.KEYS_ONLY),
        ):
            table = dynamodb.Table(
                self,
                name,
                partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
                billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                stream=view,
                removal_policy=RemovalPolicy.DESTROY,
            )
            ddb_fn.add_event_source(
                sources.DynamoEventSource(
                    table, starting_position=lambda_.StartingPosition.TRIM_HORIZON, batch_size=10, retry_attempts=0
                )
            )
            outputs[f"{name}Name"] = table.table_name
            outputs[f"{name}StreamArn"] = table.table_stream_arn or ""

        # -- asynchronous invocation with destinations ---------------------------------------------------------------
        async_success = self._plain_queue("AsyncSuccess")
        async_failure = self._plain_queue("AsyncFailure")
        async_fn = self._function(
            "AsyncFn",
            retry_attempts=1,
            on_success=destinations.SqsDestination(async_success),
            on_failure=destinations.SqsDestination(async_failure),
        )
        outputs.update(
            AsyncFunction=async_fn.function_name,
            AsyncFunctionArn=async_fn.function_arn,
            AsyncSuccessUrl=async_success.queue_url,
            AsyncFailureUrl=async_failure.queue_url,
        )

        for name, value in outputs.items():
            CfnOutput(self, name, value=value)

    def _function(self, name: str, **options: Any) -> lambda_.Function:
        environment = {"OBSERVATIONS_TABLE": self.observations.table_name, "ROLE": name}
        for key in [k for k in options if k.isupper()]:
            environment[key] = options.pop(key)
        function = lambda_.Function(
            self,
            name,
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="observe.handler",
            code=self.code,
            timeout=TIMEOUT,
            memory_size=256,
            environment=environment,
            **options,
        )
        self.observations.grant_read_write_data(function)
        return function

    def _queue(self, name: str, *, visibility: int, max_receive_count: int | None = None) -> sqs.Queue:
        dead_letter = None
        if max_receive_count is not None:
            dlq = self._plain_queue(f"{name}Dlq")
            dead_letter = sqs.DeadLetterQueue(queue=dlq, max_receive_count=max_receive_count)
        return sqs.Queue(
            self,
            f"{name}Queue",
            visibility_timeout=Duration.seconds(visibility),
            dead_letter_queue=dead_letter,
            removal_policy=RemovalPolicy.DESTROY,
        )

    def _plain_queue(self, name: str) -> sqs.Queue:
        return sqs.Queue(self, name, removal_policy=RemovalPolicy.DESTROY)

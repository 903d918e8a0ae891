"""StreamProcessor: a Kinesis stream or a DynamoDB table stream -> Lambda, bounded retries, a failure destination."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from eventweave.constructs.function import EventFunction
from eventweave.constructs.nag import acknowledge
from eventweave.handlers.base import BaseHandler

from .async_function import FailureQueue
from .queue_worker import QueueWorker

__all__ = ["DEFAULT_MAX_RECORD_AGE", "DEFAULT_RETRY_ATTEMPTS", "StreamProcessor"]

DEFAULT_RETRY_ATTEMPTS = 10
"""Retries of a failing batch before it goes to the failure destination. AWS's default (-1) retries until the records
expire: one poison record would hold its shard for the whole retention period. With bisection on, a batch of 100 is
narrowed to the failing record in 7 splits, which do not count as retries."""

DEFAULT_MAX_RECORD_AGE = Duration.hours(12)
"""Records older than this go to the failure destination instead of the function. Half the default retention of
Kinesis (24 h) and the fixed retention of DynamoDB Streams (24 h): the failure record points at records the stream
still holds for another 12 h, so ``StreamFailureHandler.fetch_records`` can read them back."""

DYNAMODB_STREAM_RETENTION = Duration.hours(24)


class StreamProcessor(Construct):
    """A Kinesis stream or a DynamoDB table stream consumed by a ``KinesisHandler`` or ``DynamoDBStreamHandler``.

    The handler's class decides the source. The event source mapping always reports batch item failures (the
    handler stops at the first failing record and reports its sequence number, where Lambda checkpoints), bisects a
    failing batch, retries it a bounded number of times, skips records older than ``max_record_age``, and sends a
    record of every batch it gives up on to the on-failure destination (a new encrypted :class:`FailureQueue` unless
    you choose one), which is also where the handler sends poison (``EVENTWEAVE_DLQ``). Alarms: iterator age (the
    function falls behind) and failure records waiting.

    With no stream, a new Kinesis stream is created: on-demand (no shard planning, writes scale without throttling;
    ``shard_count`` gives provisioned shards, cheaper at steady low volume), 24 h retention, encrypted with the AWS
    managed key ``alias/aws/kinesis`` (what cdk-nag's AwsSolutions-KDS3 asks: a customer-managed key costs a KMS
    request per producer and consumer call), retained when the stack is deleted.
    With no table, a new table is created: on-demand, ``NEW_AND_OLD_IMAGES`` stream, point-in-time recovery,
    encrypted, retained when the stack is deleted.

    Example::

        views = StreamProcessor(self, "PageViews", handler=CountPageViews, batch_size=500,
                                parallelization_factor=2)
        views.stream.grant_write(producer)
        inserts = lambda_.FilterCriteria.filter({"eventName": lambda_.FilterRule.is_equal("INSERT")})
        accounts = StreamProcessor(self, "Accounts", handler=ProjectAccounts, filters=[inserts])
        accounts.table, accounts.failure_queue, accounts.iterator_age_alarm

    :param handler: a ``KinesisHandler`` or ``DynamoDBStreamHandler`` subclass.
    :param stream: (Kinesis) bring your own stream. Default: a new stream as above.
    :param table: (DynamoDB) bring your own table; it must have a stream. Default: a new table as above.
    :param partition_key: (new table) Default: ``id`` (string).
    :param sort_key: (new table) Default: none.
    :param shard_count: (new stream) provisioned shards. Default: none, on-demand capacity.
    :param retention_period: (new stream) Default: 24 hours.
    :param starting_position: Default: ``TRIM_HORIZON`` (every record the stream still holds).
    :param starting_position_timestamp: (Kinesis, ``AT_TIMESTAMP``) where to start.
    :param batch_size: records per invocation, 1-10,000. Default: 100.
    :param max_batching_window: wait up to this long to fill a batch (0-300 s). Default: none.
    :param bisect_batch_on_error: split a failing batch in two and retry each half. Default: True.
    :param retry_attempts: retries of a failing batch, 0-10,000. Default: 10 (see :data:`DEFAULT_RETRY_ATTEMPTS`).
    :param max_record_age: 60 s - 7 days (at most 24 h for DynamoDB, at most the retention of a new stream).
        Default: 12 hours (see :data:`DEFAULT_MAX_RECORD_AGE`).
    :param parallelization_factor: concurrent batches per shard, 1-10; order is kept per partition key. Default: 1.
    :param filters: event filtering patterns (``lambda_.FilterCriteria.filter({...})``); records that match none are
        dropped without invoking the function. Default: none.
    :param on_failure: standard queue or topic for the records of discarded batches (and for poison). Default: a new
        :class:`FailureQueue`, or the queue of ``failure_consumer``.
    :param failure_consumer: a ``StreamFailureHandler`` consuming the failure records: it gets a :class:`QueueWorker`
        whose queue is the on-failure destination, with read access to the stream to fetch the discarded records.
        Default: none (failure records wait in the queue, alarmed).
    :param iterator_age_threshold: alarm when the function's ``IteratorAge`` exceeds this. Default: 1 hour, or half
        of ``max_record_age`` when that is shorter.
    :param alarms: create the alarms. Default: True.
    :param timeout: function timeout. Default: 30 s.
    :param idempotency_table: for an idempotent handler. Default: a new table when the handler declares idempotency.
    :param function_props: further :class:`EventFunction` options (memory_size, environment, max_hops, ...).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        handler: type[BaseHandler[Any, Any]],
        stream: kinesis.IStream | None = None,
        table: dynamodb.ITable | None = None,
        partition_key: dynamodb.Attribute | None = None,
        sort_key: dynamodb.Attribute | None = None,
        shard_count: int | None = None,
        retention_period: Duration | None = None,
        starting_position: lambda_.StartingPosition = lambda_.StartingPosition.TRIM_HORIZON,
        starting_position_timestamp: datetime | None = None,
        batch_size: int = 100,
        max_batching_window: Duration | None = None,
        bisect_batch_on_error: bool = True,
        retry_attempts: int = DEFAULT_RETRY_ATTEMPTS,
        max_record_age: Duration | None = None,
        parallelization_factor: int = 1,
        filters: Sequence[Mapping[str, Any]] | None = None,
        on_failure: sqs.IQueue | sns.ITopic | None = None,
        failure_consumer: type[BaseHandler[Any, Any]] | None = None,
        iterator_age_threshold: Duration | None = None,
        alarms: bool = True,
        timeout: Duration | None = None,
        idempotency_table: dynamodb.ITable | None = None,
        **function_props: Any,
    ) -> None:
        super().__init__(scope, id)
        where = self.node.path
        contract = handler.contract()
        kind = contract.source
        if kind not in ("kinesis", "dynamodb"):
            raise TypeError(
                f"{where}: StreamProcessor needs a KinesisHandler or DynamoDBStreamHandler, {handler.__qualname__} "
                f"handles {kind!r} events"
            )
        if kind == "kinesis" and table is not None:
            raise TypeError(
                f"{where}: {handler.__qualname__} is a KinesisHandler but a table was given; pass stream=... or use a "
                "DynamoDBStreamHandler"
            )
        if kind == "dynamodb" and (stream is not None or shard_count is not None or retention_period is not None):
            raise TypeError(
                f"{where}: {handler.__qualname__} is a DynamoDBStreamHandler but Kinesis options were given "
                "(stream, shard_count, retention_period); pass table=... or use a KinesisHandler"
            )
        if kind == "kinesis" and (partition_key is not None or sort_key is not None):
            raise TypeError(
                f"{where}: partition_key/sort_key describe a new DynamoDB table; a KinesisHandler reads a stream"
            )
        max_record_age = max_record_age or DEFAULT_MAX_RECORD_AGE
        self._check_settings(
            kind,
            batch_size=batch_size,
            max_batching_window=max_batching_window,
            retry_attempts=retry_attempts,
            max_record_age=max_record_age,
            parallelization_factor=parallelization_factor,
            starting_position=starting_position,
            starting_position_timestamp=starting_position_timestamp,
            shard_count=shard_count,
            retention_period=retention_period,
            new_stream=kind == "kinesis" and stream is None,
        )
        if failure_consumer is not None and on_failure is not None:
            raise ValueError(f"{where}: pass on_failure or failure_consumer, not both (the consumer brings its queue)")
        if on_failure is not None and getattr(on_failure, "fifo", False):
            raise ValueError(
                f"{where}: on_failure cannot be FIFO; stream event sources send failure records to standard queues "
                "and topics only"
            )
        self.kind = kind
        timeout = timeout or Duration.seconds(30)

        # -- the source -----------------------------------------------------------------------------------------
        self.stream: kinesis.IStream | None = None
        self.table: dynamodb.ITable | None = None
        if kind == "kinesis":
            if stream is None:
                stream = kinesis.Stream(
                    self,
                    "Stream",
                    stream_mode=kinesis.StreamMode.PROVISIONED if shard_count else kinesis.StreamMode.ON_DEMAND,
                    shard_count=shard_count,
                    retention_period=retention_period or Duration.hours(24),
                    encryption=kinesis.StreamEncryption.MANAGED,
                )
            self.stream = stream
        else:
            if table is None:
                table = dynamodb.Table(
                    self,
                    "Table",
                    partition_key=partition_key or dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
                    sort_key=sort_key,
                    billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                    stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
                    encryption=dynamodb.TableEncryption.AWS_MANAGED,
                    point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                        point_in_time_recovery_enabled=True
                    ),
                    removal_policy=RemovalPolicy.RETAIN,
                )
            elif table.table_stream_arn is None:
                raise ValueError(
                    f"{where}: table {table.node.path} has no stream; create it with "
                    "stream=StreamViewType.NEW_AND_OLD_IMAGES (or import it with table_stream_arn=...)"
                )
            self.table = table

        # -- where failures go ----------------------------------------------------------------------------------
        self.failure_queue: FailureQueue | None = None
        self.failure_consumer: QueueWorker | None = None
        dead_letter: sqs.IQueue | sns.ITopic
        if failure_consumer is not None:
            self.failure_consumer = QueueWorker(self, "FailureConsumer", handler=failure_consumer)
            on_failure = self.failure_consumer.queue
            if stream is not None:
                stream.grant_read(self.failure_consumer.function)
            elif table is not None and table.table_stream_arn is not None:
                table.grant_stream(self.failure_consumer.function, "dynamodb:GetShardIterator", "dynamodb:GetRecords")
            poison = self.failure_consumer.dead_letter_queue
            assert poison is not None
            dead_letter = poison
        elif on_failure is None:
            self.failure_queue = FailureQueue(self, "Failures", alarm=alarms)
            on_failure = self.failure_queue.queue
            dead_letter = on_failure
        else:
            dead_letter = on_failure
        self.on_failure: sqs.IQueue | sns.ITopic = on_failure
        destination: lambda_.IEventSourceDlq = (
            event_sources.SnsDlq(on_failure) if hasattr(on_failure, "topic_arn") else event_sources.SqsDlq(on_failure)  # type: ignore[arg-type]
        )

        # -- the function and its event source mapping ---------------------------------------------------------
        self.worker = EventFunction(
            self,
            "Worker",
            handler=handler,
            dead_letter=dead_letter,
            idempotency_table=idempotency_table,
            timeout=timeout,
            **function_props,
        )
        self.function: lambda_.Function = self.worker.function
        common: dict[str, Any] = {
            "starting_position": starting_position,
            "batch_size": batch_size,
            "max_batching_window": max_batching_window,
            "bisect_batch_on_error": bisect_batch_on_error,
            "retry_attempts": retry_attempts,
            "max_record_age": max_record_age,
            "parallelization_factor": parallelization_factor,
            "filters": list(filters) if filters else None,
            "on_failure": destination,
            "report_batch_item_failures": True,
        }
        self.event_source: event_sources.KinesisEventSource | event_sources.DynamoEventSource
        if stream is not None:
            self.event_source = event_sources.KinesisEventSource(
                stream,
                starting_position_timestamp=starting_position_timestamp.timestamp()
                if starting_position_timestamp is not None
                else None,
                **common,
            )
        else:
            assert table is not None
            self.event_source = event_sources.DynamoEventSource(table, **common)
            # DynamoEventSource grants dynamodb:ListStreams on "*" (the action has no resource-level permissions).
            acknowledge(self.worker.role, "ddb-list-streams")
        self.function.add_event_source(self.event_source)

        # -- alarms ---------------------------------------------------------------------------------------------
        self.iterator_age_alarm: cloudwatch.Alarm | None = None
        if alarms:
            threshold = iterator_age_threshold or Duration.seconds(min(3600, max_record_age.to_seconds() / 2))
            self.iterator_age_alarm = self.function.metric(
                "IteratorAge", statistic="Maximum", period=Duration.minutes(5)
            ).create_alarm(
                self,
                "IteratorAgeAlarm",
                threshold=threshold.to_milliseconds(),
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=(
                    f"{self.node.path} is falling behind its {kind} stream: records older than "
                    f"{max_record_age.to_human_string()} go to the failure destination unprocessed"
                ),
            )
        self.batch_size = batch_size
        self.retry_attempts = retry_attempts
        self.max_record_age = max_record_age

    def _check_settings(
        self,
        kind: str,
        *,
        batch_size: int,
        max_batching_window: Duration | None,
        retry_attempts: int,
        max_record_age: Duration,
        parallelization_factor: int,
        starting_position: lambda_.StartingPosition,
        starting_position_timestamp: datetime | None,
        shard_count: int | None,
        retention_period: Duration | None,
        new_stream: bool,
    ) -> None:
        where = self.node.path

        def whole(name: str, value: int, low: int, high: int, why: str = "") -> None:
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{where}: {name} must be an int, got {value!r}")
            if not low <= value <= high:
                raise ValueError(f"{where}: {name} must be {low:,}-{high:,}{why}, got {value}")

        whole("batch_size", batch_size, 1, 10_000)
        whole(
            "retry_attempts",
            retry_attempts,
            0,
            10_000,
            " (retrying forever would hold the shard behind one bad batch until its records expire)",
        )
        whole("parallelization_factor", parallelization_factor, 1, 10)
        if shard_count is not None:
            if not new_stream:
                raise ValueError(f"{where}: shard_count applies to a new stream; yours keeps its own capacity")
            whole("shard_count", shard_count, 1, 10_000)
        if max_batching_window is not None and max_batching_window.to_seconds() > 300:
            raise ValueError(f"{where}: max_batching_window must be at most 300 seconds")
        age = max_record_age.to_seconds()
        if not 60 <= age <= 604_800:
            raise ValueError(f"{where}: max_record_age must be between 60 seconds and 7 days, got {age:g} s")
        if kind == "dynamodb" and age > DYNAMODB_STREAM_RETENTION.to_seconds():
            raise ValueError(
                f"{where}: max_record_age {age:g} s exceeds the 24 h a DynamoDB stream keeps records: they would "
                "expire unseen instead of reaching the failure destination"
            )
        if retention_period is not None:
            if not new_stream:
                raise ValueError(f"{where}: retention_period applies to a new stream; yours keeps its own")
            hours = retention_period.to_hours()
            if not 24 <= hours <= 8760:
                raise ValueError(f"{where}: retention_period must be 24-8,760 hours, got {hours:g}")
        retention = (retention_period or Duration.hours(24)).to_seconds()
        if new_stream and age > retention:
            raise ValueError(
                f"{where}: max_record_age {age:g} s exceeds the stream's retention ({retention:g} s): records would "
                "expire unseen instead of reaching the failure destination"
            )
        if starting_position == lambda_.StartingPosition.AT_TIMESTAMP:
            if kind != "kinesis":
                raise ValueError(
                    f"{where}: AT_TIMESTAMP is a Kinesis starting position; DynamoDB streams take "
                    "TRIM_HORIZON or LATEST"
                )
            if starting_position_timestamp is None:
                raise ValueError(f"{where}: AT_TIMESTAMP needs starting_position_timestamp")
        elif starting_position_timestamp is not None:
            raise ValueError(f"{where}: starting_position_timestamp needs starting_position=AT_TIMESTAMP")

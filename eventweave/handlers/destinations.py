"""Typed records of the failure paths, so failure consumers are handlers like any other.

* :class:`AsyncInvocationRecord`: what Lambda sends to an on-success / on-failure destination of an asynchronously
  invoked function (SQS body, SNS ``Message``, EventBridge ``detail`` or Lambda payload);
* :class:`StreamFailureRecord`: what a Kinesis / DynamoDB Streams event source mapping sends to its on-failure
  destination when a batch is discarded (metadata only; :meth:`StreamFailureHandler.fetch_records` reads the records
  back from the stream while they are retained);
* :class:`PoisonRecord`: what eventweave handlers send to ``EVENTWEAVE_DLQ``.

Because these are models, the ordinary handlers consume them wherever they arrive::

    class OrderFailures(SqsHandler[AsyncInvocationRecord[OrderPlaced]]):
        def handle(self, record: AsyncInvocationRecord[OrderPlaced], ctx: SqsRecordContext) -> None:
            alerts.page(f"order {record.request_payload.order_id}: {record.error_message}")
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .clients import client
from .context import CONTEXT_KEY, RecordContext, trace_from_payload
from .invoke import InvokeHandler
from .sqs import SqsHandler

__all__ = [
    "AsyncInvocationRecord",
    "DestinationHandler",
    "DestinationRequestContext",
    "DestinationResponseContext",
    "PoisonRecord",
    "StreamBatchInfo",
    "StreamFailureHandler",
    "StreamFailureRecord",
]

P = TypeVar("P")


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")


class DestinationRequestContext(_Model):
    request_id: str = Field(alias="requestId")
    function_arn: str = Field(alias="functionArn")
    condition: str
    """``Success``, ``RetriesExhausted``, ``EventAgeExceeded`` (async) or ``RetryAttemptsExhausted`` (streams)."""
    approximate_invoke_count: int = Field(alias="approximateInvokeCount")


class DestinationResponseContext(_Model):
    status_code: int | None = Field(default=None, alias="statusCode")
    executed_version: str | None = Field(default=None, alias="executedVersion")
    function_error: str | None = Field(default=None, alias="functionError")
    """``Handled`` or ``Unhandled`` on failure; absent on success."""


def _strip_trace(data: Any) -> Any:
    """Drop eventweave's ``__context`` from the original payload so the user's model sees what the producer meant."""
    if isinstance(data, dict):
        payload = data.get("requestPayload")
        if isinstance(payload, dict) and CONTEXT_KEY in payload:
            data = {**data, "requestPayload": {k: v for k, v in payload.items() if k != CONTEXT_KEY}}
    return data


class AsyncInvocationRecord(_Model, Generic[P]):
    """Lambda's destination record for an asynchronous invocation, with the original payload typed as ``P``.

    Example::

        record = AsyncInvocationRecord[OrderPlaced].model_validate(message)
        record.succeeded, record.request_payload.order_id, record.error_message
    """

    version: str
    timestamp: datetime
    request_context: DestinationRequestContext = Field(alias="requestContext")
    request_payload: P = Field(alias="requestPayload")
    response_context: DestinationResponseContext | None = Field(default=None, alias="responseContext")
    response_payload: Any = Field(default=None, alias="responsePayload")

    _strip = model_validator(mode="before")(_strip_trace)

    @property
    def succeeded(self) -> bool:
        return self.request_context.condition == "Success"

    @property
    def error_message(self) -> str | None:
        payload = self.response_payload
        if isinstance(payload, dict) and isinstance(payload.get("errorMessage"), str):
            return str(payload["errorMessage"])
        return None

    @property
    def error_type(self) -> str | None:
        payload = self.response_payload
        if isinstance(payload, dict) and isinstance(payload.get("errorType"), str):
            return str(payload["errorType"])
        return None


class StreamBatchInfo(_Model):
    shard_id: str = Field(alias="shardId")
    start_sequence_number: str = Field(alias="startSequenceNumber")
    end_sequence_number: str = Field(alias="endSequenceNumber")
    approximate_arrival_of_first_record: datetime | None = Field(default=None, alias="approximateArrivalOfFirstRecord")
    approximate_arrival_of_last_record: datetime | None = Field(default=None, alias="approximateArrivalOfLastRecord")
    batch_size: int = Field(alias="batchSize")
    stream_arn: str = Field(alias="streamArn")


class StreamFailureRecord(_Model):
    """On-failure record of a Kinesis (``KinesisBatchInfo``) or DynamoDB (``DDBStreamBatchInfo``) mapping."""

    version: str
    timestamp: datetime
    request_context: DestinationRequestContext = Field(alias="requestContext")
    response_context: DestinationResponseContext | None = Field(default=None, alias="responseContext")
    kinesis_batch_info: StreamBatchInfo | None = Field(default=None, alias="KinesisBatchInfo")
    ddb_stream_batch_info: StreamBatchInfo | None = Field(default=None, alias="DDBStreamBatchInfo")

    @property
    def batch_info(self) -> StreamBatchInfo:
        info = self.kinesis_batch_info or self.ddb_stream_batch_info
        if info is None:
            raise ValueError("the record has neither KinesisBatchInfo nor DDBStreamBatchInfo")
        return info

    @property
    def stream_kind(self) -> Literal["kinesis", "dynamodb"]:
        return "kinesis" if self.kinesis_batch_info is not None else "dynamodb"


class PoisonRecord(_Model):
    """A record an eventweave handler sent to its dead-letter destination, with why.

    Example::

        class PoisonAudit(SqsHandler[PoisonRecord]):
            def handle(self, poison: PoisonRecord, ctx: SqsRecordContext) -> None:
                audit.store(poison.reason, poison.error_message, poison.original_payload())
    """

    kind: Literal["eventweave.poison"] = "eventweave.poison"
    version: str = "1.0"
    reason: str
    error_type: str = Field(alias="errorType")
    error_message: str = Field(alias="errorMessage")
    record_id: str | None = Field(default=None, alias="recordId")
    message_id: str | None = Field(default=None, alias="messageId")
    event_source: str = Field(alias="eventSource")
    event_source_arn: str | None = Field(default=None, alias="eventSourceARN")
    function_name: str = Field(alias="functionName")
    correlation_id: str | None = Field(default=None, alias="correlationId")
    hops: int = 0
    timestamp: datetime
    record: Any

    def original_payload(self) -> Any:
        """The payload as the producer sent it (SQS body, SNS Message, decoded Kinesis data, EventBridge detail)."""
        record = self.record
        if not isinstance(record, dict):
            return record
        if self.event_source == "aws:sqs":
            return record.get("body")
        if self.event_source == "aws:sns":
            return (record.get("Sns") or {}).get("Message")
        if self.event_source == "aws:kinesis":
            data = (record.get("kinesis") or {}).get("data")
            return base64.b64decode(data) if isinstance(data, str) else data
        if self.event_source == "aws:events":
            return record.get("detail")
        if self.event_source == "aws:dynamodb":
            return record.get("dynamodb")
        return record


class DestinationHandler(InvokeHandler[AsyncInvocationRecord[P]], Generic[P]):
    """Handler for a Lambda function used as an async on-success/on-failure destination; ``P`` types the payload.

    Example::

        class ChargeFailed(DestinationHandler[OrderPlaced]):
            def handle(self, record: AsyncInvocationRecord[OrderPlaced], ctx: RecordContext) -> None:
                refunds.open_case(record.request_payload.order_id, reason=record.error_message)

        handler = ChargeFailed.lambda_handler()
    """

    source: ClassVar[str] = "lambda-destination"

    @classmethod
    def _payload_type(cls, declared: Any) -> Any:
        if isinstance(declared, type) and issubclass(declared, AsyncInvocationRecord):
            return declared
        return AsyncInvocationRecord[declared]

    def _decode(self, raw: Any, lambda_context: Any) -> tuple[RecordContext, Any, str]:
        ctx, value, method = super()._decode(raw, lambda_context)
        # The failed invocation's payload carried the chain's trace; the failure consumer continues that chain.
        payload = raw.get("requestPayload") if isinstance(raw, dict) else None
        meta = payload.get(CONTEXT_KEY) if isinstance(payload, dict) else None
        if isinstance(meta, dict):
            trace = trace_from_payload({CONTEXT_KEY: meta})
            if trace is not None:
                ctx.correlation_id = trace[0] or ctx.message_id
                ctx.causation_id = trace[1]
                # A destination is a new hop of the same chain; a destination that fails again must stop too.
                ctx.hops = trace[2] + 1
                self._guard(ctx)
        return ctx, value, method


class StreamFailureHandler(SqsHandler[StreamFailureRecord]):
    """Consumer of a stream mapping's on-failure queue; :meth:`fetch_records` reads the discarded batch back.

    Example::

        class ReplayFailures(StreamFailureHandler):
            def handle(self, failure: StreamFailureRecord, ctx: SqsRecordContext) -> None:
                for record in self.fetch_records(failure):
                    quarantine.put(record)

        handler = ReplayFailures.lambda_handler()
    """

    source: ClassVar[str] = "sqs"
    max_empty_polls: ClassVar[int] = 10
    """Empty GetRecords pages followed in a row before concluding the range is gone."""

    def fetch_records(self, failure: StreamFailureRecord, *, limit: int = 10_000) -> list[dict[str, Any]]:
        """The records from ``startSequenceNumber`` to ``endSequenceNumber`` of the failed batch (Kinesis records
        with ``Data`` as bytes, or DynamoDB stream records), while the stream still retains them.

        GetRecords may answer with empty pages before reaching the records (both services document it), so empty
        pages are followed up to :attr:`max_empty_polls` times in a row.
        """
        info = failure.batch_info
        end = int(info.end_sequence_number)
        out: list[dict[str, Any]] = []
        kinesis = failure.stream_kind == "kinesis"
        if kinesis:
            reader: Any = client("kinesis")
            iterator: str | None = reader.get_shard_iterator(
                StreamARN=info.stream_arn,
                ShardId=info.shard_id,
                ShardIteratorType="AT_SEQUENCE_NUMBER",
                StartingSequenceNumber=info.start_sequence_number,
            )["ShardIterator"]
        else:
            reader = client("dynamodbstreams")
            iterator = reader.get_shard_iterator(
                StreamArn=info.stream_arn,
                ShardId=info.shard_id,
                ShardIteratorType="AT_SEQUENCE_NUMBER",
                SequenceNumber=info.start_sequence_number,
            )["ShardIterator"]
        empty = 0
        while iterator and len(out) < limit:
            want = min(1000, limit - len(out))
            if kinesis:
                page = reader.get_records(ShardIterator=iterator, StreamARN=info.stream_arn, Limit=want)
            else:
                page = reader.get_records(ShardIterator=iterator, Limit=want)
            records = page.get("Records") or []
            for record in records:
                sequence = record["SequenceNumber"] if kinesis else record["dynamodb"]["SequenceNumber"]
                if int(sequence) > end or len(out) >= limit:
                    return out
                out.append(dict(record))
            if records:
                empty = 0
            else:
                empty += 1
                if empty > self.max_empty_polls or (kinesis and page.get("MillisBehindLatest", 1) == 0):
                    break
            iterator = page.get("NextShardIterator")
        return out

"""Typed records of the failure paths, so failure consumers are handlers like any other.

* :class:`AsyncInvocationRecord`: what Lambda sends to an on-success / on-failure destination of an asynchronously
  invoked function (SQS body, SNS ``Message``, EventBridge ``detail`` or Lambda payload);
* :class:`StreamFailureRecord`: what a Kinesis / DynamoDB Streams event source mapping sends to its on-failure
  destination when a batch is discarded (metadata only; :meth:`StreamFailureHandler.fetch_records` reads the records
  back from the stream while they are retained);
* :class:`PoisonRecord`: what eventweave handlers send to ``EVENTWEAVE_DLQ``.

The records' shapes and models live in :mod:`eventweave.wire.destinations` and :mod:`eventweave.wire.poison`
(re-exported here). Because these are models, the ordinary handlers consume them wherever they arrive::

    class OrderFailures(SqsHandler[AsyncInvocationRecord[OrderPlaced]]):
        def handle(self, record: AsyncInvocationRecord[OrderPlaced], ctx: SqsRecordContext) -> None:
            alerts.page(f"order {record.request_payload.order_id}: {record.error_message}")
"""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

from eventweave.wire.records import (
    AsyncInvocationRecord,
    DestinationRequestContext,
    DestinationResponseContext,
    PoisonRecord,
    StreamBatchInfo,
    StreamFailureRecord,
)
from eventweave.wire.trace import CONTEXT_KEY, trace_from_payload

from .clients import client
from .context import RecordContext
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

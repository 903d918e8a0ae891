"""Kinesis Data Streams handler: base64 payloads, per-shard order, checkpoint at the first failure."""

from __future__ import annotations

import json
from typing import Any, ClassVar, TypeVar

from eventweave.wire.envelopes import unwrap_eventbridge
from eventweave.wire.eventbridge import is_event
from eventweave.wire.kinesis import KinesisDataError, decode_data
from eventweave.wire.trace import CONTEXT_KEY, trace_from_payload

from .base import BaseHandler, Poison
from .context import RecordContext

__all__ = ["KinesisHandler", "KinesisRecordContext"]

M = TypeVar("M")
_CONTEXT_BYTES = f'"{CONTEXT_KEY}"'.encode()


class KinesisRecordContext(RecordContext):
    """Context of a Kinesis record; ``record_id`` is its sequence number."""

    __slots__ = ()
    default_source = "aws:kinesis"

    @property
    def kinesis(self) -> dict[str, Any]:
        value = self.record.get("kinesis")
        return value if isinstance(value, dict) else {}

    @property
    def partition_key(self) -> str | None:
        key = self.kinesis.get("partitionKey")
        return key if isinstance(key, str) else None

    @property
    def sequence_number(self) -> str:
        return self.record_id

    @property
    def shard_id(self) -> str | None:
        event_id = self.record.get("eventID")
        return event_id.split(":", 1)[0] if isinstance(event_id, str) else None


class KinesisHandler(BaseHandler[M, KinesisRecordContext]):
    """Handler for a Kinesis event source mapping with ``ReportBatchItemFailures`` on.

    Records are handled in order; at the first retryable failure the handler stops and reports that record's
    sequence number, where Lambda checkpoints and retries (processing past it would break per-shard order and do work
    that is redone anyway). Poison records before that point go to the DLQ and count as handled. Payloads carrying
    eventweave's ``__context`` are traced; an EventBridge event put by a rule target is unwrapped to its ``detail``.

    Declared with ``bytes`` the handler gets the decoded data as it was put (protobuf, Avro...), with ``str`` that
    data as UTF-8 text, with :class:`eventweave.wire.logs.LogsData` a CloudWatch Logs subscription's log events.

    Example::

        class Track(KinesisHandler[ClickEvent]):
            def handle(self, click: ClickEvent, ctx: KinesisRecordContext) -> None:
                counters.increment(click.page, partition=ctx.partition_key)

        handler = Track.lambda_handler()
    """

    source: ClassVar[str] = "kinesis"
    event_source_name: ClassVar[str] = "aws:kinesis"
    mode = "stream"
    partial_batch_response: ClassVar[bool] = True

    def __call__(self, event: Any, context: Any) -> dict[str, list[dict[str, str]]]:
        records = event.get("Records") if isinstance(event, dict) else None
        if not isinstance(records, list):
            self._malformed_event(event, "no 'Records' list")
            return {"batchItemFailures": []}
        failures, counts, _ = self._run(records, context)
        self._finish(counts, failures[:1], len(records))
        # Lambda checkpoints at the lowest reported sequence number; the first failure is that number.
        return {"batchItemFailures": [{"itemIdentifier": f} for f in failures[:1] if f is not None]}

    def _record_id(self, raw: Any) -> str | None:
        seq = raw["kinesis"]["sequenceNumber"]
        return seq if isinstance(seq, str) and seq else None

    def _decode(self, raw: Any, lambda_context: Any) -> tuple[KinesisRecordContext, Any, str]:
        kinesis = raw["kinesis"]
        seq = kinesis["sequenceNumber"]
        if not isinstance(seq, str) or not seq:
            raise TypeError("the record has no kinesis.sequenceNumber")
        ctx = KinesisRecordContext(raw, seq, seq, "aws:kinesis", lambda_context)
        if not isinstance(kinesis.get("data"), str):
            raise Poison("malformed-record", TypeError(f"record {seq} has no kinesis.data text"), ctx)
        try:
            data = decode_data(raw)
        except KinesisDataError as error:
            raise Poison("undecodable-payload", KinesisDataError(f"record {seq}: {error}"), ctx) from None
        if self._validator_.kind != "json":
            # Raw payloads (text, bytes, compressed documents) are the producer's bytes as they are: no envelope or
            # trace is read from them; the recursion guard still applies to what the record carries.
            return self._validate(ctx, data, True)  # type: ignore[return-value]
        if _CONTEXT_BYTES in data or b'"detail-type"' in data:
            try:
                payload = json.loads(data)
            except ValueError as error:
                raise Poison("validation-error", error, ctx) from None
            if isinstance(payload, dict):
                if is_event(payload):
                    unwrapped = unwrap_eventbridge(payload)
                    ctx.event_type = unwrapped.event_type
                    ctx.message_id = unwrapped.message_id or seq
                    trace = unwrapped.trace
                    payload = unwrapped.payload
                else:
                    trace = trace_from_payload(payload)
                if trace is not None:
                    ctx.correlation_id = trace[0] or ctx.message_id
                    ctx.causation_id, ctx.hops = trace[1], trace[2]
                return self._validate(ctx, payload, False)  # type: ignore[return-value]
        return self._validate(ctx, data, True)  # type: ignore[return-value]

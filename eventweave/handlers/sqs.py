"""SQS handlers: standard queues with partial batch responses, FIFO queues with per-group ordering."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from eventweave.wire.attributes import read_attributes
from eventweave.wire.envelopes import unwrap_text
from eventweave.wire.payloads import UndecodablePayload
from eventweave.wire.trace import ATTR_CORRELATION, ATTR_HOPS, trace_from_attributes

from .base import IGNORED, BaseHandler, Mode, Poison, _Batch, _internal_log
from .context import SqsRecordContext, record_slot
from .observability import BatchCounts, flush_user_metrics

__all__ = ["SqsFifoHandler", "SqsHandler", "SqsRecordContext"]

M = TypeVar("M")


class SqsHandler(BaseHandler[M, SqsRecordContext]):
    """Handler for an SQS event source mapping with ``ReportBatchItemFailures`` on.

    Bodies are unwrapped automatically: a producer's JSON, an SNS notification (raw delivery or the JSON envelope),
    an EventBridge event, or SNS carrying an EventBridge event all reach ``handle`` as the same model. Declared with
    ``str`` the handler gets the body (or the SNS ``Message``) as text, unparsed; with ``bytes``, as UTF-8 bytes.
    Returns ``{"batchItemFailures": [...]}`` naming only the records that must be retried; poison goes to the DLQ.

    On a FIFO queue (detected from the batch, or declared with :class:`SqsFifoHandler`) the first failure in a message
    group fails the rest of that group in the batch unprocessed, so order within the group is kept.

    Example::

        class OrderPlaced(BaseModel):
            order_id: str
            amount: int

        class Charge(SqsHandler[OrderPlaced]):
            idempotency = Idempotency(key="order_id")

            def handle(self, order: OrderPlaced, ctx: SqsRecordContext) -> None:
                payments.charge(order.order_id, order.amount)

        handler = Charge.lambda_handler()
    """

    source: ClassVar[str] = "sqs"
    event_source_name: ClassVar[str] = "aws:sqs"
    partial_batch_response: ClassVar[bool] = True

    def __call__(self, event: Any, context: Any) -> dict[str, list[dict[str, str]]]:
        records = event.get("Records") if isinstance(event, dict) else None
        if not isinstance(records, list):
            self._malformed_event(event, "no 'Records' list")
            return {"batchItemFailures": []}
        fifo = self.fifo
        if not fifo:
            # _is_fifo's answer for the usual first record, without the call (the call costs as much as a record)
            first = records[0] if records else None
            attrs = first.get("attributes") if first.__class__ is dict else None
            arn = first.get("eventSourceARN") if attrs.__class__ is dict else None  # type: ignore[union-attr]
            if arn.__class__ is str and "MessageGroupId" not in attrs:  # type: ignore[operator]
                fifo = arn.endswith(".fifo")
            else:
                fifo = _is_fifo(records)
        mode: Mode = "fifo" if fifo else "independent"
        if mode == "independent" and self.store is None and not self._routes_:
            failures, counts, processed = self._run_plain(records, context)
            if counts is None:  # the usual batch: every record processed, nothing to report
                try:
                    self.batch_metrics.emit_processed(processed)
                    flush_user_metrics(self.metrics)
                except Exception:
                    _internal_log.warning("could not emit metrics", exc_info=True)
                return {"batchItemFailures": []}
        else:
            failures, counts, _ = self._run(records, context, mode)
        self._finish(counts, failures, len(records))
        if not failures:
            return {"batchItemFailures": []}
        return {"batchItemFailures": [{"itemIdentifier": f} for f in failures if f is not None]}

    def _run_plain(self, records: list[Any], lambda_context: Any) -> tuple[list[str | None], BatchCounts | None, int]:
        """The engine for the commonest batch (standard queue, no idempotency, no routes) in one tight loop.

        A record that is not plainly a producer's JSON (an envelope, trace metadata, a malformed record), fails
        validation or raises goes through the general per-record path, so the rules are the engine's; this loop only
        removes the per-record calls and checks that cost as much as validating the record. Returns the failures,
        the counts, and the number processed; the counts are ``None`` when every record was processed (the caller
        then needs no counts object to report it).
        """
        # Created on the first record that leaves the fast path: a clean batch needs no bookkeeping at all.
        batch: _Batch | None = None
        handle = self.handle
        validate = self._validator_.from_json
        context_type = _PlainSqsRecordContext
        ignored_marker = IGNORED
        local = record_slot()
        previous = local.record
        processed = ignored = 0
        refcount = sys.getrefcount if _EXACT_REFCOUNTS else None
        spare: _PlainSqsRecordContext | None = None
        try:
            for raw in records:
                try:
                    record_id = raw["messageId"]
                    body = raw["body"]
                    attrs = raw.get("messageAttributes")
                except Exception:
                    record_id = body = attrs = None
                if (
                    record_id.__class__ is not str
                    or not record_id
                    or body.__class__ is not str
                    or '"TopicArn"' in body
                    or '"detail-type"' in body
                    or (attrs and (attrs.__class__ is not dict or ATTR_HOPS in attrs or ATTR_CORRELATION in attrs))
                ):
                    batch = batch or _Batch("independent")
                    self._process(batch, _index(records, raw), raw, self._decode_or_poison(raw, lambda_context))
                    continue
                ctx = spare if spare is not None else context_type()
                spare = None
                ctx.record = raw
                ctx.record_id = record_id
                ctx.lambda_context = lambda_context
                try:
                    value = validate(body)
                except UndecodablePayload as error:
                    batch = batch or _Batch("independent")
                    self._process(batch, _index(records, raw), raw, Poison("undecodable-payload", error, ctx))
                    continue
                except ValueError as error:  # pydantic's ValidationError is a ValueError
                    batch = batch or _Batch("independent")
                    self._process(batch, _index(records, raw), raw, Poison("validation-error", error, ctx))
                    continue
                # Stays set while a failure is logged, so those lines carry the correlation id too.
                local.record = ctx
                try:
                    result = handle(value, ctx)
                except Exception as error:
                    batch = batch or _Batch("independent")
                    self._handle_error(batch, _index(records, raw), raw, ctx, error, None)
                    continue
                if result is ignored_marker:
                    ignored += 1
                else:
                    processed += 1
                # A context that nothing kept (only this loop, the record slot and getrefcount's argument refer to
                # it) can carry the next record: no one can observe the change, and allocating costs as much as the
                # rest of the record's bookkeeping.
                if refcount is not None and refcount(ctx) == 3:
                    spare = ctx
        finally:
            local.record = previous
        if batch is None:
            if ignored:
                return [], BatchCounts(processed=processed, ignored=ignored), processed
            return [], None, processed
        batch.counts.processed += processed
        batch.counts.ignored += ignored
        self._flush_deferred(batch)
        return batch.failures, batch.counts, batch.counts.processed

    def _record_id(self, raw: Any) -> str | None:
        message_id = raw.get("messageId")
        return message_id if isinstance(message_id, str) and message_id else None

    def _group(self, raw: Any) -> str | None:
        attrs = raw.get("attributes") if isinstance(raw, dict) else None
        group = attrs.get("MessageGroupId") if isinstance(attrs, dict) else None
        return group if isinstance(group, str) else None

    def _decode(self, raw: Any, lambda_context: Any) -> tuple[SqsRecordContext, Any, str]:
        record_id = raw["messageId"]
        body = raw["body"]
        if not isinstance(record_id, str) or not record_id:
            raise TypeError("the record has no messageId")
        attrs = raw.get("messageAttributes")
        if not isinstance(body, str):
            ctx = SqsRecordContext(raw, record_id, lambda_context=lambda_context)
            raise Poison(
                "malformed-record", TypeError(f"body of {record_id} is {type(body).__name__}, not a string"), ctx
            )
        unwrapped = unwrap_text(body)
        if unwrapped is None:
            corr, cause, hops = trace_from_attributes(attrs) if attrs else (None, None, 0)
            ctx = SqsRecordContext(raw, record_id, record_id, "aws:sqs", lambda_context, corr, cause, hops, None, attrs)
            return self._validate(ctx, body, True)  # type: ignore[return-value]
        trace = unwrapped.trace
        if trace is None and attrs:
            trace = trace_from_attributes(attrs)
        corr, cause, hops = trace if trace is not None else (None, None, 0)
        seen = unwrapped.attributes
        if seen and isinstance(attrs, dict) and attrs:
            seen = {**attrs, **seen}  # the publisher's SNS attributes win over the SQS message's own
        ctx = SqsRecordContext(
            raw,
            record_id,
            unwrapped.message_id or record_id,
            "aws:sqs",
            lambda_context,
            corr,
            cause,
            hops,
            unwrapped.event_type,
            seen or attrs,
        )
        payload = unwrapped.payload
        return self._validate(ctx, payload, isinstance(payload, str))  # type: ignore[return-value]


def _index(records: list[Any], raw: Any) -> int:
    """A record's position, found only when it leaves the fast path (counting every record costs more)."""
    return next(i for i, record in enumerate(records) if record is raw)


def _refcounts_are_exact() -> bool:
    """Whether ``sys.getrefcount`` counts references exactly here (CPython with the GIL), which context reuse needs."""
    probe = object()
    return sys.getrefcount(probe) == 2


_EXACT_REFCOUNTS = _refcounts_are_exact()


class _PlainSqsRecordContext(SqsRecordContext):
    """The context of a record on the fast path: a producer's body with no envelope and no trace, so everything but
    the record, its id and the Lambda context has its default, held by the class instead of stored per record (three
    stores instead of twelve, which at Lambda's batch of 10 is a tenth of the framework's cost). It is read-only
    where the defaults are (the engine never changes a fast-path record's trace); attributes are read from the record
    on each access instead of cached."""

    __slots__ = ()
    __init__ = object.__init__  # built by calling the class with no arguments, the cheapest allocation there is
    _message_id = None
    _correlation_id = None
    causation_id = None
    event_type = None
    hops = 0
    source = SqsRecordContext.default_source

    @property
    def raw_attributes(self) -> dict[str, Any] | None:
        return self.record.get("messageAttributes") or None

    @raw_attributes.setter
    def raw_attributes(self, value: dict[str, Any] | None) -> None:
        raise AttributeError("a fast-path record's attributes are its record's")

    @property
    def attributes(self) -> dict[str, str]:
        return read_attributes(self.raw_attributes)[0]

    @property
    def binary_attributes(self) -> Mapping[str, bytes]:
        return read_attributes(self.raw_attributes)[1]

    def __repr__(self) -> str:
        return super().__repr__().replace(type(self).__name__, "SqsRecordContext", 1)


class SqsFifoHandler(SqsHandler[M]):
    """:class:`SqsHandler` declared for a FIFO queue: the pattern provisions FIFO, and group ordering always applies.

    Example::

        class ApplyLedgerEntry(SqsFifoHandler[Entry]):
            def handle(self, entry: Entry, ctx: SqsRecordContext) -> None:
                ledger.apply(entry)          # entries of one account (message group) arrive in order
    """

    fifo: ClassVar[bool] = True


def _is_fifo(records: list[Any]) -> bool:
    # A batch comes from one queue: the first record that names its source decides. Records before it that are not
    # records at all must not make a FIFO batch look standard, which would process past a failed message of a group.
    for record in records:
        if not isinstance(record, dict):
            continue
        attrs = record.get("attributes")
        if isinstance(attrs, dict) and "MessageGroupId" in attrs:
            return True
        arn = record.get("eventSourceARN")
        if isinstance(arn, str):
            return arn.endswith(".fifo")
    return False

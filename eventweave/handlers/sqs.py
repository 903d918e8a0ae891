"""SQS handlers: standard queues with partial batch responses, FIFO queues with per-group ordering."""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from .base import BaseHandler, Mode, Poison
from .context import ATTR_CORRELATION, ATTR_HOPS, SqsRecordContext, trace_from_attributes
from .envelopes import unwrap_text

__all__ = ["SqsFifoHandler", "SqsHandler", "SqsRecordContext"]

M = TypeVar("M")


class SqsHandler(BaseHandler[M]):
    """Handler for an SQS event source mapping with ``ReportBatchItemFailures`` on.

    Bodies are unwrapped automatically: a producer's JSON, an SNS notification (raw delivery or the JSON envelope),
    an EventBridge event, or SNS carrying an EventBridge event all reach ``handle`` as the same model. Returns
    ``{"batchItemFailures": [...]}`` naming only the records that must be retried; poison goes to the DLQ.

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

    def handle(self, message: M, ctx: SqsRecordContext) -> Any:  # type: ignore[override]
        raise NotImplementedError

    handle.__eventweave_placeholder__ = True  # type: ignore[attr-defined]

    def __call__(self, event: Any, context: Any) -> dict[str, list[dict[str, str]]]:
        records = event.get("Records") if isinstance(event, dict) else None
        if not isinstance(records, list):
            self._malformed_event(event, "no 'Records' list")
            return {"batchItemFailures": []}
        mode: Mode = "fifo" if self.fifo or _is_fifo(records) else "independent"
        failures, counts, _ = self._run(records, context, mode)
        self._finish(counts, failures, len(records))
        return {"batchItemFailures": [{"itemIdentifier": f} for f in failures if f is not None]}

    def _record_id(self, raw: Any) -> str | None:
        message_id = raw.get("messageId")
        return message_id if isinstance(message_id, str) and message_id else None

    def _group(self, raw: Any) -> str | None:
        attrs = raw.get("attributes")
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
        if (
            '"TopicArn"' not in body
            and '"detail-type"' not in body
            and not (attrs and (ATTR_HOPS in attrs or ATTR_CORRELATION in attrs))
            and not self._routes_
        ):
            # The common case (a producer's JSON, no envelope, no trace): build the context at the least cost.
            ctx = SqsRecordContext._fast(raw, record_id, lambda_context)
            if attrs:
                ctx.raw_attributes = attrs
            try:
                return ctx, self._validator_.from_json(body), "handle"
            except ValueError as error:  # pydantic's ValidationError is a ValueError too
                raise Poison("validation-error", error, ctx) from None
        unwrapped = unwrap_text(body)
        if unwrapped is None:
            corr, cause, hops = trace_from_attributes(attrs) if attrs else (None, None, 0)
            ctx = SqsRecordContext(raw, record_id, record_id, "aws:sqs", lambda_context, corr, cause, hops, None, attrs)
            return self._validate(ctx, body, True)  # type: ignore[return-value]
        trace = unwrapped.trace
        if trace is None and attrs:
            trace = trace_from_attributes(attrs)
        corr, cause, hops = trace if trace is not None else (None, None, 0)
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
            unwrapped.attributes or attrs,
        )
        payload = unwrapped.payload
        return self._validate(ctx, payload, isinstance(payload, str))  # type: ignore[return-value]


class SqsFifoHandler(SqsHandler[M]):
    """:class:`SqsHandler` declared for a FIFO queue: the pattern provisions FIFO, and group ordering always applies.

    Example::

        class ApplyLedgerEntry(SqsFifoHandler[Entry]):
            def handle(self, entry: Entry, ctx: SqsRecordContext) -> None:
                ledger.apply(entry)          # entries of one account (message group) arrive in order
    """

    fifo: ClassVar[bool] = True


def _is_fifo(records: list[Any]) -> bool:
    first = records[0] if records else None
    if not isinstance(first, dict):
        return False
    arn = first.get("eventSourceARN")
    if isinstance(arn, str) and arn.endswith(".fifo"):
        return True
    attrs = first.get("attributes")
    return isinstance(attrs, dict) and "MessageGroupId" in attrs

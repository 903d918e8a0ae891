"""EventBridge handler: a Lambda function as a rule target (asynchronous invocation, one event)."""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from eventweave.wire.envelopes import unwrap_eventbridge

from .base import BaseHandler
from .context import RecordContext

__all__ = ["EventBridgeHandler", "EventBridgeRecordContext"]

M = TypeVar("M")


class EventBridgeRecordContext(RecordContext):
    """Context of an EventBridge event; ``event_type`` is its ``detail-type``."""

    __slots__ = ()
    default_source = "aws:events"

    @property
    def detail_type(self) -> str | None:
        return self.event_type

    @property
    def event_source(self) -> str | None:
        source = self.record.get("source")
        return source if isinstance(source, str) else None

    @property
    def resources(self) -> list[str]:
        resources = self.record.get("resources")
        return [r for r in resources if isinstance(r, str)] if isinstance(resources, list) else []

    @property
    def time(self) -> str | None:
        value = self.record.get("time")
        return value if isinstance(value, str) else None


class EventBridgeHandler(BaseHandler[M, EventBridgeRecordContext]):
    """Handler for an EventBridge rule target. ``detail`` is validated; dispatch by ``detail-type`` with ``@on_event``.

    A retryable failure raises (Lambda's async retries, then the on-failure destination); poison goes to
    ``EVENTWEAVE_DLQ``. An event whose ``detail-type`` has no method and no ``handle`` is poison
    (``unhandled-event-type``): the rule's pattern is wider than the handler.

    Example::

        class Shipping(EventBridgeHandler):
            @on_event("OrderPlaced")
            def placed(self, order: OrderPlaced, ctx: EventBridgeRecordContext) -> None:
                warehouse.reserve(order.order_id)

            @on_event("OrderCancelled")
            def cancelled(self, order: OrderCancelled, ctx: EventBridgeRecordContext) -> None:
                warehouse.release(order.order_id)

        handler = Shipping.lambda_handler()
    """

    source: ClassVar[str] = "eventbridge"
    event_source_name: ClassVar[str] = "aws:events"
    mode = "single"

    def __call__(self, event: Any, context: Any) -> Any:
        if not isinstance(event, dict) or "detail" not in event or "detail-type" not in event:
            self._malformed_event(event, "not an EventBridge event (no 'detail' / 'detail-type')")
            return None
        failures, counts, result = self._run([event], context)
        self._finish(counts, [], 1)
        self._raise_single(failures)
        return result

    def _source_arn(self, raw: Any) -> str | None:
        resources = raw.get("resources") if isinstance(raw, dict) else None
        if isinstance(resources, list) and resources and isinstance(resources[0], str):
            return resources[0]
        return None

    def _record_id(self, raw: Any) -> str | None:
        event_id = raw.get("id")
        return event_id if isinstance(event_id, str) else None

    def _decode(self, raw: Any, lambda_context: Any) -> tuple[EventBridgeRecordContext, Any, str]:
        event_id = raw.get("id")
        if not isinstance(event_id, str) or not event_id:
            raise TypeError("the event has no id")
        unwrapped = unwrap_eventbridge(raw)
        corr, cause, hops = unwrapped.trace if unwrapped.trace is not None else (None, None, 0)
        ctx = EventBridgeRecordContext(
            raw, event_id, event_id, "aws:events", lambda_context, corr, cause, hops, unwrapped.event_type
        )
        return self._validate(ctx, unwrapped.payload, False)  # type: ignore[return-value]

"""EventBridgeHandler: typed detail, @on_event dispatch, unhandled types, trace in ``__context``, failures."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from eventweave.handlers import (
    IGNORED,
    EventBridgeHandler,
    EventBridgeRecordContext,
    InvalidEventError,
    PermanentError,
    RecordFailedError,
    Settings,
    on_event,
)
from tests.factories import eventbridge_event
from tests.unit.doubles import RecordingDeadLetter, with_dead_letter


class OrderPlaced(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order_id: str
    amount: int


class OrderCancelled(BaseModel):
    order_id: str
    reason: str


class Reserve(EventBridgeHandler[OrderPlaced]):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seen: list[tuple[OrderPlaced, EventBridgeRecordContext]] = []

    def handle(self, order: OrderPlaced, ctx: EventBridgeRecordContext) -> dict[str, str]:
        self.seen.append((order, ctx))
        if order.amount == 0:
            raise TimeoutError("warehouse API timed out")
        if order.amount < 0:
            raise PermanentError("negative amount")
        return {"reserved": order.order_id}


class Shipping(EventBridgeHandler):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls: list[tuple[str, Any, EventBridgeRecordContext]] = []

    @on_event("OrderPlaced")
    def placed(self, order: OrderPlaced, ctx: EventBridgeRecordContext) -> str:
        self.calls.append(("placed", order, ctx))
        return f"reserved {order.order_id}"

    @on_event("OrderCancelled", "OrderVoided")
    def cancelled(self, order: OrderCancelled, ctx: EventBridgeRecordContext) -> str:
        self.calls.append(("cancelled", order, ctx))
        return f"released {order.order_id}"


def build(
    cls: type = Reserve, dlq: RecordingDeadLetter | None = None, **settings: Any
) -> tuple[Any, RecordingDeadLetter]:
    handler = cls(settings=Settings(**settings))
    return handler, with_dead_letter(handler, dlq)


def test_detail_is_typed_and_handle_result_is_returned(lambda_context):
    """detail is validated into the model, ctx describes the event, and handle's return value is the result."""
    handler, dlq = build()
    event = eventbridge_event({"order_id": "o-1", "amount": 5}, event_id="ev-1", source="shop", bus="orders")
    assert handler(event, lambda_context) == {"reserved": "o-1"}
    [(model, ctx)] = handler.seen
    assert model == OrderPlaced(order_id="o-1", amount=5)
    assert (ctx.record_id, ctx.message_id, ctx.correlation_id, ctx.hops) == ("ev-1", "ev-1", "ev-1", 0)
    assert ctx.detail_type == ctx.event_type == "OrderPlaced"
    assert ctx.event_source == "shop"
    assert ctx.resources == ["arn:aws:events:us-east-1:123456789012:rule/orders/orders-rule"]
    assert ctx.time == "2026-11-23T12:00:00Z"
    assert ctx.source == "aws:events"
    assert dlq.offered == []


def test_ignored_result_is_json_serialisable(lambda_context):
    """Returning IGNORED marks the event ignored; Lambda must still be able to serialise the invocation result."""

    class Skip(EventBridgeHandler[OrderPlaced]):
        def handle(self, order: OrderPlaced, ctx: EventBridgeRecordContext) -> Any:
            return IGNORED

    handler, dlq = build(Skip)
    result = handler(eventbridge_event({"order_id": "o", "amount": 1}), lambda_context)
    assert json.loads(json.dumps(result)) is None  # the Lambda runtime json-encodes what the handler returns
    assert dlq.offered == []


def test_context_is_read_stripped_and_event_left_intact(lambda_context):
    """``__context`` sets the trace and is removed before an extra="forbid" model validates, on a copy."""
    handler, _ = build()
    detail = {"order_id": "o-1", "amount": 5, "__context": {"correlationId": "corr", "causationId": "cause", "hops": 3}}
    event = eventbridge_event(detail)
    handler(event, lambda_context)
    ctx = handler.seen[0][1]
    assert (ctx.correlation_id, ctx.causation_id, ctx.hops) == ("corr", "cause", 3)
    assert "__context" in event["detail"]  # the caller's event is unchanged: poison must be stored as it came


def test_poison_record_keeps_the_original_detail(lambda_context):
    """An invalid detail is stored with its ``__context`` so a replay keeps the trace."""
    handler, dlq = build()
    detail = {"order_id": "o-1", "__context": {"correlationId": "corr", "hops": 1}}
    event = eventbridge_event(detail, event_id="ev-bad")
    assert handler(event, lambda_context) is None
    [entry] = dlq.delivered
    assert (entry.reason, entry.record_id) == ("validation-error", "ev-bad")
    assert (entry.correlation_id, entry.hops) == ("corr", 1)
    assert entry.record["detail"] == detail
    assert dlq.documents()[0]["eventSourceARN"] == event["resources"][0]


def test_permanent_error_goes_to_the_dlq(lambda_context):
    """PermanentError from handle is poison: delivered, and the invocation returns None instead of raising."""
    handler, dlq = build()
    assert handler(eventbridge_event({"order_id": "o", "amount": -1}, event_id="ev-n"), lambda_context) is None
    assert dlq.reasons() == {"ev-n": "permanent-error"}


def test_retryable_failure_raises(lambda_context):
    """A retryable failure raises RecordFailedError so EventBridge/Lambda retry the event."""
    handler, dlq = build()
    with pytest.raises(RecordFailedError, match="ev-t"):
        handler(eventbridge_event({"order_id": "o", "amount": 0}, event_id="ev-t"), lambda_context)
    assert dlq.offered == []


def test_recursion_limit_from_context(lambda_context):
    """hops in ``__context`` over max_hops is recursion-limit poison; at the limit it is processed."""
    handler, dlq = build(max_hops=5)
    over = eventbridge_event({"order_id": "o", "amount": 1, "__context": {"hops": 6}}, event_id="ev-over")
    at = eventbridge_event({"order_id": "o", "amount": 1, "__context": {"hops": 5}}, event_id="ev-at")
    assert handler(over, lambda_context) is None
    assert handler(at, lambda_context) == {"reserved": "o"}
    assert [ctx.record_id for _, ctx in handler.seen] == ["ev-at"]
    assert dlq.reasons() == {"ev-over": "recursion-limit"}


@pytest.mark.parametrize("meta", [{"hops": "lots"}, {"hops": True}, "not-an-object"], ids=["text", "bool", "string"])
def test_corrupt_context_hops_trip_the_guard(lambda_context, meta):
    """An unreadable ``__context`` is treated as over the limit, never as hop 0."""
    handler, dlq = build()
    handler(eventbridge_event({"order_id": "o", "amount": 1, "__context": meta}, event_id="ev-c"), lambda_context)
    assert handler.seen == []
    assert dlq.reasons() == {"ev-c": "recursion-limit"}


def test_on_event_dispatches_by_detail_type(lambda_context):
    """Each detail-type reaches its method, validated against that method's model; results are returned."""
    handler, dlq = build(Shipping)
    placed = eventbridge_event({"order_id": "o-1", "amount": 5}, detail_type="OrderPlaced")
    cancelled = eventbridge_event({"order_id": "o-2", "reason": "changed mind"}, detail_type="OrderCancelled")
    voided = eventbridge_event({"order_id": "o-3", "reason": "fraud"}, detail_type="OrderVoided")
    assert handler(placed, lambda_context) == "reserved o-1"
    assert handler(cancelled, lambda_context) == "released o-2"
    assert handler(voided, lambda_context) == "released o-3"
    assert [(name, model) for name, model, _ in handler.calls] == [
        ("placed", OrderPlaced(order_id="o-1", amount=5)),
        ("cancelled", OrderCancelled(order_id="o-2", reason="changed mind")),
        ("cancelled", OrderCancelled(order_id="o-3", reason="fraud")),
    ]
    assert dlq.offered == []
    assert set(Shipping.contract().event_types) == {"OrderPlaced", "OrderCancelled", "OrderVoided"}


def test_detail_invalid_for_its_route_is_poison(lambda_context):
    """A detail valid for another route but not its own is validation-error poison."""
    handler, dlq = build(Shipping)
    event = eventbridge_event({"order_id": "o", "amount": 1}, detail_type="OrderCancelled", event_id="ev")
    handler(event, lambda_context)
    assert handler.calls == []
    assert dlq.reasons() == {"ev": "validation-error"}


def test_unknown_detail_type_is_unhandled_event_type_poison(lambda_context):
    """An event no method handles is poison naming the known types: the rule's pattern is wider than the code."""
    handler, dlq = build(Shipping)
    event = eventbridge_event({"order_id": "o"}, detail_type="OrderRefunded", event_id="ev-u")
    assert handler(event, lambda_context) is None
    assert handler.calls == []
    assert dlq.reasons() == {"ev-u": "unhandled-event-type"}
    message = dlq.documents()[0]["errorMessage"]
    assert "OrderRefunded" in message
    assert "OrderPlaced" in message


def test_unknown_detail_type_without_dlq_raises(lambda_context):
    """With no DLQ an unhandled event type raises, so Lambda's failure handling keeps the event."""
    handler, _ = build(Shipping, RecordingDeadLetter(target=None))
    with pytest.raises(RecordFailedError):
        handler(eventbridge_event({}, detail_type="Other"), lambda_context)


def test_handle_is_the_fallback_of_on_event(lambda_context):
    """A class with handle and @on_event routes known types to methods and the rest to handle."""

    class Mixed(EventBridgeHandler[OrderCancelled]):
        @on_event("OrderPlaced")
        def placed(self, order: OrderPlaced, ctx: EventBridgeRecordContext) -> str:
            return "placed"

        def handle(self, order: OrderCancelled, ctx: EventBridgeRecordContext) -> str:
            return f"fallback {ctx.detail_type} {order.reason}"

    handler, dlq = build(Mixed)
    assert handler(eventbridge_event({"order_id": "o", "amount": 1}, detail_type="OrderPlaced"), None) == "placed"
    other = eventbridge_event({"order_id": "o", "reason": "r"}, detail_type="OrderVoided")
    assert handler(other, lambda_context) == "fallback OrderVoided r"
    assert dlq.offered == []


def test_routes_are_inherited(lambda_context):
    """A subclass keeps its parent's routes and can add its own."""

    class MoreShipping(Shipping):
        @on_event("OrderRefunded")
        def refunded(self, order: OrderCancelled, ctx: EventBridgeRecordContext) -> str:
            return "refunded"

    handler, _ = build(MoreShipping)
    assert handler(eventbridge_event({"order_id": "o", "amount": 1}), lambda_context) == "reserved o"
    assert handler(eventbridge_event({"order_id": "o", "reason": "r"}, detail_type="OrderRefunded"), None) == "refunded"
    assert "OrderRefunded" not in Shipping._routes_


def test_class_without_handle_or_routes_fails_at_construction():
    """Forgetting both handle and @on_event is caught when the function starts, not on the first event."""

    class Empty(EventBridgeHandler[OrderPlaced]):
        pass

    with pytest.raises(TypeError, match=r"Empty must define handle\(\) or at least one @on_event method"):
        Empty(settings=Settings())


def test_on_event_needs_a_type_and_an_annotated_model():
    """@on_event() without types, or on a method without a model annotation, is rejected at class definition."""
    with pytest.raises(TypeError, match="at least one detail-type"):
        on_event()

    with pytest.raises(TypeError, match="annotate its first parameter"):

        class Unannotated(EventBridgeHandler):
            @on_event("OrderPlaced")
            def placed(self, order, ctx):  # type: ignore[no-untyped-def]
                return None


@pytest.mark.parametrize(
    "event",
    [{"Records": []}, {"detail-type": "OrderPlaced"}, {"detail": {}}, None],
    ids=["sqs-shape", "no-detail", "no-detail-type", "none"],
)
def test_malformed_event_goes_to_the_dlq(lambda_context, event):
    """A payload that is not an EventBridge event is stored whole as malformed-event poison."""
    handler, dlq = build()
    assert handler(event, lambda_context) is None
    assert [(e.reason, e.record) for e in dlq.delivered] == [("malformed-event", event)]


def test_malformed_event_without_dlq_raises():
    """With no DLQ a malformed invocation raises InvalidEventError."""
    handler, _ = build(dlq=RecordingDeadLetter(target=None))
    with pytest.raises(InvalidEventError, match="detail"):
        handler({"hello": "world"}, None)


def test_event_without_id_is_malformed_record(lambda_context):
    """An event shaped like EventBridge but without an id is malformed-record poison, not a crash."""
    handler, dlq = build()
    event = eventbridge_event({"order_id": "o", "amount": 1})
    del event["id"]
    assert handler(event, lambda_context) is None
    assert [e.reason for e in dlq.delivered] == ["malformed-record"]
    assert handler.seen == []

"""SnsHandler: typed Message, context, retry by raising, poison to the DLQ, EventBridge events inside Message."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from eventweave.handlers import (
    InvalidEventError,
    PermanentError,
    RecordFailedError,
    Settings,
    SnsHandler,
    SnsRecordContext,
)
from tests.factories import eventbridge_event, sns_attribute, sns_event
from tests.unit.doubles import RecordingDeadLetter, with_dead_letter


class Shipped(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order_id: str
    email: str


class Notify(SnsHandler[Shipped]):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seen: list[tuple[Shipped, SnsRecordContext]] = []

    def handle(self, event: Shipped, ctx: SnsRecordContext) -> str:
        self.seen.append((event, ctx))
        if event.order_id == "retry":
            raise ConnectionError("mail server unavailable")
        if event.order_id == "reject":
            raise PermanentError("address is on the suppression list")
        return f"sent {event.order_id}"


def build(dlq: RecordingDeadLetter | None = None, **settings: Any) -> tuple[Notify, RecordingDeadLetter]:
    handler = Notify(settings=Settings(**settings))
    return handler, with_dead_letter(handler, dlq)


def shipped(order_id: str = "o-1") -> dict[str, str]:
    return {"order_id": order_id, "email": "ana@example.com"}


def test_message_is_typed_and_context_is_filled(lambda_context):
    """Message is validated into the model; attributes, subject, topic and ids are on ctx; the call returns None."""
    handler, dlq = build()
    event = sns_event(
        shipped(),
        message_id="sns-1",
        topic="shipping",
        subject="Your order shipped",
        attributes={"tenant": sns_attribute("acme"), "priority": sns_attribute(3)},
    )
    assert handler(event, lambda_context) is None
    [(model, ctx)] = handler.seen
    assert model == Shipped(order_id="o-1", email="ana@example.com")
    assert ctx.attributes == {"tenant": "acme", "priority": "3"}
    assert ctx.subject == "Your order shipped"
    assert ctx.topic_arn == "arn:aws:sns:us-east-1:123456789012:shipping"
    assert (ctx.record_id, ctx.message_id, ctx.correlation_id, ctx.hops) == ("sns-1", "sns-1", "sns-1", 0)
    assert ctx.source == "aws:sns"
    assert ctx.event_type is None
    assert dlq.offered == []


def test_null_subject_is_none(lambda_context):
    """SNS sends Subject null when the publisher set none; ctx.subject is then None."""
    handler, _ = build()
    handler(sns_event(shipped()), lambda_context)
    assert handler.seen[0][1].subject is None


def test_trace_from_message_attributes(lambda_context):
    """eventweave's trace attributes on the notification set correlation id, causation id and hops."""
    handler, _ = build()
    attributes = {
        "eventweave-correlation-id": sns_attribute("corr-1"),
        "eventweave-causation-id": sns_attribute("cause-1"),
        "eventweave-hops": sns_attribute(2),
    }
    handler(sns_event(shipped(), attributes=attributes), lambda_context)
    ctx = handler.seen[0][1]
    assert (ctx.correlation_id, ctx.causation_id, ctx.hops) == ("corr-1", "cause-1", 2)


def test_retryable_failure_raises_record_failed(lambda_context):
    """A retryable failure raises so Lambda's async retries and on-failure destination apply."""
    handler, dlq = build()
    with pytest.raises(RecordFailedError, match="sns-r"):
        handler(sns_event(shipped("retry"), message_id="sns-r"), lambda_context)
    assert len(handler.seen) == 1
    assert dlq.offered == []


@pytest.mark.parametrize(
    ("message", "reason", "reaches_handle"),
    [
        pytest.param(shipped("reject"), "permanent-error", True, id="permanent-error"),
        pytest.param({"order_id": "o"}, "validation-error", False, id="validation-error"),
        pytest.param({**shipped(), "unexpected": 1}, "validation-error", False, id="extra-field"),
        pytest.param("plain text", "validation-error", False, id="not-json"),
    ],
)
def test_poison_goes_to_the_dlq_and_returns_normally(lambda_context, message, reason, reaches_handle):
    """Poison is delivered at once with its reason and the invocation succeeds (no pointless async retries)."""
    handler, dlq = build()
    event = sns_event(message, message_id="sns-p", topic="shipping")
    assert handler(event, lambda_context) is None
    assert bool(handler.seen) is reaches_handle
    assert dlq.reasons() == {"sns-p": reason}
    [doc] = dlq.documents()
    assert doc["eventSource"] == "aws:sns"
    assert doc["record"] == event["Records"][0]


@pytest.mark.parametrize("dlq_kwargs", [{"target": None}, {"fail": True}], ids=["no-dlq", "refused"])
def test_undeliverable_poison_raises(lambda_context, dlq_kwargs):
    """Poison with nowhere to go raises, so Lambda's own failure handling keeps the message."""
    handler, dlq = build(RecordingDeadLetter(**dlq_kwargs))
    with pytest.raises(RecordFailedError):
        handler(sns_event({"order_id": "o"}, message_id="sns-p"), lambda_context)
    assert [e.reason for e in dlq.offered] == ["validation-error"]


def test_recursion_limit_from_attributes(lambda_context):
    """A notification past max_hops is recursion-limit poison and is not handled."""
    handler, dlq = build(max_hops=2)
    attributes = {"eventweave-correlation-id": sns_attribute("c"), "eventweave-hops": sns_attribute(3)}
    handler(sns_event(shipped(), message_id="sns-l", attributes=attributes), lambda_context)
    assert handler.seen == []
    assert dlq.reasons() == {"sns-l": "recursion-limit"}


def test_eventbridge_event_in_message_is_unwrapped(lambda_context):
    """A rule targeting the topic delivers an EventBridge event as Message: the handler gets its detail."""
    handler, dlq = build()
    detail = {**shipped(), "__context": {"correlationId": "corr-eb", "causationId": "cause-eb", "hops": 1}}
    event = sns_event(eventbridge_event(detail, detail_type="OrderShipped", event_id="ev-1"), message_id="sns-eb")
    handler(event, lambda_context)
    assert dlq.offered == []
    [(model, ctx)] = handler.seen
    assert model == Shipped(order_id="o-1", email="ana@example.com")  # extra="forbid": __context was removed
    assert ctx.event_type == "OrderShipped"
    assert (ctx.record_id, ctx.message_id) == ("sns-eb", "ev-1")
    assert (ctx.correlation_id, ctx.causation_id, ctx.hops) == ("corr-eb", "cause-eb", 1)


def test_eventbridge_in_message_without_context_uses_sns_attributes(lambda_context):
    """Without ``__context`` the trace of an unwrapped EventBridge event comes from the SNS attributes."""
    handler, _ = build()
    attributes = {"eventweave-correlation-id": sns_attribute("corr-a"), "eventweave-hops": sns_attribute(4)}
    handler(sns_event(eventbridge_event(shipped()), attributes=attributes), lambda_context)
    ctx = handler.seen[0][1]
    assert (ctx.correlation_id, ctx.hops) == ("corr-a", 4)
    assert ctx.attributes["eventweave-correlation-id"] == "corr-a"


def test_non_string_message_is_malformed_record(lambda_context):
    """A notification whose Message is not a string is malformed-record poison, not a crash."""
    handler, dlq = build()
    event = sns_event(shipped(), message_id="sns-m")
    event["Records"][0]["Sns"]["Message"] = {"order_id": "o"}
    assert handler(event, lambda_context) is None
    assert dlq.reasons() == {"sns-m": "malformed-record"}


@pytest.mark.parametrize("event", [{}, {"Records": []}, {"Records": None}, "text"])
def test_malformed_event_goes_to_the_dlq(lambda_context, event):
    """An invocation without an SNS record is stored whole as malformed-event poison."""
    handler, dlq = build()
    assert handler(event, lambda_context) is None
    assert [(e.reason, e.record) for e in dlq.delivered] == [("malformed-event", event)]


def test_malformed_event_without_dlq_raises(lambda_context):
    """With no DLQ a malformed invocation raises InvalidEventError."""
    handler, _ = build(RecordingDeadLetter(target=None))
    with pytest.raises(InvalidEventError):
        handler({"detail": {}}, lambda_context)


def test_contract():
    """The contract names the SNS source and model; SNS invokes asynchronously, so no partial batch response."""
    contract = Notify.contract()
    assert (contract.source, contract.model, contract.partial_batch_response, contract.fifo) == (
        "sns",
        Shipped,
        False,
        False,
    )

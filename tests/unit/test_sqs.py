"""SqsHandler and SqsFifoHandler: partial batch responses, poison routing, envelopes, FIFO groups, recursion guard."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from eventweave.handlers import (
    BatchFailedError,
    InvalidEventError,
    PermanentError,
    Settings,
    SqsFifoHandler,
    SqsHandler,
    SqsRecordContext,
    on_event,
)
from tests.factories import (
    eventbridge_event,
    sns_attribute,
    sns_envelope,
    sqs_attribute,
    sqs_event,
    sqs_record,
    trace_sqs_attributes,
)
from tests.unit.doubles import RecordingDeadLetter, with_dead_letter


class Order(BaseModel):
    order_id: str
    amount: int


class StrictOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order_id: str
    amount: int


class _Recording:
    """Mixin: remembers what ``handle`` saw; ``fail-*`` ids fail retryably, negative amounts are permanent errors."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)  # type: ignore[call-arg]
        self.seen: list[tuple[Any, SqsRecordContext]] = []

    def handle(self, order: Any, ctx: SqsRecordContext) -> None:
        self.seen.append((order, ctx))
        if order.amount < 0:
            raise PermanentError(f"order {order.order_id} has a negative amount")
        if order.order_id.startswith("fail"):
            raise RuntimeError(f"payments API unavailable for {order.order_id}")

    def seen_ids(self) -> list[str]:
        return [ctx.record_id for _, ctx in self.seen]


class Charge(_Recording, SqsHandler[Order]):
    pass


class StrictCharge(_Recording, SqsHandler[StrictOrder]):
    pass


class FifoCharge(_Recording, SqsFifoHandler[Order]):
    pass


def build(
    cls: type = Charge, dlq: RecordingDeadLetter | None = None, **settings: Any
) -> tuple[Any, RecordingDeadLetter]:
    handler = cls(settings=Settings(**settings))
    return handler, with_dead_letter(handler, dlq)


def order(order_id: str, amount: int = 10) -> dict[str, Any]:
    return {"order_id": order_id, "amount": amount}


# -- standard queues ---------------------------------------------------------------------------------------------------


def test_all_records_succeed_gives_empty_failure_list(lambda_context):
    """A clean batch reports no failures and every record reaches handle as a typed model, in order."""
    handler, dlq = build()
    event = sqs_event(*(sqs_record(order(f"o-{i}", i), message_id=f"m{i}") for i in range(3)))
    assert handler(event, lambda_context) == {"batchItemFailures": []}
    assert handler.seen_ids() == ["m0", "m1", "m2"]
    assert [o for o, _ in handler.seen] == [Order(order_id=f"o-{i}", amount=i) for i in range(3)]
    assert dlq.offered == []


def test_lambda_handler_builds_the_callable(lambda_context):
    """lambda_handler() returns a callable that processes an SQS event like the instance does."""
    entry = Charge.lambda_handler(settings=Settings())
    with_dead_letter(entry.instance)
    result = entry(sqs_event(sqs_record(order("fail-1"), message_id="m1"), sqs_record(order("o"))), lambda_context)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}]}


def test_one_retryable_failure_reports_only_that_message(lambda_context):
    """Only the failing messageId is reported; its neighbours before and after are processed."""
    handler, dlq = build()
    event = sqs_event(
        sqs_record(order("o-1"), message_id="m1"),
        sqs_record(order("fail-2"), message_id="m2"),
        sqs_record(order("o-3"), message_id="m3"),
    )
    assert handler(event, lambda_context) == {"batchItemFailures": [{"itemIdentifier": "m2"}]}
    assert handler.seen_ids() == ["m1", "m2", "m3"]
    assert dlq.offered == []


def _non_string_body() -> dict[str, Any]:
    record = sqs_record(order("x"), message_id="poison")
    record["body"] = {"order_id": "x", "amount": 1}
    return record


def _no_message_id() -> dict[str, Any]:
    record = sqs_record(order("x"), message_id="unused")
    del record["messageId"]
    return record


@pytest.mark.parametrize(
    ("record", "reason", "record_id", "reaches_handle"),
    [
        pytest.param(
            sqs_record({"order_id": "x"}, message_id="poison"),
            "validation-error",
            "poison",
            False,
            id="validation-error",
        ),
        pytest.param(sqs_record("{not json", message_id="poison"), "validation-error", "poison", False, id="bad-json"),
        pytest.param(
            sqs_record(order("x", -5), message_id="poison"), "permanent-error", "poison", True, id="permanent-error"
        ),
        pytest.param(_non_string_body(), "malformed-record", "poison", False, id="non-string-body"),
        pytest.param(_no_message_id(), "malformed-record", None, False, id="missing-message-id"),
    ],
)
def test_poison_goes_to_the_dlq_and_is_not_reported(lambda_context, record, reason, record_id, reaches_handle):
    """Each kind of poison is delivered to the DLQ with its reason, counts as handled, and the batch carries on."""
    handler, dlq = build()
    event = sqs_event(sqs_record(order("before"), message_id="m1"), record, sqs_record(order("after"), message_id="m3"))
    assert handler(event, lambda_context) == {"batchItemFailures": []}
    assert [o.order_id for o, _ in handler.seen if o.order_id != "x"] == ["before", "after"]
    assert ("poison" in handler.seen_ids()) is reaches_handle
    assert [(e.record_id, e.reason) for e in dlq.delivered] == [(record_id, reason)]
    doc = dlq.documents()[0]
    assert doc["kind"] == "eventweave.poison"
    assert doc["reason"] == reason
    assert doc["eventSource"] == "aws:sqs"
    assert doc["eventSourceARN"] == record["eventSourceARN"]
    assert doc["record"] == record  # the record is stored as it came, so it can be replayed


def test_permanent_error_document_names_the_error(lambda_context):
    """A PermanentError's type and message are in the poison document."""
    handler, dlq = build()
    handler(sqs_event(sqs_record(order("neg", -1), message_id="m1"), sqs_record(order("ok"))), lambda_context)
    doc = dlq.documents()[0]
    assert doc["errorType"] == "PermanentError"
    assert "order neg has a negative amount" in doc["errorMessage"]
    assert doc["messageId"] == "m1"


UNDELIVERABLE = pytest.mark.parametrize("dlq_kwargs", [{"target": None}, {"fail": True}], ids=["no-dlq", "refused"])


@UNDELIVERABLE
def test_undeliverable_poison_is_reported_failed(lambda_context, dlq_kwargs):
    """Poison that cannot be stored is reported in batchItemFailures (kept by the queue), never dropped."""
    handler, dlq = build(dlq=RecordingDeadLetter(**dlq_kwargs))
    event = sqs_event(
        sqs_record(order("o-1"), message_id="m1"),
        sqs_record("garbage", message_id="bad-json"),
        sqs_record(order("neg", -1), message_id="negative"),
        sqs_record(order("o-4"), message_id="m4"),
    )
    result = handler(event, lambda_context)
    assert result == {"batchItemFailures": [{"itemIdentifier": "bad-json"}, {"itemIdentifier": "negative"}]}
    assert [e.record_id for e in dlq.offered] == ["bad-json", "negative"]
    assert dlq.delivered == []
    assert "m4" in handler.seen_ids()


def test_only_the_refused_poison_record_is_reported(lambda_context):
    """When the DLQ stores one poison record but refuses another, only the refused one is reported failed."""
    handler, dlq = build(dlq=RecordingDeadLetter(fail_ids={"p2"}))
    event = sqs_event(
        sqs_record("garbage", message_id="p1"), sqs_record("garbage", message_id="p2"), sqs_record(order("o"))
    )
    assert handler(event, lambda_context) == {"batchItemFailures": [{"itemIdentifier": "p2"}]}
    assert dlq.reasons() == {"p1": "validation-error"}


def test_undeliverable_poison_without_message_id_fails_the_whole_batch(lambda_context):
    """A record that cannot be named in batchItemFailures and cannot be stored makes the whole batch retry."""
    handler, dlq = build(dlq=RecordingDeadLetter(fail=True))
    event = sqs_event(sqs_record(order("o-1"), message_id="m1"), _no_message_id(), sqs_record(order("o-3")))
    with pytest.raises(BatchFailedError):
        handler(event, lambda_context)
    assert [e.reason for e in dlq.offered] == ["malformed-record"]


def test_every_record_failing_raises_batch_failed(lambda_context):
    """When nothing in the batch succeeds the handler raises, so Lambda backs off and retries the batch."""
    handler, _ = build()
    event = sqs_event(sqs_record(order("fail-1"), message_id="m1"), sqs_record(order("fail-2"), message_id="m2"))
    with pytest.raises(BatchFailedError) as raised:
        handler(event, lambda_context)
    assert [record_id for record_id, _ in raised.value.failures] == ["m1", "m2"]
    assert handler.seen_ids() == ["m1", "m2"]


def test_every_record_poisoned_and_delivered_is_a_success(lambda_context):
    """A batch made only of delivered poison is fully handled: nothing reported, nothing raised."""
    handler, dlq = build()
    event = sqs_event(sqs_record("x", message_id="p1"), sqs_record({"order_id": 1}, message_id="p2"))
    assert handler(event, lambda_context) == {"batchItemFailures": []}
    assert set(dlq.reasons()) == {"p1", "p2"}


def test_empty_records_gives_empty_response(lambda_context):
    """An event with an empty Records list is a success with nothing to do."""
    handler, dlq = build()
    assert handler({"Records": []}, lambda_context) == {"batchItemFailures": []}
    assert handler.seen == []
    assert dlq.offered == []


@pytest.mark.parametrize("event", [{"detail": {}}, {"Records": "nope"}, ["not", "a", "dict"]])
def test_event_without_records_goes_to_the_dlq(lambda_context, event):
    """An invocation payload that is not an SQS event is stored whole as malformed-event poison."""
    handler, dlq = build()
    assert handler(event, lambda_context) == {"batchItemFailures": []}
    assert [(e.reason, e.record) for e in dlq.delivered] == [("malformed-event", event)]
    assert dlq.documents()[0]["errorType"] == "InvalidEventError"


@UNDELIVERABLE
def test_event_without_records_raises_when_it_cannot_be_stored(lambda_context, dlq_kwargs):
    """With nowhere to put a malformed event the handler raises InvalidEventError instead of swallowing it."""
    handler, _ = build(dlq=RecordingDeadLetter(**dlq_kwargs))
    with pytest.raises(InvalidEventError, match="Records"):
        handler({"hello": "world"}, lambda_context)


# -- envelopes --------------------------------------------------------------------------------------------------------


def _bodies() -> list[Any]:
    payload = order("o-1", 7)
    return [
        pytest.param(json.dumps(payload), "sqs-id", id="raw"),
        pytest.param(sns_envelope(payload, message_id="sns-id"), "sns-id", id="sns"),
        pytest.param(json.dumps(eventbridge_event(payload, event_id="event-id")), "event-id", id="eventbridge"),
        pytest.param(
            sns_envelope(eventbridge_event(payload, event_id="event-id"), message_id="sns-id"),
            "event-id",
            id="sns+eventbridge",
        ),
    ]


@pytest.mark.parametrize(("body", "logical_id"), _bodies())
def test_every_envelope_yields_the_same_model(lambda_context, body, logical_id):
    """One handler class reads raw, SNS-enveloped, EventBridge and SNS-wrapped EventBridge bodies alike."""
    handler, dlq = build()
    result = handler(sqs_event(sqs_record(body, message_id="sqs-id")), lambda_context)
    assert result == {"batchItemFailures": []}
    assert dlq.offered == []
    [(model, ctx)] = handler.seen
    assert model == Order(order_id="o-1", amount=7)
    assert ctx.record_id == "sqs-id"  # what batchItemFailures must name
    assert ctx.message_id == logical_id  # stable across subscribers and redeliveries
    assert ctx.correlation_id == logical_id  # a record without trace metadata starts its own chain


def test_sns_envelope_is_pretty_printed():
    """Guard for the envelope tests above: the factory's SNS body spans lines, as SNS writes it."""
    assert "\n" in sns_envelope(order("o"))


def test_failed_enveloped_record_is_reported_by_sqs_message_id(lambda_context):
    """batchItemFailures names the SQS messageId, not the SNS MessageId inside the envelope."""
    handler, _ = build()
    event = sqs_event(
        sqs_record(sns_envelope(order("fail-1"), message_id="sns-1"), message_id="sqs-1"), sqs_record(order("o"))
    )
    assert handler(event, lambda_context) == {"batchItemFailures": [{"itemIdentifier": "sqs-1"}]}


def test_eventbridge_body_sets_event_type(lambda_context):
    """The detail-type of an EventBridge body is exposed as ctx.event_type."""
    handler, _ = build()
    handler(sqs_event(sqs_record(eventbridge_event(order("o"), detail_type="OrderPlaced"))), lambda_context)
    assert handler.seen[0][1].event_type == "OrderPlaced"


def test_trace_from_sqs_message_attributes(lambda_context):
    """Correlation id, causation id and hops come from the SQS message attributes."""
    handler, _ = build()
    attrs = trace_sqs_attributes("corr-1", 3, causation="cause-1")
    attrs["tenant"] = sqs_attribute("acme")
    handler(sqs_event(sqs_record(order("o"), message_id="m1", attributes=attrs)), lambda_context)
    ctx = handler.seen[0][1]
    assert (ctx.correlation_id, ctx.causation_id, ctx.hops) == ("corr-1", "cause-1", 3)
    assert ctx.message_id == "m1"
    assert ctx.attributes["tenant"] == "acme"


def test_trace_from_sns_envelope_message_attributes(lambda_context):
    """Trace metadata set as SNS message attributes is read from the envelope inside the SQS body."""
    handler, _ = build()
    attributes = {
        "eventweave-correlation-id": sns_attribute("corr-2"),
        "eventweave-causation-id": sns_attribute("cause-2"),
        "eventweave-hops": sns_attribute(5),
        "tenant": sns_attribute("acme"),
    }
    body = sns_envelope(order("o"), message_id="sns-2", attributes=attributes)
    handler(sqs_event(sqs_record(body, message_id="sqs-2")), lambda_context)
    ctx = handler.seen[0][1]
    assert (ctx.correlation_id, ctx.causation_id, ctx.hops, ctx.message_id) == ("corr-2", "cause-2", 5, "sns-2")
    assert ctx.attributes["tenant"] == "acme"


@pytest.mark.parametrize("via_sns", [False, True], ids=["eventbridge", "sns+eventbridge"])
def test_eventbridge_context_is_read_and_stripped(lambda_context, via_sns):
    """``__context`` in the detail gives the trace and is removed before an extra="forbid" model validates."""
    handler, dlq = build(StrictCharge)
    detail = {**order("o", 3), "__context": {"correlationId": "corr-3", "causationId": "cause-3", "hops": 4}}
    event = eventbridge_event(detail, event_id="ev-3")
    body = sns_envelope(event) if via_sns else json.dumps(event)
    assert handler(sqs_event(sqs_record(body, message_id="sqs-3")), lambda_context) == {"batchItemFailures": []}
    assert dlq.offered == []
    model, ctx = handler.seen[0]
    assert model == StrictOrder(order_id="o", amount=3)
    assert (ctx.correlation_id, ctx.causation_id, ctx.hops, ctx.message_id) == ("corr-3", "cause-3", 4, "ev-3")


def test_sns_attributes_trace_an_eventbridge_event_without_context(lambda_context):
    """An EventBridge event relayed by SNS without ``__context`` takes its trace from the SNS attributes."""
    handler, _ = build()
    attributes = {"eventweave-correlation-id": sns_attribute("corr-4"), "eventweave-hops": sns_attribute(2)}
    body = sns_envelope(eventbridge_event(order("o"), event_id="ev-4"), attributes=attributes)
    handler(sqs_event(sqs_record(body)), lambda_context)
    ctx = handler.seen[0][1]
    assert (ctx.correlation_id, ctx.hops, ctx.message_id) == ("corr-4", 2, "ev-4")


def test_sqs_attributes_trace_an_enveloped_body_without_trace(lambda_context):
    """An enveloped body with no trace of its own falls back to the SQS message attributes."""
    handler, _ = build()
    body = json.dumps(eventbridge_event(order("o"), event_id="ev-5"))
    handler(sqs_event(sqs_record(body, attributes=trace_sqs_attributes("corr-5", 6))), lambda_context)
    ctx = handler.seen[0][1]
    assert (ctx.correlation_id, ctx.hops, ctx.message_id) == ("corr-5", 6, "ev-5")


class Subscription(BaseModel):
    topic_arn: str = Field(alias="TopicArn")
    kind: str = Field(alias="Type")
    detail_type: str = Field(alias="detail-type")
    note: str


class AuditSubscriptions(_Recording, SqsHandler[Subscription]):
    def handle(self, sub: Subscription, ctx: SqsRecordContext) -> None:
        self.seen.append((sub, ctx))


def test_user_data_mentioning_envelope_keys_is_not_an_envelope(lambda_context):
    """A producer's body with "TopicArn" / "detail-type" keys is validated whole, not unwrapped."""
    handler, dlq = build(AuditSubscriptions)
    payload = {
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:orders",
        "Type": "Subscription",
        "detail-type": "audit",
        "note": 'mentions "TopicArn" and "detail-type" too',
    }
    assert handler(sqs_event(sqs_record(payload, message_id="m1")), lambda_context) == {"batchItemFailures": []}
    assert dlq.offered == []
    model, ctx = handler.seen[0]
    assert model.topic_arn == payload["TopicArn"]
    assert model.note == payload["note"]
    assert ctx.message_id == "m1"
    assert ctx.event_type is None


def test_invalid_payload_inside_envelope_is_poison_with_logical_ids(lambda_context):
    """A bad payload inside an SNS envelope is poison; the document names both the SQS and the SNS ids."""
    handler, dlq = build()
    body = sns_envelope({"order_id": "o"}, message_id="sns-9")
    handler(sqs_event(sqs_record(body, message_id="sqs-9"), sqs_record(order("ok"))), lambda_context)
    [doc] = dlq.documents()
    assert (doc["reason"], doc["recordId"], doc["messageId"]) == ("validation-error", "sqs-9", "sns-9")
    assert doc["record"]["body"] == body


class OrderCancelled(BaseModel):
    order_id: str
    reason: str


class Routed(SqsHandler):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls: list[tuple[str, Any]] = []

    @on_event("OrderPlaced")
    def placed(self, order: Order, ctx: SqsRecordContext) -> None:
        self.calls.append(("placed", order))

    @on_event("OrderCancelled")
    def cancelled(self, order: OrderCancelled, ctx: SqsRecordContext) -> None:
        self.calls.append(("cancelled", order))


def test_on_event_routes_eventbridge_bodies_on_a_queue(lambda_context):
    """@on_event works behind a queue: EventBridge bodies (direct or via SNS) dispatch by detail-type."""
    handler, dlq = build(Routed)
    event = sqs_event(
        sqs_record(eventbridge_event(order("o-1"), detail_type="OrderPlaced")),
        sqs_record(sns_envelope(eventbridge_event({"order_id": "o-2", "reason": "r"}, detail_type="OrderCancelled"))),
        sqs_record(eventbridge_event(order("o-3"), detail_type="OrderShipped"), message_id="unknown"),
        sqs_record(order("o-4"), message_id="no-type"),
    )
    assert handler(event, lambda_context) == {"batchItemFailures": []}
    assert handler.calls == [
        ("placed", Order(order_id="o-1", amount=10)),
        ("cancelled", OrderCancelled(order_id="o-2", reason="r")),
    ]
    assert dlq.reasons() == {"unknown": "unhandled-event-type", "no-type": "unhandled-event-type"}


# -- FIFO -------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [FifoCharge, Charge], ids=["declared-fifo", "detected-fifo"])
def test_fifo_failure_blocks_the_rest_of_its_group_only(lambda_context, cls):
    """After a retryable failure in group A, later A records are reported unprocessed; group B carries on."""
    handler, _ = build(cls)
    event = sqs_event(
        sqs_record(order("a1"), message_id="A1", group_id="A"),
        sqs_record(order("b1"), message_id="B1", group_id="B"),
        sqs_record(order("fail-a2"), message_id="A2", group_id="A"),
        sqs_record(order("b2"), message_id="B2", group_id="B"),
        sqs_record(order("a3"), message_id="A3", group_id="A"),
        sqs_record(order("b3"), message_id="B3", group_id="B"),
        sqs_record(order("a4"), message_id="A4", group_id="A"),
    )
    result = handler(event, lambda_context)
    assert result == {"batchItemFailures": [{"itemIdentifier": i} for i in ("A2", "A3", "A4")]}
    assert handler.seen_ids() == ["A1", "B1", "A2", "B2", "B3"]


def test_fifo_reported_ids_follow_batch_order(lambda_context):
    """Failures of several groups are reported in the order the records came in the batch."""
    handler, _ = build(FifoCharge)
    event = sqs_event(
        sqs_record(order("a1"), message_id="A1", group_id="A"),
        sqs_record(order("fail-b1"), message_id="B1", group_id="B"),
        sqs_record(order("fail-a2"), message_id="A2", group_id="A"),
        sqs_record(order("b2"), message_id="B2", group_id="B"),
        sqs_record(order("c1"), message_id="C1", group_id="C"),
        sqs_record(order("a3"), message_id="A3", group_id="A"),
    )
    result = handler(event, lambda_context)
    assert [f["itemIdentifier"] for f in result["batchItemFailures"]] == ["B1", "A2", "B2", "A3"]
    assert handler.seen_ids() == ["A1", "B1", "A2", "C1"]


def test_fifo_poison_is_dead_lettered_without_blocking_its_group(lambda_context):
    """Delivered poison in a FIFO group counts as handled: the group's later records are processed."""
    handler, dlq = build(FifoCharge)
    event = sqs_event(
        sqs_record(order("a1"), message_id="A1", group_id="A"),
        sqs_record("not json", message_id="A2", group_id="A"),
        sqs_record(order("neg", -1), message_id="A3", group_id="A"),
        sqs_record(order("a4"), message_id="A4", group_id="A"),
    )
    assert handler(event, lambda_context) == {"batchItemFailures": []}
    assert handler.seen_ids() == ["A1", "A3", "A4"]
    assert [(e.record_id, e.reason, e.group_id) for e in dlq.delivered] == [
        ("A2", "validation-error", "A"),
        ("A3", "permanent-error", "A"),
    ]


def test_fifo_undeliverable_poison_blocks_its_group(lambda_context):
    """Poison that cannot be stored stays in the queue, so the rest of its group must wait behind it."""
    handler, _ = build(FifoCharge, dlq=RecordingDeadLetter(target=None))
    event = sqs_event(
        sqs_record(order("a1"), message_id="A1", group_id="A"),
        sqs_record("not json", message_id="A2", group_id="A"),
        sqs_record(order("b1"), message_id="B1", group_id="B"),
        sqs_record(order("a3"), message_id="A3", group_id="A"),
    )
    result = handler(event, lambda_context)
    assert result == {"batchItemFailures": [{"itemIdentifier": "A2"}, {"itemIdentifier": "A3"}]}
    assert handler.seen_ids() == ["A1", "B1"]


def test_fifo_unreadable_record_is_poison_not_a_crash(lambda_context):
    """A record that is not even a dict is malformed-record poison in a FIFO batch too; its neighbours proceed."""
    handler, dlq = build(FifoCharge)
    event = sqs_event(sqs_record(order("a1"), message_id="A1", group_id="A"), None)
    assert handler(event, lambda_context) == {"batchItemFailures": []}
    assert handler.seen_ids() == ["A1"]
    assert [(e.reason, e.record) for e in dlq.delivered] == [("malformed-record", None)]


def test_standard_queue_does_not_block_by_group(lambda_context):
    """Without FIFO records a failure blocks nothing: later records are all processed."""
    handler, _ = build()
    event = sqs_event(sqs_record(order("fail-1"), message_id="m1"), sqs_record(order("o"), message_id="m2"))
    handler(event, lambda_context)
    assert handler.seen_ids() == ["m1", "m2"]


def test_fifo_contract():
    """The contract tells the CDK pattern to provision FIFO for SqsFifoHandler only."""
    fifo, standard = FifoCharge.contract(), Charge.contract()
    assert fifo.fifo is True
    assert standard.fifo is False
    assert (fifo.source, fifo.model, fifo.partial_batch_response) == ("sqs", Order, True)
    assert standard.idempotent is False


def test_fifo_record_context_exposes_group_and_receive_count(lambda_context):
    """ctx.group_id and ctx.receive_count come from the SQS system attributes."""
    handler, _ = build(FifoCharge)
    handler(sqs_event(sqs_record(order("o"), group_id="G", receive_count=4)), lambda_context)
    ctx = handler.seen[0][1]
    assert (ctx.group_id, ctx.receive_count) == ("G", 4)


# -- recursion guard --------------------------------------------------------------------------------------------------


def test_hops_over_the_limit_is_poison_and_not_handled(lambda_context):
    """A record past max_hops goes to the DLQ as recursion-limit and never reaches handle."""
    handler, dlq = build(max_hops=16)
    event = sqs_event(
        sqs_record(order("loop"), message_id="m1", attributes=trace_sqs_attributes("corr", 17)),
        sqs_record(order("o"), message_id="m2"),
    )
    assert handler(event, lambda_context) == {"batchItemFailures": []}
    assert handler.seen_ids() == ["m2"]
    [entry] = dlq.delivered
    assert (entry.reason, entry.record_id, entry.hops, entry.correlation_id) == ("recursion-limit", "m1", 17, "corr")
    assert "EVENTWEAVE_MAX_HOPS" in dlq.documents()[0]["errorMessage"]


def test_hops_at_the_limit_is_processed(lambda_context):
    """hops == max_hops is still allowed."""
    handler, dlq = build(max_hops=16)
    handler(sqs_event(sqs_record(order("o"), attributes=trace_sqs_attributes("corr", 16))), lambda_context)
    assert len(handler.seen) == 1
    assert dlq.offered == []


def test_class_max_hops_overrides_settings(lambda_context):
    """A handler's max_hops class attribute wins over EVENTWEAVE_MAX_HOPS."""

    class Tight(Charge):
        max_hops = 2

    handler, dlq = build(Tight, max_hops=16)
    event = sqs_event(
        sqs_record(order("o"), message_id="ok", attributes=trace_sqs_attributes("c", 2)),
        sqs_record(order("o"), message_id="over", attributes=trace_sqs_attributes("c", 3)),
    )
    handler(event, lambda_context)
    assert handler.seen_ids() == ["ok"]
    assert dlq.reasons() == {"over": "recursion-limit"}
    assert Tight.contract().max_hops == 2


def test_corrupt_hops_attribute_trips_the_guard(lambda_context):
    """An unreadable hop counter must not reset a loop to zero: it is treated as over the limit."""
    handler, dlq = build()
    attrs = {"eventweave-correlation-id": sqs_attribute("corr"), "eventweave-hops": sqs_attribute("many")}
    event = sqs_event(sqs_record(order("o"), message_id="m1", attributes=attrs), sqs_record(order("p")))
    handler(event, lambda_context)
    assert dlq.reasons() == {"m1": "recursion-limit"}
    assert [o.order_id for o, _ in handler.seen] == ["p"]


def test_negative_hops_attribute_trips_the_guard(lambda_context):
    """eventweave never writes a negative hop count; one is corrupt and must not buy a loop extra hops."""
    handler, dlq = build()
    event = sqs_event(sqs_record(order("o"), message_id="m1", attributes=trace_sqs_attributes("corr", -1000)))
    handler(event, lambda_context)
    assert handler.seen == []
    assert dlq.reasons() == {"m1": "recursion-limit"}


def test_recursion_limit_from_eventbridge_context_in_body(lambda_context):
    """Hops carried in an EventBridge ``__context`` inside an SQS body are guarded too."""
    handler, dlq = build(max_hops=3)
    detail = {**order("o"), "__context": {"correlationId": "c", "hops": 4}}
    handler(sqs_event(sqs_record(eventbridge_event(detail), message_id="m1"), sqs_record(order("p"))), lambda_context)
    assert dlq.reasons() == {"m1": "recursion-limit"}


def test_recursion_limit_without_dlq_is_reported_failed(lambda_context):
    """With no DLQ a looping record is kept by the queue (reported failed) rather than dropped."""
    handler, _ = build(dlq=RecordingDeadLetter(target=None), max_hops=1)
    event = sqs_event(
        sqs_record(order("o"), message_id="m1", attributes=trace_sqs_attributes("c", 2)), sqs_record(order("p"))
    )
    assert handler(event, lambda_context) == {"batchItemFailures": [{"itemIdentifier": "m1"}]}


# -- correlation id in logs -------------------------------------------------------------------------------------------


class Loud(SqsHandler[Order]):
    def handle(self, order: Order, ctx: SqsRecordContext) -> None:
        self.logger.info("charging", extra={"order": order.order_id})
        if order.order_id.startswith("fail"):
            raise RuntimeError("boom")


def _log_lines(out: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [line for line in lines if "message" in line]


def test_correlation_id_is_on_log_lines_from_handle(lambda_context, capsys):
    """Lines logged inside handle carry the incoming correlation id, or the message id when there is none."""
    # A fresh service name: Powertools binds a service's stream once, and capsys swaps stdout per test.
    handler = Loud(settings=Settings(service=f"corr-{uuid.uuid4().hex}"))
    with_dead_letter(handler)
    event = sqs_event(
        sqs_record(order("traced"), message_id="m1", attributes=trace_sqs_attributes("corr-xyz", 1)),
        sqs_record(order("untraced"), message_id="m2"),
        sqs_record(sns_envelope(order("enveloped"), message_id="sns-3"), message_id="m3"),
        sqs_record(order("fail-4"), message_id="m4"),
    )
    handler(event, lambda_context)
    lines = _log_lines(capsys.readouterr().out)
    charging = {line["order"]: line for line in lines if line["message"] == "charging"}
    assert charging["traced"]["correlation_id"] == "corr-xyz"
    assert charging["traced"]["hops"] == 1
    assert charging["untraced"]["correlation_id"] == "m2"
    assert charging["enveloped"]["correlation_id"] == "sns-3"
    assert charging["fail-4"]["correlation_id"] == "m4"
    failure = [line for line in lines if line["level"] == "ERROR" and "m4" in line["message"]]
    assert failure
    assert failure[0]["correlation_id"] == "m4"


def test_poison_log_line_carries_the_poison_records_correlation_id(lambda_context, capsys):
    """The line reporting a poison record names that record's correlation id, not the previous record's."""
    handler = Loud(settings=Settings(service=f"corr-{uuid.uuid4().hex}"))
    with_dead_letter(handler)
    event = sqs_event(
        sqs_record(order("traced"), message_id="m1", attributes=trace_sqs_attributes("corr-A", 1)),
        sqs_record("not json", message_id="m2", attributes=trace_sqs_attributes("corr-B", 1)),
        sqs_record("not json", message_id="m3"),
    )
    handler(event, lambda_context)
    poison = {line["record_id"]: line for line in _log_lines(capsys.readouterr().out) if "poison_reason" in line}
    assert set(poison) == {"m2", "m3"}
    assert (poison["m2"]["correlation_id"], poison["m2"]["message_id"]) == ("corr-B", "m2")
    assert (poison["m3"]["correlation_id"], poison["m3"]["message_id"]) == ("m3", "m3")


def test_log_lines_after_the_batch_carry_no_correlation_id(lambda_context, capsys):
    """The per-record correlation id is cleared when the batch ends, so it cannot leak into later lines."""
    handler = Loud(settings=Settings(service=f"corr-{uuid.uuid4().hex}"))
    handler(sqs_event(sqs_record(order("o"), attributes=trace_sqs_attributes("corr-1", 0))), lambda_context)
    handler.logger.info("after")
    lines = _log_lines(capsys.readouterr().out)
    after = next(line for line in lines if line["message"] == "after")
    assert "correlation_id" not in after


def test_a_lone_surrogate_in_a_record_id_does_not_lose_the_log_line(lambda_context, capsys):
    """Producer text with a lone surrogate cannot be written as UTF-8; the line is escaped instead of dropped."""
    handler = Loud(settings=Settings(service=f"corr-{uuid.uuid4().hex}"))
    with_dead_letter(handler)
    handler(sqs_event(sqs_record("not json", message_id="m-\ud800")), lambda_context)
    poison = [line for line in _log_lines(capsys.readouterr().out) if "poison_reason" in line]
    assert [line["record_id"] for line in poison] == ["m-\ud800"]

"""Handlers declared with raw payload types (``str``, ``bytes``, ``LogsData``), binary message attributes and binary
DynamoDB attributes, built with ``eventweave.testing.events``: text reaches ``handle`` as it was sent, bytes as they
were put, and what cannot be decoded as the model needs is poison (``undecodable-payload``), never a crash.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
from pydantic import BaseModel

from eventweave.handlers import (
    ConfigurationError,
    DynamoDBStreamHandler,
    Idempotency,
    KinesisHandler,
    PermanentError,
    Settings,
    SnsHandler,
    SqsFifoHandler,
    SqsHandler,
)
from eventweave.wire.logs import LogsData
from eventweave.wire.records import PoisonRecord
from eventweave.wire.trace import ATTR_CAUSATION, ATTR_CORRELATION, ATTR_HOPS
from tests.factories import (
    ddb_event,
    ddb_image,
    ddb_record,
    eventbridge_event,
    kinesis_event,
    kinesis_record,
    logs_data,
    sns_attribute,
    sns_envelope,
    sns_event,
    sqs_attribute,
    sqs_event,
    sqs_record,
    trace_sqs_attributes,
)
from tests.unit.doubles import RecordingDeadLetter, with_dead_letter


class _Seen:
    """Mixin: remembers what ``handle`` received; a payload named in ``fail`` fails retryably, in ``reject``
    permanently."""

    fail: tuple[Any, ...] = ()
    reject: tuple[Any, ...] = ()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seen: list[tuple[Any, Any]] = []

    def handle(self, payload: Any, ctx: Any) -> None:
        self.seen.append((payload, ctx))
        if payload in self.reject:
            raise PermanentError(f"{payload!r} can never be processed")
        if payload in self.fail:
            raise RuntimeError(f"downstream unavailable for {payload!r}")

    def payloads(self) -> list[Any]:
        return [payload for payload, _ in self.seen]


class SqsText(_Seen, SqsHandler[str]):
    pass


class SqsBytes(_Seen, SqsHandler[bytes]):
    pass


class SnsText(_Seen, SnsHandler[str]):
    pass


class SnsBytes(_Seen, SnsHandler[bytes]):
    pass


class KinesisBytes(_Seen, KinesisHandler[bytes]):
    pass


class KinesisText(_Seen, KinesisHandler[str]):
    pass


class KinesisLogs(_Seen, KinesisHandler[LogsData]):
    pass


class FifoText(_Seen, SqsFifoHandler[str]):
    fail = ("fail",)
    reject = ("reject",)


def build(cls: type, **settings: Any) -> tuple[Any, RecordingDeadLetter]:
    handler = cls(settings=Settings(**settings))
    return handler, with_dead_letter(handler)


def failures(response: dict[str, Any]) -> list[str]:
    return [f["itemIdentifier"] for f in response["batchItemFailures"]]


# -- SQS and SNS text ------------------------------------------------------------------------------------------------

TEXT_BODIES = [
    "hello world",
    'id,name,amount\n1,"Smith, J",12.50',
    '{"order_id": "o-1", "amount": 5}',
    "[1, 2, 3]",
    '"quoted"',
    "  leading and trailing spaces \n",
    "café ☕ \u2028 ünïcödé",
    '{"detail-type": "not an event", "source": "no id or detail"}',
    '{"TopicArn": "arn:aws:sns:us-east-1:123456789012:t", "Message": 5}',
]


def test_sqs_str_handler_gets_every_body_unchanged(lambda_context):
    """Text, CSV and JSON text alike arrive as the str that was sent: no JSON parsing, no envelope guessing."""
    handler, dlq = build(SqsText)
    event = sqs_event(*(sqs_record(body, message_id=f"m-{i}") for i, body in enumerate(TEXT_BODIES)))
    assert handler(event, lambda_context) == {"batchItemFailures": []}
    assert dlq.offered == []
    assert handler.payloads() == TEXT_BODIES
    assert all(type(p) is str for p in handler.payloads())


def test_sqs_bytes_handler_gets_the_body_as_utf8(lambda_context):
    handler, dlq = build(SqsBytes)
    handler(sqs_event(sqs_record("café ☕"), sqs_record('{"a": 1}')), lambda_context)
    assert dlq.offered == []
    assert handler.payloads() == ["café ☕".encode(), b'{"a": 1}']
    assert all(type(p) is bytes for p in handler.payloads())


@pytest.mark.parametrize("message", ["hello world", '{"order_id": "o-1"}', "a,b,c", "ünïcödé"])
def test_sns_str_handler_gets_the_message_text(message, lambda_context):
    handler, dlq = build(SnsText)
    handler(sns_event(message, message_id="sns-1", subject="s"), lambda_context)
    assert dlq.offered == []
    ((payload, ctx),) = handler.seen
    assert payload == message
    assert type(payload) is str
    assert (ctx.message_id, ctx.subject) == ("sns-1", "s")


def test_sns_bytes_handler_gets_the_message_as_utf8(lambda_context):
    handler, _ = build(SnsBytes)
    handler(sns_event("café"), lambda_context)
    assert handler.payloads() == ["café".encode()]


@pytest.mark.parametrize("message", ["hello, world", '{"order_id": "o-1", "amount": 5}', "line 1\nline 2"])
def test_sqs_str_handler_behind_an_sns_envelope_gets_the_message_text(message, lambda_context):
    handler, dlq = build(SqsText)
    body = sns_envelope(message, message_id="sns-7")
    assert handler(sqs_event(sqs_record(body, message_id="sqs-1")), lambda_context) == {"batchItemFailures": []}
    assert dlq.offered == []
    ((payload, ctx),) = handler.seen
    assert payload == message
    assert (ctx.record_id, ctx.message_id, ctx.correlation_id) == ("sqs-1", "sns-7", "sns-7")


def test_sns_str_handler_gets_a_message_that_looks_like_a_notification_as_its_text(lambda_context):
    inner = sns_envelope("inner text", message_id="inner-id")
    sqs, _ = build(SqsText)
    sqs(sqs_event(sqs_record(sns_envelope(inner, message_id="outer-id"))), lambda_context)
    assert [(p, ctx.message_id) for p, ctx in sqs.seen] == [(inner, "outer-id")]
    sns, _ = build(SnsText)
    sns(sns_event(inner, message_id="outer-id"), lambda_context)
    assert [(p, ctx.message_id) for p, ctx in sns.seen] == [(inner, "outer-id")]


def test_sqs_bytes_handler_behind_an_sns_envelope_gets_the_message_bytes(lambda_context):
    handler, _ = build(SqsBytes)
    handler(sqs_event(sqs_record(sns_envelope("café"))), lambda_context)
    assert handler.payloads() == ["café".encode()]


def test_sqs_str_handler_behind_sns_carrying_an_eventbridge_event_gets_the_detail_as_json_text(lambda_context):
    detail = {"order_id": "o-1", "note": "ünï"}
    handler, dlq = build(SqsText)
    body = sns_envelope(json.dumps(eventbridge_event(detail, event_id="ev-1")))
    handler(sqs_event(sqs_record(body)), lambda_context)
    assert dlq.offered == []
    ((payload, ctx),) = handler.seen
    assert type(payload) is str
    assert json.loads(payload) == detail
    assert ctx.message_id == "ev-1"


# -- Kinesis bytes, text and logs -----------------------------------------------------------------------------------

BINARY = b"\x00\xff\xfe\x80binary\x9c"


def test_kinesis_bytes_handler_gets_the_decoded_data(lambda_context):
    handler, dlq = build(KinesisBytes)
    blobs = [BINARY, b"", b"\x08\x96\x01", b'{"json": "as bytes"}']
    event = kinesis_event(*(kinesis_record(blob, sequence_number=str(i)) for i, blob in enumerate(blobs)))
    assert handler(event, lambda_context) == {"batchItemFailures": []}
    assert dlq.offered == []
    assert handler.payloads() == blobs


def test_kinesis_bytes_handler_reads_no_trace_from_raw_data(lambda_context):
    """Raw bytes are the producer's bytes: a ``__context`` inside them is data, not eventweave's trace."""
    data = b'{"__context": {"correlationId": "c-9", "hops": 99}, "x": 1}'
    handler, dlq = build(KinesisBytes)
    handler(kinesis_event(kinesis_record(data, sequence_number="1")), lambda_context)
    assert dlq.offered == []
    ((payload, ctx),) = handler.seen
    assert payload == data
    assert (ctx.hops, ctx.correlation_id) == (0, "1")


def test_kinesis_str_handler_gets_utf8_text_and_sends_non_utf8_data_to_the_dlq(lambda_context):
    handler, dlq = build(KinesisText)
    event = kinesis_event(
        kinesis_record("café ☕", sequence_number="1"),
        kinesis_record(BINARY, sequence_number="2"),
        kinesis_record("after", sequence_number="3"),
    )
    assert handler(event, lambda_context) == {"batchItemFailures": []}
    assert handler.payloads() == ["café ☕", "after"]
    assert dlq.reasons() == {"2": "undecodable-payload"}
    (entry,) = dlq.delivered
    assert "UTF-8" in str(entry.error)
    (doc,) = dlq.documents()
    assert "UTF-8" in doc["errorMessage"]
    assert PoisonRecord.model_validate(doc).original_payload() == BINARY


@pytest.mark.parametrize("cls", [KinesisBytes, KinesisText, KinesisLogs], ids=["bytes", "str", "logs"])
def test_kinesis_data_that_is_not_base64_is_undecodable(cls, lambda_context):
    handler, dlq = build(cls)
    record = kinesis_record(b"", sequence_number="1")
    record["kinesis"]["data"] = "not base64!"
    assert handler(kinesis_event(record), lambda_context) == {"batchItemFailures": []}
    assert handler.seen == []
    assert dlq.reasons() == {"1": "undecodable-payload"}
    assert "base64" in str(dlq.delivered[0].error)


def test_kinesis_logs_handler_decodes_subscription_data_into_log_events(lambda_context):
    handler, dlq = build(KinesisLogs)
    event = kinesis_event(
        kinesis_record(logs_data("first line", "second line", log_group="/aws/lambda/charge"), sequence_number="1"),
        kinesis_record(logs_data("third"), sequence_number="2"),
    )
    assert handler(event, lambda_context) == {"batchItemFailures": []}
    assert dlq.offered == []
    first, second = handler.payloads()
    assert isinstance(first, LogsData)
    assert first.log_group == "/aws/lambda/charge"
    assert [e.message for e in first.log_events] == ["first line", "second line"]
    assert [e.message for e in second.log_events] == ["third"]


@pytest.mark.parametrize(
    "data",
    [b'{"messageType": "DATA_MESSAGE"}', BINARY, gzip.compress(b"not json"), gzip.compress(b"[1]")],
    ids=["json-not-gzip", "binary", "gzip-not-json", "gzip-not-object"],
)
def test_kinesis_logs_record_that_is_not_subscription_data_is_undecodable(data, lambda_context):
    handler, dlq = build(KinesisLogs)
    event = kinesis_event(
        kinesis_record(data, sequence_number="1"), kinesis_record(logs_data("ok"), sequence_number="2")
    )
    assert handler(event, lambda_context) == {"batchItemFailures": []}
    assert dlq.reasons() == {"1": "undecodable-payload"}
    ((logs, ctx),) = handler.seen
    assert ctx.sequence_number == "2"
    assert [e.message for e in logs.log_events] == ["ok"]


# -- idempotency with raw payloads -----------------------------------------------------------------------------------


@pytest.mark.parametrize("base", [SqsHandler[str], SqsHandler[bytes], KinesisHandler[str], SnsHandler[bytes]])
def test_idempotency_key_fields_on_a_raw_payload_are_refused_at_class_definition(base):
    with pytest.raises(ConfigurationError, match="raw"):

        class Lines(base):  # type: ignore[misc, valid-type]
            idempotency = Idempotency(key="order_id")

            def handle(self, payload: Any, ctx: Any) -> None: ...


def test_idempotency_on_a_raw_payload_by_message_id_or_function_is_allowed():
    class ByMessage(SqsHandler[str]):
        idempotency = Idempotency()

        def handle(self, payload: str, ctx: Any) -> None: ...

    class ByFunction(SqsHandler[str]):
        idempotency = Idempotency(key=lambda line, ctx: line.split(",")[0])

        def handle(self, payload: str, ctx: Any) -> None: ...

    assert ByMessage.contract().idempotent
    assert ByFunction.contract().idempotency_key == ()


IDEMPOTENCY_TABLE = "raw-payload-idempotency"


@pytest.fixture
def idempotency_table(aws: Any) -> str:
    aws("dynamodb").create_table(
        TableName=IDEMPOTENCY_TABLE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return IDEMPOTENCY_TABLE


class IdempotentLines(_Seen, SqsHandler[str]):
    idempotency = Idempotency()


class IdempotentByFirstColumn(_Seen, SqsHandler[str]):
    idempotency = Idempotency(key=lambda line, ctx: line.split(",")[0])


def test_idempotency_on_a_str_model_keys_on_the_message_id(aws, idempotency_table, lambda_context):
    handler = IdempotentLines(settings=Settings(idempotency_table=idempotency_table))
    first = sqs_record("same line", message_id="m-1")
    event = sqs_event(
        first,
        sqs_record("same line", message_id="m-2"),  # same text, another message: processed
        sqs_record(sns_envelope("from sns", message_id="sns-1"), message_id="q-1"),
        sqs_record(sns_envelope("from sns", message_id="sns-1"), message_id="q-2"),  # same SNS message: once
    )
    assert handler(event, lambda_context) == {"batchItemFailures": []}
    assert handler.payloads() == ["same line", "same line", "from sns"]
    assert handler(sqs_event(first), lambda_context) == {"batchItemFailures": []}  # redelivery of m-1
    assert len(handler.seen) == 3
    assert handler.store is not None
    stored = {item["id"]["S"] for item in aws("dynamodb").scan(TableName=idempotency_table)["Items"]}
    assert stored == {handler.store.item_id(k) for k in ("m-1", "m-2", "sns-1")}


def test_idempotency_on_a_str_model_with_a_key_function(aws, idempotency_table, lambda_context):
    handler = IdempotentByFirstColumn(settings=Settings(idempotency_table=idempotency_table))
    event = sqs_event(sqs_record("o-1,5"), sqs_record("o-1,6"), sqs_record("o-2,5"))
    assert handler(event, lambda_context) == {"batchItemFailures": []}
    assert handler.payloads() == ["o-1,5", "o-2,5"]


# -- binary message attributes -------------------------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n\x00\xff"


def test_sqs_record_binary_attributes_are_decoded_and_kept_apart(lambda_context):
    handler, _ = build(SqsText)
    record = sqs_record(
        "x",
        attributes={
            "thumbnail": PNG,
            "tenant": "acme",
            "priority": 3,
            "custom": sqs_attribute(b"\x01\x02", "Binary.gz"),
            "array": sqs_attribute('["a", "b"]', "String.Array"),
        },
    )
    handler(sqs_event(record), lambda_context)
    ((_, ctx),) = handler.seen
    assert dict(ctx.binary_attributes) == {"thumbnail": PNG, "custom": b"\x01\x02"}
    assert ctx.attributes == {"tenant": "acme", "priority": "3", "array": '["a", "b"]'}
    assert ctx.queue_attributes == ctx.attributes
    assert ctx.queue_binary_attributes == dict(ctx.binary_attributes)


def test_sns_lambda_record_binary_attributes_are_decoded_and_kept_apart(lambda_context):
    handler, _ = build(SnsText)
    handler(
        sns_event("x", attributes={"thumbnail": PNG, "tenant": "acme", "n": sns_attribute(2.5)}),
        lambda_context,
    )
    ((_, ctx),) = handler.seen
    assert dict(ctx.binary_attributes) == {"thumbnail": PNG}
    assert ctx.attributes == {"tenant": "acme", "n": "2.5"}


def test_sns_envelope_attributes_win_over_the_queue_messages_own(lambda_context):
    handler, _ = build(SqsText)
    body = sns_envelope(
        "hello",
        attributes={"tenant": "from-sns", "thumbnail": PNG, "clash-binary": b"\x00sns", "clash-text": "sns text"},
    )
    record = sqs_record(
        body,
        attributes={
            "tenant": "from-queue",
            "queue-only": "q",
            "queue-blob": b"\x01q",
            "clash-binary": "queue text",
            "clash-text": b"\x02queue",
        },
    )
    handler(sqs_event(record), lambda_context)
    ((payload, ctx),) = handler.seen
    assert payload == "hello"
    assert ctx.attributes == {"tenant": "from-sns", "queue-only": "q", "clash-text": "sns text"}
    assert dict(ctx.binary_attributes) == {"thumbnail": PNG, "queue-blob": b"\x01q", "clash-binary": b"\x00sns"}
    assert ctx.queue_attributes == {"tenant": "from-queue", "queue-only": "q", "clash-binary": "queue text"}
    assert ctx.queue_binary_attributes == {"queue-blob": b"\x01q", "clash-text": b"\x02queue"}


def test_binary_correlation_id_on_an_sqs_record_is_not_the_correlation_id(lambda_context):
    handler, _ = build(SqsText)
    event = sqs_event(
        sqs_record("a", message_id="m-1", attributes={ATTR_CORRELATION: b"corr-bytes"}),
        sqs_record("b", message_id="m-2", attributes={ATTR_CORRELATION: b"corr-bytes", ATTR_HOPS: 2}),
        sqs_record("c", message_id="m-3", attributes={ATTR_CORRELATION: "corr-text", ATTR_CAUSATION: b"cause"}),
    )
    handler(event, lambda_context)
    assert [(ctx.correlation_id, ctx.causation_id, ctx.hops) for _, ctx in handler.seen] == [
        ("m-1", None, 0),
        ("m-2", None, 2),
        ("corr-text", None, 0),
    ]
    assert dict(handler.seen[0][1].binary_attributes) == {ATTR_CORRELATION: b"corr-bytes"}


def test_binary_correlation_id_on_sns_is_not_the_correlation_id(lambda_context):
    sns, _ = build(SnsText)
    sns(sns_event("a", message_id="sns-1", attributes={ATTR_CORRELATION: b"corr-bytes"}), lambda_context)
    ((_, ctx),) = sns.seen
    assert ctx.correlation_id == "sns-1"

    sqs, _ = build(SqsText)
    body = sns_envelope("a", message_id="sns-2", attributes={ATTR_CORRELATION: b"corr-bytes"})
    sqs(sqs_event(sqs_record(body, message_id="q-1")), lambda_context)
    ((_, ctx),) = sqs.seen
    assert ctx.correlation_id == "sns-2"

    control, _ = build(SnsText)
    control(sns_event("a", message_id="sns-3", attributes={ATTR_CORRELATION: "corr-text"}), lambda_context)
    assert control.seen[0][1].correlation_id == "corr-text"


# -- DynamoDB binaries ---------------------------------------------------------------------------------------------


class Blob(BaseModel):
    id: str
    blob: bytes
    tags: set[bytes] = set()


class Blobs(DynamoDBStreamHandler[Blob]):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.changes: list[Any] = []

    def handle(self, message: Any, ctx: Any) -> Any:
        self.changes.append(message)
        return super().handle(message, ctx)


class BlobInserts(DynamoDBStreamHandler[Blob]):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.inserted: list[Blob] = []
        self.modified: list[tuple[Blob | None, Blob | None]] = []

    def on_insert(self, new: Blob, ctx: Any) -> None:
        self.inserted.append(new)

    def on_modify(self, new: Blob | None, old: Blob | None, ctx: Any) -> None:
        self.modified.append((new, old))


def test_dynamodb_b_and_bs_values_reach_the_model_as_bytes(lambda_context):
    keys = ddb_image({"id": "a", "sort": b"\x00\xffkey"})
    new = ddb_image({"id": "a", "blob": b"\x00\xffhello", "tags": {b"\x01", b"\xff\xfe", b""}})
    old = ddb_image({"id": "a", "blob": b"\xfe"})
    handler, dlq = build(BlobInserts)
    event = ddb_event(
        ddb_record("INSERT", sequence_number="1", keys=keys, new_image=new),
        ddb_record("MODIFY", sequence_number="2", keys=keys, new_image=new, old_image=old),
    )
    assert handler(event, lambda_context) == {"batchItemFailures": []}
    assert dlq.offered == []
    (inserted,) = handler.inserted
    assert inserted.blob == b"\x00\xffhello"
    assert type(inserted.blob) is bytes
    assert inserted.tags == {b"\x01", b"\xff\xfe", b""}
    ((modified_new, modified_old),) = handler.modified
    assert modified_new == inserted
    assert modified_old == Blob(id="a", blob=b"\xfe")


def test_dynamodb_change_keys_carry_binary_key_attributes_as_bytes(lambda_context):
    keys = ddb_image({"id": "a", "sort": b"\x00\xffkey"})
    handler, dlq = build(Blobs)
    handler(
        ddb_event(
            ddb_record("INSERT", sequence_number="1", keys=keys, new_image=ddb_image({"id": "a", "blob": b"\x00"})),
            ddb_record("REMOVE", sequence_number="2", keys=keys, old_image=ddb_image({"id": "a", "blob": b"\x01"})),
        ),
        lambda_context,
    )
    assert dlq.offered == []
    insert, remove = handler.changes
    assert insert.keys == remove.keys == {"id": "a", "sort": b"\x00\xffkey"}
    assert (insert.new, insert.old) == (Blob(id="a", blob=b"\x00"), None)
    assert (remove.new, remove.old) == (None, Blob(id="a", blob=b"\x01"))


def test_dynamodb_b_value_that_is_not_base64_is_a_malformed_record(lambda_context):
    handler, dlq = build(Blobs)
    bad = ddb_record("INSERT", sequence_number="1", keys={"id": {"S": "a"}}, new_image={"blob": {"B": "%%%"}})
    assert handler(ddb_event(bad), lambda_context) == {"batchItemFailures": []}
    assert handler.changes == []
    assert dlq.reasons() == {"1": "malformed-record"}
    assert "NewImage.blob" in str(dlq.delivered[0].error)


# -- FIFO ordering and the recursion guard -------------------------------------------------------------------------


def test_fifo_str_handler_fails_the_rest_of_a_group_after_a_failure(lambda_context):
    handler, dlq = build(FifoText)
    event = sqs_event(
        sqs_record("a-1", message_id="a1", group_id="A"),
        sqs_record("fail", message_id="a2", group_id="A"),
        sqs_record("b-1", message_id="b1", group_id="B"),
        sqs_record("a-3", message_id="a3", group_id="A"),
        sqs_record("reject", message_id="b2", group_id="B"),
        sqs_record("b-3", message_id="b3", group_id="B"),
    )
    response = handler(event, lambda_context)
    assert failures(response) == ["a2", "a3"]
    assert handler.payloads() == ["a-1", "fail", "b-1", "reject", "b-3"]  # a-3 never ran; B went on past its poison
    assert dlq.reasons() == {"b2": "permanent-error"}
    assert [ctx.group_id for _, ctx in handler.seen] == ["A", "A", "B", "B", "B"]


def test_fifo_str_handler_keeps_the_group_blocked_when_poison_cannot_be_stored(lambda_context):
    handler = FifoText(settings=Settings())
    with_dead_letter(handler, RecordingDeadLetter(target=None))
    event = sqs_event(
        sqs_record("reject", message_id="a1", group_id="A"),
        sqs_record("a-2", message_id="a2", group_id="A"),
        sqs_record("b-1", message_id="b1", group_id="B"),
    )
    assert failures(handler(event, lambda_context)) == ["a1", "a2"]
    assert handler.payloads() == ["reject", "b-1"]


def test_recursion_guard_stops_a_raw_str_record_over_the_hop_limit(lambda_context):
    handler, dlq = build(SqsText, max_hops=4)
    event = sqs_event(
        sqs_record("at the limit", message_id="m-4", attributes=trace_sqs_attributes("c-1", 4)),
        sqs_record("over the limit", message_id="m-5", attributes=trace_sqs_attributes("c-1", 5, "m-4")),
        sqs_record("corrupt hops", message_id="m-x", attributes={ATTR_CORRELATION: "c-1", ATTR_HOPS: b"\x05"}),
    )
    assert handler(event, lambda_context) == {"batchItemFailures": []}
    assert handler.payloads() == ["at the limit"]
    assert handler.seen[0][1].hops == 4
    assert dlq.reasons() == {"m-5": "recursion-limit", "m-x": "recursion-limit"}
    by_id = {doc["recordId"]: doc for doc in dlq.documents()}
    assert by_id["m-5"]["hops"] == 5
    assert by_id["m-5"]["correlationId"] == "c-1"
    assert PoisonRecord.model_validate(by_id["m-5"]).original_payload() == "over the limit"


def test_recursion_guard_applies_to_a_raw_str_record_behind_an_sns_envelope(lambda_context):
    handler, dlq = build(SqsText)
    body = sns_envelope(
        "looping", message_id="sns-1", attributes={ATTR_CORRELATION: "c-1", ATTR_HOPS: sns_attribute(17)}
    )
    handler(sqs_event(sqs_record(body, message_id="q-1")), lambda_context)
    assert handler.seen == []
    assert dlq.reasons() == {"q-1": "recursion-limit"}

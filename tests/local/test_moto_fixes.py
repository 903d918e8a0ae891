"""Contract tests of the moto internals eventweave.local._moto_fixes patches: each fails when moto changes what the
patch relies on (a signature, a call, the bug itself), so the patch is revisited instead of going quietly wrong."""

from __future__ import annotations

import inspect
import uuid
from typing import Any

import pytest

from eventweave.local import _moto_fixes
from eventweave.local.aws import client
from eventweave.local.gateway import DataPlane
from eventweave.wire.eventbridge import ENVELOPE_KEYS


@pytest.fixture(scope="module")
def plane():
    with DataPlane() as running:
        yield running


def test_the_data_plane_installs_the_fixes(plane):
    assert _moto_fixes.installed()
    _moto_fixes.install()  # idempotent
    assert _moto_fixes.installed()


# -- SQSBackend.send_message (moto/sqs/models.py), fed by Subscription.publish (moto/sns/models.py) ------------------


def test_contract_sqs_backend_send_message_keeps_its_signature(plane):
    original = _moto_fixes._ORIGINAL["send_message"]
    assert list(inspect.signature(original).parameters) == [
        "self",
        "queue_name",
        "message_body",
        "message_attributes",
        "delay_seconds",
        "deduplication_id",
        "group_id",
        "system_attributes",
        "validate_group_id",
    ]
    assert list(inspect.signature(_moto_fixes._send_message).parameters) == list(inspect.signature(original).parameters)


def test_contract_moto_sqs_hashes_binary_values_as_bytes_and_breaks_on_text():
    from moto.sqs.models import Message

    message = Message("m-1", "body")
    message.message_attributes = {"blob": {"DataType": "Binary", "BinaryValue": b"\x00\xff"}}
    assert len(message.attribute_md5) == 32
    message.message_attributes = {"blob": {"DataType": "Binary", "BinaryValue": "AP8="}}
    # The bug the patch works around. If moto now takes text, the patch may go.
    with pytest.raises(TypeError, match="Strings must be encoded"):
        _ = message.attribute_md5


def test_contract_moto_sns_raw_delivery_hands_sqs_base64_text_and_the_queue_stores_bytes(plane, monkeypatch):
    from moto.sqs.models import SQSBackend, sqs_backends

    handed: list[dict[str, Any]] = []
    patched = SQSBackend.send_message

    def spy(self: Any, queue_name: str, message_body: str, message_attributes: Any = None, **kwargs: Any) -> Any:
        handed.append(dict(message_attributes or {}))
        return patched(self, queue_name, message_body, message_attributes, **kwargs)

    monkeypatch.setattr(SQSBackend, "send_message", spy)
    sqs, sns = client("sqs", plane.endpoint, "us-east-1"), client("sns", plane.endpoint, "us-east-1")
    name = f"raw-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    topic = sns.create_topic(Name=name)["TopicArn"]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=f"arn:aws:sqs:us-east-1:123456789012:{name}",
        Attributes={"RawMessageDelivery": "true"},
    )
    sns.publish(
        TopicArn=topic, Message="m", MessageAttributes={"blob": {"DataType": "Binary", "BinaryValue": b"\0\xff"}}
    )
    monkeypatch.undo()
    assert handed == [{"blob": {"DataType": "Binary", "BinaryValue": "AP8="}}]  # moto's SNS: base64 text
    (stored,) = sqs_backends["123456789012"]["us-east-1"].get_queue(name)._messages
    assert stored.message_attributes["blob"]["BinaryValue"] == b"\x00\xff"  # the patch: bytes, as SQS keeps them
    (message,) = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"]
    assert message["MessageAttributes"]["blob"] == {"DataType": "Binary", "BinaryValue": b"\x00\xff"}


def test_binary_values_as_bytes_decodes_text_only_for_binary_types():
    given = {
        "text": {"DataType": "Binary", "BinaryValue": "AP8="},
        "custom": {"DataType": "Binary.png", "BinaryValue": "AQI="},
        "bytes": {"DataType": "Binary", "BinaryValue": b"\x01"},
        "not-base64": {"DataType": "Binary", "BinaryValue": "not base64!"},
        "string": {"DataType": "String", "StringValue": "AP8="},
    }
    out = _moto_fixes.binary_values_as_bytes(given)
    assert out["text"]["BinaryValue"] == b"\x00\xff" and out["custom"]["BinaryValue"] == b"\x01\x02"
    assert out["bytes"] is given["bytes"] and out["string"] is given["string"]
    assert out["not-base64"]["BinaryValue"] == b"not base64!"
    assert given["text"]["BinaryValue"] == "AP8="  # the caller's dict is not changed


# -- EventTemplateParser.parse (moto/events/utils.py), called by Rule.send_to_targets (moto/events/models.py) -------


def test_contract_event_template_parser_parse_keeps_its_signature_and_its_accountless_default():
    from moto.events.utils import EventTemplateParser

    original = _moto_fixes._ORIGINAL["parse"]
    assert isinstance(original, staticmethod)
    assert list(inspect.signature(original.__func__).parameters) == ["input_template", "input_paths_map", "event"]
    # What the patch works around: moto's default rendering has no account. If it gains one, revisit the patch.
    assert "<account>" not in EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE


def test_contract_rule_send_to_targets_renders_through_the_parser_and_the_sqs_sender_formats_time():
    from moto.events.models import EventsBackend, Rule

    send = inspect.getsource(Rule.send_to_targets)
    assert "EventTemplateParser.parse(" in send
    assert 'input_template=input_transformer.get("InputTemplate")' in send
    assert 'input_paths_map=input_transformer.get("InputPathsMap", {})' in send
    sqs_sender = inspect.getsource(Rule._send_to_sqs_queue)
    assert 'utcfromtimestamp(float(event["time"]))' in sqs_sender and "json.dumps(event)" in sqs_sender
    put = inspect.getsource(EventsBackend.put_events)
    for key in ENVELOPE_KEYS[1:]:  # "version" comes from _BASE_EVENT_MESSAGE
        assert f'event_msg["{key}"]' in put, key


def test_the_patched_parser_returns_the_envelope_and_leaves_transformers_to_moto(plane):
    from moto.events.utils import EventTemplateParser

    event = {
        "version": "0",
        "id": "e-1",
        "detail-type": "T <id>",
        "source": 's"q',
        "account": "123456789012",
        "time": 1_700_000_000.0,
        "region": "us-east-1",
        "resources": [],
        "detail": {"x": "<source>"},
        "ingestion-time": 1_700_000_001.0,
    }
    out = EventTemplateParser.parse(input_template=None, input_paths_map={}, event=event)
    assert tuple(out) == ENVELOPE_KEYS and out["detail"] == {"x": "<source>"} and out["time"] == 1_700_000_000.0
    transformed = EventTemplateParser.parse(
        input_template='{"kind": "<kind>"}', input_paths_map={"kind": "$.detail.x"}, event=event
    )
    assert transformed == {"kind": "<source>"}


# -- SQSBackend.receive_message (moto/sqs/models.py): FIFO groups after a visibility timeout -------------------------


def _fifo_queue(sqs: Any) -> str:
    return sqs.create_queue(
        QueueName=f"order-{uuid.uuid4().hex[:8]}.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true", "VisibilityTimeout": "1"},
    )["QueueUrl"]


def _time_out(plane: Any, url: str) -> None:
    """Make every in-flight message of the queue visible again, as its visibility timeout passing would."""
    from moto.sqs.models import sqs_backends

    queue = sqs_backends["123456789012"]["us-east-1"].get_queue(url.rsplit("/", 1)[-1])
    for message in queue.pending_messages:
        message.change_visibility(0)


def test_contract_moto_fifo_receive_skips_the_oldest_timed_out_messages_of_a_group(plane):
    """The bug the receive wrapper works around: without it, m4 comes back before m2 and m3."""
    sqs = client("sqs", plane.endpoint, "us-east-1")
    url = _fifo_queue(sqs)
    for i in range(1, 5):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}", MessageGroupId="g")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
    _time_out(plane, url)
    _moto_fixes.uninstall()
    try:
        again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    finally:
        _moto_fixes.install()
    assert [m["Body"] for m in again] == ["m4"]  # if moto now returns m2, m3, m4 the wrapper may go
    assert list(inspect.signature(_moto_fixes._ORIGINAL["receive_message"]).parameters)[:2] == ["self", "queue_name"]


def test_a_group_that_timed_out_comes_back_oldest_first(plane):
    sqs = client("sqs", plane.endpoint, "us-east-1")
    url = _fifo_queue(sqs)
    for i in range(1, 5):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}", MessageGroupId="g")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in first] == ["m1", "m2", "m3", "m4"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
    assert sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []) == []  # group in flight
    _time_out(plane, url)
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    assert [m["Body"] for m in again] == ["m2", "m3", "m4"]


class _SteppingClock:
    """``time.time`` that moves on 1 ms at every call: time passing in the middle of moto's scan, deterministically."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        self.now += 0.001
        return self.now


@pytest.mark.parametrize("fixed", [True, False], ids=["with the fix", "moto alone"])
def test_a_fifo_scan_sees_one_instant(plane, monkeypatch, fixed):
    """m2 times out just before a receive and m3 just after the scan began: SQS decides at the receive's instant (m3
    still in flight, so the group waits, then m2, m3, m4); moto's scan reads the clock per message and delivers m3
    and m4 without m2. The wrapper freezes moto's clock for the scan."""
    from eventweave.local import _moto_clock

    sqs = client("sqs", plane.endpoint, "us-east-1")
    url = _fifo_queue(sqs)
    for i in range(1, 5):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}", MessageGroupId="g")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=3)["Messages"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
    from moto.sqs.models import sqs_backends

    backend = sqs_backends["123456789012"]["us-east-1"]
    queue = backend.get_queue(url.rsplit("/", 1)[-1])
    clock = _SteppingClock(1_000_000.0)
    by_body = {m.body: m for m in queue._messages}
    by_body["m2"].visible_at = (clock.now - 1.0) * 1000  # timed out already
    by_body["m3"].visible_at = (clock.now + 0.0035) * 1000  # times out a few clock reads later: inside the scan
    monkeypatch.setattr(_moto_clock.time, "time", clock)
    if not fixed:
        _moto_fixes.uninstall()
    try:
        received = [m.body for m in backend.receive_message(queue.name, 10, 0, 0)]
        clock.now += 1.0  # m3's timeout has passed for everyone now
        received += [m.body for m in backend.receive_message(queue.name, 10, 0, 0)]
    finally:
        _moto_fixes.install()
    if fixed:
        assert received == ["m2", "m3", "m4"]
    else:
        assert received[:2] == ["m3", "m4"]  # the bug; when moto gets this right, the freeze may go

"""Batch sizes and correlation ids read from every payload shape the local cloud delivers; the journal follows one."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

from eventweave.local.trace import Invocation, Journal, describe_payload, read_journal
from eventweave.wire.sns import notification, notification_json

TOPIC = "arn:aws:sns:us-east-1:123456789012:orders"


def _sqs_record(body: str, correlation: str | None = None) -> dict:
    attrs = {}
    if correlation:
        attrs["eventweave-correlation-id"] = {"stringValue": correlation, "dataType": "String"}
    return {"messageId": "m", "body": body, "messageAttributes": attrs, "eventSource": "aws:sqs"}


def test_sqs_batch_counts_records_and_reads_message_attributes():
    payload = {"Records": [_sqs_record("{}", "c-1"), _sqs_record("{}", "c-2"), _sqs_record("{}")]}
    assert describe_payload(json.dumps(payload).encode()) == (3, ["c-1", "c-2"])


def test_sns_envelope_inside_an_sqs_body_is_read_through_the_escaping():
    envelope = notification(
        "{}", topic_arn=TOPIC, raw_attributes={"eventweave-correlation-id": {"Type": "String", "Value": "c-sns"}}
    )
    payload = {"Records": [_sqs_record(notification_json(envelope))]}
    assert describe_payload(json.dumps(payload).encode()) == (1, ["c-sns"])


def test_a_binary_correlation_attribute_is_not_a_correlation_id():
    envelope = notification("{}", topic_arn=TOPIC, attributes={"eventweave-correlation-id": b"c-binary"})
    record = _sqs_record(notification_json(envelope))
    record["messageAttributes"] = {"eventweave-correlation-id": {"binaryValue": "YmluYXJ5", "dataType": "Binary"}}
    assert describe_payload(json.dumps({"Records": [record]}).encode()) == (1, [])


def test_kinesis_data_is_decoded_and_dynamodb_images_are_read():
    data = base64.b64encode(json.dumps({"__context": {"correlationId": "c-k", "hops": 1}}).encode()).decode()
    kinesis = {"Records": [{"kinesis": {"data": data}}, {"kinesis": {"data": "!!not base64!!"}}]}
    assert describe_payload(json.dumps(kinesis).encode()) == (2, ["c-k"])
    image = {"__context": {"M": {"correlationId": {"S": "c-d"}, "hops": {"N": "2"}}}}
    ddb = {"Records": [{"dynamodb": {"NewImage": image}}]}
    assert describe_payload(json.dumps(ddb).encode()) == (1, ["c-d"])


def test_a_destination_record_carries_the_original_payloads_correlation():
    original = {"detail": {"__context": {"correlationId": "c-e"}}}
    record = {"requestContext": {"condition": "RetriesExhausted"}, "requestPayload": json.dumps(original)}
    assert describe_payload(json.dumps(record).encode()) == (1, ["c-e"])


def test_a_payload_without_trace_metadata_has_no_correlation_and_garbage_is_harmless():
    assert describe_payload(b'{"Records": [{"body": "x"}]}') == (1, [])
    assert describe_payload(b'{"Records": [not json') == (1, [])
    assert describe_payload(b"\xff\xfe") == (1, [])


def test_journal_follows_one_correlation_id_in_order_and_the_file_reads_back(tmp_path: Path):
    path = tmp_path / "journal" / "invocations.jsonl"
    journal = Journal(path=path)
    now = time.time()
    second = Invocation(now + 1, "b", "sqs", 2, "partial", 5.0, False, "r2", ("c-1", "c-2"))
    first = Invocation(now, "a", "sns", 1, "ok", 3.0, True, "r1", ("c-1",))
    other = Invocation(now + 2, "c", "sqs", 1, "ok", 1.0, False, "r3", ("c-9",))
    for invocation in (second, first, other):
        journal.record(invocation)
    assert [i.function for i in journal.follow("c-1")] == ["a", "b"]
    assert read_journal(path, "c-1") == [first, second]
    assert len(read_journal(path)) == 3
    assert "batch=2 outcome=partial" in second.line() and "correlation=c-1,c-2" in second.line()

"""Every AWS-published sample event in ``tests/fixtures/aws_events`` read by its ``eventweave.wire`` codec, rebuilt
by the codec's builder, and handed to the matching handler class, which must process it without poison.

One test id per fixture file (``docs/sqs-event-fifo.json``...), so a codec that drifts from AWS's shapes names the
sample it no longer reads.
"""

from __future__ import annotations

import base64
import hashlib
import json
from decimal import Decimal
from typing import Any

import pytest

from eventweave.handlers import (
    DestinationHandler,
    DynamoDBStreamHandler,
    EventBridgeHandler,
    InvokeHandler,
    KinesisHandler,
    Settings,
    SnsHandler,
    SqsHandler,
    StreamFailureHandler,
)
from eventweave.wire import attributes as wire_attributes
from eventweave.wire.destinations import async_record, stream_failure_record
from eventweave.wire.dynamodb import deserialize_image, serialize_image, stream_record
from eventweave.wire.eventbridge import event as eventbridge_event
from eventweave.wire.eventbridge import is_event
from eventweave.wire.kinesis import decode_data, kinesis_record
from eventweave.wire.logs import LogsData, LogsDataError, awslogs_event, decode_logs_data, decode_payload
from eventweave.wire.records import AsyncInvocationRecord, StreamFailureRecord
from eventweave.wire.s3 import is_test_event, object_key, object_record
from eventweave.wire.sns import is_notification, lambda_record, notification, parse_notification
from eventweave.wire.sqs import is_fifo_arn, sqs_record, sqs_record_from_message
from tests.factories import FakeLambdaContext, sqs_event
from tests.factories import sqs_record as sqs_record_factory
from tests.fixtures.aws_events import FIXTURES, load
from tests.unit.doubles import RecordingDeadLetter, with_dead_letter

# -- which fixture is what -----------------------------------------------------------------------------------------

ALL = sorted(p.relative_to(FIXTURES).as_posix() for p in FIXTURES.glob("*/*.json"))


def _base(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def _select(*prefixes: str, exclude: tuple[str, ...] = ()) -> list[str]:
    return [n for n in ALL if _base(n).startswith(prefixes) and not _base(n).startswith(exclude)]


SQS_EVENTS = _select("sqs-")
SNS_EVENTS = _select("sns-event", "sns-Sns")
SNS_NOTIFICATIONS = _select("sns-message-")
KINESIS_EVENTS = _select("kinesis-")
DYNAMODB_EVENTS = _select("dynamodb-")
S3_EVENTS = _select("s3-", exclude=("s3-test-message",))
S3_TEST_MESSAGES = _select("s3-test-message")
EVENTBRIDGE_EVENTS = _select("eventbridge-", "cloudwatch-ScheduledEvent")
AWSLOGS_EVENTS = _select("cloudwatch-logs-event", "cloudwatch-CloudwatchLogs")
LOGS_DOCUMENTS = _select("cloudwatch-logs-data-decoded")
ASYNC_RECORDS = _select("destination-async-")
STREAM_FAILURES = _select("destination-kinesis-", "destination-dynamodb-")

CATEGORIES = {
    "sqs": SQS_EVENTS,
    "sns": SNS_EVENTS,
    "sns-notification": SNS_NOTIFICATIONS,
    "kinesis": KINESIS_EVENTS,
    "dynamodb": DYNAMODB_EVENTS,
    "s3": S3_EVENTS,
    "s3-test": S3_TEST_MESSAGES,
    "eventbridge": EVENTBRIDGE_EVENTS,
    "awslogs": AWSLOGS_EVENTS,
    "logs-document": LOGS_DOCUMENTS,
    "async-destination": ASYNC_RECORDS,
    "stream-failure": STREAM_FAILURES,
}

TRUNCATED_AWSLOGS = "docs/cloudwatch-logs-event.json"
"""Its ``awslogs.data`` ends in ``...`` in the Lambda guide (SOURCES.md): not base64, not gzip."""

NOT_AN_MD5 = {
    "docs/sqs-event-binary-attribute.json": "aws-lambda-go test data: its md5OfBody is not the MD5 of 'Message Body'",
}


def _decodable_awslogs() -> list[Any]:
    return [
        pytest.param(
            name,
            marks=pytest.mark.skip(reason=f"{name}: the doc truncates awslogs.data with '...', so it cannot decode"),
        )
        if name == TRUNCATED_AWSLOGS
        else name
        for name in AWSLOGS_EVENTS
    ]


def test_every_fixture_file_is_covered_by_exactly_one_category():
    """A fixture added without a category here would silently go untested."""
    placed = [name for names in CATEGORIES.values() for name in names]
    assert sorted(placed) == ALL
    assert all(CATEGORIES.values()), {k: v for k, v in CATEGORIES.items() if not v}


# -- handlers ------------------------------------------------------------------------------------------------------


class _Seen:
    """Mixin: remembers what ``handle`` received."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seen: list[tuple[Any, Any]] = []

    def handle(self, payload: Any, ctx: Any) -> None:
        self.seen.append((payload, ctx))


class SqsText(_Seen, SqsHandler[str]):
    pass


class SnsText(_Seen, SnsHandler[str]):
    pass


class KinesisBytes(_Seen, KinesisHandler[bytes]):
    pass


class KinesisText(_Seen, KinesisHandler[str]):
    pass


class StreamItems(_Seen, DynamoDBStreamHandler[dict]):  # type: ignore[type-arg]
    pass


class EventDetail(_Seen, EventBridgeHandler[dict]):  # type: ignore[type-arg]
    pass


class SqsDetail(_Seen, SqsHandler[dict]):  # type: ignore[type-arg]
    pass


class Logs(_Seen, InvokeHandler[LogsData]):
    pass


class Raw(_Seen, InvokeHandler[dict]):  # type: ignore[type-arg]
    pass


class Destination(_Seen, DestinationHandler[dict]):  # type: ignore[type-arg]
    pass


class StreamFailures(_Seen, StreamFailureHandler):
    pass


def build(cls: type) -> tuple[Any, RecordingDeadLetter]:
    handler = cls(settings=Settings(function_name="fixtures"))
    return handler, with_dead_letter(handler)


def records(name: str) -> list[dict[str, Any]]:
    event = load(name)
    assert isinstance(event["Records"], list)
    assert event["Records"]
    return event["Records"]


# -- SQS -----------------------------------------------------------------------------------------------------------


def _expected_sqs_attributes(raw: dict[str, Any]) -> tuple[dict[str, str], dict[str, bytes]]:
    strings = {n: v["stringValue"] for n, v in raw.items() if not v["dataType"].startswith("Binary")}
    binaries = {n: base64.b64decode(v["binaryValue"]) for n, v in raw.items() if v["dataType"].startswith("Binary")}
    return strings, binaries


@pytest.mark.parametrize("name", SQS_EVENTS)
def test_sqs_attributes_read_as_their_data_type_says(name):
    for record in records(name):
        strings, binaries = wire_attributes.read_attributes(record["messageAttributes"])
        assert (strings, binaries) == _expected_sqs_attributes(record["messageAttributes"])
        assert not set(strings) & set(binaries)
    if name == "docs/sqs-event-binary-attribute.json":
        assert wire_attributes.read_attributes(records(name)[0]["messageAttributes"]) == (
            {"Attribute2": "123", "Attribute1": "AttributeValue1"},
            {"Attribute3": b"1100"},
        )


@pytest.mark.parametrize("name", SQS_EVENTS)
def test_sqs_record_rebuilt_by_the_builder_matches_the_fields_it_sets(name):
    for record in records(name):
        system = record["attributes"]
        fifo = is_fifo_arn(record["eventSourceARN"])
        assert fifo == ("MessageGroupId" in system)
        built = sqs_record(
            record["body"],
            queue_arn=record["eventSourceARN"],
            message_id=record["messageId"],
            receipt_handle=record["receiptHandle"],
            raw_attributes=record["messageAttributes"],
            group_id=system.get("MessageGroupId"),
            deduplication_id=system.get("MessageDeduplicationId"),
            sequence_number=system.get("SequenceNumber"),
            receive_count=int(system["ApproximateReceiveCount"]),
            sent_ms=int(system["SentTimestamp"]),
            sender_id=system["SenderId"],
        )
        for key in ("messageId", "receiptHandle", "body", "messageAttributes", "eventSource", "eventSourceARN"):
            assert built[key] == record[key], key
        assert built["awsRegion"] == record["awsRegion"]
        # Every system attribute the fixture has except the first-receive time (the builder sets it to SentTimestamp).
        expected_system = {k: v for k, v in system.items() if k != "ApproximateFirstReceiveTimestamp"}
        assert {k: v for k, v in built["attributes"].items() if k in expected_system} == expected_system
        assert set(built["attributes"]) == set(system)
        assert all(isinstance(v, str) for v in built["attributes"].values())
        assert built["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()
        if name not in NOT_AN_MD5:
            assert built["md5OfBody"] == record["md5OfBody"]


@pytest.mark.parametrize("name", SQS_EVENTS)
def test_sqs_record_from_receive_message_matches_the_fixture(name):
    """The fixture's message as ReceiveMessage returns it (binary attributes as bytes) becomes the fixture's record."""
    for record in records(name):
        api_attributes: dict[str, Any] = {}
        for attr_name, value in record["messageAttributes"].items():
            if value["dataType"].startswith("Binary"):
                api_attributes[attr_name] = {
                    "DataType": value["dataType"],
                    "BinaryValue": base64.b64decode(value["binaryValue"]),
                }
            else:
                api_attributes[attr_name] = {"DataType": value["dataType"], "StringValue": value["stringValue"]}
        message = {
            "MessageId": record["messageId"],
            "ReceiptHandle": record["receiptHandle"],
            "MD5OfBody": record["md5OfBody"],
            "Body": record["body"],
            "Attributes": dict(record["attributes"]),
            "MessageAttributes": api_attributes,
        }
        built = sqs_record_from_message(message, record["eventSourceARN"])
        expected = {k: v for k, v in record.items() if k not in ("messageAttributes", "md5OfMessageAttributes")}
        assert {k: v for k, v in built.items() if k != "messageAttributes"} == expected
        # stringListValues / binaryListValues are reserved (SQS sends them empty): compare the value and its type.
        for attr_name, value in record["messageAttributes"].items():
            got = built["messageAttributes"][attr_name]
            assert got["dataType"] == value["dataType"]
            key = "binaryValue" if value["dataType"].startswith("Binary") else "stringValue"
            assert got[key] == value[key]
        assert wire_attributes.read_attributes(built["messageAttributes"]) == _expected_sqs_attributes(
            record["messageAttributes"]
        )


@pytest.mark.parametrize("name", SQS_EVENTS)
def test_sqs_fixture_is_processed_by_a_str_handler(name, lambda_context):
    handler, dlq = build(SqsText)
    event = load(name)
    assert handler(event, lambda_context) == {"batchItemFailures": []}
    assert dlq.offered == []
    assert [body for body, _ in handler.seen] == [r["body"] for r in event["Records"]]
    for (_, ctx), record in zip(handler.seen, event["Records"], strict=True):
        assert ctx.record_id == ctx.message_id == ctx.correlation_id == record["messageId"]
        assert ctx.group_id == record["attributes"].get("MessageGroupId")
        assert ctx.receive_count == int(record["attributes"]["ApproximateReceiveCount"])
        assert (dict(ctx.attributes), dict(ctx.binary_attributes)) == _expected_sqs_attributes(
            record["messageAttributes"]
        )


# -- SNS -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SNS_EVENTS)
def test_sns_lambda_record_attributes_keep_text_and_binary_apart(name):
    (record,) = records(name)
    strings, binaries = wire_attributes.read_attributes(record["Sns"]["MessageAttributes"])
    # Both samples carry {"Type": "Binary", "Value": "TestBinary"}: not base64, so it is in neither map.
    assert strings == {"Test": "TestString"}
    assert binaries == {}
    assert "TestBinary" not in strings


@pytest.mark.parametrize("name", SNS_EVENTS)
def test_sns_lambda_record_rebuilt_from_its_own_fields_is_the_fixture(name):
    (record,) = records(name)
    assert lambda_record(record["Sns"], subscription_arn=record["EventSubscriptionArn"]) == record


@pytest.mark.parametrize("name", SNS_EVENTS)
def test_sns_fixture_is_processed_by_a_str_handler(name, lambda_context):
    handler, dlq = build(SnsText)
    event = load(name)
    assert handler(event, lambda_context) is None
    assert dlq.offered == []
    ((message, ctx),) = handler.seen
    sns = event["Records"][0]["Sns"]
    assert message == sns["Message"]
    assert ctx.record_id == ctx.message_id == sns["MessageId"]
    assert ctx.subject == sns["Subject"]
    assert ctx.topic_arn == sns["TopicArn"]
    assert dict(ctx.attributes) == {"Test": "TestString"}


@pytest.mark.parametrize("name", SNS_NOTIFICATIONS)
def test_sns_notification_is_recognised_and_parsed_from_its_text(name):
    doc = load(name)
    assert is_notification(doc)
    text = (FIXTURES / name).read_text(encoding="utf-8")
    assert parse_notification(text) == doc
    assert parse_notification(json.dumps(doc)) == doc


@pytest.mark.parametrize("name", SNS_NOTIFICATIONS)
def test_sns_notification_as_a_lambda_record_switches_url_casing_and_keeps_the_message(name):
    doc = load(name)
    arn = doc["TopicArn"] + ":21be56ed-a058-49f5-8c98-aedd2564c486"
    record = lambda_record(doc, subscription_arn=arn)
    sns = record["Sns"]
    assert record["EventSource"] == "aws:sns"
    assert record["EventSubscriptionArn"] == arn
    for key in ("Type", "MessageId", "TopicArn", "Message", "Timestamp", "SignatureVersion", "Signature"):
        assert sns[key] == doc[key], key
    assert sns["Subject"] == doc.get("Subject")
    assert sns["MessageAttributes"] == doc.get("MessageAttributes", {})
    assert sns["UnsubscribeUrl"] == doc["UnsubscribeURL"]
    assert sns["SigningCertUrl"] == doc.get("SigningCertURL", "")
    assert "UnsubscribeURL" not in sns
    assert "SigningCertURL" not in sns
    assert wire_attributes.read_attributes(sns["MessageAttributes"]) == wire_attributes.read_attributes(
        doc.get("MessageAttributes")
    )


@pytest.mark.parametrize("name", SNS_NOTIFICATIONS)
def test_sns_notification_rebuilt_by_the_builder_has_the_fields_and_key_order_of_the_fixture(name):
    doc = load(name)
    built = notification(
        doc["Message"],
        topic_arn=doc["TopicArn"],
        message_id=doc["MessageId"],
        subject=doc.get("Subject"),
        raw_attributes=doc.get("MessageAttributes"),
        timestamp=doc["Timestamp"],
    )
    for key in ("Type", "MessageId", "TopicArn", "Message", "Timestamp"):
        assert built[key] == doc[key], key
    assert built.get("Subject") == doc.get("Subject")
    assert ("Subject" in built) == ("Subject" in doc)
    assert built.get("MessageAttributes") == doc.get("MessageAttributes")
    common = [k for k in doc if k in built]
    assert [k for k in built if k in doc] == common
    assert set(doc) - set(built) == set()


@pytest.mark.parametrize("name", SNS_NOTIFICATIONS)
def test_sns_notification_on_a_queue_reaches_a_str_handler_as_its_message(name, lambda_context):
    doc = load(name)
    body = (FIXTURES / name).read_text(encoding="utf-8")  # the text exactly as SNS writes it to the queue
    handler, dlq = build(SqsText)
    assert handler(sqs_event(sqs_record_factory(body, message_id="sqs-1")), lambda_context) == {"batchItemFailures": []}
    assert dlq.offered == []
    ((message, ctx),) = handler.seen
    assert message == doc["Message"]
    assert ctx.record_id == "sqs-1"
    assert ctx.message_id == doc["MessageId"]
    assert dict(ctx.attributes) == wire_attributes.read_attributes(doc.get("MessageAttributes"))[0]


@pytest.mark.parametrize("name", SNS_NOTIFICATIONS)
def test_sns_notification_as_a_lambda_record_reaches_a_str_handler(name, lambda_context):
    doc = load(name)
    handler, dlq = build(SnsText)
    handler({"Records": [lambda_record(doc, subscription_arn=doc["TopicArn"] + ":1")]}, lambda_context)
    assert dlq.offered == []
    ((message, ctx),) = handler.seen
    assert message == doc["Message"]
    assert ctx.message_id == doc["MessageId"]
    assert ctx.subject == doc.get("Subject")


def test_sns_notification_with_attributes_reads_array_and_number_as_text():
    doc = load("docs/sns-message-with-attributes.json")
    strings, binaries = wire_attributes.read_attributes(doc["MessageAttributes"])
    assert strings == {
        "customer_interests": '["soccer", "rugby", "hockey"]',
        "store": "example_corp",
        "event": "order_placed",
        "price_usd": "210.75",
    }
    assert binaries == {}


# -- Kinesis -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", KINESIS_EVENTS)
def test_kinesis_record_decoded_and_rebuilt_is_the_fixture(name):
    for record in records(name):
        data = decode_data(record)
        assert data == base64.b64decode(record["kinesis"]["data"])
        kinesis = record["kinesis"]
        shard_id, _, sequence = record["eventID"].partition(":")
        assert sequence == kinesis["sequenceNumber"]
        rebuilt = kinesis_record(
            data,
            sequence_number=kinesis["sequenceNumber"],
            stream_arn=record["eventSourceARN"],
            partition_key=kinesis["partitionKey"],
            shard_id=shard_id,
            arrival=kinesis["approximateArrivalTimestamp"],
            invoke_identity_arn=record["invokeIdentityArn"],
            region=record["awsRegion"],
        )
        assert rebuilt == record


@pytest.mark.parametrize("name", KINESIS_EVENTS)
@pytest.mark.parametrize("cls", [KinesisBytes, KinesisText], ids=["bytes", "str"])
def test_kinesis_fixture_is_processed_by_a_raw_handler(name, cls, lambda_context):
    handler, dlq = build(cls)
    event = load(name)
    assert handler(event, lambda_context) == {"batchItemFailures": []}
    assert dlq.offered == []
    expected = [base64.b64decode(r["kinesis"]["data"]) for r in event["Records"]]
    if cls is KinesisText:
        expected = [data.decode() for data in expected]  # type: ignore[misc]
    assert [payload for payload, _ in handler.seen] == expected
    assert [ctx.sequence_number for _, ctx in handler.seen] == [
        r["kinesis"]["sequenceNumber"] for r in event["Records"]
    ]
    assert [ctx.partition_key for _, ctx in handler.seen] == [r["kinesis"]["partitionKey"] for r in event["Records"]]


def test_kinesis_samples_decode_to_the_documented_text():
    assert decode_data(records("sam/kinesis-Kinesis.json")[0]) == b"Hello, this is a test 123."
    assert [decode_data(r) for r in records("docs/kinesis-event.json")] == [
        b"Hello, this is a test.",
        b"This is only a test.",
    ]


# -- DynamoDB Streams ----------------------------------------------------------------------------------------------


def _normalised(value: Any) -> Any:
    """DynamoDB JSON with every set sorted, so sets compare whatever order the fixture lists them in."""
    if isinstance(value, dict):
        if len(value) == 1:
            ((kind, inner),) = value.items()
            if kind in ("SS", "BS"):
                return {kind: sorted(inner)}
            if kind == "NS":
                return {kind: sorted(inner, key=Decimal)}
        return {k: _normalised(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalised(v) for v in value]
    return value


@pytest.mark.parametrize("name", DYNAMODB_EVENTS)
def test_dynamodb_images_deserialize_and_serialize_back(name):
    seen = 0
    for record in records(name):
        for part in ("Keys", "NewImage", "OldImage"):
            image = record["dynamodb"].get(part)
            if image is None:
                continue
            seen += 1
            item = deserialize_image(image)
            assert set(item) == set(image)
            assert _normalised(serialize_image(item)) == _normalised(image)
    assert seen >= 2


def test_dynamodb_sample_numbers_are_decimals():
    first = records("sam/dynamodb-DynamoDBUpdate.json")[0]["dynamodb"]
    assert deserialize_image(first["Keys"]) == {"Id": Decimal("101")}
    assert deserialize_image(first["NewImage"]) == {"Message": "New item!", "Id": Decimal("101")}
    assert isinstance(deserialize_image(first["Keys"])["Id"], Decimal)


@pytest.mark.parametrize("name", DYNAMODB_EVENTS)
def test_dynamodb_stream_record_rebuilt_by_the_builder_matches_the_fields_it_sets(name):
    for record in records(name):
        body = record["dynamodb"]
        rebuilt = stream_record(
            record["eventName"],
            keys=body["Keys"],
            sequence_number=body["SequenceNumber"],
            stream_arn=record["eventSourceARN"],
            new_image=body.get("NewImage"),
            old_image=body.get("OldImage"),
            view=body["StreamViewType"],
            region=record["awsRegion"],
            event_id=record["eventID"],
            created=body.get("ApproximateCreationDateTime"),
            size_bytes=body["SizeBytes"],
        )
        for key in ("eventID", "eventName", "eventSource", "awsRegion", "eventSourceARN"):
            assert rebuilt[key] == record[key], key
        expected = {k: v for k, v in body.items() if k != "ApproximateCreationDateTime"}
        assert {k: v for k, v in rebuilt["dynamodb"].items() if k != "ApproximateCreationDateTime"} == expected
        if "ApproximateCreationDateTime" in body:
            assert rebuilt["dynamodb"]["ApproximateCreationDateTime"] == body["ApproximateCreationDateTime"]


@pytest.mark.parametrize("name", DYNAMODB_EVENTS)
def test_dynamodb_fixture_is_processed_by_a_dict_handler(name, lambda_context):
    handler, dlq = build(StreamItems)
    event = load(name)
    assert handler(event, lambda_context) == {"batchItemFailures": []}
    assert dlq.offered == []
    assert len(handler.seen) == len(event["Records"])
    for (change, ctx), record in zip(handler.seen, event["Records"], strict=True):
        body = record["dynamodb"]
        assert change.event_name == record["eventName"] == ctx.event_name
        assert change.keys == deserialize_image(body["Keys"])
        assert change.new == (deserialize_image(body["NewImage"]) if "NewImage" in body else None)
        assert change.old == (deserialize_image(body["OldImage"]) if "OldImage" in body else None)
        assert ctx.sequence_number == body["SequenceNumber"]
        assert ctx.message_id == record["eventID"]


# -- S3 ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", S3_EVENTS)
def test_s3_object_key_and_rebuilt_record(name):
    for record in records(name):
        obj = record["s3"]["object"]
        assert object_key(record) == obj["key"]  # the samples' keys need no escaping
        rebuilt = object_record(
            record["eventName"],
            record["s3"]["bucket"]["name"],
            object_key(record),
            region=record["awsRegion"],
            size=obj.get("size"),
            etag=obj.get("eTag"),
            version_id=obj.get("versionId"),
            sequencer=obj["sequencer"],
            configuration_id=record["s3"]["configurationId"],
            principal_id=record["userIdentity"]["principalId"],
            source_ip=record["requestParameters"]["sourceIPAddress"],
            event_time=record["eventTime"],
        )
        assert rebuilt["s3"]["object"] == obj
        for key in ("eventSource", "awsRegion", "eventTime", "eventName", "userIdentity", "requestParameters"):
            assert rebuilt[key] == record[key], key
        assert set(rebuilt) == set(record)
        assert set(rebuilt["s3"]) == set(record["s3"])
        assert rebuilt["s3"]["s3SchemaVersion"] == record["s3"]["s3SchemaVersion"]
        assert rebuilt["s3"]["configurationId"] == record["s3"]["configurationId"]
        assert set(rebuilt["s3"]["bucket"]) == set(record["s3"]["bucket"])
    assert not is_test_event(load(name))


@pytest.mark.parametrize("name", S3_EVENTS)
def test_s3_fixture_is_processed_by_an_invoke_handler(name, lambda_context):
    handler, dlq = build(Raw)
    event = load(name)
    handler(event, lambda_context)
    assert dlq.offered == []
    assert [payload for payload, _ in handler.seen] == [event]


def test_s3_object_key_unquotes_what_s3_quotes():
    record = dict(records("docs/s3-event.json")[0])
    record["s3"] = {**record["s3"], "object": {**record["s3"]["object"], "key": "photos/red+flower%2B1%25.jpg"}}
    assert object_key(record) == "photos/red flower+1%.jpg"
    built = object_record("ObjectCreated:Put", "b", "photos/red flower+1%.jpg")
    assert built["s3"]["object"]["key"] == "photos/red+flower%2B1%25.jpg"


@pytest.mark.parametrize("name", S3_TEST_MESSAGES)
def test_s3_test_message_is_recognised(name):
    doc = load(name)
    assert is_test_event(doc)
    assert not is_event(doc)
    assert not is_notification(doc)


# -- EventBridge ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", EVENTBRIDGE_EVENTS)
def test_eventbridge_event_is_recognised_and_rebuilt(name):
    doc = load(name)
    assert is_event(doc)
    assert not is_notification(doc)
    built = eventbridge_event(
        doc["detail"],
        detail_type=doc["detail-type"],
        source=doc["source"],
        account=doc["account"],
        region=doc["region"],
        resources=doc["resources"],
        event_id=doc["id"],
        time=doc["time"],
    )
    if "version" not in doc:  # SAM's ScheduledEvent template has none
        built.pop("version")
    assert built == doc


@pytest.mark.parametrize("name", EVENTBRIDGE_EVENTS)
def test_eventbridge_fixture_is_processed_by_a_dict_handler(name, lambda_context):
    handler, dlq = build(EventDetail)
    doc = load(name)
    handler(doc, lambda_context)
    assert dlq.offered == []
    ((detail, ctx),) = handler.seen
    assert detail == doc["detail"]
    assert ctx.detail_type == doc["detail-type"]
    assert ctx.event_source == doc["source"]
    assert ctx.record_id == ctx.message_id == doc["id"]


@pytest.mark.parametrize("name", EVENTBRIDGE_EVENTS)
def test_eventbridge_fixture_on_a_queue_reaches_the_handler_as_its_detail(name, lambda_context):
    doc = load(name)
    handler, dlq = build(SqsDetail)
    handler(sqs_event(sqs_record_factory(json.dumps(doc), message_id="sqs-1")), lambda_context)
    assert dlq.offered == []
    ((detail, ctx),) = handler.seen
    assert detail == doc["detail"]
    assert ctx.message_id == doc["id"]
    assert ctx.event_type == doc["detail-type"]


# -- CloudWatch Logs -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", _decodable_awslogs())
def test_awslogs_event_decodes_to_a_logs_document(name):
    event = load(name)
    doc = decode_payload(event)
    logs = LogsData.model_validate(event)
    assert logs == LogsData.model_validate(doc)
    assert logs.message_type == "DATA_MESSAGE"
    assert not logs.is_control
    assert [e.message for e in logs.log_events] == [e["message"] for e in doc["logEvents"]]
    # Re-encoded by the builder it decodes to the same document.
    assert decode_payload(awslogs_event(doc)) == doc


def test_sam_awslogs_event_has_its_two_log_events():
    logs = LogsData.model_validate(load("sam/cloudwatch-CloudwatchLogs.json"))
    assert (logs.owner, logs.log_group, logs.log_stream) == ("123456789123", "testLogGroup", "testLogStream")
    assert logs.subscription_filters == ["testFilter"]
    assert [(e.id, e.timestamp, e.message) for e in logs.log_events] == [
        ("eventId1", 1440442987000, "[ERROR] First test message"),
        ("eventId2", 1440442987001, "[ERROR] Second test message"),
    ]


def test_truncated_awslogs_sample_is_refused_as_undecodable():
    with pytest.raises(LogsDataError):
        decode_payload(load(TRUNCATED_AWSLOGS))


@pytest.mark.parametrize("name", _decodable_awslogs())
def test_awslogs_fixture_is_processed_by_a_logs_invoke_handler(name, lambda_context):
    handler, dlq = build(Logs)
    event = load(name)
    handler(event, lambda_context)
    assert dlq.offered == []
    ((logs, _),) = handler.seen
    assert isinstance(logs, LogsData)
    assert logs == LogsData.model_validate(decode_payload(event))


def test_truncated_awslogs_sample_is_poison_for_a_logs_invoke_handler():
    handler, dlq = build(Logs)
    handler(load(TRUNCATED_AWSLOGS), FakeLambdaContext())
    assert handler.seen == []
    assert [e.reason for e in dlq.delivered] == ["undecodable-payload"]


@pytest.mark.parametrize("name", LOGS_DOCUMENTS)
def test_decoded_logs_document_validates_and_round_trips_through_gzip(name):
    doc = load(name)
    logs = LogsData.model_validate(doc)
    assert logs.log_group == doc["logGroup"]
    assert [e.id for e in logs.log_events] == [e["id"] for e in doc["logEvents"]]
    event = awslogs_event(doc)
    assert decode_logs_data(event["awslogs"]["data"]) == doc
    assert LogsData.model_validate(event) == logs
    assert LogsData.model_validate(base64.b64decode(event["awslogs"]["data"])) == logs


# -- destinations --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ASYNC_RECORDS)
def test_async_destination_record_validates(name):
    doc = load(name)
    record = AsyncInvocationRecord[Any].model_validate(doc)
    assert record.request_payload == doc["requestPayload"]
    assert record.response_payload == doc["responsePayload"]
    assert record.request_context.request_id == doc["requestContext"]["requestId"]
    assert record.request_context.approximate_invoke_count == doc["requestContext"]["approximateInvokeCount"]
    assert record.succeeded == (doc["requestContext"]["condition"] == "Success")
    assert record.response_context is not None
    assert record.response_context.function_error == doc["responseContext"].get("functionError")
    if record.succeeded:
        assert record.error_message is None
    else:
        assert record.error_message == doc["responsePayload"]["errorMessage"]
        assert record.error_type == doc["responsePayload"].get("errorType")
    assert not is_event(doc)
    assert not is_notification(doc)


@pytest.mark.parametrize("name", ASYNC_RECORDS)
def test_async_destination_record_rebuilt_by_the_builder_is_the_fixture(name):
    doc = load(name)
    context = doc["requestContext"]
    rebuilt = async_record(
        json.dumps(doc["requestPayload"]).encode(),
        request_id=context["requestId"],
        function_arn=context["functionArn"],
        condition=context["condition"],
        invoke_count=context["approximateInvokeCount"],
        status_code=doc["responseContext"]["statusCode"],
        function_error=doc["responseContext"].get("functionError"),
        response=json.dumps(doc["responsePayload"]).encode(),
        executed_version=doc["responseContext"]["executedVersion"],
        timestamp=doc["timestamp"],
    )
    assert rebuilt == doc


@pytest.mark.parametrize("name", ASYNC_RECORDS)
def test_async_destination_fixture_is_processed_by_a_destination_handler(name, lambda_context):
    handler, dlq = build(Destination)
    doc = load(name)
    handler(doc, lambda_context)
    assert dlq.offered == []
    ((record, _),) = handler.seen
    assert isinstance(record, AsyncInvocationRecord)
    assert record.request_payload == doc["requestPayload"]


@pytest.mark.parametrize("name", STREAM_FAILURES)
def test_stream_failure_record_validates_and_is_rebuilt(name):
    doc = load(name)
    record = StreamFailureRecord.model_validate(doc)
    kind = "kinesis" if "KinesisBatchInfo" in doc else "dynamodb"
    assert record.stream_kind == kind
    info_doc = doc["KinesisBatchInfo" if kind == "kinesis" else "DDBStreamBatchInfo"]
    info = record.batch_info
    assert (info.shard_id, info.start_sequence_number, info.end_sequence_number) == (
        info_doc["shardId"],
        info_doc["startSequenceNumber"],
        info_doc["endSequenceNumber"],
    )
    assert (info.batch_size, info.stream_arn) == (info_doc["batchSize"], info_doc["streamArn"])
    assert info.approximate_arrival_of_first_record is not None
    assert info.approximate_arrival_of_last_record is not None
    context = doc["requestContext"]
    rebuilt = stream_failure_record(
        kind=kind,
        stream_arn=info_doc["streamArn"],
        shard_id=info_doc["shardId"],
        start_sequence=info_doc["startSequenceNumber"],
        end_sequence=info_doc["endSequenceNumber"],
        first_arrival=info.approximate_arrival_of_first_record.timestamp(),
        last_arrival=info.approximate_arrival_of_last_record.timestamp(),
        batch_size=info_doc["batchSize"],
        request_id=context["requestId"],
        function_arn=context["functionArn"],
        condition=context["condition"],
        invoke_count=context["approximateInvokeCount"],
        status_code=doc["responseContext"]["statusCode"],
        function_error=doc["responseContext"].get("functionError"),
        executed_version=doc["responseContext"]["executedVersion"],
        timestamp=doc["timestamp"],
    )
    assert set(rebuilt) == set(doc)
    assert StreamFailureRecord.model_validate(rebuilt) == record
    assert not is_event(doc)


@pytest.mark.parametrize("name", STREAM_FAILURES)
def test_stream_failure_fixture_on_a_queue_is_processed_by_a_stream_failure_handler(name, lambda_context):
    handler, dlq = build(StreamFailures)
    doc = load(name)
    body = (FIXTURES / name).read_text(encoding="utf-8")
    assert handler(sqs_event(sqs_record_factory(body)), lambda_context) == {"batchItemFailures": []}
    assert dlq.offered == []
    ((record, _),) = handler.seen
    assert record == StreamFailureRecord.model_validate(doc)


# -- recognisers ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_only_notifications_are_notifications_and_only_events_are_events(name):
    doc = load(name)
    assert is_notification(doc) == (name in SNS_NOTIFICATIONS)
    assert is_event(doc) == (name in EVENTBRIDGE_EVENTS)
    assert is_test_event(doc) == (name in S3_TEST_MESSAGES)

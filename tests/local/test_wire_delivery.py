"""What the local cloud delivers is AWS's wire shape, byte for byte: bodies with endpoint URLs in them, Binary
attributes (SQS, SNS raw and enveloped), the whole EventBridge envelope (SQS and Lambda targets), Lambda
destination events, the function DLQ message, SNS -> Lambda records and FIFO records.

One hand-written stack (no synth) is deployed into an embedded local cloud; every function reports the event it got
to a sink queue, and each test waits, bounded, for the report it needs.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from eventweave.local.cloud import DeployedStack, LocalCloud
from eventweave.testing import wait_until
from eventweave.wire.eventbridge import ENVELOPE_KEYS
from eventweave.wire.records import AsyncInvocationRecord

FIXTURES = Path(__file__).parent / "fixtures"
ACCOUNT = "123456789012"
AWS_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/elsewhere?x=1"


def _fn(handler: str, **props: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::Function",
        # An eventweave function (the handlers import eventweave), as EventFunction marks one.
        "Metadata": {"aws:asset:path": str(FIXTURES), "eventweave:requirements": ["pydantic", "aws-lambda-powertools"]},
        "Properties": {
            "Handler": f"wire_fn.{handler}",
            "Runtime": "python3.12",
            "Code": {"ZipFile": "# local asset"},
            "Timeout": 10,
            "Environment": {"Variables": {"SINK_URL": {"Ref": "Sink"}}},
            **props,
        },
    }


def _mapping(queue: str, function: str, **props: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::EventSourceMapping",
        "Properties": {
            "FunctionName": {"Ref": function},
            "EventSourceArn": {"Fn::GetAtt": [queue, "Arn"]},
            "BatchSize": 10,
            **props,
        },
    }


def _template(run: str) -> dict[str, Any]:
    queue = {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 30}}
    resources: dict[str, Any] = {
        "Sink": queue,
        "Inbox": queue,
        "Wrapped": queue,
        "Fifo": {"Type": "AWS::SQS::Queue", "Properties": {"FifoQueue": True, "ContentBasedDeduplication": True}},
        "EventsQueue": queue,
        "DestinationQueue": queue,
        "DeadLetters": queue,
        "Topic": {"Type": "AWS::SNS::Topic"},
        "RawSubscription": {
            "Type": "AWS::SNS::Subscription",
            "Properties": {
                "TopicArn": {"Ref": "Topic"},
                "Protocol": "sqs",
                "Endpoint": {"Fn::GetAtt": ["Inbox", "Arn"]},
                "RawMessageDelivery": True,
            },
        },
        "WrappedSubscription": {
            "Type": "AWS::SNS::Subscription",
            "Properties": {
                "TopicArn": {"Ref": "Topic"},
                "Protocol": "sqs",
                "Endpoint": {"Fn::GetAtt": ["Wrapped", "Arn"]},
            },
        },
        "LambdaSubscription": {
            "Type": "AWS::SNS::Subscription",
            "Properties": {
                "TopicArn": {"Ref": "Topic"},
                "Protocol": "lambda",
                "Endpoint": {"Fn::GetAtt": ["Forward", "Arn"]},
            },
        },
        "Forward": _fn("forward"),
        "Attributes": _fn("attributes"),
        "Maybe": _fn("maybe"),
        "WithDlq": _fn("maybe", DeadLetterConfig={"TargetArn": {"Fn::GetAtt": ["DeadLetters", "Arn"]}}),
        "InboxMapping": _mapping("Inbox", "Attributes", FunctionResponseTypes=["ReportBatchItemFailures"]),
        "WrappedMapping": _mapping("Wrapped", "Attributes", FunctionResponseTypes=["ReportBatchItemFailures"]),
        "FifoMapping": _mapping("Fifo", "Forward"),
        "Bus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": f"wire-destinations-{run}"}},
        "ToTargets": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "EventPattern": {"source": [f"wire.test.{run}"]},
                "Targets": [
                    {"Id": "queue", "Arn": {"Fn::GetAtt": ["EventsQueue", "Arn"]}},
                    {"Id": "function", "Arn": {"Fn::GetAtt": ["Forward", "Arn"]}},
                ],
            },
        },
        "Destinations": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "EventBusName": {"Ref": "Bus"},
                "EventPattern": {"source": ["aws.lambda"]},
                "Targets": [{"Id": "queue", "Arn": {"Fn::GetAtt": ["DestinationQueue", "Arn"]}}],
            },
        },
        "MaybeConfig": {
            "Type": "AWS::Lambda::EventInvokeConfig",
            "Properties": {
                "FunctionName": {"Ref": "Maybe"},
                "Qualifier": "$LATEST",
                "MaximumRetryAttempts": 0,
                "DestinationConfig": {
                    "OnSuccess": {"Destination": {"Fn::GetAtt": ["Bus", "Arn"]}},
                    "OnFailure": {"Destination": {"Fn::GetAtt": ["Bus", "Arn"]}},
                },
            },
        },
        "WithDlqConfig": {
            "Type": "AWS::Lambda::EventInvokeConfig",
            "Properties": {"FunctionName": {"Ref": "WithDlq"}, "Qualifier": "$LATEST", "MaximumRetryAttempts": 0},
        },
    }
    outputs = {
        name: {"Value": {"Ref": name}}
        for name in (
            "Sink",
            "Inbox",
            "Wrapped",
            "Fifo",
            "EventsQueue",
            "DestinationQueue",
            "DeadLetters",
            "Topic",
            "Maybe",
            "WithDlq",
            "Forward",
        )
    }
    outputs["BusArn"] = {"Value": {"Fn::GetAtt": ["Bus", "Arn"]}}
    outputs["ForwardArn"] = {"Value": {"Fn::GetAtt": ["Forward", "Arn"]}}
    return {"Resources": resources, "Outputs": outputs}


class Sink:
    """The reports the stack's functions sent, read once and kept, so each test finds its own among them."""

    def __init__(self, sqs: Any, url: str) -> None:
        self.sqs = sqs
        self.url = url
        self.seen: list[dict[str, Any]] = []

    def _read(self) -> None:
        response = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        for message in response.get("Messages", []):
            self.seen.append(json.loads(message["Body"]))
            self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])

    def wait_for(self, match: Callable[[dict[str, Any]], bool], what: str, count: int = 1) -> list[dict[str, Any]]:
        def probe() -> list[dict[str, Any]] | None:
            self._read()
            found = [doc for doc in self.seen if match(doc)]
            return found if len(found) >= count else None

        return wait_until(probe, timeout=30, interval=0.05, what=what)


def _queue_messages(sqs: Any, url: str, count: int, what: str) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []

    def probe() -> list[dict[str, Any]] | None:
        response = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, MessageAttributeNames=["All"]
        )
        for message in response.get("Messages", []):
            got.append(message)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return got if len(got) >= count else None

    return wait_until(probe, timeout=30, interval=0.05, what=what)


@pytest.fixture(scope="module")
def lines() -> list[str]:
    return []


@pytest.fixture(scope="module")
def cloud(lines: list[str]) -> Iterator[LocalCloud]:
    with LocalCloud(async_retry_delays=(0.1,), log=lines.append) as running:
        yield running


@pytest.fixture(scope="module")
def run() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def stack(cloud: LocalCloud, run: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeployedStack]:
    out = tmp_path_factory.mktemp("wire-cdk.out")
    (out / "Wire.template.json").write_text(json.dumps(_template(run)))
    manifest = {
        "version": "48.0.0",
        "artifacts": {
            "Wire": {
                "type": "aws:cloudformation:stack",
                "environment": "aws://unknown-account/unknown-region",
                "properties": {"templateFile": "Wire.template.json"},
            }
        },
    }
    (out / "manifest.json").write_text(json.dumps(manifest))
    deployed = cloud.deploy(out, "Wire", stack_name=f"Wire-{run}")
    try:
        yield deployed
    finally:
        cloud.destroy(deployed)


@pytest.fixture(scope="module")
def aws(cloud: LocalCloud) -> Callable[[str], Any]:
    from eventweave.local.aws import client

    return lambda service: client(service, cloud.endpoint, cloud.region)


@pytest.fixture(scope="module")
def sink(stack: DeployedStack, aws: Callable[[str], Any]) -> Sink:
    return Sink(aws("sqs"), stack.outputs["Sink"])


def _records_of(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return list((doc.get("event") or {}).get("Records") or [])


def test_a_body_holding_an_aws_endpoint_url_reaches_the_handler_byte_for_byte(stack, aws, sink):
    body = f"moved to {AWS_URL} (was https://sns.us-east-1.amazonaws.com/?Action=Publish) 🚚"
    aws("sqs").send_message(
        QueueUrl=stack.outputs["Inbox"],
        MessageBody=body,
        MessageAttributes={"link": {"DataType": "String", "StringValue": AWS_URL}},
    )
    (doc,) = sink.wait_for(lambda d: d.get("body") == body, "the handler's report of the URL body")
    assert doc["strings"]["link"] == AWS_URL
    assert doc["record"]["body"] == body
    assert doc["record"]["messageAttributes"]["link"]["stringValue"] == AWS_URL


def test_a_binary_attribute_sent_to_sqs_reaches_the_handler_as_its_bytes(stack, aws, sink):
    data, custom = b"\x00\xff\x10binary", bytes(range(256))
    aws("sqs").send_message(
        QueueUrl=stack.outputs["Inbox"],
        MessageBody="direct-binary",
        MessageAttributes={
            "blob": {"DataType": "Binary", "BinaryValue": data},
            "image": {"DataType": "Binary.png", "BinaryValue": custom},
            "note": {"DataType": "String", "StringValue": "text"},
        },
    )
    (doc,) = sink.wait_for(lambda d: d.get("body") == "direct-binary", "the handler's report of the binary send")
    assert doc["binary"] == {"blob": base64.b64encode(data).decode(), "image": base64.b64encode(custom).decode()}
    assert doc["strings"] == {"note": "text"}
    attrs = doc["record"]["messageAttributes"]
    assert attrs["blob"] == {
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "Binary",
        "binaryValue": base64.b64encode(data).decode(),
    }
    assert attrs["image"]["dataType"] == "Binary.png"


def test_sns_raw_and_enveloped_delivery_of_a_binary_attribute_lose_nothing(stack, aws, sink):
    data = b"\x00\xff"
    marker = f"binary-{uuid.uuid4().hex[:6]}"
    aws("sns").publish(
        TopicArn=stack.outputs["Topic"],
        Message=marker,
        MessageAttributes={
            "blob": {"DataType": "Binary", "BinaryValue": data},
            "tenant": {"DataType": "String", "StringValue": "acme"},
        },
    )
    encoded = base64.b64encode(data).decode()
    docs = sink.wait_for(
        lambda d: d.get("function") == "attributes" and d.get("body") == marker, "both SQS subscribers' reports", 2
    )
    by_queue = {doc["record"]["eventSourceARN"].rsplit(":", 1)[1]: doc for doc in docs}
    assert len(by_queue) == 2
    for doc in docs:
        assert doc["binary"] == {"blob": encoded}
        assert doc["strings"] == {"tenant": "acme"}
    raw = next(doc for doc in docs if doc["record"]["body"] == marker)  # raw delivery: the message itself
    assert raw["record"]["messageAttributes"]["blob"]["dataType"] == "Binary"
    assert raw["record"]["messageAttributes"]["blob"]["binaryValue"] == encoded
    wrapped = next(doc for doc in docs if doc["record"]["body"] != marker)  # the notification JSON
    notification = json.loads(wrapped["record"]["body"])
    assert notification["MessageAttributes"]["blob"] == {"Type": "Binary", "Value": encoded}
    # SNS -> Lambda gets the same attribute, in the Lambda record's form.
    (forwarded,) = sink.wait_for(
        lambda d: any((r.get("Sns") or {}).get("Message") == marker for r in _records_of(d)), "the SNS -> Lambda event"
    )
    (record,) = _records_of(forwarded)
    assert record["EventSource"] == "aws:sns" and record["EventVersion"] == "1.0"
    assert record["EventSubscriptionArn"].startswith(stack.outputs["Topic"] + ":")
    sns = record["Sns"]
    assert sns["MessageAttributes"]["blob"] == {"Type": "Binary", "Value": encoded}
    assert sns["Subject"] is None and sns["Type"] == "Notification" and sns["TopicArn"] == stack.outputs["Topic"]
    assert {"SigningCertUrl", "UnsubscribeUrl", "Signature", "SignatureVersion", "Timestamp", "MessageId"} <= set(sns)
    # Nothing failed on the way: no poller or relay of the stack saw a failed receive.
    assert all(entry["receive_failures"] == 0 for entry in stack.status()), stack.status()


def test_eventbridge_events_reach_sqs_and_lambda_targets_with_the_whole_envelope(stack, aws, sink, run):
    detail = {"note": "keeps <id>, <source> and <time> as written", "quote": 'say "hi"', "n": 1}
    entry = {
        "Source": f"wire.test.{run}",
        "DetailType": 'Order "Placed"',
        "Detail": json.dumps(detail),
        "Resources": ["arn:aws:s3:::bucket"],
    }
    response = aws("events").put_events(Entries=[entry])
    assert response["FailedEntryCount"] == 0
    event_id = response["Entries"][0]["EventId"]
    (message,) = _queue_messages(aws("sqs"), stack.outputs["EventsQueue"], 1, "the event on the SQS target")
    queued = json.loads(message["Body"])
    (doc,) = sink.wait_for(lambda d: (d.get("event") or {}).get("id") == event_id, "the event at the Lambda target")
    delivered = doc["event"]
    for event in (queued, delivered):
        assert tuple(event) == ENVELOPE_KEYS
        assert event["version"] == "0" and event["id"] == event_id
        assert event["detail-type"] == 'Order "Placed"' and event["source"] == f"wire.test.{run}"
        assert event["account"] == ACCOUNT and event["region"] == "us-east-1"
        assert event["resources"] == ["arn:aws:s3:::bucket"]
        assert event["detail"] == detail
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["time"])
        age = dt.datetime.now(dt.UTC) - dt.datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
        assert abs(age.total_seconds()) < 60


def test_lambda_destination_events_come_from_aws_lambda_with_the_documented_detail_types(stack, cloud, aws):
    function = stack.outputs["Maybe"]
    cloud.invoke_async(function, json.dumps({"fail": False, "n": 1}).encode())
    cloud.invoke_async(function, json.dumps({"fail": True, "n": 2}).encode())
    messages = _queue_messages(aws("sqs"), stack.outputs["DestinationQueue"], 2, "both destination events")
    events = {json.loads(m["Body"])["detail"]["requestPayload"]["n"]: json.loads(m["Body"]) for m in messages}
    function_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{function}:$LATEST"
    for n, detail_type, succeeded in ((1, "Success", True), (2, "Failure", False)):
        event = events[n]
        assert tuple(event) == ENVELOPE_KEYS
        assert event["source"] == "aws.lambda"
        assert event["detail-type"] == f"Lambda Function Invocation Result - {detail_type}"
        assert event["account"] == ACCOUNT
        assert event["resources"] == [function_arn, stack.outputs["BusArn"]]
        record = AsyncInvocationRecord[dict[str, Any]].model_validate(event["detail"])
        assert record.succeeded is succeeded
        assert record.request_context.function_arn == function_arn
        assert record.request_context.approximate_invoke_count == 1
    assert events[1]["detail"]["responsePayload"] == {"ok": True, "echo": {"fail": False, "n": 1}}
    assert events[2]["detail"]["requestContext"]["condition"] == "RetriesExhausted"
    assert events[2]["detail"]["responseContext"]["functionError"] == "Unhandled"
    assert events[2]["detail"]["responsePayload"]["errorMessage"] == "failing by request"


def test_the_function_dlq_gets_the_event_as_it_was_with_lambdas_attributes(stack, cloud, aws):
    payload = json.dumps({"fail": True, "url": AWS_URL}).encode()
    cloud.invoke_async(stack.outputs["WithDlq"], payload)
    (message,) = _queue_messages(aws("sqs"), stack.outputs["DeadLetters"], 1, "the event in the function's DLQ")
    assert message["Body"] == payload.decode()
    attributes = {
        name: (value["DataType"], value["StringValue"]) for name, value in message["MessageAttributes"].items()
    }
    assert set(attributes) == {"RequestID", "ErrorCode", "ErrorMessage"}
    assert attributes["ErrorCode"] == ("Number", "200")
    assert attributes["ErrorMessage"] == ("String", "failing by request")
    assert attributes["RequestID"][0] == "String" and uuid.UUID(attributes["RequestID"][1])


def test_fifo_records_carry_group_deduplication_id_and_sequence_number(stack, aws, sink):
    marker = uuid.uuid4().hex[:8]
    sqs = aws("sqs")
    for i in range(3):
        sqs.send_message(QueueUrl=stack.outputs["Fifo"], MessageBody=f"{marker}-{i}", MessageGroupId=f"g-{marker}")
    docs = sink.wait_for(
        lambda d: any(r.get("body", "").startswith(marker) for r in _records_of(d)),
        "the FIFO records",
        count=1,
    )
    records = [r for doc in docs for r in _records_of(doc) if r["body"].startswith(marker)]
    while len(records) < 3:  # the three may come in more than one batch
        docs = sink.wait_for(
            lambda d: any(r.get("body", "").startswith(marker) for r in _records_of(d)), "the rest", len(docs) + 1
        )
        records = [r for doc in docs for r in _records_of(doc) if r["body"].startswith(marker)]
    assert [r["body"] for r in records] == [f"{marker}-{i}" for i in range(3)]  # in order within the group
    sequences = []
    for record in records:
        attributes = record["attributes"]
        assert attributes["MessageGroupId"] == f"g-{marker}"
        # Content-based deduplication: the SHA-256 of the body.
        import hashlib

        assert attributes["MessageDeduplicationId"] == hashlib.sha256(record["body"].encode()).hexdigest()
        assert attributes["SequenceNumber"].isdigit()
        assert all(isinstance(value, str) for value in attributes.values())
        sequences.append(int(attributes["SequenceNumber"]))
    assert len(set(sequences)) == 3

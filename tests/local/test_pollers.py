"""The pollers and relays against the embedded data plane, with a recording invoker instead of worker processes:
records built by eventweave.wire (DynamoDB Streams normalised, Kinesis, on-failure records), and a receive that fails
is counted, journaled and retried until the message is delivered."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eventweave.local.aws import client
from eventweave.local.gateway import DataPlane
from eventweave.local.invocations import PushRelay, normalise_event
from eventweave.local.model import DestinationSpec, EventSourceMappingSpec, InvokeResult, PushTarget
from eventweave.local.sources import PollError, SqsPoller, backoff
from eventweave.local.streams import StreamPoller
from eventweave.local.trace import Journal, read_failures, read_journal
from eventweave.testing import wait_until
from eventweave.wire.dynamodb import deserialize_image
from eventweave.wire.eventbridge import ENVELOPE_KEYS
from eventweave.wire.kinesis import decode_data
from eventweave.wire.records import StreamFailureRecord

REGION = "us-east-1"
ACCOUNT = "123456789012"


class Recorder:
    """An Invoker that records each payload (and fails every invocation when ``fail``)."""

    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.payloads: list[dict[str, Any]] = []
        self._cond = threading.Condition()

    def invoke(self, function_name: str, payload: bytes, *, source: str = "direct") -> InvokeResult:
        with self._cond:
            self.payloads.append(json.loads(payload))
            self._cond.notify_all()
        if self.fail:
            return InvokeResult(
                200, b'{"errorMessage": "boom", "errorType": "RuntimeError"}', "Unhandled", request_id=str(uuid.uuid4())
            )
        return InvokeResult(200, b"null", request_id=str(uuid.uuid4()))

    def records(self, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while sum(len(p.get("Records", [])) for p in self.payloads) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out waiting for {count} record(s); got {self.payloads}")
                self._cond.wait(remaining)
            return [record for payload in self.payloads for record in payload.get("Records", [])]


class Flaky:
    """A client whose ``method`` raises ``error`` the first ``times`` calls; everything else goes to ``real``."""

    def __init__(self, real: Any, method: str, error: Exception, times: int = 1) -> None:
        self.real, self.method, self.error, self.times = real, method, error, times
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.real, name)
        if name != self.method:
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if self.calls <= self.times:
                raise self.error
            return target(*args, **kwargs)

        return call


@pytest.fixture(scope="module")
def plane() -> Iterator[DataPlane]:
    with DataPlane() as running:
        yield running


def _queue(plane: DataPlane, prefix: str, **attributes: str) -> tuple[str, str]:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    url = client("sqs", plane.endpoint, REGION).create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url, f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


def test_backoff_doubles_from_a_fifth_of_a_second_up_to_five():
    assert [backoff(n) for n in (1, 2, 3, 4, 5, 6, 7, 50)] == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0]


def test_a_failed_receive_is_counted_journaled_retried_and_the_message_still_delivered(plane, tmp_path: Path):
    url, arn = _queue(plane, "flaky")
    client("sqs", plane.endpoint, REGION).send_message(QueueUrl=url, MessageBody="delivered after the failure")
    invoker, lines = Recorder(), []
    journal = Journal(path=tmp_path / "invocations.jsonl")
    spec = EventSourceMappingSpec(uuid="m-1", function_name="worker", source_arn=arn)
    poller = SqsPoller(
        spec, invoker, endpoint_url=plane.endpoint, log=lines.append, journal=journal, default_concurrency=1
    )
    flaky = Flaky(poller.sqs, "receive_message", ConnectionResetError("connection reset by peer"))
    poller.sqs = flaky
    poller.start()
    try:
        (record,) = invoker.records(1)
    finally:
        poller.stop()
    assert record["body"] == "delivered after the failure"
    assert flaky.calls >= 2  # the failed receive, then the one that got the message
    assert poller.receive_failures == 1
    assert poller.status() == [
        {
            "name": "sqs:" + arn.rsplit(":", 1)[1] + "->worker",
            "queue": url,
            "receive_failures": 1,
            "poll_failures": 1,
            "last_error": "ReceiveMessage: ConnectionResetError: connection reset by peer",
        }
    ]
    (failure,) = journal.failures()
    assert (failure.mapping, failure.queue, failure.operation) == (poller.name, url, "ReceiveMessage")
    assert failure.error == "ConnectionResetError: connection reset by peer"
    assert failure.failures == 1 and failure.retry_in_s == backoff(1) and failure.receive
    assert read_failures(tmp_path / "invocations.jsonl") == [failure]
    assert read_journal(tmp_path / "invocations.jsonl") == []  # a failure is not an invocation
    assert failure.line() in lines
    assert "poll-failed" in failure.line() and url in failure.line() and "connection reset" in failure.line()


def test_a_relay_whose_receive_fails_counts_journals_and_retries_the_target(plane):
    sns = client("sns", plane.endpoint, REGION)
    url, arn = _queue(plane, "relay", VisibilityTimeout="5")
    topic = sns.create_topic(Name=f"relay-{uuid.uuid4().hex[:8]}")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:listener"
    target = PushTarget(kind="sns", source_arn=topic, target_arn=function_arn, relay_queue_url=url)

    class Submitted:
        def __init__(self) -> None:
            self.payloads: list[tuple[str, dict[str, Any]]] = []
            self.event = threading.Event()

        def submit(self, function_name: str, payload: bytes, *, source: str = "async") -> str:
            self.payloads.append((function_name, json.loads(payload)))
            self.event.set()
            return "request-1"

    submitted, journal = Submitted(), Journal()
    relay = PushRelay([target], submitted, endpoint_url=plane.endpoint, journal=journal)  # type: ignore[arg-type]
    real = relay._relay_client()
    relay._relay_client = lambda: Flaky(real, "receive_message", TimeoutError("read timed out"))  # type: ignore[method-assign]
    blob = b"\x00\xff"
    sns.publish(
        TopicArn=topic,
        Message="through the relay",
        MessageAttributes={"blob": {"DataType": "Binary", "BinaryValue": blob}},
    )
    relay.start()
    try:
        assert submitted.event.wait(15), "the relay never handed the notification off"
    finally:
        relay.stop()
    ((function, event),) = submitted.payloads
    assert function == "listener"
    (record,) = event["Records"]
    assert record["Sns"]["Message"] == "through the relay"
    assert record["Sns"]["MessageAttributes"]["blob"] == {"Type": "Binary", "Value": base64.b64encode(blob).decode()}
    assert relay.receive_failures == 1
    (status,) = relay.status()
    assert status["queue"] == url and status["receive_failures"] == 1 and "read timed out" in status["last_error"]
    (failure,) = journal.failures()
    assert failure.queue == url and failure.operation == "ReceiveMessage" and failure.mapping == status["name"]


def test_a_poll_error_names_the_operation_and_keeps_the_cause():
    cause = KeyError("x")
    error = PollError("GetRecords", cause)
    assert error.operation == "GetRecords" and error.cause is cause and "GetRecords: KeyError" in str(error)


def test_an_eventbridge_event_without_account_gets_the_rules_account_and_iso_time():
    received = {
        "id": "e-1",
        "time": 1_700_000_000.5,
        "version": "0",
        "detail-type": "T",
        "source": "s",
        "region": "us-east-1",
        "resources": [],
        "detail": {"a": 1},
    }
    event = normalise_event(received, f"arn:aws:events:us-east-1:{ACCOUNT}:rule/r")
    assert tuple(event) == ENVELOPE_KEYS
    assert event["account"] == ACCOUNT and event["time"] == "2023-11-14T22:13:20Z" and event["detail"] == {"a": 1}
    with pytest.raises(ValueError, match="not an EventBridge event"):
        normalise_event({"Message": "x"}, f"arn:aws:events:us-east-1:{ACCOUNT}:rule/r")


def _table(plane: DataPlane, view: str) -> tuple[str, str]:
    name = f"stream-{uuid.uuid4().hex[:8]}"
    description = client("dynamodb", plane.endpoint, REGION).create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": view},
    )["TableDescription"]
    return name, description["LatestStreamArn"]


def _stream_poller(plane: DataPlane, arn: str, invoker: Recorder, **spec: Any) -> StreamPoller:
    mapping = EventSourceMappingSpec(
        uuid=str(uuid.uuid4()),
        function_name="streams",
        source_arn=arn,
        starting_position="TRIM_HORIZON",
        batch_size=10,
        **spec,
    )
    return StreamPoller(mapping, invoker, endpoint_url=plane.endpoint, idle_sleep=0.05)


def test_dynamodb_stream_records_are_normalised_to_lambdas_shape(plane):
    table, arn = _table(plane, "NEW_AND_OLD_IMAGES")
    ddb = client("dynamodb", plane.endpoint, REGION)
    item = {
        "pk": {"S": "a"},
        "blob": {"B": b"\x00\xff"},
        "blobs": {"BS": [b"\x01", b"\x02"]},
        "n": {"N": "1.50"},
        "nested": {"M": {"inner": {"B": b"\xfe"}, "list": {"L": [{"B": b"\x03"}]}}},
    }
    ddb.put_item(TableName=table, Item=item)
    ddb.update_item(
        TableName=table,
        Key={"pk": {"S": "a"}},
        UpdateExpression="SET n = :v",
        ExpressionAttributeValues={":v": {"N": "2"}},
    )
    ddb.delete_item(TableName=table, Key={"pk": {"S": "a"}})
    invoker = Recorder()
    poller = _stream_poller(plane, arn, invoker)
    poller.start()
    try:
        records = invoker.records(3)
    finally:
        poller.stop()
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    for record in records:
        assert set(record) == {
            "eventID",
            "eventName",
            "eventVersion",
            "eventSource",
            "awsRegion",
            "dynamodb",
            "eventSourceARN",
        }
        assert record["eventVersion"] == "1.1" and record["eventSource"] == "aws:dynamodb"
        assert record["eventSourceARN"] == arn and record["awsRegion"] == REGION
        body = record["dynamodb"]
        created = body["ApproximateCreationDateTime"]
        assert isinstance(created, float) and created == int(created) and abs(time.time() - created) < 60
        assert body["Keys"] == {"pk": {"S": "a"}}
        assert isinstance(body["SizeBytes"], int) and body["SizeBytes"] > 0
        assert body["StreamViewType"] == "NEW_AND_OLD_IMAGES" and body["SequenceNumber"].isdigit()
    insert, modify, remove = (r["dynamodb"] for r in records)
    assert "OldImage" not in insert and "NewImage" not in remove
    assert insert["NewImage"]["blob"] == {"B": "AP8="}  # base64 text, as the stream sends it
    assert insert["NewImage"]["blobs"] == {"BS": ["AQ==", "Ag=="]}
    assert insert["NewImage"]["nested"]["M"]["inner"] == {"B": "/g=="}
    assert deserialize_image(modify["OldImage"])["nested"] == {"inner": b"\xfe", "list": [b"\x03"]}
    assert modify["NewImage"]["n"] == {"N": "2"} and modify["OldImage"]["n"] == {"N": "1.50"}


def test_a_keys_only_stream_carries_no_images(plane):
    table, arn = _table(plane, "KEYS_ONLY")
    client("dynamodb", plane.endpoint, REGION).put_item(TableName=table, Item={"pk": {"S": "k"}, "v": {"S": "x"}})
    invoker = Recorder()
    poller = _stream_poller(plane, arn, invoker)
    poller.start()
    try:
        (record,) = invoker.records(1)
    finally:
        poller.stop()
    assert record["dynamodb"]["StreamViewType"] == "KEYS_ONLY"
    assert "NewImage" not in record["dynamodb"] and "OldImage" not in record["dynamodb"]


def test_kinesis_records_and_the_on_failure_record_are_lambdas(plane):
    kinesis, sqs = client("kinesis", plane.endpoint, REGION), client("sqs", plane.endpoint, REGION)
    name = f"stream-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=name, ShardCount=1)
    arn = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}"
    data = b"\x08\x96\x01 not text"
    put = kinesis.put_record(StreamName=name, Data=data, PartitionKey="tenant-1")
    failures_url, failures_arn = _queue(plane, "on-failure")
    invoker = Recorder(fail=True)
    poller = _stream_poller(plane, arn, invoker, maximum_retry_attempts=0, on_failure=DestinationSpec(failures_arn))
    poller.start()
    try:
        (record,) = invoker.records(1)

        messages = wait_until(
            lambda: sqs.receive_message(QueueUrl=failures_url, WaitTimeSeconds=1).get("Messages", []),
            timeout=15,
            what="the on-failure record",
        )
    finally:
        poller.stop()
    assert record["eventSource"] == "aws:kinesis" and record["eventName"] == "aws:kinesis:record"
    assert record["eventID"] == f"{put['ShardId']}:{put['SequenceNumber']}"
    assert record["eventSourceARN"] == arn and record["invokeIdentityArn"] == f"arn:aws:iam::{ACCOUNT}:role/lambda-role"
    assert record["kinesis"]["partitionKey"] == "tenant-1" and record["kinesis"]["kinesisSchemaVersion"] == "1.0"
    assert decode_data(record) == data
    assert abs(time.time() - record["kinesis"]["approximateArrivalTimestamp"]) < 60
    failure = StreamFailureRecord.model_validate_json(messages[0]["Body"])
    assert failure.stream_kind == "kinesis"
    info = failure.batch_info
    assert (info.shard_id, info.start_sequence_number, info.end_sequence_number) == (
        put["ShardId"],
        put["SequenceNumber"],
        put["SequenceNumber"],
    )
    assert info.batch_size == 1 and info.stream_arn == arn
    assert failure.request_context.condition == "RetryAttemptsExhausted"
    assert failure.request_context.function_arn == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:streams"
    assert failure.response_context is not None and failure.response_context.function_error == "Unhandled"


def test_no_module_of_eventweave_local_imports_eventweave_testing():
    code = (
        "import importlib, pkgutil, sys\n"
        "import eventweave.local as local\n"
        "for module in pkgutil.iter_modules(local.__path__):\n"
        "    importlib.import_module('eventweave.local.' + module.name)\n"
        "print(sorted(name for name in sys.modules if name.startswith('eventweave.testing')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"

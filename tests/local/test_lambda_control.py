"""Lambda's control plane on the local cloud's endpoint, through boto3's ``lambda`` client: the deployed functions
and their event source mappings are listed, read and changed at run time (a paused mapping leaves its queue alone
until it is resumed; a mapping AWS would refuse is refused with AWS's code and message), reserved concurrency
throttles, and the async queue takes its settings from ``PutFunctionEventInvokeConfig``."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from eventweave.local.assembly import CloudAssembly, StackArtifact
from eventweave.local.aws import client
from eventweave.local.cloud import DeployedStack, LocalCloud
from eventweave.local.sources import SqsPoller
from eventweave.local.streams import StreamPoller
from eventweave.testing import wait_until

FIXTURES = Path(__file__).parent / "fixtures"
REGION, ACCOUNT = "us-east-1", "123456789012"


def _fn(handler: str, **props: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::Function",
        # An eventweave function (the handlers import eventweave), as EventFunction marks one.
        "Metadata": {"aws:asset:path": str(FIXTURES), "eventweave:requirements": ["pydantic", "aws-lambda-powertools"]},
        "Properties": {
            "Handler": handler,
            "Runtime": "python3.12",
            "Code": {"ZipFile": "# local asset"},
            "Timeout": 10,
            "Environment": {"Variables": {"SINK_URL": {"Ref": "Sink"}}},
            **props,
        },
    }


def _queue(visibility: int = 30) -> dict[str, Any]:
    return {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": visibility}}


TEMPLATE: dict[str, Any] = {
    "Resources": {
        "Sink": _queue(),
        "Inbox": _queue(),
        "Extra": _queue(),
        "Short": _queue(5),
        "Worker": _fn("wire_fn.forward"),
        "Plain": _fn("fn.echo"),
        "PlainVersion": {"Type": "AWS::Lambda::Version", "Properties": {"FunctionName": {"Ref": "Plain"}}},
        "PlainAlias": {
            "Type": "AWS::Lambda::Alias",
            "Properties": {
                "FunctionName": {"Ref": "Plain"},
                "Name": "live",
                "FunctionVersion": {"Fn::GetAtt": ["PlainVersion", "Version"]},
            },
        },
        "Stream": {"Type": "AWS::Kinesis::Stream", "Properties": {"ShardCount": 1}},
        "StreamMapping": {
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {
                "FunctionName": {"Ref": "Worker"},
                "EventSourceArn": {"Fn::GetAtt": ["Stream", "Arn"]},
                "StartingPosition": "TRIM_HORIZON",
                "BatchSize": 10,
            },
        },
        "InboxMapping": {
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {
                "FunctionName": {"Ref": "Worker"},
                "EventSourceArn": {"Fn::GetAtt": ["Inbox", "Arn"]},
                "BatchSize": 10,
            },
        },
    },
    "Outputs": {
        name: {"Value": {"Ref": name}} for name in ("Sink", "Inbox", "Extra", "Short", "Worker", "Plain", "Stream")
    },
}


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(async_retry_delays=(0.1,), log=lambda line: None) as running:
        yield running


@pytest.fixture(scope="module")
def stack(cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeployedStack]:
    root = tmp_path_factory.mktemp("control")
    name = f"Control{uuid.uuid4().hex[:8]}"
    artifact = StackArtifact(id=name, name=name, template=TEMPLATE, template_path=root / "t.json", root=root, assets={})
    deployed = cloud.deploy(CloudAssembly(root, [artifact]), name)
    try:
        yield deployed
    finally:
        cloud.destroy(deployed)


@pytest.fixture(scope="module")
def lam(cloud: LocalCloud) -> Any:
    # No retries: a throttle (429) is what a test wants to see, not what botocore should hide.
    return boto3.client(
        "lambda",
        endpoint_url=cloud.endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}),
    )


@pytest.fixture(scope="module")
def sqs(cloud: LocalCloud) -> Any:
    return client("sqs", cloud.endpoint, REGION)


def _arn(queue_url: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue_url.rsplit('/', 1)[-1]}"


def _inbox_mapping(stack: DeployedStack) -> str:
    return next(m.uuid for m in stack.deployment.mappings if m.source_arn == _arn(stack.outputs["Inbox"]))


def _body(record: dict[str, Any]) -> str:
    if "kinesis" in record:
        return base64.b64decode(record["kinesis"]["data"]).decode()
    return str(record.get("body"))


def _error(call: Callable[[], Any]) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as raised:
        call()
    error = raised.value.response
    return error["Error"]["Code"], error["Error"]["Message"], error["ResponseMetadata"]["HTTPStatusCode"]


def _depth(sqs: Any, url: str) -> tuple[int, int]:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return int(attributes[names[0]]), int(attributes[names[1]])


class Sink:
    """The events the Worker reported, read once and kept, so each test finds the bodies it sent."""

    def __init__(self, sqs: Any, url: str) -> None:
        self.sqs, self.url = sqs, url
        self.events: list[dict[str, Any]] = []

    def batches_with(self, bodies: set[str], what: str) -> list[list[str]]:
        """Wait until every body in ``bodies`` was delivered; the batches (their bodies) that held them."""

        def probe() -> list[list[str]] | None:
            response = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            for message in response.get("Messages", []):
                self.events.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
            batches = [[_body(record) for record in (doc.get("event") or {}).get("Records", [])] for doc in self.events]
            mine = [batch for batch in batches if bodies & set(batch)]
            return mine if bodies <= {body for batch in mine for body in batch} else None

        return wait_until(probe, timeout=30, interval=0.05, what=what)


@pytest.fixture(scope="module")
def sink(stack: DeployedStack, sqs: Any) -> Sink:
    return Sink(sqs, stack.outputs["Sink"])


# -- functions ------------------------------------------------------------------------------------------------------


def test_deployed_functions_are_read_and_listed_with_their_configuration(stack: DeployedStack, lam: Any) -> None:
    worker = stack.outputs["Worker"]
    config = lam.get_function(FunctionName=worker)["Configuration"]
    assert config["FunctionName"] == worker
    assert config["FunctionArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{worker}"
    assert (config["Runtime"], config["Handler"], config["Timeout"], config["MemorySize"]) == (
        "python3.12",
        "wire_fn.forward",
        10,
        128,
    )
    assert config["Environment"]["Variables"]["SINK_URL"] == stack.outputs["Sink"]
    assert config["State"] == "Active"
    assert lam.get_function_configuration(FunctionName=config["FunctionArn"])["FunctionName"] == worker

    names = {f["FunctionName"] for f in lam.list_functions()["Functions"]}
    assert {worker, stack.outputs["Plain"]} <= names

    plain = stack.outputs["Plain"]
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=plain)["Versions"]]
    assert versions == ["$LATEST", "1"]
    aliases = lam.list_aliases(FunctionName=plain)["Aliases"]
    assert [(a["Name"], a["FunctionVersion"]) for a in aliases] == [("live", "1")]
    assert lam.get_alias(FunctionName=plain, Name="live")["AliasArn"].endswith(f":function:{plain}:live")
    assert lam.get_function_configuration(FunctionName=plain, Qualifier="live")["Version"] == "1"

    code, message, status = _error(lambda: lam.get_alias(FunctionName=plain, Name="nope"))
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert message == f"Cannot find alias arn: arn:aws:lambda:{REGION}:{ACCOUNT}:function:{plain}:nope"
    code, message, status = _error(lambda: lam.get_function(FunctionName=plain, Qualifier="7"))
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert message == f"Function not found: arn:aws:lambda:{REGION}:{ACCOUNT}:function:{plain}:7"


def test_an_unknown_function_is_moto_s_and_an_unimplemented_call_is_never_not_found(
    stack: DeployedStack, lam: Any
) -> None:
    code, _, status = _error(lambda: lam.get_function(FunctionName="nobody-deployed-this"))
    assert (code, status) == ("ResourceNotFoundException", 404)
    code, message, status = _error(lambda: lam.get_policy(FunctionName=stack.outputs["Plain"]))
    assert (code, status) == ("NotImplementedException", 501)
    assert "GetPolicy" in message


# -- event source mappings -------------------------------------------------------------------------------------------


def test_a_deployed_mapping_is_read_and_listed_by_its_uuid(stack: DeployedStack, lam: Any) -> None:
    mapping_id = _inbox_mapping(stack)
    mapping = lam.get_event_source_mapping(UUID=mapping_id)
    assert mapping["UUID"] == mapping_id
    assert mapping["EventSourceArn"] == _arn(stack.outputs["Inbox"])
    assert mapping["FunctionArn"].endswith(f":function:{stack.outputs['Worker']}")
    assert (mapping["State"], mapping["BatchSize"], mapping["MaximumBatchingWindowInSeconds"]) == ("Enabled", 10, 0)
    listed = lam.list_event_source_mappings(FunctionName=stack.outputs["Worker"])["EventSourceMappings"]
    assert mapping_id in [m["UUID"] for m in listed]
    by_source = lam.list_event_source_mappings(EventSourceArn=_arn(stack.outputs["Inbox"]))["EventSourceMappings"]
    assert [m["UUID"] for m in by_source] == [mapping_id]


def test_a_disabled_mapping_leaves_its_queue_alone_until_it_is_enabled(
    stack: DeployedStack, cloud: LocalCloud, lam: Any, sqs: Any, sink: Sink
) -> None:
    mapping_id = _inbox_mapping(stack)
    inbox = stack.outputs["Inbox"]
    assert lam.update_event_source_mapping(UUID=mapping_id, Enabled=False)["State"] == "Disabling"
    assert lam.get_event_source_mapping(UUID=mapping_id)["State"] == "Disabled"
    assert not [r for r in stack.runners if isinstance(r, SqsPoller) and r.spec.uuid == mapping_id]

    bodies = {f"paused-{i}-{uuid.uuid4().hex[:6]}" for i in range(3)}
    for body in bodies:
        sqs.send_message(QueueUrl=inbox, MessageBody=body)
    # Visible, none in flight: nobody received them.
    wait_until(lambda: _depth(sqs, inbox) == (3, 0), timeout=10, what="three visible messages in the paused queue")

    assert lam.update_event_source_mapping(UUID=mapping_id, Enabled=True)["State"] == "Enabling"
    assert lam.get_event_source_mapping(UUID=mapping_id)["State"] == "Enabled"
    sink.batches_with(bodies, "the paused messages, delivered once the mapping is enabled")
    wait_until(lambda: _depth(sqs, inbox) == (0, 0), timeout=10, what="the queue drained")


def test_a_mapping_s_batch_size_changes_at_run_time_and_an_invalid_change_is_refused(
    stack: DeployedStack, lam: Any, sqs: Any, sink: Sink
) -> None:
    mapping_id = _inbox_mapping(stack)
    code, message, status = _error(lambda: lam.update_event_source_mapping(UUID=mapping_id, BatchSize=20))
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert message == (
        "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10"
    )
    assert lam.get_event_source_mapping(UUID=mapping_id)["BatchSize"] == 10

    updated = lam.update_event_source_mapping(UUID=mapping_id, BatchSize=2)
    assert (updated["State"], updated["BatchSize"]) == ("Updating", 2)
    assert lam.get_event_source_mapping(UUID=mapping_id)["BatchSize"] == 2
    bodies = {f"small-{i}-{uuid.uuid4().hex[:6]}" for i in range(6)}
    sqs.send_message_batch(
        QueueUrl=stack.outputs["Inbox"], Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies)]
    )
    batches = sink.batches_with(bodies, "six messages in batches of at most two")
    assert max(len(batch) for batch in batches) <= 2
    lam.update_event_source_mapping(UUID=mapping_id, BatchSize=10)


def test_a_mapping_created_at_run_time_is_checked_delivers_and_stops_when_deleted(
    stack: DeployedStack, lam: Any, sqs: Any, sink: Sink
) -> None:
    worker = stack.outputs["Worker"]
    code, message, status = _error(
        lambda: lam.create_event_source_mapping(FunctionName=worker, EventSourceArn=_arn(stack.outputs["Short"]))
    )
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert message == "Queue visibility timeout: 5 seconds is less than Function timeout: 10 seconds"

    extra = stack.outputs["Extra"]
    created = lam.create_event_source_mapping(FunctionName=worker, EventSourceArn=_arn(extra), BatchSize=5)
    mapping_id = created["UUID"]
    assert (created["State"], created["BatchSize"]) == ("Creating", 5)
    assert lam.get_event_source_mapping(UUID=mapping_id)["State"] == "Enabled"
    code, message, status = _error(
        lambda: lam.create_event_source_mapping(FunctionName=worker, EventSourceArn=_arn(extra))
    )
    assert (code, status) == ("ResourceConflictException", 409)
    assert message == (
        f'An event source mapping with SQS arn (" {_arn(extra)} ") and function (" {worker} ") already exists. '
        f"Please update or delete the existing mapping with UUID {mapping_id}"
    )

    body = f"created-{uuid.uuid4().hex[:6]}"
    sqs.send_message(QueueUrl=extra, MessageBody=body)
    sink.batches_with({body}, "a message through the mapping created at run time")

    assert lam.delete_event_source_mapping(UUID=mapping_id)["State"] == "Deleting"
    code, _, status = _error(lambda: lam.get_event_source_mapping(UUID=mapping_id))
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert not [r for r in stack.runners if isinstance(r, SqsPoller) and r.spec.uuid == mapping_id]
    sqs.send_message(QueueUrl=extra, MessageBody="after the delete")
    wait_until(lambda: _depth(sqs, extra) == (1, 0), timeout=10, what="the message left visible in the queue")
    sqs.purge_queue(QueueUrl=extra)


def test_a_paused_or_changed_stream_mapping_goes_on_from_its_checkpoint(
    stack: DeployedStack, lam: Any, cloud: LocalCloud, sink: Sink
) -> None:
    mapping_id = next(m.uuid for m in stack.deployment.mappings if m.source == "kinesis")
    kinesis = client("kinesis", cloud.endpoint, REGION)
    stream = stack.outputs["Stream"]
    run = uuid.uuid4().hex[:6]

    def put(name: str) -> str:
        body = f"{name}-{run}"
        kinesis.put_record(StreamName=stream, Data=body.encode(), PartitionKey="one")
        return body

    def delivered(body: str) -> int:
        return sum(batch.count(body) for batch in sink.batches_with({body}, body))

    first = put("first")
    sink.batches_with({first}, "the first record")
    assert lam.update_event_source_mapping(UUID=mapping_id, Enabled=False)["State"] == "Disabling"
    assert not [r for r in stack.runners if isinstance(r, StreamPoller) and r.spec.uuid == mapping_id]
    second = put("second")
    assert lam.update_event_source_mapping(UUID=mapping_id, Enabled=True)["State"] == "Enabling"
    sink.batches_with({second}, "the record written while paused")
    assert lam.update_event_source_mapping(UUID=mapping_id, BatchSize=5)["BatchSize"] == 5
    third = put("third")
    sink.batches_with({third}, "a record after the change")
    # One shard is read in order: had a poller started again from TRIM_HORIZON, the earlier records would have come
    # again before the third.
    assert (delivered(first), delivered(second), delivered(third)) == (1, 1, 1)


# -- concurrency and asynchronous settings ---------------------------------------------------------------------------


def test_reserved_concurrency_zero_throttles_and_deleting_it_lets_invocations_run(
    stack: DeployedStack, lam: Any
) -> None:
    plain = stack.outputs["Plain"]
    assert lam.get_function_concurrency(FunctionName=plain).get("ReservedConcurrentExecutions") is None
    assert (
        lam.put_function_concurrency(FunctionName=plain, ReservedConcurrentExecutions=0)["ReservedConcurrentExecutions"]
        == 0
    )
    try:
        assert lam.get_function_concurrency(FunctionName=plain)["ReservedConcurrentExecutions"] == 0
        assert lam.get_function(FunctionName=plain)["Concurrency"] == {"ReservedConcurrentExecutions": 0}
        code, _, status = _error(lambda: lam.invoke(FunctionName=plain, Payload=b"{}"))
        assert (code, status) == ("TooManyRequestsException", 429)
        code, message, status = _error(
            lambda: lam.put_function_concurrency(FunctionName=plain, ReservedConcurrentExecutions=950)
        )
        assert (code, status) == ("InvalidParameterValueException", 400)
        assert "below its minimum value of [100]" in message
    finally:
        lam.delete_function_concurrency(FunctionName=plain)
    assert lam.get_function_concurrency(FunctionName=plain).get("ReservedConcurrentExecutions") is None
    answer = lam.invoke(FunctionName=plain, Payload=b'{"n": 1}')
    assert answer["StatusCode"] == 200
    assert json.loads(answer["Payload"].read())["event"] == {"n": 1}


def test_event_invoke_config_round_trips_is_applied_and_an_invalid_destination_is_refused(
    stack: DeployedStack, lam: Any, sqs: Any
) -> None:
    plain, sink_arn = stack.outputs["Plain"], _arn(stack.outputs["Sink"])
    code, message, status = _error(lambda: lam.get_function_event_invoke_config(FunctionName=plain))
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert message == (
        f"The function arn:aws:lambda:{REGION}:{ACCOUNT}:function:{plain}:$LATEST doesn't have an EventInvokeConfig"
    )

    put = lam.put_function_event_invoke_config(
        FunctionName=plain, MaximumRetryAttempts=0, DestinationConfig={"OnSuccess": {"Destination": sink_arn}}
    )
    assert put["FunctionArn"].endswith(f":function:{plain}:$LATEST")
    got = lam.get_function_event_invoke_config(FunctionName=plain)
    assert got["MaximumRetryAttempts"] == 0
    assert got["DestinationConfig"] == {"OnSuccess": {"Destination": sink_arn}, "OnFailure": {}}
    lam.update_function_event_invoke_config(FunctionName=plain, MaximumEventAgeInSeconds=120)
    got = lam.get_function_event_invoke_config(FunctionName=plain)
    assert (got["MaximumRetryAttempts"], got["MaximumEventAgeInSeconds"]) == (0, 120)
    assert got["DestinationConfig"]["OnSuccess"] == {"Destination": sink_arn}

    # Applied to the async queue: a successful event's record reaches the on-success destination.
    marker = uuid.uuid4().hex
    lam.invoke(FunctionName=plain, InvocationType="Event", Payload=json.dumps({"marker": marker}).encode())

    def record() -> dict[str, Any] | None:
        response = sqs.receive_message(QueueUrl=stack.outputs["Sink"], MaxNumberOfMessages=10, WaitTimeSeconds=0)
        for message in response.get("Messages", []):
            doc = json.loads(message["Body"])
            if doc.get("requestPayload") == {"marker": marker}:
                sqs.delete_message(QueueUrl=stack.outputs["Sink"], ReceiptHandle=message["ReceiptHandle"])
                return dict(doc)
        return None

    success = wait_until(record, timeout=20, interval=0.05, what="the on-success record of the async invocation")
    assert success["requestContext"]["condition"] == "Success"

    bucket = "arn:aws:s3:::somewhere"
    code, message, status = _error(
        lambda: lam.put_function_event_invoke_config(
            FunctionName=plain, DestinationConfig={"OnSuccess": {"Destination": bucket}}
        )
    )
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert message == (
        f"The provided destination config DestinationConfig(onSuccess=OnSuccess(destination={bucket}), "
        "onFailure=null) is invalid."
    )
    code, _, status = _error(lambda: lam.put_function_event_invoke_config(FunctionName=plain, MaximumRetryAttempts=5))
    assert (code, status) == ("ValidationException", 400)
    assert lam.get_function_event_invoke_config(FunctionName=plain)["MaximumRetryAttempts"] == 0

    lam.delete_function_event_invoke_config(FunctionName=plain)
    code, _, _ = _error(lambda: lam.get_function_event_invoke_config(FunctionName=plain))
    assert code == "ResourceNotFoundException"

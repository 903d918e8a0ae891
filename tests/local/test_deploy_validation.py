"""Deploy-time validation, as AWS's control plane checks each call: every case fails with AWS's error code and
message, the error names the stack, the resource and its type, and nothing of the stack is created.

Hand-written templates (no synth) deployed with a :class:`Deployer` against an embedded data plane.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eventweave.local.assembly import StackArtifact
from eventweave.local.aws import client
from eventweave.local.deployer import Deployer, DeployError, DeployValidationError
from eventweave.local.gateway import DataPlane

FIXTURES = Path(__file__).parent / "fixtures"
REGION, ACCOUNT = "us-east-1", "123456789012"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with DataPlane() as plane:
        yield plane.endpoint


@pytest.fixture
def deployer(endpoint: str) -> Deployer:
    return Deployer(endpoint_url=endpoint, region=REGION, account_id=ACCOUNT)


def stack(resources: dict[str, Any], name: str | None = None, outputs: dict[str, Any] | None = None) -> StackArtifact:
    template: dict[str, Any] = {"Resources": resources}
    if outputs:
        template["Outputs"] = outputs
    name = name or f"Check{uuid.uuid4().hex[:8]}"
    return StackArtifact(id=name, name=name, template=template, template_path=FIXTURES / "none.json", root=FIXTURES)


def function(**props: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::Function",
        "Metadata": {"aws:asset:path": str(FIXTURES)},
        "Properties": {"Handler": "fn.echo", "Runtime": "python3.12", "Code": {"ZipFile": "# local"}, **props},
    }


def queue(**props: Any) -> dict[str, Any]:
    return {"Type": "AWS::SQS::Queue", "Properties": props}


def mapping(source: Any, **props: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::EventSourceMapping",
        "Properties": {"FunctionName": {"Ref": "Fn"}, "EventSourceArn": source, **props},
    }


def sqs_mapping(**props: Any) -> dict[str, Any]:
    return mapping({"Fn::GetAtt": ["Queue", "Arn"]}, **props)


STREAM = {"Fn::GetAtt": ["Stream", "Arn"]}
TABLE_STREAM = {"Fn::GetAtt": ["Table", "StreamArn"]}
KINESIS = {"Type": "AWS::Kinesis::Stream", "Properties": {"ShardCount": 1}}
TABLE = {
    "Type": "AWS::DynamoDB::Table",
    "Properties": {
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
        "StreamSpecification": {"StreamViewType": "NEW_IMAGE"},
    },
}


def invoke_config(**props: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::EventInvokeConfig",
        "Properties": {"FunctionName": {"Ref": "Fn"}, "Qualifier": "$LATEST", **props},
    }


def on(kind: str, arn: Any) -> dict[str, Any]:
    return {"DestinationConfig": {kind: {"Destination": arn}}}


def rule(**props: Any) -> dict[str, Any]:
    return {"Type": "AWS::Events::Rule", "Properties": props}


def target(index: int, arn: Any = None) -> dict[str, Any]:
    return {"Id": f"T{index}", "Arn": arn or {"Fn::GetAtt": ["Queue", "Arn"]}}


PATTERN = {"source": ["orders"]}

# (case id, resources, logical id that fails, its type, AWS error code, message)
CASES: list[tuple[str, dict[str, Any], str, str, str, str]] = [
    (
        "visibility-below-timeout",
        {"Fn": function(Timeout=60), "Queue": queue(VisibilityTimeout=30), "Map": sqs_mapping()},
        "Map",
        "AWS::Lambda::EventSourceMapping",
        "InvalidParameterValueException",
        "Queue visibility timeout: 30 seconds is less than Function timeout: 60 seconds",
    ),
    (
        "visibility-default-30-below-timeout-through-an-alias",
        {
            "Fn": function(Timeout=45),
            "Version": {"Type": "AWS::Lambda::Version", "Properties": {"FunctionName": {"Ref": "Fn"}}},
            "Live": {
                "Type": "AWS::Lambda::Alias",
                "Properties": {
                    "FunctionName": {"Ref": "Fn"},
                    "FunctionVersion": {"Fn::GetAtt": ["Version", "Version"]},
                    "Name": "live",
                },
            },
            "Queue": queue(),
            "Map": sqs_mapping(
                FunctionName={"Fn::Join": ["", [{"Fn::Select": [6, {"Fn::Split": [":", {"Ref": "Live"}]}]}, ":live"]]}
            ),
        },
        "Map",
        "AWS::Lambda::EventSourceMapping",
        "InvalidParameterValueException",
        "Queue visibility timeout: 30 seconds is less than Function timeout: 45 seconds",
    ),
    (
        "batch-over-10-without-window",
        {"Fn": function(), "Queue": queue(), "Map": sqs_mapping(BatchSize=50)},
        "Map",
        "AWS::Lambda::EventSourceMapping",
        "InvalidParameterValueException",
        "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10",
    ),
    (
        "fifo-with-window",
        {
            "Fn": function(),
            "Queue": queue(FifoQueue=True),
            "Map": sqs_mapping(BatchSize=10, MaximumBatchingWindowInSeconds=5),
        },
        "Map",
        "AWS::Lambda::EventSourceMapping",
        "InvalidParameterValueException",
        "Batching window is not supported for FIFO queues",
    ),
    (
        "fifo-batch-over-10",
        {"Fn": function(), "Queue": queue(FifoQueue=True), "Map": sqs_mapping(BatchSize=20)},
        "Map",
        "AWS::Lambda::EventSourceMapping",
        "InvalidParameterValueException",
        "Maximum batch size must be between 1 and 10 inclusive",
    ),
    (
        "sqs-batch-over-10000",
        {"Fn": function(), "Queue": queue(), "Map": sqs_mapping(BatchSize=20000, MaximumBatchingWindowInSeconds=1)},
        "Map",
        "AWS::Lambda::EventSourceMapping",
        "ValidationException",
        "1 validation error detected: Value '20000' at 'batchSize' failed to satisfy constraint: "
        "Member must have value less than or equal to 10000",
    ),
    (
        "batch-zero",
        {"Fn": function(), "Queue": queue(), "Map": sqs_mapping(BatchSize=0)},
        "Map",
        "AWS::Lambda::EventSourceMapping",
        "ValidationException",
        "1 validation error detected: Value '0' at 'batchSize' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1",
    ),
    (
        "stream-batch-over-10000",
        {"Fn": function(), "Stream": KINESIS, "Map": mapping(STREAM, StartingPosition="LATEST", BatchSize=10001)},
        "Map",
        "AWS::Lambda::EventSourceMapping",
        "ValidationException",
        "Value '10001' at 'batchSize' failed to satisfy constraint: Member must have value less than or equal to 10000",
    ),
    (
        "filter-pattern-not-an-array",
        {
            "Fn": function(),
            "Queue": queue(),
            "Map": sqs_mapping(FilterCriteria={"Filters": [{"Pattern": '{"body": {"kind": "order"}}'}]}),
        },
        "Map",
        "AWS::Lambda::EventSourceMapping",
        "InvalidParameterValueException",
        "Invalid filter pattern definition.",
    ),
    (
        "filter-pattern-not-json",
        {"Fn": function(), "Queue": queue(), "Map": sqs_mapping(FilterCriteria={"Filters": [{"Pattern": "{body"}]})},
        "Map",
        "AWS::Lambda::EventSourceMapping",
        "InvalidParameterValueException",
        "Invalid filter pattern definition.",
    ),
    (
        "filter-pattern-unknown-operator",
        {
            "Fn": function(),
            "Queue": queue(),
            "Map": sqs_mapping(FilterCriteria={"Filters": [{"Pattern": '{"body": {"kind": [{"prefx": "o"}]}}'}]}),
        },
        "Map",
        "AWS::Lambda::EventSourceMapping",
        "InvalidParameterValueException",
        "Invalid filter pattern definition.",
    ),
    (
        "kinesis-without-starting-position",
        {"Fn": function(), "Stream": KINESIS, "Map": mapping(STREAM)},
        "Map",
        "AWS::Lambda::EventSourceMapping",
        "InvalidParameterValueException",
        "1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: "
        "Member must not be null.",
    ),
    (
        "dynamodb-without-starting-position",
        {"Fn": function(), "Table": TABLE, "Map": mapping(TABLE_STREAM)},
        "Map",
        "AWS::Lambda::EventSourceMapping",
        "InvalidParameterValueException",
        "Value null at 'startingPosition'",
    ),
    (
        "at-timestamp-without-timestamp",
        {"Fn": function(), "Stream": KINESIS, "Map": mapping(STREAM, StartingPosition="AT_TIMESTAMP")},
        "Map",
        "AWS::Lambda::EventSourceMapping",
        "InvalidParameterValueException",
        "Need to specify a timestamp",
    ),
    (
        "dynamodb-at-timestamp",
        {
            "Fn": function(),
            "Table": TABLE,
            "Map": mapping(TABLE_STREAM, StartingPosition="AT_TIMESTAMP", StartingPositionTimestamp=1700000000),
        },
        "Map",
        "AWS::Lambda::EventSourceMapping",
        "InvalidParameterValueException",
        "Unsupported starting position for arn type: arn:aws:dynamodb:",
    ),
    (
        "starting-position-not-in-enum",
        {"Fn": function(), "Stream": KINESIS, "Map": mapping(STREAM, StartingPosition="OLDEST")},
        "Map",
        "AWS::Lambda::EventSourceMapping",
        "ValidationException",
        "Value 'OLDEST' at 'startingPosition' failed to satisfy constraint: "
        "Member must satisfy enum value set: [TRIM_HORIZON, LATEST, AT_TIMESTAMP]",
    ),
    (
        "maximum-concurrency-below-2",
        {"Fn": function(), "Queue": queue(), "Map": sqs_mapping(ScalingConfig={"MaximumConcurrency": 1})},
        "Map",
        "AWS::Lambda::EventSourceMapping",
        "ValidationException",
        "Value '1' at 'scalingConfig.maximumConcurrency' failed to satisfy constraint: "
        "Member must have value greater than or equal to 2",
    ),
    (
        "provisioned-pollers-above-2000",
        {"Fn": function(), "Queue": queue(), "Map": sqs_mapping(ProvisionedPollerConfig={"MaximumPollers": 2001})},
        "Map",
        "AWS::Lambda::EventSourceMapping",
        "ValidationException",
        "Value '2001' at 'provisionedPollerConfig.maximumPollers' failed to satisfy constraint: "
        "Member must have value less than or equal to 2000",
    ),
    (
        "provisioned-pollers-minimum-above-maximum",
        {
            "Fn": function(),
            "Queue": queue(),
            "Map": sqs_mapping(ProvisionedPollerConfig={"MinimumPollers": 5, "MaximumPollers": 2}),
        },
        "Map",
        "AWS::Lambda::EventSourceMapping",
        "InvalidParameterValueException",
        "MinimumPollers must be less than or equal to MaximumPollers in ProvisionedPollerConfig.",
    ),
    (
        "stream-on-success-destination",
        {
            "Fn": function(),
            "Stream": KINESIS,
            "Dlq": queue(),
            "Map": mapping(STREAM, StartingPosition="LATEST", **on("OnSuccess", {"Fn::GetAtt": ["Dlq", "Arn"]})),
        },
        "Map",
        "AWS::Lambda::EventSourceMapping",
        "InvalidParameterValueException",
        "Unsupported DestinationConfig parameter for given event source mapping type.",
    ),
    (
        "stream-on-failure-to-a-fifo-queue",
        {
            "Fn": function(),
            "Stream": KINESIS,
            "Dlq": queue(FifoQueue=True),
            "Map": mapping(STREAM, StartingPosition="LATEST", **on("OnFailure", {"Fn::GetAtt": ["Dlq", "Arn"]})),
        },
        "Map",
        "AWS::Lambda::EventSourceMapping",
        "InvalidParameterValueException",
        "The provided destination config DestinationConfig(onSuccess=null, onFailure=OnFailure(destination=",
    ),
    (
        "function-timeout-over-900",
        {"Fn": function(Timeout=3000)},
        "Fn",
        "AWS::Lambda::Function",
        "ValidationException",
        "1 validation error detected: Value '3000' at 'timeout' failed to satisfy constraint: "
        "Member must have value less than or equal to 900",
    ),
    (
        "function-memory-below-128",
        {"Fn": function(MemorySize=64)},
        "Fn",
        "AWS::Lambda::Function",
        "ValidationException",
        "1 validation error detected: Value '64' at 'memorySize' failed to satisfy constraint: "
        "Member must have value greater than or equal to 128",
    ),
    (
        "function-memory-over-10240",
        {"Fn": function(MemorySize=20480, Timeout=901)},
        "Fn",
        "AWS::Lambda::Function",
        "ValidationException",
        "2 validation errors detected: Value '901' at 'timeout' failed to satisfy constraint: Member must have value "
        "less than or equal to 900; Value '20480' at 'memorySize' failed to satisfy constraint: Member must have "
        "value less than or equal to 10240",
    ),
    (
        "function-not-python",
        {"Fn": function(Runtime="nodejs22.x", Handler="index.handler")},
        "Fn",
        "AWS::Lambda::Function",
        "",
        "runtime nodejs22.x: the local cloud runs Python functions only",
    ),
    (
        "async-retries-over-2",
        {"Fn": function(), "Config": invoke_config(MaximumRetryAttempts=3)},
        "Config",
        "AWS::Lambda::EventInvokeConfig",
        "ValidationException",
        "1 validation error detected: Value '3' at 'maximumRetryAttempts' failed to satisfy constraint: "
        "Member must have value less than or equal to 2",
    ),
    (
        "async-event-age-below-60",
        {"Fn": function(), "Config": invoke_config(MaximumEventAgeInSeconds=30)},
        "Config",
        "AWS::Lambda::EventInvokeConfig",
        "ValidationException",
        "Value '30' at 'maximumEventAgeInSeconds' failed to satisfy constraint: "
        "Member must have value greater than or equal to 60",
    ),
    (
        "async-event-age-over-21600",
        {"Fn": function(), "Config": invoke_config(MaximumEventAgeInSeconds=21601)},
        "Config",
        "AWS::Lambda::EventInvokeConfig",
        "ValidationException",
        "Value '21601' at 'maximumEventAgeInSeconds' failed to satisfy constraint: "
        "Member must have value less than or equal to 21600",
    ),
    (
        "async-on-success-to-s3",
        {"Fn": function(), "Config": invoke_config(**on("OnSuccess", "arn:aws:s3:::results"))},
        "Config",
        "AWS::Lambda::EventInvokeConfig",
        "InvalidParameterValueException",
        "The provided destination config DestinationConfig(onSuccess=OnSuccess(destination=arn:aws:s3:::results), "
        "onFailure=null) is invalid.",
    ),
    (
        "async-on-failure-to-a-fifo-queue",
        {
            "Fn": function(),
            "Dlq": queue(FifoQueue=True),
            "Config": invoke_config(**on("OnFailure", {"Fn::GetAtt": ["Dlq", "Arn"]})),
        },
        "Config",
        "AWS::Lambda::EventInvokeConfig",
        "InvalidParameterValueException",
        "onFailure=OnFailure(destination=arn:aws:sqs:us-east-1:123456789012:",
    ),
    (
        "async-on-failure-to-a-fifo-topic",
        {
            "Fn": function(),
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"FifoTopic": True}},
            "Config": invoke_config(**on("OnFailure", {"Ref": "Topic"})),
        },
        "Config",
        "AWS::Lambda::EventInvokeConfig",
        "InvalidParameterValueException",
        "is invalid.",
    ),
    (
        "async-destination-is-a-kinesis-stream",
        {"Fn": function(), "Stream": KINESIS, "Config": invoke_config(**on("OnFailure", STREAM))},
        "Config",
        "AWS::Lambda::EventInvokeConfig",
        "InvalidParameterValueException",
        "is invalid.",
    ),
    (
        "async-destination-is-itself",
        {"Fn": function(), "Config": invoke_config(**on("OnFailure", {"Fn::GetAtt": ["Fn", "Arn"]}))},
        "Config",
        "AWS::Lambda::EventInvokeConfig",
        "InvalidParameterValueException",
        "You can't specify the function as a destination for itself.",
    ),
    (
        "rule-with-six-targets",
        {"Queue": queue(), "Rule": rule(EventPattern=PATTERN, Targets=[target(i) for i in range(6)])},
        "Rule",
        "AWS::Events::Rule",
        "LimitExceededException",
        "The requested resource exceeds the maximum number allowed.",
    ),
    (
        "rule-with-a-bad-pattern",
        {"Queue": queue(), "Rule": rule(EventPattern={"source": "orders"}, Targets=[target(1)])},
        "Rule",
        "AWS::Events::Rule",
        "InvalidEventPatternException",
        "Event pattern is not valid. Reason: 'source' must be an object or an array",
    ),
    (
        "rule-without-pattern-or-schedule",
        {"Queue": queue(), "Rule": rule(Targets=[target(1)])},
        "Rule",
        "AWS::Events::Rule",
        "ValidationException",
        "Parameter(s) EventPattern or ScheduleExpression must be specified.",
    ),
    (
        "rule-schedule-on-a-custom-bus",
        {
            "Bus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": "custom-bus-check"}},
            "Rule": rule(ScheduleExpression="rate(5 minutes)", EventBusName={"Ref": "Bus"}),
        },
        "Rule",
        "AWS::Events::Rule",
        "ValidationException",
        "ScheduleExpression is supported only on the default event bus.",
    ),
    (
        "rule-schedule-not-valid",
        {"Rule": rule(ScheduleExpression="rate(1 minutes)")},
        "Rule",
        "AWS::Events::Rule",
        "ValidationException",
        "Parameter ScheduleExpression is not valid.",
    ),
    (
        "rule-retry-policy-over-185",
        {
            "Queue": queue(),
            "Rule": rule(EventPattern=PATTERN, Targets=[{**target(1), "RetryPolicy": {"MaximumRetryAttempts": 186}}]),
        },
        "Rule",
        "AWS::Events::Rule",
        "ValidationException",
        "Value '186' at 'targets.1.member.retryPolicy.maximumRetryAttempts' failed to satisfy constraint: "
        "Member must have value less than or equal to 185",
    ),
    (
        "rule-fifo-target-without-sqs-parameters",
        {"Queue": queue(FifoQueue=True), "Rule": rule(EventPattern=PATTERN, Targets=[target(1)])},
        "Rule",
        "AWS::Events::Rule",
        "ValidationException",
        "Parameter(s) SqsParameters must be specified for target: T1.",
    ),
    (
        "unsupported-type",
        {"Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}}},
        "Vpc",
        "AWS::EC2::VPC",
        "",
        "the local cloud cannot deploy this type",
    ),
]


@pytest.mark.parametrize(
    ("resources", "logical", "kind", "code", "message"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_refused_with_aws_error_and_nothing_created(
    deployer: Deployer, endpoint: str, resources: dict[str, Any], logical: str, kind: str, code: str, message: str
) -> None:
    artifact = stack(resources)
    with pytest.raises(DeployValidationError) as caught:
        deployer.deploy(artifact)
    error = caught.value
    text = str(error)
    assert f"stack {artifact.name}" in text
    assert "nothing was created" in text
    matching = [issue for issue in error.issues if issue.logical_id == logical]
    assert matching, text
    issue = matching[0]
    assert issue.type == kind
    assert (issue.code or "") == code
    assert message in issue.message, issue.message
    assert f"{logical} ({kind}): {code + ': ' if code else ''}" in text
    # nothing half-created: no queue, table, stream, rule or bus of the stack exists
    sqs = client("sqs", endpoint, REGION)
    assert not sqs.list_queues(QueueNamePrefix=artifact.name).get("QueueUrls")
    assert not [t for t in client("dynamodb", endpoint, REGION).list_tables()["TableNames"] if artifact.name in t]
    assert not [s for s in client("kinesis", endpoint, REGION).list_streams()["StreamNames"] if artifact.name in s]
    assert not [r for r in client("events", endpoint, REGION).list_rules()["Rules"] if artifact.name in r["Name"]]


def test_every_issue_is_reported_at_once(deployer: Deployer) -> None:
    artifact = stack(
        {
            "Fn": function(Timeout=3000),
            "Queue": queue(VisibilityTimeout=10),
            "Map": sqs_mapping(BatchSize=50),
            "Config": invoke_config(MaximumRetryAttempts=5),
        }
    )
    with pytest.raises(DeployValidationError) as caught:
        deployer.deploy(artifact)
    found = {(issue.logical_id, issue.code) for issue in caught.value.issues}
    assert found >= {
        ("Fn", "ValidationException"),
        ("Map", "InvalidParameterValueException"),
        ("Config", "ValidationException"),
    }
    messages = [issue.message for issue in caught.value.issues if issue.logical_id == "Map"]
    assert any("Maximum batch window" in m for m in messages)
    assert any(
        "Queue visibility timeout: 10 seconds is less than Function timeout: 3000 seconds" in m for m in messages
    )
    assert f"stack {artifact.name}: 4 resources cannot be deployed" in str(caught.value)


@pytest.mark.parametrize(
    "resources",
    [
        {"Fn": function(Timeout=30), "Queue": queue(VisibilityTimeout=30), "Map": sqs_mapping()},
        {"Fn": function(), "Queue": queue(), "Map": sqs_mapping(BatchSize=100, MaximumBatchingWindowInSeconds=1)},
        {"Fn": function(), "Queue": queue(FifoQueue=True), "Map": sqs_mapping(BatchSize=10)},
        {
            "Fn": function(),
            "Queue": queue(),
            "Map": sqs_mapping(FilterCriteria={"Filters": [{"Pattern": '{"body": {"n": [{"numeric": [">", 1]}]}}'}]}),
        },
        {"Fn": function(), "Stream": KINESIS, "Map": mapping(STREAM, StartingPosition="TRIM_HORIZON", BatchSize=500)},
        {
            "Fn": function(),
            "Stream": KINESIS,
            "Map": mapping(STREAM, StartingPosition="AT_TIMESTAMP", StartingPositionTimestamp=1700000000),
        },
        {"Fn": function(Timeout=900, MemorySize=10240)},
        {"Fn": function(), "Config": invoke_config(MaximumRetryAttempts=0, **on("OnFailure", "arn:aws:s3:::b"))},
        {
            "Fn": function(),
            "Config": invoke_config(
                MaximumEventAgeInSeconds=60,
                **on("OnSuccess", "arn:aws:events:us-east-1:123456789012:event-bus/default"),
            ),
        },
        {"Queue": queue(), "Rule": rule(EventPattern=PATTERN, Targets=[target(i) for i in range(5)])},
        {"Queue": queue(), "Rule": rule(ScheduleExpression="cron(0 12 ? * MON-FRI *)", Targets=[target(1)])},
    ],
    ids=[
        "visibility-equal-to-timeout",
        "batch-100-with-window",
        "fifo-batch-10",
        "numeric-filter",
        "kinesis-batch-500",
        "kinesis-at-timestamp",
        "function-at-the-limits",
        "async-s3-on-failure",
        "async-event-bus-on-success",
        "rule-with-five-targets",
        "scheduled-rule",
    ],
)
def test_valid_templates_pass(deployer: Deployer, resources: dict[str, Any]) -> None:
    assert deployer.validate(stack(resources)) == []


def test_a_template_is_only_checked_by_validate(deployer: Deployer, endpoint: str) -> None:
    artifact = stack({"Queue": queue(), "Fn": function(Timeout=3000)})
    issues = deployer.validate(artifact)
    assert [(i.logical_id, i.code) for i in issues] == [("Fn", "ValidationException")]
    assert not client("sqs", endpoint, REGION).list_queues(QueueNamePrefix=artifact.name).get("QueueUrls")


def test_deploy_errors_are_deploy_errors(deployer: Deployer) -> None:
    with pytest.raises(DeployError):  # DeployValidationError is a DeployError: existing handlers keep working
        deployer.deploy(stack({"Fn": function(MemorySize=1)}))


def test_a_nested_stack_is_validated_with_its_parent(deployer: Deployer, endpoint: str, tmp_path: Path) -> None:
    child = tmp_path / "child.nested.template.json"
    fn_resource = function(Timeout=1000)
    child.write_text(json.dumps({"Resources": {"Fn": fn_resource}}))
    name = f"Parent{uuid.uuid4().hex[:8]}"
    artifact = StackArtifact(
        id=name,
        name=name,
        template={
            "Resources": {
                "Queue": queue(),
                "Inner": {
                    "Type": "AWS::CloudFormation::Stack",
                    "Properties": {"TemplateURL": "https://s3.amazonaws.com/assets/abc.json"},
                },
            }
        },
        template_path=tmp_path / "parent.json",
        root=tmp_path,
        assets={"abc.json": child},
    )
    with pytest.raises(DeployValidationError) as caught:
        deployer.deploy(artifact)
    assert "in the nested stack: Fn (AWS::Lambda::Function): ValidationException" in str(caught.value)
    assert not client("sqs", endpoint, REGION).list_queues(QueueNamePrefix=name).get("QueueUrls")


def test_a_create_that_fails_after_the_checks_rolls_back(deployer: Deployer, endpoint: str) -> None:
    artifact = stack({"Queue": queue(), "Stream": {"Type": "AWS::Kinesis::Stream", "Properties": {"ShardCount": "x"}}})
    assert deployer.validate(artifact) == []
    with pytest.raises(DeployError, match=r"creating Stream \(AWS::Kinesis::Stream\) failed"):
        deployer.deploy(artifact)
    assert not client("sqs", endpoint, REGION).list_queues(QueueNamePrefix=artifact.name).get("QueueUrls")

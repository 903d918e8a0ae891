"""Deploy-time errors of the local cloud: each validation rule the provisioners apply that
``tests/local/test_deploy_validation.py`` does not already cover, with AWS's error code and message (or ``None``
for a limit of the local cloud), the error naming the stack, the resource and its type; and nothing of the stack
left behind, neither after a refused template nor after a create that failed halfway.

Sources: shared/notes/aws-semantics.md section 11 (control-plane validation, HTTP 400 ``ValidationException`` with
"1 validation error detected: Value ... at '<member>' failed to satisfy constraint: ..." for member constraints,
``InvalidParameterValueException`` for the service's own checks) and the API references quoted there:
CreateFunction (ephemeral storage 512-10,240 MB, timeout >= 1), CreateEventSourceMapping (batching window 0-300 s,
parallelization 1-10, record age -1..604,800, retries -1..10,000, tumbling window 0-900 s, filter pattern <= 4,096
characters), PutTargets (target id 1-64 of ``[.\\-_A-Za-z0-9]``, retry policy 0-185 / 60-86,400 s, ``Input`` <= 8,192),
CreateSchedule (flexible window mode OFF|FLEXIBLE, 1-1,440 minutes, state ENABLED|DISABLED).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eventweave.local.assembly import StackArtifact
from eventweave.local.aws import client
from eventweave.local.deployer import Deployer, DeployError, Deployment, DeployValidationError, ResourceIssue
from eventweave.local.gateway import DataPlane

FIXTURES = Path(__file__).parent / "fixtures"
REGION, ACCOUNT = "us-east-1", "123456789012"
QUEUE_ARN = {"Fn::GetAtt": ["Queue", "Arn"]}
FN_ARN = {"Fn::GetAtt": ["Fn", "Arn"]}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with DataPlane() as plane:
        yield plane.endpoint


@pytest.fixture
def deployer(endpoint: str) -> Deployer:
    return Deployer(endpoint_url=endpoint, region=REGION, account_id=ACCOUNT)


def stack(resources: dict[str, Any]) -> StackArtifact:
    name = f"Err{uuid.uuid4().hex[:8]}"
    return StackArtifact(
        id=name, name=name, template={"Resources": resources}, template_path=FIXTURES / "none.json", root=FIXTURES
    )


def function(**props: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::Function",
        "Metadata": {"aws:asset:path": str(FIXTURES)},
        "Properties": {"Handler": "fn.echo", "Runtime": "python3.12", "Code": {"ZipFile": "# local"}, **props},
    }


def queue(**props: Any) -> dict[str, Any]:
    return {"Type": "AWS::SQS::Queue", "Properties": props}


def sqs_mapping(**props: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::EventSourceMapping",
        "Properties": {"FunctionName": {"Ref": "Fn"}, "EventSourceArn": QUEUE_ARN, **props},
    }


def kinesis_mapping(**props: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::EventSourceMapping",
        "Properties": {
            "FunctionName": {"Ref": "Fn"},
            "EventSourceArn": {"Fn::GetAtt": ["Stream", "Arn"]},
            "StartingPosition": "LATEST",
            **props,
        },
    }


def rule_target(**target: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::Events::Rule",
        "Properties": {"EventPattern": {"source": ["orders"]}, "Targets": [{"Id": "T1", "Arn": QUEUE_ARN, **target}]},
    }


def schedule(**props: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::Scheduler::Schedule",
        "Properties": {
            "ScheduleExpression": "rate(5 minutes)",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": {"Arn": QUEUE_ARN, "RoleArn": "arn:aws:iam::123456789012:role/r"},
            **props,
        },
    }


def constraint(value: Any, member: str, rule: str) -> str:
    return f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {rule}"


STREAM = {"Type": "AWS::Kinesis::Stream", "Properties": {"ShardCount": 1}}
LAMBDA = "AWS::Lambda::Function"
ESM = "AWS::Lambda::EventSourceMapping"
RULE = "AWS::Events::Rule"
SCHEDULE = "AWS::Scheduler::Schedule"
VALIDATION, INVALID = "ValidationException", "InvalidParameterValueException"
LE, GE = "Member must have value less than or equal to", "Member must have value greater than or equal to"

# (id, resources, failing logical id, its type, AWS error code or None, message)
CASES: list[tuple[str, dict[str, Any], str, str, str | None, str]] = [
    # -- CreateFunction ---------------------------------------------------------------------------------------------
    (
        "function-timeout-zero",
        {"Fn": function(Timeout=0)},
        "Fn",
        LAMBDA,
        VALIDATION,
        constraint(0, "timeout", f"{GE} 1"),
    ),
    (
        "function-timeout-not-a-number",
        {"Fn": function(Timeout="soon")},
        "Fn",
        LAMBDA,
        VALIDATION,
        constraint("soon", "timeout", "Member must be an integer"),
    ),
    (
        "function-ephemeral-storage-below-512",
        {"Fn": function(EphemeralStorage={"Size": 256})},
        "Fn",
        LAMBDA,
        VALIDATION,
        constraint(256, "ephemeralStorage.size", f"{GE} 512"),
    ),
    (
        "function-ephemeral-storage-over-10240",
        {"Fn": function(EphemeralStorage={"Size": 20000})},
        "Fn",
        LAMBDA,
        VALIDATION,
        constraint(20000, "ephemeralStorage.size", f"{LE} 10240"),
    ),
    (
        "function-negative-reserved-concurrency",
        {"Fn": function(ReservedConcurrentExecutions=-1)},
        "Fn",
        LAMBDA,
        VALIDATION,
        constraint(-1, "reservedConcurrentExecutions", f"{GE} 0"),
    ),
    (
        "function-code-not-in-the-assembly",
        {
            "Fn": {
                "Type": LAMBDA,
                "Properties": {"Handler": "a.b", "Runtime": "python3.12", "Code": {"S3Bucket": "b", "S3Key": "x.zip"}},
            }
        },
        "Fn",
        LAMBDA,
        None,
        "the code of function Fn is not an asset of this assembly",
    ),
    (
        "function-container-image",
        {"Fn": {"Type": LAMBDA, "Properties": {"PackageType": "Image", "Code": {"ImageUri": "x"}}}},
        "Fn",
        LAMBDA,
        None,
        "runtime a container image: the local cloud runs Python functions only",
    ),
    # -- CreateEventSourceMapping -----------------------------------------------------------------------------------
    (
        "mapping-window-over-300",
        {"Fn": function(), "Queue": queue(), "Map": sqs_mapping(MaximumBatchingWindowInSeconds=301)},
        "Map",
        ESM,
        VALIDATION,
        constraint(301, "maximumBatchingWindowInSeconds", f"{LE} 300"),
    ),
    (
        "mapping-parallelization-over-10",
        {"Fn": function(), "Stream": STREAM, "Map": kinesis_mapping(ParallelizationFactor=11)},
        "Map",
        ESM,
        VALIDATION,
        constraint(11, "parallelizationFactor", f"{LE} 10"),
    ),
    (
        "mapping-record-age-over-a-week",
        {"Fn": function(), "Stream": STREAM, "Map": kinesis_mapping(MaximumRecordAgeInSeconds=604801)},
        "Map",
        ESM,
        VALIDATION,
        constraint(604801, "maximumRecordAgeInSeconds", f"{LE} 604800"),
    ),
    (
        "mapping-retries-below-minus-one",
        {"Fn": function(), "Stream": STREAM, "Map": kinesis_mapping(MaximumRetryAttempts=-2)},
        "Map",
        ESM,
        VALIDATION,
        constraint(-2, "maximumRetryAttempts", f"{GE} -1"),
    ),
    (
        "mapping-retries-over-10000",
        {"Fn": function(), "Stream": STREAM, "Map": kinesis_mapping(MaximumRetryAttempts=10001)},
        "Map",
        ESM,
        VALIDATION,
        constraint(10001, "maximumRetryAttempts", f"{LE} 10000"),
    ),
    (
        "mapping-tumbling-window-over-900",
        {"Fn": function(), "Stream": STREAM, "Map": kinesis_mapping(TumblingWindowInSeconds=901)},
        "Map",
        ESM,
        VALIDATION,
        constraint(901, "tumblingWindowInSeconds", f"{LE} 900"),
    ),
    (
        "mapping-filter-pattern-over-4096",
        {
            "Fn": function(),
            "Queue": queue(),
            "Map": sqs_mapping(FilterCriteria={"Filters": [{"Pattern": '{"body": {"k": ["' + "x" * 4100 + '"]}}'}]}),
        },
        "Map",
        ESM,
        VALIDATION,
        "at 'filterCriteria.filters.1.member.pattern' failed to satisfy constraint: Member must have length less "
        "than or equal to 4096",
    ),
    (
        "mapping-filter-without-pattern",
        {"Fn": function(), "Queue": queue(), "Map": sqs_mapping(FilterCriteria={"Filters": [{}]})},
        "Map",
        ESM,
        INVALID,
        "Invalid filter pattern definition.",
    ),
    (
        "mapping-from-an-sns-topic",
        {
            "Fn": function(),
            "Map": {
                "Type": ESM,
                "Properties": {"FunctionName": {"Ref": "Fn"}, "EventSourceArn": "arn:aws:sns:us-east-1:1:t"},
            },
        },
        "Map",
        ESM,
        None,
        "the local cloud runs event source mappings from SQS, Kinesis and DynamoDB Streams only",
    ),
    # -- PutRule / PutTargets ---------------------------------------------------------------------------------------
    (
        "rule-target-id-over-64",
        {"Queue": queue(), "Rule": rule_target(Id="t" * 65)},
        "Rule",
        RULE,
        VALIDATION,
        f"Value '{'t' * 65}' at 'targets.1.member.id' failed to satisfy constraint: Member must have length less "
        "than or equal to 64",
    ),
    (
        "rule-target-id-bad-characters",
        {"Queue": queue(), "Rule": rule_target(Id="bad id!")},
        "Rule",
        RULE,
        VALIDATION,
        "Value 'bad id!' at 'targets.1.member.id' failed to satisfy constraint: Member must satisfy regular "
        "expression pattern: [\\.\\-_A-Za-z0-9]+",
    ),
    (
        "rule-target-event-age-below-60",
        {"Queue": queue(), "Rule": rule_target(RetryPolicy={"MaximumEventAgeInSeconds": 59})},
        "Rule",
        RULE,
        VALIDATION,
        constraint(59, "targets.1.member.retryPolicy.maximumEventAgeInSeconds", f"{GE} 60"),
    ),
    (
        "rule-target-event-age-over-a-day",
        {"Queue": queue(), "Rule": rule_target(RetryPolicy={"MaximumEventAgeInSeconds": 86401})},
        "Rule",
        RULE,
        VALIDATION,
        constraint(86401, "targets.1.member.retryPolicy.maximumEventAgeInSeconds", f"{LE} 86400"),
    ),
    (
        "rule-target-input-over-8192",
        {"Queue": queue(), "Rule": rule_target(Input='"' + "x" * 8200 + '"')},
        "Rule",
        RULE,
        VALIDATION,
        "at 'targets.1.member.input' failed to satisfy constraint: Member must have length less than or equal to 8192",
    ),
    (
        "rule-target-a-kinesis-stream",
        {"Stream": STREAM, "Rule": rule_target(Arn={"Fn::GetAtt": ["Stream", "Arn"]})},
        "Rule",
        RULE,
        None,
        "(kinesis) cannot be delivered locally (supported: sqs, lambda, sns)",
    ),
    # -- CreateSchedule ---------------------------------------------------------------------------------------------
    (
        "schedule-window-mode-not-in-enum",
        {"Queue": queue(), "S": schedule(FlexibleTimeWindow={"Mode": "SOMETIMES"})},
        "S",
        SCHEDULE,
        VALIDATION,
        constraint("SOMETIMES", "flexibleTimeWindow.mode", "Member must satisfy enum value set: [OFF, FLEXIBLE]"),
    ),
    (
        "schedule-window-over-a-day",
        {"Queue": queue(), "S": schedule(FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 1441})},
        "S",
        SCHEDULE,
        VALIDATION,
        constraint(1441, "flexibleTimeWindow.maximumWindowInMinutes", f"{LE} 1440"),
    ),
    (
        "schedule-flexible-without-window",
        {"Queue": queue(), "S": schedule(FlexibleTimeWindow={"Mode": "FLEXIBLE"})},
        "S",
        SCHEDULE,
        VALIDATION,
        "MaximumWindowInMinutes must be provided when Mode is FLEXIBLE.",
    ),
    (
        "schedule-retries-over-185",
        {
            "Queue": queue(),
            "S": schedule(
                Target={
                    "Arn": QUEUE_ARN,
                    "RoleArn": "arn:aws:iam::1:role/r",
                    "RetryPolicy": {"MaximumRetryAttempts": 186},
                }
            ),
        },
        "S",
        SCHEDULE,
        VALIDATION,
        constraint(186, "target.retryPolicy.maximumRetryAttempts", f"{LE} 185"),
    ),
    (
        "schedule-state-not-in-enum",
        {"Queue": queue(), "S": schedule(State="PAUSED")},
        "S",
        SCHEDULE,
        VALIDATION,
        constraint("PAUSED", "state", "Member must satisfy enum value set: [ENABLED, DISABLED]"),
    ),
    (
        "schedule-expression-not-valid",
        {"Queue": queue(), "S": schedule(ScheduleExpression="every 5 minutes")},
        "S",
        SCHEDULE,
        VALIDATION,
        "Invalid Schedule Expression every 5 minutes.",
    ),
    (
        "schedule-rate-of-0",
        {"Queue": queue(), "S": schedule(ScheduleExpression="rate(0 minutes)")},
        "S",
        SCHEDULE,
        VALIDATION,
        "Invalid Schedule Expression rate(0 minutes).",
    ),
    (
        "schedule-unknown-time-zone",
        {"Queue": queue(), "S": schedule(ScheduleExpressionTimezone="Mars/Olympus")},
        "S",
        SCHEDULE,
        VALIDATION,
        "Invalid time zone Mars/Olympus.",
    ),
    (
        "schedule-universal-target",
        {
            "S": schedule(
                Target={"Arn": "arn:aws:scheduler:::aws-sdk:s3:listBuckets", "RoleArn": "arn:aws:iam::1:role/r"}
            )
        },
        "S",
        SCHEDULE,
        None,
        "the local scheduler fires templated targets of lambda, sqs, sns, events, kinesis only",
    ),
    # -- SNS, S3 ----------------------------------------------------------------------------------------------------
    (
        "topic-email-subscription",
        {
            "Topic": {
                "Type": "AWS::SNS::Topic",
                "Properties": {"Subscription": [{"Protocol": "email", "Endpoint": "a@b"}]},
            }
        },
        "Topic",
        "AWS::SNS::Topic",
        None,
        "SNS protocol 'email' cannot be delivered locally (supported: sqs, lambda)",
    ),
    (
        "subscription-http",
        {
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {}},
            "Sub": {
                "Type": "AWS::SNS::Subscription",
                "Properties": {"TopicArn": {"Ref": "Topic"}, "Protocol": "https", "Endpoint": "https://x"},
            },
        },
        "Sub",
        "AWS::SNS::Subscription",
        None,
        "SNS protocol 'https' cannot be delivered locally",
    ),
    (
        "bucket-notification-to-a-fifo-queue",
        {
            "Queue": queue(FifoQueue=True),
            "Bucket": {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "NotificationConfiguration": {
                        "QueueConfigurations": [{"Event": "s3:ObjectCreated:*", "Queue": QUEUE_ARN}]
                    }
                },
            },
        },
        "Bucket",
        "AWS::S3::Bucket",
        "InvalidArgument",
        "Unable to validate the following destination configurations: a FIFO queue cannot receive S3 event "
        "notifications",
    ),
    # -- nested stacks ----------------------------------------------------------------------------------------------
    (
        "nested-stack-template-missing",
        {
            "Inner": {
                "Type": "AWS::CloudFormation::Stack",
                "Properties": {"TemplateURL": "https://s3.amazonaws.com/assets/nowhere.json"},
            }
        },
        "Inner",
        "AWS::CloudFormation::Stack",
        None,
        "nowhere.json",
    ),
]


def _leftovers(endpoint: str, name: str) -> list[str]:
    """Everything in the data plane whose name carries the stack's name."""
    found: list[str] = []
    found += client("sqs", endpoint, REGION).list_queues(QueueNamePrefix=name).get("QueueUrls", [])
    found += [t["TopicArn"] for t in client("sns", endpoint, REGION).list_topics()["Topics"] if name in t["TopicArn"]]
    found += [b["Name"] for b in client("s3", endpoint, REGION).list_buckets()["Buckets"] if name.lower() in b["Name"]]
    found += [t for t in client("dynamodb", endpoint, REGION).list_tables()["TableNames"] if name in t]
    found += [s for s in client("kinesis", endpoint, REGION).list_streams()["StreamNames"] if name in s]
    found += [r["Name"] for r in client("events", endpoint, REGION).list_rules()["Rules"] if name in r["Name"]]
    found += [
        s["Name"] for s in client("scheduler", endpoint, REGION).list_schedules()["Schedules"] if name in s["Name"]
    ]
    return found


def _relay_queues(endpoint: str) -> set[str]:
    return set(client("sqs", endpoint, REGION).list_queues(QueueNamePrefix="eventweave-relay-").get("QueueUrls", []))


@pytest.mark.parametrize(
    ("resources", "logical", "kind", "code", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_refused_with_the_error_naming_the_resource_and_nothing_created(
    deployer: Deployer,
    endpoint: str,
    resources: dict[str, Any],
    logical: str,
    kind: str,
    code: str | None,
    message: str,
) -> None:
    artifact = stack(resources)
    relays = _relay_queues(endpoint)
    with pytest.raises(DeployValidationError) as caught:
        deployer.deploy(artifact)
    error = caught.value
    assert error.stack == artifact.name
    issues = [issue for issue in error.issues if issue.logical_id == logical]
    assert len(issues) == 1, error.issues
    (issue,) = issues
    assert (issue.stack, issue.type, issue.code) == (artifact.name, kind, code)
    assert message in issue.message, issue.message
    assert f"  {logical} ({kind}): {code + ': ' if code else ''}{issue.message}" in str(error)
    assert str(error).startswith(f"stack {artifact.name}: ") and "nothing was created" in str(error)
    assert _leftovers(endpoint, artifact.name) == []
    assert _relay_queues(endpoint) == relays


def test_an_issue_reads_as_the_resource_its_type_and_the_aws_error() -> None:
    assert str(ResourceIssue("S", "Fn", LAMBDA, "too long", VALIDATION)) == f"Fn ({LAMBDA}): {VALIDATION}: too long"
    assert str(ResourceIssue("S", "Fn", LAMBDA, "not here")) == f"Fn ({LAMBDA}): not here"


def test_a_create_that_fails_halfway_deletes_what_it_created(
    deployer: Deployer, endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Validation passes, then one create fails: every resource created before it (a queue, a topic with a Lambda
    subscription through a relay queue, a bucket, a table, a rule) is deleted again, and the error names the one
    that failed, as CloudFormation rolls a failed create back."""
    table = {
        "Type": "AWS::DynamoDB::Table",
        "Properties": {
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
        },
    }
    resources = {
        "Fn": function(),
        "Queue": queue(),
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {}},
        "Sub": {
            "Type": "AWS::SNS::Subscription",
            "Properties": {"TopicArn": {"Ref": "Topic"}, "Protocol": "lambda", "Endpoint": FN_ARN},
        },
        "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {}},
        "Table": table,
        "Rule": rule_target(),
        "Broken": {
            "Type": "AWS::Kinesis::Stream",
            "DependsOn": ["Sub", "Bucket", "Table", "Rule"],
            "Properties": {"ShardCount": "many"},
        },
    }
    artifact = stack(resources)
    relays = _relay_queues(endpoint)
    assert deployer.validate(artifact) == []
    rolled_back: list[tuple[str, str]] = []
    destroy = deployer.destroy

    def recording_destroy(deployment: Deployment) -> None:
        rolled_back.extend(deployment.created)
        destroy(deployment)

    monkeypatch.setattr(deployer, "destroy", recording_destroy)
    with pytest.raises(DeployError, match=r"creating Broken \(AWS::Kinesis::Stream\) failed") as caught:
        deployer.deploy(artifact)
    assert not isinstance(caught.value, DeployValidationError)
    assert {logical for _, logical in rolled_back} >= {"Queue", "Topic", "Sub", "Bucket", "Table", "Rule"}
    assert _leftovers(endpoint, artifact.name) == []
    assert _relay_queues(endpoint) == relays


def test_the_leftover_check_sees_a_deployed_stack(deployer: Deployer, endpoint: str) -> None:
    """The control for the checks above: a stack that deploys is found by them, and is gone after its destroy."""
    artifact = stack(
        {
            "Queue": queue(),
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {}},
            "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {}},
            "Rule": rule_target(),
        }
    )
    deployment = deployer.deploy(artifact)
    assert len(_leftovers(endpoint, artifact.name)) == 4
    deployer.destroy(deployment)
    assert _leftovers(endpoint, artifact.name) == []


def test_a_bad_event_pattern_reads_as_eventbridge_words_it(deployer: Deployer) -> None:
    bad_rule = {"Type": RULE, "Properties": {"EventPattern": {"source": "orders"}, "Targets": []}}
    issues = deployer.validate(stack({"Rule": bad_rule}))
    (issue,) = issues
    assert issue.code == "InvalidEventPatternException"
    assert issue.message.count("Event pattern is not valid.") == 1, issue.message

"""StreamProcessor: Kinesis / DynamoDB Streams -> Lambda with bounded retries, a failure destination and alarms."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from aws_cdk import Acknowledgment, App, Duration, Environment, Stack, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Match

from eventweave.patterns.stream_processor import StreamProcessor
from examples.showcase.handlers import Charge
from examples.showcase.stream_handlers import CountPageViews, ProjectAccounts, ReplayPageViewFailures
from tests.cdk.harness import ACCOUNT, REGION, Synth, synthesize, wildcard_problems


def _ref(template: dict[str, Any], type_: str, path: str) -> str:
    """Logical id of the resource of ``type_`` at construct path ``path`` (CDK's id: the path plus an 8-digit hash)."""
    ids = [k for k, v in template["Resources"].items() if v["Type"] == type_ and re.fullmatch(path + "[0-9A-F]{8}", k)]
    assert len(ids) == 1, (type_, path, ids)
    return ids[0]


def _esm(synth: Synth, source: str) -> dict[str, Any]:
    """Properties of the event source mapping whose EventSourceArn points at resource ``source``."""
    found = [
        r["Properties"]
        for r in synth.resources("AWS::Lambda::EventSourceMapping").values()
        if source in str(r["Properties"]["EventSourceArn"])
    ]
    assert len(found) == 1, found
    return found[0]


@pytest.fixture(scope="module")
def kinesis_default() -> Synth:
    return synthesize(lambda stack: StreamProcessor(stack, "Views", handler=CountPageViews), name="Kinesis")


@pytest.fixture(scope="module")
def dynamodb_default() -> Synth:
    return synthesize(lambda stack: StreamProcessor(stack, "Accounts", handler=ProjectAccounts), name="DynamoDB")


@pytest.fixture(scope="module")
def variants() -> Synth:
    def build(stack: Stack) -> None:
        stream = kinesis.Stream(stack, "Clicks", encryption=kinesis.StreamEncryption.MANAGED, shard_count=4)
        # The AWS managed key: Lambda publishes with its role; a customer-managed key would need a KMS grant.
        topic = sns.Topic(
            stack,
            "StreamFailures",
            enforce_ssl=True,
            master_key=kms.Alias.from_alias_name(stack, "SnsKey", "alias/aws/sns"),
        )
        tuned = StreamProcessor(
            stack,
            "Tuned",
            handler=CountPageViews,
            stream=stream,
            on_failure=topic,
            starting_position=lambda_.StartingPosition.AT_TIMESTAMP,
            starting_position_timestamp=datetime(2026, 1, 1, tzinfo=UTC),
            batch_size=500,
            max_batching_window=Duration.seconds(5),
            bisect_batch_on_error=False,
            retry_attempts=3,
            max_record_age=Duration.hours(1),
            parallelization_factor=4,
            filters=[lambda_.FilterCriteria.filter({"data": {"page": lambda_.FilterRule.is_equal("/home")}})],
        )
        # A user's deliberate choice is acknowledged the cdk-nag way, with its reason.
        Validations.of(tuned).acknowledge(
            Acknowledgment(id="Eventweave-StreamBisectBatch", reason="this variant turns bisection off, on purpose")
        )
        StreamProcessor(
            stack, "Replayed", handler=CountPageViews, shard_count=2, failure_consumer=ReplayPageViewFailures
        )
        table = dynamodb.Table(
            stack,
            "Ledger",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            stream=dynamodb.StreamViewType.NEW_IMAGE,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
        )
        StreamProcessor(
            stack,
            "Inserts",
            handler=ProjectAccounts,
            table=table,
            starting_position=lambda_.StartingPosition.LATEST,
            filters=[lambda_.FilterCriteria.filter({"eventName": lambda_.FilterRule.is_equal("INSERT")})],
        )

    return synthesize(build, name="Variants")


def test_no_nag_findings_and_no_lint_errors(kinesis_default: Synth, dynamodb_default: Synth, variants: Synth) -> None:
    for synth in (kinesis_default, dynamodb_default, variants):
        assert synth.findings == []
        assert synth.lint_errors == []


@pytest.mark.parametrize(("fixture", "source"), [("kinesis_default", "ViewsStream"), ("dynamodb_default", "Accounts")])
def test_default_event_source_mapping(fixture: str, source: str, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(fixture)
    failures = next(k for k in synth.resources("AWS::SQS::Queue") if "FailuresQueue" in k)
    esm = _esm(synth, source)
    assert esm["StartingPosition"] == "TRIM_HORIZON"
    assert esm["BatchSize"] == 100
    assert esm["BisectBatchOnFunctionError"] is True
    assert esm["MaximumRetryAttempts"] == 10
    assert esm["MaximumRecordAgeInSeconds"] == 43_200
    assert esm["ParallelizationFactor"] == 1
    assert esm["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert esm["DestinationConfig"] == {"OnFailure": {"Destination": {"Fn::GetAtt": [failures, "Arn"]}}}
    assert "FilterCriteria" not in esm
    assert "MaximumBatchingWindowInSeconds" not in esm


def test_new_kinesis_stream_is_on_demand_and_encrypted_with_the_aws_managed_key(kinesis_default: Synth) -> None:
    kinesis_default.assertions.has_resource_properties(
        "AWS::Kinesis::Stream",
        {
            "StreamModeDetails": {"StreamMode": "ON_DEMAND"},
            "StreamEncryption": {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"},
            "RetentionPeriodHours": 24,
        },
    )


def test_new_table_has_a_stream_with_both_images_pitr_and_encryption(dynamodb_default: Synth) -> None:
    dynamodb_default.assertions.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST",
            "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
        },
    )


def test_function_environment_and_poison_destination(kinesis_default: Synth) -> None:
    failures = _ref(kinesis_default.template, "AWS::SQS::Queue", "ViewsFailuresQueue")
    kinesis_default.assertions.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "examples.showcase.stream_handlers.count_page_views",
            "Runtime": "python3.14",
            "TracingConfig": {"Mode": "Active"},
            "Environment": {"Variables": Match.object_like({"EVENTWEAVE_DLQ": {"Ref": failures}})},
            "RecursiveLoop": "Terminate",
        },
    )
    kinesis_default.assertions.has_resource_properties(
        "AWS::SQS::Queue", {"MessageRetentionPeriod": 1_209_600, "SqsManagedSseEnabled": True}
    )


def test_iterator_age_and_failure_alarms(kinesis_default: Synth, variants: Synth) -> None:
    kinesis_default.assertions.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "IteratorAge",
            "Namespace": "AWS/Lambda",
            "Statistic": "Maximum",
            "Threshold": 3_600_000,
            "ComparisonOperator": "GreaterThanThreshold",
        },
    )
    kinesis_default.assertions.has_resource_properties(
        "AWS::CloudWatch::Alarm", {"MetricName": "ApproximateNumberOfMessagesVisible", "Threshold": 1}
    )
    kinesis_default.assertions.resource_count_is("AWS::CloudWatch::Alarm", 2)
    # Half the record age when that is under an hour: the alarm must fire before records are discarded.
    variants.assertions.has_resource_properties(
        "AWS::CloudWatch::Alarm", {"MetricName": "IteratorAge", "Threshold": 1_800_000}
    )


def test_least_privilege(kinesis_default: Synth, dynamodb_default: Synth, variants: Synth) -> None:
    for synth in (kinesis_default, variants):
        statements = synth.policy_statements()
        # dynamodb:ListStreams has no resource-level permissions (variants has a DynamoDB processor too).
        list_streams = [s for s in statements if s["Action"] == "dynamodb:ListStreams"]
        assert all(s["Resource"] == "*" for s in list_streams)
        assert wildcard_problems([s for s in statements if s not in list_streams]) == []
    statements = dynamodb_default.policy_statements()
    assert [
        s
        for s in statements
        if s.get("Resource") == "*" and s["Action"] != ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    ] == [{"Action": "dynamodb:ListStreams", "Effect": "Allow", "Resource": "*"}]
    reads = next(s for s in statements if "dynamodb:GetRecords" in s["Action"])
    assert reads["Resource"] == {
        "Fn::GetAtt": [_ref(dynamodb_default.template, "AWS::DynamoDB::Table", "AccountsTable"), "StreamArn"]
    }
    for synth in (kinesis_default, dynamodb_default, variants):
        assert not synth.resources("AWS::IAM::ManagedPolicy")
        for role in synth.resources("AWS::IAM::Role").values():
            assert "ManagedPolicyArns" not in role["Properties"]


def test_tuned_kinesis_mapping_with_topic_failure_destination_and_filters(variants: Synth) -> None:
    topic = _ref(variants.template, "AWS::SNS::Topic", "StreamFailures")
    esm = _esm(variants, "Clicks")
    assert esm["StartingPosition"] == "AT_TIMESTAMP"
    assert esm["StartingPositionTimestamp"] == datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    assert esm["BatchSize"] == 500
    assert esm["MaximumBatchingWindowInSeconds"] == 5
    assert esm["BisectBatchOnFunctionError"] is False
    assert esm["MaximumRetryAttempts"] == 3
    assert esm["MaximumRecordAgeInSeconds"] == 3600
    assert esm["ParallelizationFactor"] == 4
    assert esm["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert esm["DestinationConfig"] == {"OnFailure": {"Destination": {"Ref": topic}}}
    assert esm["FilterCriteria"] == {"Filters": [{"Pattern": '{"data":{"page":["/home"]}}'}]}
    variants.assertions.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "examples.showcase.stream_handlers.count_page_views",
            "Environment": {"Variables": Match.object_like({"EVENTWEAVE_DLQ": {"Ref": topic}})},
        },
    )


def test_failure_consumer_reads_back_the_stream(variants: Synth) -> None:
    stream = _ref(variants.template, "AWS::Kinesis::Stream", "ReplayedStream")
    queue = _ref(variants.template, "AWS::SQS::Queue", "ReplayedFailureConsumerQueue")
    variants.assertions.has_resource_properties(
        "AWS::Kinesis::Stream", {"ShardCount": 2, "StreamModeDetails": {"StreamMode": "PROVISIONED"}}
    )
    esm = _esm(variants, "ReplayedStream")
    assert esm["DestinationConfig"] == {"OnFailure": {"Destination": {"Fn::GetAtt": [queue, "Arn"]}}}
    consumer = _esm(variants, "ReplayedFailureConsumerQueue")
    assert consumer["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    consumer_role = _ref(variants.template, "AWS::IAM::Role", "ReplayedFailureConsumerWorkerRole")
    policy = next(
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in variants.resources("AWS::IAM::Policy").values()
        if p["Properties"]["Roles"] == [{"Ref": consumer_role}]
    )
    reads = [s for s in policy if "kinesis:GetRecords" in s["Action"]]
    assert reads and all(s["Resource"] == {"Fn::GetAtt": [stream, "Arn"]} for s in reads)


def test_own_table_with_filters(variants: Synth) -> None:
    esm = _esm(variants, "Ledger")
    assert esm["StartingPosition"] == "LATEST"
    assert esm["FilterCriteria"] == {"Filters": [{"Pattern": '{"eventName":["INSERT"]}'}]}


def _stack() -> Stack:
    app = App(context={"aws:cdk:bundling-stacks": []})
    return Stack(app, "Validation", env=Environment(account=ACCOUNT, region=REGION))


@pytest.mark.parametrize(
    ("handler", "kwargs", "error", "match"),
    [
        (CountPageViews, {"retry_attempts": -1}, ValueError, "retrying forever"),
        (CountPageViews, {"retry_attempts": 10_001}, ValueError, "retry_attempts must be 0-10,000"),
        (CountPageViews, {"batch_size": 0}, ValueError, "batch_size must be 1-10,000"),
        (CountPageViews, {"batch_size": 10_001}, ValueError, "batch_size must be 1-10,000"),
        (CountPageViews, {"parallelization_factor": 11}, ValueError, "parallelization_factor must be 1-10"),
        (CountPageViews, {"max_batching_window": Duration.seconds(301)}, ValueError, "at most 300 seconds"),
        (CountPageViews, {"max_record_age": Duration.seconds(59)}, ValueError, "between 60 seconds and 7 days"),
        (CountPageViews, {"max_record_age": Duration.days(8)}, ValueError, "between 60 seconds and 7 days"),
        (CountPageViews, {"max_record_age": Duration.hours(25)}, ValueError, "exceeds the stream's retention"),
        (CountPageViews, {"retention_period": Duration.hours(12)}, ValueError, "24-8,760 hours"),
        (ProjectAccounts, {"max_record_age": Duration.hours(25)}, ValueError, "24 h a DynamoDB stream keeps"),
        (ProjectAccounts, {"starting_position": lambda_.StartingPosition.AT_TIMESTAMP}, ValueError, "Kinesis starting"),
        (CountPageViews, {"starting_position": lambda_.StartingPosition.AT_TIMESTAMP}, ValueError, "needs starting_"),
        (CountPageViews, {"starting_position_timestamp": datetime.now(UTC)}, ValueError, "needs starting_position"),
        (ProjectAccounts, {"shard_count": 2}, TypeError, "Kinesis options"),
        (
            CountPageViews,
            {"partition_key": dynamodb.Attribute(name="k", type=dynamodb.AttributeType.STRING)},
            TypeError,
            "new DynamoDB table",
        ),
        (Charge, {}, TypeError, "Validation/Bad: StreamProcessor needs a KinesisHandler or DynamoDBStreamHandler"),
    ],
)
def test_out_of_range_settings_and_mismatches_fail_at_construction(
    handler: Any, kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        StreamProcessor(_stack(), "Bad", handler=handler, **kwargs)


def test_bring_your_own_source_mismatches() -> None:
    stack = _stack()
    table = dynamodb.Table(
        stack, "NoStream", partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING)
    )
    stream = kinesis.Stream(stack, "Stream")
    with pytest.raises(ValueError, match="has no stream"):
        StreamProcessor(stack, "A", handler=ProjectAccounts, table=table)
    with pytest.raises(TypeError, match="is a KinesisHandler but a table was given"):
        StreamProcessor(stack, "B", handler=CountPageViews, table=table)
    with pytest.raises(TypeError, match="is a DynamoDBStreamHandler but Kinesis options"):
        StreamProcessor(stack, "C", handler=ProjectAccounts, stream=stream)
    with pytest.raises(ValueError, match="shard_count applies to a new stream"):
        StreamProcessor(stack, "D", handler=CountPageViews, stream=stream, shard_count=1)
    with pytest.raises(ValueError, match="cannot be FIFO"):
        StreamProcessor(stack, "E", handler=CountPageViews, on_failure=sqs.Queue(stack, "Fifo", fifo=True))
    with pytest.raises(ValueError, match="not both"):
        StreamProcessor(
            stack,
            "F",
            handler=CountPageViews,
            on_failure=sqs.Queue(stack, "Q"),
            failure_consumer=ReplayPageViewFailures,
        )

"""A plain aws-cdk-lib app (no eventweave constructs) synthesized once and deployed into the local cloud: a bucket
with auto-delete and an SQS notification, a function with log retention, a layer, a version and an alias with a
queue mapping, a TableV2, a managed policy, a string parameter, a secret, a Scheduler schedule and a nested stack.
"""

from __future__ import annotations

import importlib.util
import json
import os
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("aws_cdk")

from eventweave.local.assembly import CloudAssembly
from eventweave.local.aws import client
from eventweave.local.cloud import DeployedStack, LocalCloud
from eventweave.local.notifications import BucketNotificationRelay
from eventweave.local.schedules import Scheduler
from eventweave.testing import wait_until
from eventweave.testing.stack import synthesize

FIXTURES = Path(__file__).parent / "fixtures"
REGION = "us-east-1"
HAS_SCHEDULER = importlib.util.find_spec("aws_cdk.aws_scheduler") is not None

APP = """
import aws_cdk as cdk
from aws_cdk import aws_dynamodb as ddb, aws_iam as iam, aws_lambda as lambda_, aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs, aws_s3 as s3, aws_s3_notifications as s3n, aws_secretsmanager as sm
from aws_cdk import aws_sqs as sqs, aws_ssm as ssm
try:
    from aws_cdk import aws_scheduler as scheduler, aws_scheduler_targets as targets
except ImportError:
    scheduler = None


class Inner(cdk.NestedStack):
    def __init__(self, scope, id):
        super().__init__(scope, id)
        self.queue = sqs.Queue(self, "NestedQueue")


class Plain(cdk.Stack):
    def __init__(self, scope, id):
        super().__init__(scope, id)
        sink = sqs.Queue(self, "Sink")
        uploads = sqs.Queue(self, "Uploads")
        bucket = s3.Bucket(self, "Bucket", auto_delete_objects=True, removal_policy=cdk.RemovalPolicy.DESTROY)
        bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED, s3n.SqsDestination(uploads), s3.NotificationKeyFilter(prefix="in/")
        )
        layer = lambda_.LayerVersion(self, "Layer", code=lambda_.Code.from_asset("layer"))
        fn = lambda_.Function(
            self, "Forward", runtime=lambda_.Runtime.PYTHON_3_12, handler="plain_fn.forward",
            code=lambda_.Code.from_asset(FIXTURES), timeout=cdk.Duration.seconds(10),
            environment={"SINK_URL": sink.queue_url}, log_retention=logs.RetentionDays.ONE_WEEK, layers=[layer],
        )
        sink.grant_send_messages(fn)
        alias = lambda_.Alias(self, "Live", alias_name="live", version=fn.current_version)
        work = sqs.Queue(self, "Work", visibility_timeout=cdk.Duration.seconds(30))
        alias.add_event_source(sources.SqsEventSource(work))
        table = ddb.TableV2(
            self, "Table", partition_key=ddb.Attribute(name="pk", type=ddb.AttributeType.STRING),
            dynamo_stream=ddb.StreamViewType.NEW_IMAGE,
        )
        policy = iam.ManagedPolicy(
            self, "ReadObjects",
            statements=[iam.PolicyStatement(actions=["s3:GetObject"], resources=[bucket.arn_for_objects("*")])],
        )
        fn.role.add_managed_policy(policy)
        parameter = ssm.StringParameter(self, "Param", string_value="hello")
        secret = sm.Secret(self, "Secret")
        if scheduler is not None:
            scheduler.Schedule(
                self, "Every", schedule=scheduler.ScheduleExpression.rate(cdk.Duration.minutes(5)),
                target=targets.LambdaInvoke(alias, input=scheduler.ScheduleTargetInput.from_object({"hi": 1})),
            )
        inner = Inner(self, "Inner")
        for key, value in {
            "SinkUrl": sink.queue_url, "UploadsUrl": uploads.queue_url, "WorkUrl": work.queue_url,
            "BucketName": bucket.bucket_name, "FunctionName": fn.function_name, "AliasArn": alias.function_arn,
            "TableName": table.table_name, "ParamName": parameter.parameter_name, "SecretArn": secret.secret_arn,
            "PolicyArn": policy.managed_policy_arn, "NestedQueueUrl": inner.queue.queue_url,
        }.items():
            cdk.CfnOutput(self, key, value=value)


FIXTURES = %r
app = cdk.App()
Plain(app, "Plain")
app.synth()
"""


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    app_dir = tmp_path_factory.mktemp("plain-app")
    (app_dir / "app.py").write_text(textwrap.dedent(APP % str(FIXTURES)))
    (app_dir / "layer" / "python").mkdir(parents=True)
    (app_dir / "layer" / "python" / "plain_layer.py").write_text("VALUE = 1\n")
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    return synthesize(app_dir, app_dir / "cdk.out")


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(async_retry_delays=(0.1,), log=lambda line: None) as running:
        yield running


def _messages(sqs: Any, url: str, count: int, what: str) -> list[Any]:
    got: list[Any] = []

    def probe() -> list[Any] | None:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            got.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return got if len(got) >= count else None

    return wait_until(probe, timeout=30, interval=0.05, what=what)


def test_a_plain_cdk_app_deploys_runs_and_is_destroyed(assembly: Path, cloud: LocalCloud) -> None:
    stack: DeployedStack = cloud.deploy(CloudAssembly.load(assembly), "Plain", stack_name="PlainLocal")
    deployment = stack.deployment
    out = stack.outputs
    types = set(deployment.types.values())
    assert types >= {
        "AWS::S3::Bucket",
        "Custom::S3AutoDeleteObjects",
        "Custom::S3BucketNotifications",
        "Custom::LogRetention",
        "AWS::Lambda::Version",
        "AWS::Lambda::Alias",
        "AWS::Lambda::LayerVersion",
        "AWS::DynamoDB::GlobalTable",
        "AWS::IAM::ManagedPolicy",
        "AWS::SSM::Parameter",
        "AWS::SecretsManager::Secret",
        "AWS::CloudFormation::Stack",
    }
    assert deployment.skipped == []
    [spec] = deployment.functions  # CDK's three providers (notifications, auto-delete, log retention) are not run
    assert spec.name == out["FunctionName"]
    assert dict(spec.qualifiers) == {"1": "1", "live": "1"}
    assert len(spec.layer_dirs) == 1 and (spec.layer_dirs[0] / "python" / "plain_layer.py").is_file()
    [mapping] = deployment.mappings
    assert mapping.function_qualifier == "live" and mapping.function_name == spec.name
    assert out["AliasArn"].endswith(f":function:{spec.name}:live")

    sqs, s3, logs = (
        client("sqs", cloud.endpoint, REGION),
        client("s3", cloud.endpoint, REGION),
        client("logs", cloud.endpoint, REGION),
    )
    [group] = logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{spec.name}")["logGroups"]
    assert group["retentionInDays"] == 7
    table = client("dynamodb", cloud.endpoint, REGION).describe_table(TableName=out["TableName"])["Table"]
    assert table["StreamSpecification"]["StreamViewType"] == "NEW_IMAGE"
    attached = [
        p["PolicyArn"]
        for name in client("iam", cloud.endpoint, REGION).list_roles()["Roles"]
        for p in client("iam", cloud.endpoint, REGION).list_attached_role_policies(RoleName=name["RoleName"])[
            "AttachedPolicies"
        ]
    ]
    assert out["PolicyArn"] in attached
    ssm = client("ssm", cloud.endpoint, REGION)
    assert ssm.get_parameter(Name=out["ParamName"])["Parameter"]["Value"] == "hello"
    secret = client("secretsmanager", cloud.endpoint, REGION).get_secret_value(SecretId=out["SecretArn"])
    assert len(secret["SecretString"]) == 32
    assert sqs.get_queue_attributes(QueueUrl=out["NestedQueueUrl"])
    assert "Inner" in next(iter(deployment.nested))

    # The local cloud runs the bucket's notification relay with the stack.
    assert [r for r in stack.runners if isinstance(r, BucketNotificationRelay)]
    assert _messages(sqs, out["UploadsUrl"], 1, "the S3 test event")[0]["Event"] == "s3:TestEvent"
    s3.put_object(Bucket=out["BucketName"], Key="in/photo.png", Body=b"png")
    [notification] = _messages(sqs, out["UploadsUrl"], 1, "the S3 notification")
    assert notification["Records"][0]["s3"]["object"]["key"] == "in/photo.png"

    sqs.send_message(QueueUrl=out["WorkUrl"], MessageBody="via the alias")
    [report] = _messages(sqs, out["SinkUrl"], 1, "the alias mapping's invocation")
    assert report["event"]["Records"][0]["body"] == "via the alias"
    if HAS_SCHEDULER:
        [schedule] = deployment.schedules
        assert schedule.expression == "rate(5 minutes)"
        scheduler = Scheduler(endpoint_url=cloud.endpoint, invoker=cloud.async_invoker)
        assert scheduler.fire_now(schedule.name)[0].endswith(f"function:{spec.name}:live")
        [fired] = _messages(sqs, out["SinkUrl"], 1, "the schedule's invocation")
        assert fired["event"] == {"hi": 1}

    cloud.destroy(stack)
    assert deployment.retained == []
    with pytest.raises(Exception, match=r"NoSuchBucket|Not Found|404"):
        s3.head_bucket(Bucket=out["BucketName"])
    with pytest.raises(Exception, match=r"NonExistentQueue|does not exist"):
        sqs.get_queue_attributes(QueueUrl=out["NestedQueueUrl"])
    with pytest.raises(Exception, match="ParameterNotFound"):
        ssm.get_parameter(Name=out["ParamName"])

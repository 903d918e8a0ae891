"""The provisioner registry and the resource types a plain CDK app holds: each deployed from a small hand-written
template into an embedded local cloud, checked in the data plane, and destroyed cleanly.

S3 notifications, schedules and version / alias invocation are checked end to end: the S3 relay and the scheduler
are started here by the test (the cloud does not start them yet).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from eventweave.local.assembly import CloudAssembly, StackArtifact
from eventweave.local.cloud import DeployedStack, LocalCloud
from eventweave.local.deployer import Deployer, DeployError, DeployValidationError, ResourceNote
from eventweave.local.notifications import SUBJECT, BucketNotificationRelay
from eventweave.local.provisioners import Provisioner, lookup, register, registered_types, unregister
from eventweave.local.schedules import Scheduler, fire, next_fire
from eventweave.testing import wait_until
from eventweave.wire.s3 import object_key

FIXTURES = Path(__file__).parent / "fixtures"
REGION, ACCOUNT = "us-east-1", "123456789012"
RECORD_KEYS = {
    "eventVersion",
    "eventSource",
    "awsRegion",
    "eventTime",
    "eventName",
    "userIdentity",
    "requestParameters",
    "responseElements",
    "s3",
}


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(async_retry_delays=(0.1,), log=lambda line: None) as running:
        yield running


@pytest.fixture
def deploy(cloud: LocalCloud, tmp_path: Path) -> Iterator[Callable[..., DeployedStack]]:
    deployed: list[DeployedStack] = []

    def run(
        resources: dict[str, Any],
        outputs: dict[str, Any] | None = None,
        *,
        assets: dict[str, Path] | None = None,
        parameters: dict[str, Any] | None = None,
        mappings: dict[str, Any] | None = None,
    ) -> DeployedStack:
        name = f"Prov{uuid.uuid4().hex[:8]}"
        template: dict[str, Any] = {"Resources": resources, "Outputs": outputs or {}}
        if parameters:
            template["Parameters"] = parameters
        if mappings:
            template["Mappings"] = mappings
        artifact = StackArtifact(
            id=name, name=name, template=template, template_path=tmp_path / "t.json", root=tmp_path, assets=assets or {}
        )
        stack = cloud.deploy(CloudAssembly(tmp_path, [artifact]), name)
        deployed.append(stack)
        return stack

    yield run
    for stack in deployed:
        if stack.name in cloud.stacks:
            with contextlib.suppress(DeployError):  # a test that failed half-way: leave the rest to the cloud
                cloud.destroy(stack)


def client(cloud: LocalCloud, service: str) -> Any:
    from eventweave.local.aws import client as bound

    return bound(service, cloud.endpoint, REGION)


def fn(handler: str = "wire_fn.forward", **props: Any) -> dict[str, Any]:
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


def provider(runtime: str = "nodejs22.x") -> dict[str, Any]:
    """A CDK custom-resource provider function: its code is not an asset here, and it is never run."""
    return {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "Handler": "index.handler",
            "Runtime": runtime,
            "Code": {"S3Bucket": "cdk-assets", "S3Key": "provider.zip"},
            "Timeout": 900,
        },
    }


QUEUE = {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 30}}


def drain(sqs: Any, url: str, count: int, what: str, timeout: float = 20) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []

    def probe() -> list[dict[str, Any]] | None:
        response = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        for message in response.get("Messages", []):
            got.append(message)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return got if len(got) >= count else None

    return wait_until(probe, timeout=timeout, interval=0.05, what=what)


def gone(call: Callable[[], Any]) -> bool:
    try:
        call()
    except Exception as error:
        return any(marker in str(error) for marker in ("NotFound", "NoSuch", "does not exist", "404", "Not Found"))
    return False


# -- the registry -------------------------------------------------------------------------------------------------


def test_every_listed_type_has_a_provisioner() -> None:
    types = set(registered_types())
    assert types >= {
        "AWS::S3::Bucket",
        "AWS::S3::BucketPolicy",
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
        "AWS::Scheduler::Schedule",
        "AWS::Scheduler::ScheduleGroup",
        "AWS::SQS::Queue",
        "AWS::Lambda::Function",
    }


def test_a_user_registered_provisioner_is_used(deploy: Callable[..., DeployedStack], cloud: LocalCloud) -> None:
    calls: list[str] = []

    def create(ctx: Any, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        name = f"/greetings/{ctx.name}/{props['Name']}"
        ctx.client("ssm").put_parameter(Name=name, Value=props["Text"], Type="String")
        calls.append(f"create {logical}")
        return name, {"Text": props["Text"]}

    def delete(clients: Any, ref: Any, attrs: dict[str, Any]) -> None:
        clients.client("ssm").delete_parameter(Name=ref)
        calls.append(f"delete {ref}")

    previous = register("Custom::Greeting", Provisioner(create=create, delete=delete, native_service_token=True))
    try:
        stack = deploy(
            {
                "Provider": provider(),
                "Greeting": {
                    "Type": "Custom::Greeting",
                    "Properties": {"ServiceToken": {"Fn::GetAtt": ["Provider", "Arn"]}, "Name": "hi", "Text": "hello"},
                },
            },
            {"Name": {"Value": {"Ref": "Greeting"}}, "Text": {"Value": {"Fn::GetAtt": ["Greeting", "Text"]}}},
        )
        name = stack.outputs["Name"]
        assert stack.outputs["Text"] == "hello"
        assert client(cloud, "ssm").get_parameter(Name=name)["Parameter"]["Value"] == "hello"
        assert stack.deployment.functions == []  # the nodejs provider is recorded, never run
        assert stack.deployment.resources["Provider"].startswith(stack.name)
        cloud.destroy(stack)
        assert calls == ["create Greeting", f"delete {name}"]
        assert gone(lambda: client(cloud, "ssm").get_parameter(Name=name))
    finally:
        unregister("Custom::Greeting")
        if previous is not None:
            register("Custom::Greeting", previous)
    assert lookup("Custom::Greeting") is None


def test_skip_unsupported_deploys_the_rest_and_lists_what_it_skipped(cloud: LocalCloud, tmp_path: Path) -> None:
    name = f"Skip{uuid.uuid4().hex[:8]}"
    resources = {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
        "Subnet": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.0.0/24"}},
        "Sink": QUEUE,
        "InVpc": fn(VpcConfig={"SubnetIds": [{"Ref": "Subnet"}]}),
        "Kept": fn(),
    }
    outputs = {"VpcId": {"Value": {"Ref": "Vpc"}}, "SinkUrl": {"Value": {"Ref": "Sink"}}}
    artifact = StackArtifact(
        id=name, name=name, template={"Resources": resources, "Outputs": outputs}, template_path=tmp_path, root=tmp_path
    )
    deployer = Deployer(endpoint_url=cloud.endpoint)
    with pytest.raises(DeployValidationError) as refused:
        deployer.deploy(artifact)
    assert {i.logical_id for i in refused.value.issues} == {"Vpc", "Subnet"}
    with pytest.raises(DeployValidationError):
        deployer.deploy(artifact, skip_unsupported=["AWS::EC2::VPC"])  # the subnet is still unsupported
    deployment = Deployer(endpoint_url=cloud.endpoint, skip_unsupported=["AWS::EC2::*"]).deploy(artifact)
    try:
        skipped = {note.logical_id: note for note in deployment.skipped}
        assert set(skipped) == {"Vpc", "Subnet", "InVpc", "Outputs.VpcId"}
        assert skipped["Vpc"].reason == "AWS::EC2::VPC is not supported by the local cloud (skip_unsupported)"
        assert skipped["InVpc"].reason == "refers to skipped Subnet"
        assert str(skipped["Subnet"]).startswith("Subnet (AWS::EC2::Subnet): ")
        assert [f.logical_id for f in deployment.functions] == ["Kept"]
        assert deployment.outputs == {"SinkUrl": deployment.resources["Sink"]}
        assert client(cloud, "sqs").get_queue_attributes(QueueUrl=deployment.outputs["SinkUrl"])
    finally:
        deployer.destroy(deployment)
    assert isinstance(deployment.skipped[0], ResourceNote)


def test_parameters_mappings_and_lists(deploy: Callable[..., DeployedStack], cloud: LocalCloud) -> None:
    name = f"/eventweave-test/{uuid.uuid4().hex[:8]}"
    client(cloud, "ssm").put_parameter(Name=name, Value="from-ssm", Type="String")
    stack = deploy(
        {"Queue": QUEUE},
        {
            "FromSsm": {"Value": {"Ref": "Looked"}},
            "Second": {"Value": {"Fn::Select": [1, {"Ref": "Names"}]}},
            "Count": {"Value": {"Fn::Length": {"Ref": "Names"}}},
            "Mapped": {"Value": {"Fn::FindInMap": ["Sizes", {"Ref": "AWS::Region"}, "small"]}},
            "Defaulted": {"Value": {"Fn::FindInMap": ["Sizes", "nowhere", "small", {"DefaultValue": "fallback"}]}},
        },
        parameters={
            "Looked": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": name},
            "Names": {"Type": "CommaDelimitedList", "Default": "a,b,c"},
        },
        mappings={"Sizes": {REGION: {"small": "1"}}},
    )
    assert stack.outputs == {"FromSsm": "from-ssm", "Second": "b", "Count": 3, "Mapped": "1", "Defaulted": "fallback"}


# -- S3 ------------------------------------------------------------------------------------------------------------


def test_bucket_properties_policy_and_auto_delete(deploy: Callable[..., DeployedStack], cloud: LocalCloud) -> None:
    stack = deploy(
        {
            "Bucket": {
                "Type": "AWS::S3::Bucket",
                "DeletionPolicy": "Delete",
                "Properties": {
                    "VersioningConfiguration": {"Status": "Enabled"},
                    "Tags": [{"Key": "aws-cdk:auto-delete-objects", "Value": "true"}],
                    "BucketEncryption": {
                        "ServerSideEncryptionConfiguration": [
                            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                        ]
                    },
                    "PublicAccessBlockConfiguration": {
                        "BlockPublicAcls": True,
                        "BlockPublicPolicy": "true",
                        "IgnorePublicAcls": True,
                        "RestrictPublicBuckets": True,
                    },
                    "CorsConfiguration": {
                        "CorsRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["*"], "MaxAge": 300}]
                    },
                },
            },
            "ProviderRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []},
                    "ManagedPolicyArns": [
                        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}
                    ],
                },
            },
            "Policy": {
                "Type": "AWS::S3::BucketPolicy",
                "Properties": {
                    "Bucket": {"Ref": "Bucket"},
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"AWS": {"Fn::GetAtt": ["ProviderRole", "Arn"]}},
                                "Action": ["s3:DeleteObject*"],
                                "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": ["Bucket", "Arn"]}, "/*"]]},
                            }
                        ],
                    },
                },
            },
            "Provider": provider("nodejs24.x"),
            "AutoDelete": {
                "Type": "Custom::S3AutoDeleteObjects",
                "DependsOn": ["Policy"],
                "Properties": {"ServiceToken": {"Fn::GetAtt": ["Provider", "Arn"]}, "BucketName": {"Ref": "Bucket"}},
            },
        },
        {
            "Name": {"Value": {"Ref": "Bucket"}},
            "Arn": {"Value": {"Fn::GetAtt": ["Bucket", "Arn"]}},
            "Domain": {"Value": {"Fn::GetAtt": ["Bucket", "RegionalDomainName"]}},
        },
    )
    s3 = client(cloud, "s3")
    bucket = stack.outputs["Name"]
    assert bucket == bucket.lower() and bucket.startswith(stack.name.lower())
    assert stack.outputs["Arn"] == f"arn:aws:s3:::{bucket}"
    assert stack.outputs["Domain"] == f"{bucket}.s3.{REGION}.amazonaws.com"
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert {"Key": "aws-cdk:auto-delete-objects", "Value": "true"} in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"][0]["MaxAgeSeconds"] == 300
    assert "s3:DeleteObject*" in s3.get_bucket_policy(Bucket=bucket)["Policy"]
    encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    assert encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert stack.deployment.functions == []
    assert stack.deployment.attributes["ProviderRole"]["_aws_managed"] == [
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    ]
    for body in (b"one", b"two"):
        s3.put_object(Bucket=bucket, Key="a.txt", Body=body)
    s3.put_object(Bucket=bucket, Key="dir/b.txt", Body=b"b")
    cloud.destroy(stack)
    assert gone(lambda: s3.head_bucket(Bucket=bucket))
    assert stack.deployment.retained == []


def test_a_bucket_holding_objects_is_kept_as_cloudformation_keeps_it(cloud: LocalCloud, tmp_path: Path) -> None:
    name = f"Keep{uuid.uuid4().hex[:8]}"
    resources = {
        "Retained": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain"},
        "Deleted": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Delete"},
        "Empty": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain"},
        "Queue": QUEUE,
    }
    artifact = StackArtifact(
        id=name, name=name, template={"Resources": resources}, template_path=tmp_path, root=tmp_path
    )
    deployer = Deployer(endpoint_url=cloud.endpoint)
    deployment = deployer.deploy(artifact)
    s3 = client(cloud, "s3")
    for logical in ("Retained", "Deleted"):
        s3.put_object(Bucket=deployment.resources[logical], Key="k", Body=b"x")
    with pytest.raises(DeployError) as caught:
        deployer.destroy(deployment)
    assert "could not delete Deleted (AWS::S3::Bucket)" in str(caught.value)
    assert "BucketNotEmpty" in str(caught.value)
    assert [(n.logical_id, n.type) for n in deployment.retained] == [("Retained", "AWS::S3::Bucket")]
    assert gone(lambda: s3.head_bucket(Bucket=deployment.resources["Empty"]))
    assert gone(lambda: client(cloud, "sqs").get_queue_attributes(QueueUrl=deployment.resources["Queue"]))
    for logical in ("Retained", "Deleted"):
        bucket = deployment.resources[logical]
        s3.delete_object(Bucket=bucket, Key="k")
        s3.delete_bucket(Bucket=bucket)


def _notifications_stack() -> tuple[dict[str, Any], dict[str, Any]]:
    resources = {
        "Sink": QUEUE,
        "Uploads": QUEUE,
        "TopicInbox": QUEUE,
        "Topic": {
            "Type": "AWS::SNS::Topic",
            "Properties": {"Subscription": [{"Protocol": "sqs", "Endpoint": {"Fn::GetAtt": ["TopicInbox", "Arn"]}}]},
        },
        "Forward": fn(),
        "Bucket": {"Type": "AWS::S3::Bucket"},
        "Handler": {
            "Type": "AWS::Lambda::Function",
            "Properties": {"Handler": "index.handler", "Runtime": "python3.13", "Code": {"ZipFile": "def handler..."}},
        },
        "Notifications": {
            "Type": "Custom::S3BucketNotifications",
            "Properties": {
                "ServiceToken": {"Fn::GetAtt": ["Handler", "Arn"]},
                "BucketName": {"Ref": "Bucket"},
                "NotificationConfiguration": {
                    "QueueConfigurations": [
                        {
                            "Events": ["s3:ObjectCreated:*"],
                            "QueueArn": {"Fn::GetAtt": ["Uploads", "Arn"]},
                            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"}]}},
                        }
                    ],
                    "TopicConfigurations": [
                        {
                            "Id": "txt-to-topic",
                            "Events": ["s3:ObjectCreated:Put"],
                            "TopicArn": {"Ref": "Topic"},
                            "Filter": {"Key": {"FilterRules": [{"Name": "Suffix", "Value": ".txt"}]}},
                        }
                    ],
                    "LambdaFunctionConfigurations": [
                        {"Events": ["s3:ObjectRemoved:*"], "LambdaFunctionArn": {"Fn::GetAtt": ["Forward", "Arn"]}}
                    ],
                },
                "Managed": True,
            },
        },
    }
    outputs = {key: {"Value": {"Ref": key}} for key in ("Sink", "Uploads", "TopicInbox", "Bucket", "Topic")}
    return resources, outputs


def test_s3_notifications_deliver_the_documented_record(
    deploy: Callable[..., DeployedStack], cloud: LocalCloud
) -> None:
    stack = deploy(*_notifications_stack())
    out = stack.outputs
    assert [f.logical_id for f in stack.deployment.functions] == ["Forward"]  # the python provider is not run
    [spec] = stack.deployment.bucket_notifications
    assert spec.bucket == out["Bucket"] and len(spec.targets) == 3
    relay = started_relay(stack)  # the one the local cloud runs for the stack
    sqs, s3 = client(cloud, "sqs"), client(cloud, "s3")
    [test_event] = [json.loads(m["Body"]) for m in drain(sqs, out["Uploads"], 1, "the S3 test event")]
    assert test_event["Event"] == "s3:TestEvent" and test_event["Bucket"] == out["Bucket"]
    assert set(test_event) == {"Service", "Event", "Time", "Bucket", "RequestId", "HostId"}
    [enveloped] = [json.loads(m["Body"]) for m in drain(sqs, out["TopicInbox"], 1, "the test event via SNS")]
    assert enveloped["Subject"] == SUBJECT and json.loads(enveloped["Message"])["Event"] == "s3:TestEvent"

    s3.put_object(Bucket=out["Bucket"], Key="in/red flower.txt", Body=b"hello")
    s3.put_object(Bucket=out["Bucket"], Key="out/skipped.bin", Body=b"no destination matches")
    [message] = drain(sqs, out["Uploads"], 1, "the ObjectCreated record")
    body = json.loads(message["Body"])
    assert message["Body"].startswith('{"Records":[{')
    [record] = body["Records"]
    assert set(record) == RECORD_KEYS
    assert record["eventVersion"] == "2.1" and record["eventSource"] == "aws:s3"
    assert record["awsRegion"] == REGION and record["eventName"] == "ObjectCreated:Put"
    assert record["eventTime"].endswith("Z")
    assert set(record["responseElements"]) == {"x-amz-request-id", "x-amz-id-2"}
    assert "principalId" in record["userIdentity"] and "sourceIPAddress" in record["requestParameters"]
    s3_part = record["s3"]
    assert s3_part["s3SchemaVersion"] == "1.0"
    assert s3_part["configurationId"] == spec.targets[0].configuration_id
    assert s3_part["bucket"] == {
        "name": out["Bucket"],
        "ownerIdentity": {"principalId": s3_part["bucket"]["ownerIdentity"]["principalId"]},
        "arn": f"arn:aws:s3:::{out['Bucket']}",
    }
    assert s3_part["object"]["key"] == "in/red+flower.txt" and object_key(record) == "in/red flower.txt"
    assert s3_part["object"]["size"] == 5
    assert s3_part["object"]["eTag"] == "5d41402abc4b2a76b9719d911017c592"
    assert int(s3_part["object"]["sequencer"], 16) > 0
    [published] = [json.loads(m["Body"]) for m in drain(sqs, out["TopicInbox"], 1, "the record via SNS")]
    assert published["Subject"] == SUBJECT
    [topic_record] = json.loads(published["Message"])["Records"]
    assert topic_record["s3"]["configurationId"] == "txt-to-topic"
    assert object_key(topic_record) == "in/red flower.txt"

    s3.delete_object(Bucket=out["Bucket"], Key="in/red flower.txt")
    [report] = [json.loads(m["Body"]) for m in drain(sqs, out["Sink"], 1, "the ObjectRemoved record in Lambda")]
    [removed] = report["event"]["Records"]
    assert removed["eventName"] == "ObjectRemoved:Delete"
    assert set(removed["s3"]["object"]) == {"key", "sequencer"}  # no size or eTag on a removal
    assert cloud.wait_quiet(timeout=20) == []  # the local cloud's quiescence signal, not a sleep
    assert not sqs.receive_message(QueueUrl=out["Uploads"], WaitTimeSeconds=0).get("Messages")
    assert relay.delivered == 5


def test_a_buckets_own_notification_configuration(deploy: Callable[..., DeployedStack], cloud: LocalCloud) -> None:
    stack = deploy(
        {
            "Queue": QUEUE,
            "Bucket": {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "NotificationConfiguration": {
                        "QueueConfigurations": [
                            {
                                "Event": "s3:ObjectCreated:*",
                                "Queue": {"Fn::GetAtt": ["Queue", "Arn"]},
                                "Filter": {"S3Key": {"Rules": [{"Name": "suffix", "Value": ".csv"}]}},
                            }
                        ]
                    }
                },
            },
        },
        {"Queue": {"Value": {"Ref": "Queue"}}, "Bucket": {"Value": {"Ref": "Bucket"}}},
    )
    started_relay(stack)  # the local cloud runs the relay with the stack
    s3, sqs = client(cloud, "s3"), client(cloud, "sqs")
    s3.put_object(Bucket=stack.outputs["Bucket"], Key="report.csv", Body=b"a,b")
    bodies = [json.loads(m["Body"]) for m in drain(sqs, stack.outputs["Queue"], 2, "test event and record")]
    assert bodies[0]["Event"] == "s3:TestEvent"
    assert bodies[1]["Records"][0]["s3"]["object"]["key"] == "report.csv"


def test_a_fifo_queue_cannot_receive_s3_notifications(cloud: LocalCloud, tmp_path: Path) -> None:
    resources, _ = _notifications_stack()
    resources["Uploads"] = {"Type": "AWS::SQS::Queue", "Properties": {"FifoQueue": True}}
    name = f"Fifo{uuid.uuid4().hex[:8]}"
    artifact = StackArtifact(
        id=name, name=name, template={"Resources": resources}, template_path=tmp_path, root=tmp_path
    )
    [issue] = Deployer(endpoint_url=cloud.endpoint).validate(artifact)
    assert (issue.logical_id, issue.code) == ("Notifications", "InvalidArgument")


# -- Logs ----------------------------------------------------------------------------------------------------------


def test_log_retention_sets_the_policy(deploy: Callable[..., DeployedStack], cloud: LocalCloud) -> None:
    run = uuid.uuid4().hex[:8]
    stack = deploy(
        {
            "Provider": provider(),
            "Kept": {
                "Type": "Custom::LogRetention",
                "Properties": {
                    "ServiceToken": {"Fn::GetAtt": ["Provider", "Arn"]},
                    "LogGroupName": f"/aws/lambda/kept-{run}",
                    "RetentionInDays": 7,
                },
            },
            "Removed": {
                "Type": "Custom::LogRetention",
                "Properties": {
                    "ServiceToken": {"Fn::GetAtt": ["Provider", "Arn"]},
                    "LogGroupName": f"/aws/lambda/removed-{run}",
                    "RetentionInDays": "30",
                    "RemovalPolicy": "destroy",
                },
            },
        }
    )
    logs = client(cloud, "logs")

    def retention(name: str) -> Any:
        groups = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
        return groups[0].get("retentionInDays") if groups else "gone"

    assert retention(f"/aws/lambda/kept-{run}") == 7
    assert retention(f"/aws/lambda/removed-{run}") == 30
    assert stack.deployment.functions == []
    cloud.destroy(stack)
    assert retention(f"/aws/lambda/kept-{run}") == 7  # CDK's provider keeps the group unless told to destroy it
    assert retention(f"/aws/lambda/removed-{run}") == "gone"
    logs.delete_log_group(logGroupName=f"/aws/lambda/kept-{run}")


# -- Lambda versions, aliases, layers ------------------------------------------------------------------------------


def test_versions_aliases_and_layers(
    deploy: Callable[..., DeployedStack], cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory
) -> None:
    layer_dir = tmp_path_factory.mktemp("layer")
    (layer_dir / "python").mkdir()
    (layer_dir / "python" / "layer_module.py").write_text("VALUE = 1\n")
    stack = deploy(
        {
            "Sink": QUEUE,
            "Work": QUEUE,
            "Layer": {
                "Type": "AWS::Lambda::LayerVersion",
                "Metadata": {"aws:asset:path": str(layer_dir)},
                "Properties": {"Content": {"S3Bucket": "assets", "S3Key": "layer.zip"}},
            },
            "Forward": fn(Layers=[{"Ref": "Layer"}, "arn:aws:lambda:us-east-1:017000801446:layer:Powertools:1"]),
            "Version": {"Type": "AWS::Lambda::Version", "Properties": {"FunctionName": {"Ref": "Forward"}}},
            "Live": {
                "Type": "AWS::Lambda::Alias",
                "Properties": {
                    "FunctionName": {"Ref": "Forward"},
                    "FunctionVersion": {"Fn::GetAtt": ["Version", "Version"]},
                    "Name": "live",
                },
            },
            "Mapping": {
                "Type": "AWS::Lambda::EventSourceMapping",
                "Properties": {
                    "EventSourceArn": {"Fn::GetAtt": ["Work", "Arn"]},
                    "FunctionName": {
                        "Fn::Join": ["", [{"Fn::Select": [6, {"Fn::Split": [":", {"Ref": "Live"}]}]}, ":live"]]
                    },
                },
            },
        },
        {
            "VersionArn": {"Value": {"Ref": "Version"}},
            "VersionNumber": {"Value": {"Fn::GetAtt": ["Version", "Version"]}},
            "AliasArn": {"Value": {"Ref": "Live"}},
            "LayerArn": {"Value": {"Ref": "Layer"}},
            "Function": {"Value": {"Ref": "Forward"}},
            "Sink": {"Value": {"Ref": "Sink"}},
            "Work": {"Value": {"Ref": "Work"}},
        },
    )
    out = stack.outputs
    function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{out['Function']}"
    assert out["VersionArn"] == f"{function_arn}:1" and out["VersionNumber"] == "1"
    assert out["AliasArn"] == f"{function_arn}:live"
    assert out["LayerArn"].startswith(f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:") and out["LayerArn"].endswith(":1")
    [spec] = stack.deployment.functions
    assert dict(spec.qualifiers) == {"1": "1", "live": "1"}
    assert spec.layer_dirs == (layer_dir.resolve(),)
    [mapping] = stack.deployment.mappings
    assert (mapping.function_name, mapping.function_qualifier) == (out["Function"], "live")

    sqs = client(cloud, "sqs")
    lam = client(cloud, "lambda")
    for name, extra in (
        (out["AliasArn"], {}),
        (out["VersionArn"], {}),
        (out["Function"], {"Qualifier": "live"}),
        (f"{out['Function']}:live", {}),
    ):
        response = lam.invoke(FunctionName=name, Payload=json.dumps({"via": name}).encode(), **extra)
        assert response["StatusCode"] == 200 and "FunctionError" not in response, response
    reports = [json.loads(m["Body"]) for m in drain(sqs, out["Sink"], 4, "the four qualified invocations")]
    assert sorted(r["event"]["via"] for r in reports) == sorted(
        [out["AliasArn"], out["VersionArn"], out["Function"], f"{out['Function']}:live"]
    )
    sqs.send_message(QueueUrl=out["Work"], MessageBody="through the alias mapping")
    [report] = [json.loads(m["Body"]) for m in drain(sqs, out["Sink"], 1, "the mapping on the alias")]
    assert report["event"]["Records"][0]["body"] == "through the alias mapping"


# -- DynamoDB global tables ----------------------------------------------------------------------------------------


def test_global_tables(deploy: Callable[..., DeployedStack], cloud: LocalCloud) -> None:
    key = {"KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]}
    stack = deploy(
        {
            "OnDemand": {
                "Type": "AWS::DynamoDB::GlobalTable",
                "Properties": {
                    **key,
                    "AttributeDefinitions": [
                        {"AttributeName": "pk", "AttributeType": "S"},
                        {"AttributeName": "gsi", "AttributeType": "S"},
                    ],
                    "BillingMode": "PAY_PER_REQUEST",
                    "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
                    "GlobalSecondaryIndexes": [
                        {
                            "IndexName": "byGsi",
                            "KeySchema": [{"AttributeName": "gsi", "KeyType": "HASH"}],
                            "Projection": {"ProjectionType": "ALL"},
                        }
                    ],
                    "Replicas": [{"Region": {"Ref": "AWS::Region"}, "Tags": [{"Key": "team", "Value": "a"}]}],
                },
            },
            "Provisioned": {
                "Type": "AWS::DynamoDB::GlobalTable",
                "Properties": {
                    **key,
                    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                    "BillingMode": "PROVISIONED",
                    "WriteProvisionedThroughputSettings": {
                        "WriteCapacityAutoScalingSettings": {
                            "MinCapacity": 3,
                            "MaxCapacity": 10,
                            "TargetTrackingScalingPolicyConfiguration": {"TargetValue": 70},
                        }
                    },
                    "Replicas": [
                        {"Region": "us-east-1", "ReadProvisionedThroughputSettings": {"ReadCapacityUnits": 4}}
                    ],
                },
            },
            "Sink": QUEUE,
            "Forward": fn(),
            "Mapping": {
                "Type": "AWS::Lambda::EventSourceMapping",
                "Properties": {
                    "FunctionName": {"Ref": "Forward"},
                    "EventSourceArn": {"Fn::GetAtt": ["OnDemand", "StreamArn"]},
                    "StartingPosition": "TRIM_HORIZON",
                },
            },
        },
        {
            "Table": {"Value": {"Ref": "OnDemand"}},
            "StreamArn": {"Value": {"Fn::GetAtt": ["OnDemand", "StreamArn"]}},
            "Provisioned": {"Value": {"Ref": "Provisioned"}},
            "Sink": {"Value": {"Ref": "Sink"}},
        },
    )
    ddb = client(cloud, "dynamodb")
    table = ddb.describe_table(TableName=stack.outputs["Table"])["Table"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert table["LatestStreamArn"] == stack.outputs["StreamArn"]
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["byGsi"]
    provisioned = ddb.describe_table(TableName=stack.outputs["Provisioned"])["Table"]["ProvisionedThroughput"]
    assert (provisioned["ReadCapacityUnits"], provisioned["WriteCapacityUnits"]) == (4, 3)
    ddb.put_item(TableName=stack.outputs["Table"], Item={"pk": {"S": "p-1"}, "gsi": {"S": "g"}})
    [report] = [json.loads(m["Body"]) for m in drain(client(cloud, "sqs"), stack.outputs["Sink"], 1, "the stream")]
    assert report["event"]["Records"][0]["eventName"] == "INSERT"
    cloud.destroy(stack)
    assert gone(lambda: ddb.describe_table(TableName=stack.outputs["Table"]))
    assert gone(lambda: ddb.describe_table(TableName=stack.outputs["Provisioned"]))


# -- IAM managed policies, SSM parameters, secrets -----------------------------------------------------------------


def test_managed_policies_parameters_and_secrets(deploy: Callable[..., DeployedStack], cloud: LocalCloud) -> None:
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    stack = deploy(
        {
            "Policy": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"PolicyDocument": document, "Path": "/"}},
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []},
                    "ManagedPolicyArns": [{"Ref": "Policy"}],
                },
            },
            "Other": {
                "Type": "AWS::IAM::Role",
                "Properties": {"AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []}},
            },
            "Attached": {
                "Type": "AWS::IAM::ManagedPolicy",
                "Properties": {"PolicyDocument": document, "Roles": [{"Ref": "Other"}], "Description": "to Other"},
            },
            "Param": {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": "hello"}},
            "Named": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {"Name": {"Fn::Sub": "/${AWS::StackName}/list"}, "Type": "StringList", "Value": "a,b"},
            },
            "Generated": {
                "Type": "AWS::SecretsManager::Secret",
                "Properties": {
                    "GenerateSecretString": {
                        "SecretStringTemplate": '{"username": "admin"}',
                        "GenerateStringKey": "password",
                        "PasswordLength": 20,
                        "ExcludePunctuation": True,
                    }
                },
            },
            "Plain": {"Type": "AWS::SecretsManager::Secret", "Properties": {"SecretString": "s3cr3t"}},
            "Default": {"Type": "AWS::SecretsManager::Secret", "Properties": {"GenerateSecretString": {}}},
        },
        {
            "PolicyArn": {"Value": {"Ref": "Policy"}},
            "Role": {"Value": {"Ref": "Role"}},
            "Param": {"Value": {"Ref": "Param"}},
            "ParamValue": {"Value": {"Fn::GetAtt": ["Param", "Value"]}},
            "Named": {"Value": {"Ref": "Named"}},
            "Generated": {"Value": {"Ref": "Generated"}},
            "Plain": {"Value": {"Ref": "Plain"}},
            "Default": {"Value": {"Ref": "Default"}},
        },
    )
    out = stack.outputs
    iam, ssm, sm = client(cloud, "iam"), client(cloud, "ssm"), client(cloud, "secretsmanager")
    assert out["PolicyArn"].startswith(f"arn:aws:iam::{ACCOUNT}:policy/")
    attached = iam.list_attached_role_policies(RoleName=out["Role"])["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [out["PolicyArn"]]
    other = stack.deployment.resources["Other"]
    assert len(iam.list_attached_role_policies(RoleName=other)["AttachedPolicies"]) == 1
    assert ssm.get_parameter(Name=out["Param"])["Parameter"]["Value"] == "hello" == out["ParamValue"]
    assert out["Param"].startswith("CFN-")
    assert out["Named"] == f"/{stack.name}/list"
    assert ssm.get_parameter(Name=out["Named"])["Parameter"]["Type"] == "StringList"
    generated = json.loads(sm.get_secret_value(SecretId=out["Generated"])["SecretString"])
    assert generated["username"] == "admin" and len(generated["password"]) == 20
    assert generated["password"].isalnum()
    assert sm.get_secret_value(SecretId=out["Plain"])["SecretString"] == "s3cr3t"
    assert len(sm.get_secret_value(SecretId=out["Default"])["SecretString"]) == 32
    assert out["Generated"].startswith(f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:")
    cloud.destroy(stack)
    assert gone(lambda: iam.get_policy(PolicyArn=out["PolicyArn"]))
    assert gone(lambda: iam.get_role(RoleName=out["Role"]))
    assert gone(lambda: ssm.get_parameter(Name=out["Param"]))
    assert gone(lambda: ssm.get_parameter(Name=out["Named"]))
    for key in ("Generated", "Plain", "Default"):
        assert gone(lambda key=key: sm.describe_secret(SecretId=out[key]))  # type: ignore[misc]


# -- nested stacks -------------------------------------------------------------------------------------------------


def test_nested_stacks(deploy: Callable[..., DeployedStack], cloud: LocalCloud, tmp_path: Path) -> None:
    child = tmp_path / "ParentInner.nested.template.json"
    child.write_text(
        json.dumps(
            {
                "Parameters": {"SinkUrl": {"Type": "String"}, "Label": {"Type": "String", "Default": "none"}},
                "Resources": {
                    "ChildQueue": QUEUE,
                    "ChildFn": {
                        **fn(),
                        "Properties": {
                            **fn()["Properties"],
                            "Environment": {"Variables": {"SINK_URL": {"Ref": "SinkUrl"}, "LABEL": {"Ref": "Label"}}},
                        },
                    },
                },
                "Outputs": {
                    "ChildQueueUrl": {"Value": {"Ref": "ChildQueue"}},
                    "ChildFunction": {"Value": {"Ref": "ChildFn"}},
                },
            }
        )
    )
    stack = deploy(
        {
            "Sink": QUEUE,
            "Inner": {
                "Type": "AWS::CloudFormation::Stack",
                "Properties": {
                    "TemplateURL": {
                        "Fn::Join": [
                            "",
                            ["https://s3.", {"Ref": "AWS::Region"}, ".amazonaws.com/assets/", "abc123.json"],
                        ]
                    },
                    "Parameters": {"SinkUrl": {"Ref": "Sink"}},
                },
            },
        },
        {
            "ChildQueueUrl": {"Value": {"Fn::GetAtt": ["Inner", "Outputs.ChildQueueUrl"]}},
            "ChildFunction": {"Value": {"Fn::GetAtt": ["Inner", "Outputs.ChildFunction"]}},
            "Sink": {"Value": {"Ref": "Sink"}},
        },
        assets={"abc123.json": child},
    )
    out = stack.outputs
    nested = stack.deployment.nested["Inner"]
    assert nested.stack_name.startswith(f"{stack.name}-Inner-")
    assert stack.deployment.resources["Inner"].startswith(f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/")
    [spec] = stack.deployment.functions
    assert spec.name == out["ChildFunction"] and spec.environment == {"SINK_URL": out["Sink"], "LABEL": "none"}
    sqs = client(cloud, "sqs")
    assert sqs.get_queue_attributes(QueueUrl=out["ChildQueueUrl"])
    client(cloud, "lambda").invoke(FunctionName=out["ChildFunction"], Payload=b'{"nested": true}')
    [report] = [json.loads(m["Body"]) for m in drain(sqs, out["Sink"], 1, "the nested function's report")]
    assert report["event"] == {"nested": True}
    cloud.destroy(stack)
    assert gone(lambda: sqs.get_queue_attributes(QueueUrl=out["ChildQueueUrl"]))


# -- schedules -----------------------------------------------------------------------------------------------------


def test_schedules_fire_on_their_schedule_and_now(deploy: Callable[..., DeployedStack], cloud: LocalCloud) -> None:
    stack = deploy(
        {
            "Sink": QUEUE,
            "Ticks": QUEUE,
            "RuleTicks": QUEUE,
            "Forward": fn(),
            "Group": {"Type": "AWS::Scheduler::ScheduleGroup"},
            "Every5": {
                "Type": "AWS::Scheduler::Schedule",
                "Properties": {
                    "ScheduleExpression": "rate(5 minutes)",
                    "FlexibleTimeWindow": {"Mode": "OFF"},
                    "Target": {
                        "Arn": {"Fn::GetAtt": ["Ticks", "Arn"]},
                        "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/scheduler",
                        "Input": '{"at": "<aws.scheduler.scheduled-time>", "schedule": "<aws.scheduler.schedule-arn>"}',
                    },
                },
            },
            "Nightly": {
                "Type": "AWS::Scheduler::Schedule",
                "Properties": {
                    "GroupName": {"Ref": "Group"},
                    "ScheduleExpression": "cron(0 3 1 JAN ? 2099)",
                    "ScheduleExpressionTimezone": "Europe/Paris",
                    "FlexibleTimeWindow": {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15},
                    "Target": {
                        "Arn": {"Fn::GetAtt": ["Forward", "Arn"]},
                        "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/scheduler",
                        "Input": '{"job": "nightly"}',
                        "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600},
                    },
                },
            },
            "Hourly": {
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "ScheduleExpression": "rate(1 hour)",
                    "Targets": [
                        {
                            "Id": "ticks",
                            "Arn": {"Fn::GetAtt": ["RuleTicks", "Arn"]},
                            "InputTransformer": {
                                "InputPathsMap": {"kind": "$.detail-type", "source": "$.source"},
                                "InputTemplate": '{"kind": <kind>, "source": <source>}',
                            },
                        },
                        {"Id": "fn", "Arn": {"Fn::GetAtt": ["Forward", "Arn"]}},
                    ],
                },
            },
        },
        {
            key: {"Value": {"Ref": key}}
            for key in ("Sink", "Ticks", "RuleTicks", "Group", "Every5", "Nightly", "Hourly")
        },
    )
    out = stack.outputs
    kinds = sorted((s.kind, s.expression) for s in stack.deployment.schedules)
    assert kinds == [
        ("rule", "rate(1 hour)"),
        ("scheduler", "cron(0 3 1 JAN ? 2099)"),
        ("scheduler", "rate(5 minutes)"),
    ]
    sqs = client(cloud, "sqs")
    now = [time.time()]
    scheduler = Scheduler(endpoint_url=cloud.endpoint, invoker=cloud.async_invoker, clock=lambda: now[0])
    assert scheduler.tick() == []
    mine = {s["name"]: s for s in scheduler.status() if s["name"] in (out["Every5"], out["Nightly"], out["Hourly"])}
    assert set(mine) == {out["Every5"], out["Nightly"], out["Hourly"]}
    now[0] += 301
    fired = [line for line in scheduler.tick() if out["Every5"] in line]
    assert fired and "sqs" in fired[0]
    [tick] = [json.loads(m["Body"]) for m in drain(sqs, out["Ticks"], 1, "the rate(5 minutes) schedule")]
    assert tick["schedule"].endswith(f"schedule/default/{out['Every5']}")
    assert dt.datetime.fromisoformat(tick["at"].replace("Z", "+00:00")).timestamp() == pytest.approx(now[0], abs=302)
    now[0] += 3600
    scheduler.tick()
    [rule_tick] = [json.loads(m["Body"]) for m in drain(sqs, out["RuleTicks"], 1, "the scheduled rule")]
    assert rule_tick == {"kind": "Scheduled Event", "source": "aws.events"}
    [scheduled_event] = [json.loads(m["Body"]) for m in drain(sqs, out["Sink"], 1, "the scheduled rule in Lambda")]
    assert scheduled_event["event"]["detail-type"] == "Scheduled Event" and scheduled_event["event"]["detail"] == {}
    drain(sqs, out["Ticks"], 1, "the rate schedule again")  # 3600 s later: due again (fired once, late)

    assert scheduler.fire_now(out["Nightly"]) == [
        f"lambda arn:aws:lambda:{REGION}:{ACCOUNT}:function:{stack.deployment.resources['Forward']}"
    ]
    [nightly] = [json.loads(m["Body"]) for m in drain(sqs, out["Sink"], 1, "the nightly job, fired now")]
    assert nightly["event"] == {"job": "nightly"}
    # the CLI's path: another process, the running cloud's endpoint, Lambda invoked through its gateway
    assert fire(out["Nightly"], endpoint_url=cloud.endpoint, group=out["Group"])[0].startswith("lambda ")
    [again] = [json.loads(m["Body"]) for m in drain(sqs, out["Sink"], 1, "the nightly job, fired by fire()")]
    assert again["event"] == {"job": "nightly"}
    lines = fire(out["Hourly"], endpoint_url=cloud.endpoint)
    assert len(lines) == 2 and all(line.startswith("sqs arn:aws:sqs:") for line in lines), lines
    drain(sqs, out["RuleTicks"], 1, "the scheduled rule, fired by fire()")
    drain(sqs, out["Sink"], 1, "the scheduled rule's Lambda target, fired by fire()")
    with pytest.raises(LookupError):
        scheduler.fire_now("no-such-schedule")
    cloud.destroy(stack)
    names = [s["Name"] for s in client(cloud, "scheduler").list_schedules()["Schedules"]]
    assert out["Every5"] not in names and out["Nightly"] not in names
    assert gone(lambda: client(cloud, "scheduler").get_schedule_group(Name=out["Group"]))
    scheduler.tick()
    assert not [s for s in scheduler.status() if s["name"] in (out["Every5"], out["Nightly"], out["Hourly"])]


UTC = dt.UTC


@pytest.mark.parametrize(
    ("expression", "after", "expected", "options"),
    [
        (
            "rate(5 minutes)",
            dt.datetime(2026, 1, 1, 0, 7, tzinfo=UTC),
            dt.datetime(2026, 1, 1, 0, 10, tzinfo=UTC),
            {"anchor": dt.datetime(2026, 1, 1, tzinfo=UTC)},
        ),
        (
            "rate(1 day)",
            dt.datetime(2026, 1, 1, tzinfo=UTC),
            dt.datetime(2026, 1, 2, tzinfo=UTC),
            {"anchor": dt.datetime(2026, 1, 1, tzinfo=UTC)},
        ),
        (
            "rate(1 hour)",
            dt.datetime(2026, 1, 1, tzinfo=UTC),
            dt.datetime(2026, 3, 1, tzinfo=UTC),
            {"start": dt.datetime(2026, 3, 1, tzinfo=UTC)},
        ),
        (
            "cron(0 12 ? * MON-FRI *)",
            dt.datetime(2026, 1, 2, 13, tzinfo=UTC),  # a Friday, after noon
            dt.datetime(2026, 1, 5, 12, tzinfo=UTC),
            {},
        ),
        (
            "cron(15,45 * * * ? *)",
            dt.datetime(2026, 1, 1, 10, 20, tzinfo=UTC),
            dt.datetime(2026, 1, 1, 10, 45, tzinfo=UTC),
            {},
        ),
        (
            "cron(0/20 8-9 * * ? *)",
            dt.datetime(2026, 1, 1, 9, 41, tzinfo=UTC),
            dt.datetime(2026, 1, 2, 8, 0, tzinfo=UTC),
            {},
        ),
        ("cron(0 0 L * ? *)", dt.datetime(2026, 2, 3, tzinfo=UTC), dt.datetime(2026, 2, 28, tzinfo=UTC), {}),
        ("cron(0 10 ? * 6#3 *)", dt.datetime(2026, 1, 1, tzinfo=UTC), dt.datetime(2026, 1, 16, 10, tzinfo=UTC), {}),
        ("cron(0 10 ? * 2L *)", dt.datetime(2026, 1, 1, tzinfo=UTC), dt.datetime(2026, 1, 26, 10, tzinfo=UTC), {}),
        (
            "cron(0 3 * * ? *)",
            dt.datetime(2026, 7, 1, 12, tzinfo=UTC),
            dt.datetime(2026, 7, 2, 1, tzinfo=UTC),
            {"timezone": "Europe/Paris"},
        ),
        ("cron(0 0 1 JAN ? 2027)", dt.datetime(2026, 5, 1, tzinfo=UTC), dt.datetime(2027, 1, 1, tzinfo=UTC), {}),
        (
            "at(2026-06-01T09:30:00)",
            dt.datetime(2026, 1, 1, tzinfo=UTC),
            dt.datetime(2026, 6, 1, 9, 30, tzinfo=UTC),
            {},
        ),
        ("at(2026-06-01T09:30:00)", dt.datetime(2026, 7, 1, tzinfo=UTC), None, {}),
        (
            "rate(1 day)",
            dt.datetime(2026, 1, 1, tzinfo=UTC),
            None,
            {"anchor": dt.datetime(2026, 1, 1, tzinfo=UTC), "end": dt.datetime(2026, 1, 1, 12, tzinfo=UTC)},
        ),
    ],
)
def test_next_fire(expression: str, after: dt.datetime, expected: dt.datetime | None, options: dict[str, Any]) -> None:
    assert next_fire(expression, after, **options) == expected


def started_relay(stack: DeployedStack) -> BucketNotificationRelay:
    """The S3 notification relay the local cloud started with ``stack``."""
    [relay] = [runner for runner in stack.runners if isinstance(runner, BucketNotificationRelay)]
    return relay

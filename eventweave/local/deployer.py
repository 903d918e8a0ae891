"""Deploy a synthesized stack into the local cloud: data-plane resources into moto, Lambda resources into records.

The template is *not* handed to moto's CloudFormation: that silently skips ``AWS::SNS::Subscription``,
``AWS::SQS::QueuePolicy`` and ``AWS::Lambda::EventInvokeConfig``, would register event source mappings in moto
(which fire synchronously, batch size 1), cannot create functions whose code lives in the CDK assets bucket, and
answers ``Ref`` on an event bus with a Python repr. The deployer walks the template itself instead: resources in
dependency order, intrinsics evaluated, each resource created through boto3 against moto, or recorded for
eventweave's own runtime (functions, mappings, async configs, URLs). Deliveries moto cannot make (SNS or EventBridge
to Lambda, EventBridge to SNS) go to an internal relay queue, so moto still does the filter-policy and event-pattern
matching, and eventweave's push relay makes the delivery.

A template with a resource type the local cloud has no provisioner for fails before anything is created, naming
the resource; nothing is skipped silently.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import string
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from .assembly import StackArtifact
from .aws import client
from .intrinsics import Resolver, TemplateError, dependencies
from .model import (
    AsyncConfig,
    DestinationSpec,
    EventSourceMappingSpec,
    FunctionSpec,
    FunctionUrlSpec,
    PushTarget,
)

__all__ = ["NO_OP_TYPES", "DeployError", "Deployer", "Deployment"]

NO_OP_TYPES = {
    "AWS::CDK::Metadata": "CDK's analytics metadata; nothing to create",
    "AWS::Lambda::Permission": "resource policies are not enforced locally; every configured source may invoke",
}
"""Types the local cloud records but does not create, each with its reason."""

_ALPHABET = string.ascii_uppercase + string.digits


class DeployError(RuntimeError):
    """A stack cannot be deployed locally; the message names the resource and what to do."""


@dataclass
class Deployment:
    """What a deployed stack consists of, for the local runtime and for tests.

    Example::

        deployment = Deployer(endpoint_url=endpoint).deploy(stack)
        deployment.outputs["QueueUrl"], deployment.functions[0].name
    """

    stack_name: str
    outputs: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, Any] = field(default_factory=dict)
    """Logical id -> the Ref value (queue URL, topic ARN, table name, function name, ...)."""
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    functions: list[FunctionSpec] = field(default_factory=list)
    mappings: list[EventSourceMappingSpec] = field(default_factory=list)
    async_configs: dict[str, AsyncConfig] = field(default_factory=dict)
    push_targets: list[PushTarget] = field(default_factory=list)
    urls: list[FunctionUrlSpec] = field(default_factory=list)
    created: list[tuple[str, str]] = field(default_factory=list)
    """(type, logical id) in creation order; destroyed in reverse."""
    relay_queues: list[str] = field(default_factory=list)
    seconds: float = 0.0


_Provisioner = Callable[["_Run", str, dict[str, Any]], tuple[Any, dict[str, Any]]]


class Deployer:
    """Creates and deletes the resources of stacks in the local data plane.

    Example::

        deployer = Deployer(endpoint_url="http://127.0.0.1:4566")
        deployment = deployer.deploy(CloudAssembly.load("cdk.out").stack("Orders"), stack_name="orders-test-1")
        deployer.destroy(deployment)
    """

    def __init__(self, *, endpoint_url: str, region: str = "us-east-1", account_id: str = "123456789012") -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self.account_id = account_id
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = client(service, self.endpoint_url, self.region)
        return self._clients[service]

    def deploy(self, stack: StackArtifact, *, stack_name: str | None = None) -> Deployment:
        """Create every resource of ``stack`` (in dependency order) and return what was deployed."""
        started = time.monotonic()
        name = stack_name or stack.name
        resources: dict[str, Any] = stack.template.get("Resources", {})
        unsupported = [
            f"{logical} ({r.get('Type')})"
            for logical, r in resources.items()
            if r.get("Type") not in _PROVISIONERS and r.get("Type") not in NO_OP_TYPES
        ]
        if unsupported:
            raise DeployError(
                f"stack {name}: the local cloud cannot deploy {', '.join(unsupported)}; nothing was created. "
                "Deploy that stack to AWS (or LocalStack), or keep such resources in a separate stack"
            )
        run = _Run(self, stack, name)
        try:
            run.deploy_all()
        except BaseException:
            self.destroy(run.deployment)
            raise
        run.deployment.seconds = time.monotonic() - started
        return run.deployment

    def destroy(self, deployment: Deployment) -> None:
        """Delete what ``deployment`` created, newest first; resources already gone are fine."""
        for kind, logical in reversed(deployment.created):
            deleter = _DELETERS.get(kind)
            if deleter is None:
                continue
            try:
                deleter(self, deployment.resources.get(logical), deployment.attributes.get(logical, {}))
            except Exception as error:
                if "NonExistent" not in str(error) and "NotFound" not in str(error):
                    message = f"stack {deployment.stack_name}: could not delete {logical} ({kind}): {error}"
                    raise DeployError(message) from error
        for url in deployment.relay_queues:
            with contextlib.suppress(Exception):  # a relay queue already gone is what destroy wants
                self.client("sqs").delete_queue(QueueUrl=url)
        deployment.created.clear()


class _Run:
    """One deployment in progress."""

    def __init__(self, deployer: Deployer, stack: StackArtifact, name: str) -> None:
        self.deployer = deployer
        self.stack = stack
        self.name = name
        self.region = deployer.region
        self.account = deployer.account_id
        self.deployment = Deployment(stack_name=name)
        template = stack.template
        self.refs: dict[str, Any] = {}
        for param, spec in (template.get("Parameters") or {}).items():
            self.refs[param] = "6" if "BootstrapVersion" in param else spec.get("Default", "")
        self.resolver = Resolver(
            refs=self.refs,
            attrs=self.deployment.attributes,
            region=self.region,
            account_id=self.account,
            stack_name=name,
            conditions=template.get("Conditions"),
        )

    def client(self, service: str) -> Any:
        return self.deployer.client(service)

    def physical_name(self, logical: str, limit: int, suffix: str = "") -> str:
        rand = "".join(secrets.choice(_ALPHABET) for _ in range(12))
        room = limit - len(suffix) - len(rand) - 2
        stem = f"{self.name}-{logical}"[: max(1, room)]
        return f"{stem}-{rand}{suffix}"

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"

    def deploy_all(self) -> None:
        resources: dict[str, Any] = self.stack.template.get("Resources", {})
        for logical in _order(resources):
            resource = resources[logical]
            condition = resource.get("Condition")
            if condition is not None and not self.resolver.condition(condition):
                continue
            kind = resource["Type"]
            self.deployment.types[logical] = kind
            if kind in NO_OP_TYPES:
                self.refs[logical] = f"{self.name}-{logical}"
                self.deployment.resources[logical] = self.refs[logical]
                continue
            try:
                props = self.resolver.resolve(resource.get("Properties") or {}, f"{logical}.Properties")
                ref, attrs = _PROVISIONERS[kind](self, logical, props)
            except TemplateError as error:
                raise DeployError(f"stack {self.name}: {error}") from None
            except DeployError:
                raise
            except Exception as error:
                raise DeployError(f"stack {self.name}: creating {logical} ({kind}) failed: {error}") from error
            self.refs[logical] = ref
            self.deployment.resources[logical] = ref
            self.deployment.attributes[logical] = attrs
            self.deployment.created.append((kind, logical))
        outputs = self.stack.template.get("Outputs") or {}
        for key, output in outputs.items():
            condition = output.get("Condition")
            if condition is not None and not self.resolver.condition(condition):
                continue
            self.deployment.outputs[key] = self.resolver.resolve(output["Value"], f"Outputs.{key}")

    # -- relays ---------------------------------------------------------------------------------------------------

    def relay_queue(self, logical: str) -> tuple[str, str]:
        name = f"eventweave-relay-{uuid.uuid4().hex[:20]}"
        url: str = self.client("sqs").create_queue(QueueName=name, Attributes={"VisibilityTimeout": "5"})["QueueUrl"]
        arn = self.arn("sqs", name)
        self.deployment.relay_queues.append(url)
        return url, arn


def _order(resources: dict[str, Any]) -> list[str]:
    """Logical ids in an order where every resource comes after what it refers to."""
    deps: dict[str, set[str]] = {}
    for logical, resource in resources.items():
        found = dependencies(resource.get("Properties") or {}) | dependencies(resource.get("Condition") or {})
        depends_on = resource.get("DependsOn") or []
        found |= set([depends_on] if isinstance(depends_on, str) else depends_on)
        deps[logical] = {d for d in found if d in resources and d != logical}
    ordered: list[str] = []
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        mark = state.get(node)
        if mark == 2:
            return
        if mark == 1:
            raise DeployError(f"circular dependency between resources: {' -> '.join([*path, node])}")
        state[node] = 1
        for dep in sorted(deps[node]):
            visit(dep, [*path, node])
        state[node] = 2
        ordered.append(node)

    for logical in resources:
        visit(logical, [])
    return ordered


def _json(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _name_of(arn_or_name: str) -> str:
    """A function's name from its name or ARN (with or without qualifier)."""
    if arn_or_name.startswith("arn:"):
        return arn_or_name.split(":")[6]
    return arn_or_name.split(":", 1)[0]


# -- SQS ---------------------------------------------------------------------------------------------------------

_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
)


def _queue(run: _Run, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    fifo = bool(props.get("FifoQueue"))
    name = props.get("QueueName") or run.physical_name(logical, 80, ".fifo" if fifo else "")
    attributes = {
        key: str(props[key]).lower() if isinstance(props[key], bool) else str(props[key])
        for key in _QUEUE_ATTRIBUTES
        if key in props
    }
    if fifo:
        attributes["FifoQueue"] = "true"
    if "RedrivePolicy" in props:
        attributes["RedrivePolicy"] = _json(props["RedrivePolicy"])
    if "RedriveAllowPolicy" in props:
        attributes["RedriveAllowPolicy"] = _json(props["RedriveAllowPolicy"])
    url = run.client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url, {"Arn": run.arn("sqs", name), "QueueName": name, "QueueUrl": url}


def _queue_policy(run: _Run, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    for url in props.get("Queues", []):
        run.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": _json(props["PolicyDocument"])})
    return f"{run.name}-{logical}", {}


def _delete_queue(deployer: Deployer, ref: Any, attrs: dict[str, Any]) -> None:
    deployer.client("sqs").delete_queue(QueueUrl=ref)


# -- SNS ---------------------------------------------------------------------------------------------------------


def _topic(run: _Run, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    fifo = bool(props.get("FifoTopic"))
    name = props.get("TopicName") or run.physical_name(logical, 256, ".fifo" if fifo else "")
    attributes: dict[str, str] = {}
    for key in ("KmsMasterKeyId", "DisplayName", "SignatureVersion", "TracingConfig"):
        if key in props:
            attributes[key] = str(props[key])
    if fifo:
        attributes["FifoTopic"] = "true"
    if "ContentBasedDeduplication" in props:
        attributes["ContentBasedDeduplication"] = str(props["ContentBasedDeduplication"]).lower()
    arn = run.client("sns").create_topic(Name=name, Attributes=attributes)["TopicArn"]
    for sub in props.get("Subscription") or []:
        _subscribe(run, logical, arn, sub)
    return arn, {"TopicArn": arn, "TopicName": name}


def _topic_policy(run: _Run, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    for arn in props.get("Topics", []):
        run.client("sns").set_topic_attributes(
            TopicArn=arn, AttributeName="Policy", AttributeValue=_json(props["PolicyDocument"])
        )
    return f"{run.name}-{logical}", {}


def _subscribe(run: _Run, logical: str, topic_arn: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    protocol = props.get("Protocol")
    endpoint = props.get("Endpoint")
    attributes: dict[str, str] = {}
    if "FilterPolicy" in props:
        attributes["FilterPolicy"] = _json(props["FilterPolicy"])
    if "FilterPolicyScope" in props:
        attributes["FilterPolicyScope"] = str(props["FilterPolicyScope"])
    redrive = props.get("RedrivePolicy")
    if protocol == "sqs":
        if props.get("RawMessageDelivery"):
            attributes["RawMessageDelivery"] = "true"
        if redrive:
            attributes["RedrivePolicy"] = _json(redrive)
        response = run.client("sns").subscribe(
            TopicArn=topic_arn, Protocol="sqs", Endpoint=endpoint, Attributes=attributes, ReturnSubscriptionArn=True
        )
        arn = response["SubscriptionArn"]
        return arn, {"Arn": arn}
    if protocol == "lambda":
        url, queue_arn = run.relay_queue(logical)
        response = run.client("sns").subscribe(
            TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes=attributes, ReturnSubscriptionArn=True
        )
        dead_letter = (redrive or {}).get("deadLetterTargetArn") if isinstance(redrive, dict) else None
        run.deployment.push_targets.append(
            PushTarget(
                kind="sns",
                source_arn=topic_arn,
                target_arn=str(endpoint),
                relay_queue_url=url,
                dead_letter_arn=dead_letter,
                maximum_retry_attempts=3,
                maximum_event_age_seconds=3600,
            )
        )
        arn = response["SubscriptionArn"]
        return arn, {"Arn": arn}
    raise DeployError(
        f"stack {run.name}: {logical}: SNS protocol {protocol!r} cannot be delivered locally (supported: sqs, lambda)"
    )


def _subscription(run: _Run, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    return _subscribe(run, logical, str(props["TopicArn"]), props)


def _delete_topic(deployer: Deployer, ref: Any, attrs: dict[str, Any]) -> None:
    deployer.client("sns").delete_topic(TopicArn=ref)


def _delete_subscription(deployer: Deployer, ref: Any, attrs: dict[str, Any]) -> None:
    deployer.client("sns").unsubscribe(SubscriptionArn=ref)


# -- DynamoDB, Kinesis -------------------------------------------------------------------------------------------


def _table(run: _Run, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = props.get("TableName") or run.physical_name(logical, 255)
    args: dict[str, Any] = {
        "TableName": name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
    }
    billing = props.get("BillingMode", "PROVISIONED")
    args["BillingMode"] = billing
    if billing == "PROVISIONED":
        args["ProvisionedThroughput"] = props.get(
            "ProvisionedThroughput", {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        )
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if key in props:
            args[key] = props[key]
    stream = props.get("StreamSpecification")
    if stream:
        args["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    description = run.client("dynamodb").create_table(**args)["TableDescription"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        run.client("dynamodb").update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]}
        )
    attrs = {"Arn": description["TableArn"]}
    if "LatestStreamArn" in description:
        attrs["StreamArn"] = description["LatestStreamArn"]
    return name, attrs


def _delete_table(deployer: Deployer, ref: Any, attrs: dict[str, Any]) -> None:
    deployer.client("dynamodb").delete_table(TableName=ref)


def _stream(run: _Run, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = props.get("Name") or run.physical_name(logical, 128)
    mode = (props.get("StreamModeDetails") or {}).get("StreamMode", "PROVISIONED")
    if mode == "ON_DEMAND":
        run.client("kinesis").create_stream(StreamName=name, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    else:
        run.client("kinesis").create_stream(StreamName=name, ShardCount=int(props.get("ShardCount", 1)))
    return name, {"Arn": run.arn("kinesis", f"stream/{name}")}


def _delete_stream(deployer: Deployer, ref: Any, attrs: dict[str, Any]) -> None:
    deployer.client("kinesis").delete_stream(StreamName=ref, EnforceConsumerDeletion=True)


# -- EventBridge -------------------------------------------------------------------------------------------------


def _bus(run: _Run, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = props["Name"]
    arn = run.client("events").create_event_bus(Name=name)["EventBusArn"]
    return name, {"Arn": arn, "Name": name}


def _delete_bus(deployer: Deployer, ref: Any, attrs: dict[str, Any]) -> None:
    deployer.client("events").delete_event_bus(Name=ref)


def _rule(run: _Run, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = props.get("Name") or run.physical_name(logical, 64)
    bus = str(props.get("EventBusName") or "default")
    bus_name = bus.rsplit("/", maxsplit=1)[-1] if bus.startswith("arn:") else bus
    args: dict[str, Any] = {"Name": name, "EventBusName": bus_name, "State": props.get("State", "ENABLED")}
    if "EventPattern" in props:
        args["EventPattern"] = _json(props["EventPattern"])
    if "ScheduleExpression" in props:
        args["ScheduleExpression"] = props["ScheduleExpression"]
    arn = run.client("events").put_rule(**args)["RuleArn"]
    targets: list[dict[str, Any]] = []
    for target in props.get("Targets") or []:
        service = str(target["Arn"]).split(":")[2]
        if service == "sqs":
            targets.append({k: v for k, v in target.items() if k not in ("DeadLetterConfig", "RetryPolicy")})
            continue
        if service in ("lambda", "sns"):
            url, queue_arn = run.relay_queue(logical)
            targets.append({"Id": target["Id"], "Arn": queue_arn})
            transform = {k: target[k] for k in ("Input", "InputPath", "InputTransformer") if k in target}
            retry = target.get("RetryPolicy") or {}
            run.deployment.push_targets.append(
                PushTarget(
                    kind="events",
                    source_arn=arn,
                    target_arn=str(target["Arn"]),
                    relay_queue_url=url,
                    input_transform=transform or None,
                    dead_letter_arn=(target.get("DeadLetterConfig") or {}).get("Arn"),
                    maximum_retry_attempts=int(retry.get("MaximumRetryAttempts", 185)),
                    maximum_event_age_seconds=int(retry.get("MaximumEventAgeInSeconds", 86400)),
                )
            )
            continue
        raise DeployError(
            f"stack {run.name}: {logical}: EventBridge target {target['Arn']} ({service}) cannot be delivered "
            "locally (supported: sqs, lambda, sns)"
        )
    if targets:
        run.client("events").put_targets(Rule=name, EventBusName=bus_name, Targets=targets)
    return (name if bus_name == "default" else f"{bus_name}|{name}"), {
        "Arn": arn,
        "_bus": bus_name,
        "_name": name,
        "_targets": [t["Id"] for t in targets],
    }


def _delete_rule(deployer: Deployer, ref: Any, attrs: dict[str, Any]) -> None:
    events = deployer.client("events")
    if attrs.get("_targets"):
        events.remove_targets(Rule=attrs["_name"], EventBusName=attrs["_bus"], Ids=attrs["_targets"])
    events.delete_rule(Name=attrs["_name"], EventBusName=attrs["_bus"])


def _archive(run: _Run, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = props.get("ArchiveName") or run.physical_name(logical, 48)
    args: dict[str, Any] = {"ArchiveName": name, "EventSourceArn": props["SourceArn"]}
    if "RetentionDays" in props:
        args["RetentionDays"] = int(props["RetentionDays"])
    if "EventPattern" in props:
        args["EventPattern"] = _json(props["EventPattern"])
    arn = run.client("events").create_archive(**args)["ArchiveArn"]
    return name, {"Arn": arn, "ArchiveName": name}


def _delete_archive(deployer: Deployer, ref: Any, attrs: dict[str, Any]) -> None:
    deployer.client("events").delete_archive(ArchiveName=ref)


# -- KMS, IAM, Logs, CloudWatch -----------------------------------------------------------------------------------


def _key(run: _Run, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    args: dict[str, Any] = {"Description": props.get("Description", logical)}
    if "KeyPolicy" in props:
        args["Policy"] = _json(props["KeyPolicy"])
    metadata = run.client("kms").create_key(**args)["KeyMetadata"]
    if props.get("EnableKeyRotation"):
        run.client("kms").enable_key_rotation(KeyId=metadata["KeyId"])
    return metadata["KeyId"], {"Arn": metadata["Arn"], "KeyId": metadata["KeyId"]}


def _delete_key(deployer: Deployer, ref: Any, attrs: dict[str, Any]) -> None:
    deployer.client("kms").schedule_key_deletion(KeyId=ref, PendingWindowInDays=7)


def _role(run: _Run, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = props.get("RoleName") or run.physical_name(logical, 64)
    iam = run.client("iam")
    role = iam.create_role(
        RoleName=name,
        AssumeRolePolicyDocument=_json(props["AssumeRolePolicyDocument"]),
        Description=str(props.get("Description", ""))[:1000],
    )["Role"]
    for policy in props.get("Policies") or []:
        iam.put_role_policy(
            RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=_json(policy["PolicyDocument"])
        )
    return name, {
        "Arn": role["Arn"],
        "RoleId": role["RoleId"],
        "_inline": [p["PolicyName"] for p in props.get("Policies") or []],
    }


def _delete_role(deployer: Deployer, ref: Any, attrs: dict[str, Any]) -> None:
    iam = deployer.client("iam")
    for policy in iam.list_role_policies(RoleName=ref).get("PolicyNames", []):
        iam.delete_role_policy(RoleName=ref, PolicyName=policy)
    iam.delete_role(RoleName=ref)


def _policy(run: _Run, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = props["PolicyName"]
    for role in props.get("Roles") or []:
        run.client("iam").put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=_json(props["PolicyDocument"]))
    return f"{run.name}-{name}", {"_roles": list(props.get("Roles") or []), "_name": name}


def _delete_policy(deployer: Deployer, ref: Any, attrs: dict[str, Any]) -> None:
    for role in attrs.get("_roles", []):
        deployer.client("iam").delete_role_policy(RoleName=role, PolicyName=attrs["_name"])


def _log_group(run: _Run, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = props.get("LogGroupName") or run.physical_name(logical, 512)
    logs = run.client("logs")
    logs.create_log_group(logGroupName=name)
    if "RetentionInDays" in props:
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(props["RetentionInDays"]))
    return name, {"Arn": run.arn("logs", f"log-group:{name}:*")}


def _delete_log_group(deployer: Deployer, ref: Any, attrs: dict[str, Any]) -> None:
    deployer.client("logs").delete_log_group(logGroupName=ref)


_ALARM_KEYS = (
    "AlarmDescription",
    "ActionsEnabled",
    "OKActions",
    "AlarmActions",
    "InsufficientDataActions",
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Dimensions",
    "Period",
    "Unit",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "EvaluateLowSampleCountPercentile",
    "Metrics",
    "ThresholdMetricId",
)


def _alarm(run: _Run, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = props.get("AlarmName") or run.physical_name(logical, 255)
    args = {key: props[key] for key in _ALARM_KEYS if key in props}
    for key in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
        if key in args:
            args[key] = int(args[key])
    if "Threshold" in args:
        args["Threshold"] = float(args["Threshold"])
    run.client("cloudwatch").put_metric_alarm(AlarmName=name, **args)
    return name, {"Arn": run.arn("cloudwatch", f"alarm:{name}")}


def _delete_alarm(deployer: Deployer, ref: Any, attrs: dict[str, Any]) -> None:
    deployer.client("cloudwatch").delete_alarms(AlarmNames=[ref])


# -- Lambda (recorded for eventweave's runtime, never created in moto) ---------------------------------------------


def _function(run: _Run, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = props.get("FunctionName") or run.physical_name(logical, 64)
    arn = run.arn("lambda", f"function:{name}")
    runtime = str(props.get("Runtime", ""))
    if not runtime.startswith("python"):
        raise DeployError(
            f"stack {run.name}: function {logical} uses runtime {runtime or 'a container image'}; the local cloud "
            "runs Python functions only"
        )
    env = (props.get("Environment") or {}).get("Variables") or {}
    spec = FunctionSpec(
        name=name,
        arn=arn,
        handler=str(props["Handler"]),
        code_dir=run.stack.code_dir(logical),
        environment={str(k): str(v) for k, v in env.items()},
        timeout_seconds=int(props.get("Timeout", 3)),
        memory_mb=int(props.get("MemorySize", 128)),
        reserved_concurrency=(
            int(props["ReservedConcurrentExecutions"]) if "ReservedConcurrentExecutions" in props else None
        ),
        runtime=runtime,
        dead_letter_arn=(props.get("DeadLetterConfig") or {}).get("TargetArn"),
        logical_id=logical,
        stack_name=run.name,
    )
    run.deployment.functions.append(spec)
    return name, {"Arn": arn}


def _destination(config: Any, key: str) -> DestinationSpec | None:
    destination = ((config or {}).get(key) or {}).get("Destination")
    return DestinationSpec(str(destination)) if destination else None


def _mapping(run: _Run, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    mapping_id = str(uuid.uuid4())
    filters = tuple(_json(f["Pattern"]) for f in (props.get("FilterCriteria") or {}).get("Filters", []))
    scaling = props.get("ScalingConfig") or {}
    spec = EventSourceMappingSpec(
        uuid=mapping_id,
        function_name=_name_of(str(props["FunctionName"])),
        source_arn=str(props["EventSourceArn"]),
        batch_size=int(props.get("BatchSize", 100 if ":sqs:" not in str(props["EventSourceArn"]) else 10)),
        maximum_batching_window_seconds=int(props.get("MaximumBatchingWindowInSeconds", 0)),
        enabled=bool(props.get("Enabled", True)),
        report_batch_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
        maximum_concurrency=int(scaling["MaximumConcurrency"]) if "MaximumConcurrency" in scaling else None,
        starting_position=props.get("StartingPosition"),
        bisect_batch_on_function_error=bool(props.get("BisectBatchOnFunctionError", False)),
        maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
        maximum_record_age_seconds=int(props.get("MaximumRecordAgeInSeconds", -1)),
        parallelization_factor=int(props.get("ParallelizationFactor", 1)),
        on_failure=_destination(props.get("DestinationConfig"), "OnFailure"),
        filter_patterns=filters,
    )
    run.deployment.mappings.append(spec)
    return mapping_id, {
        "EventSourceMappingArn": run.arn("lambda", f"event-source-mapping:{mapping_id}"),
        "Id": mapping_id,
    }


def _invoke_config(run: _Run, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    function = _name_of(str(props["FunctionName"]))
    config = props.get("DestinationConfig")
    run.deployment.async_configs[function] = AsyncConfig(
        maximum_retry_attempts=int(props.get("MaximumRetryAttempts", 2)),
        maximum_event_age_seconds=int(props.get("MaximumEventAgeInSeconds", 21600)),
        on_success=_destination(config, "OnSuccess"),
        on_failure=_destination(config, "OnFailure"),
    )
    return f"{function}-invoke-config", {}


def _url(run: _Run, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    import socket

    function = _name_of(str(props["TargetFunctionArn"]))
    # The URL must exist before the server does (outputs refer to it): reserve a free port now.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    auth: Literal["AWS_IAM", "NONE"] = "NONE" if props.get("AuthType") == "NONE" else "AWS_IAM"
    run.deployment.urls.append(FunctionUrlSpec(function_name=function, auth_type=auth, url=url))
    return url, {"FunctionUrl": url, "FunctionArn": run.arn("lambda", f"function:{function}")}


_PROVISIONERS: dict[str, _Provisioner] = {
    "AWS::SQS::Queue": _queue,
    "AWS::SQS::QueuePolicy": _queue_policy,
    "AWS::SNS::Topic": _topic,
    "AWS::SNS::TopicPolicy": _topic_policy,
    "AWS::SNS::Subscription": _subscription,
    "AWS::DynamoDB::Table": _table,
    "AWS::Kinesis::Stream": _stream,
    "AWS::Events::EventBus": _bus,
    "AWS::Events::Rule": _rule,
    "AWS::Events::Archive": _archive,
    "AWS::KMS::Key": _key,
    "AWS::IAM::Role": _role,
    "AWS::IAM::Policy": _policy,
    "AWS::Logs::LogGroup": _log_group,
    "AWS::CloudWatch::Alarm": _alarm,
    "AWS::Lambda::Function": _function,
    "AWS::Lambda::EventSourceMapping": _mapping,
    "AWS::Lambda::EventInvokeConfig": _invoke_config,
    "AWS::Lambda::Url": _url,
}

_DELETERS: dict[str, Callable[[Deployer, Any, dict[str, Any]], None]] = {
    "AWS::SQS::Queue": _delete_queue,
    "AWS::SNS::Topic": _delete_topic,
    "AWS::SNS::Subscription": _delete_subscription,
    "AWS::DynamoDB::Table": _delete_table,
    "AWS::Kinesis::Stream": _delete_stream,
    "AWS::Events::EventBus": _delete_bus,
    "AWS::Events::Rule": _delete_rule,
    "AWS::Events::Archive": _delete_archive,
    "AWS::KMS::Key": _delete_key,
    "AWS::IAM::Role": _delete_role,
    "AWS::IAM::Policy": _delete_policy,
    "AWS::Logs::LogGroup": _delete_log_group,
    "AWS::CloudWatch::Alarm": _delete_alarm,
}

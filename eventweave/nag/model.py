"""The synthesized templates a check reads, and how a reference in one resource finds the resource it names.

cdk-nag hands a rule one ``CfnResource`` at a time; the wiring between resources is in the references
(``Ref``, ``Fn::GetAtt``, ``Fn::ImportValue``, ``Fn::Join``/``Fn::Sub`` around them, literal ARNs of named
resources). :class:`Model` holds every template of the app, resolves those references to :class:`Resource` s (across
stacks through exports), and keeps the indexes the rules share: event source mappings with their source and
function, asynchronous invokers per function, IAM statements per role.

Example::

    model = Model.from_files({"Orders": "cdk.out/Orders.template.json"})
    for mapping in model.mappings:
        print(mapping.kind, model.display(mapping.source), "->", model.display(mapping.function))
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import cached_property
from pathlib import Path
from typing import Any

__all__ = [
    "AsyncInvoker",
    "Model",
    "Resource",
    "SourceMapping",
    "Template",
    "as_bool",
    "as_int",
]

QUEUE, TOPIC, FUNCTION = "AWS::SQS::Queue", "AWS::SNS::Topic", "AWS::Lambda::Function"
ALIAS, VERSION = "AWS::Lambda::Alias", "AWS::Lambda::Version"
ESM, INVOKE_CONFIG = "AWS::Lambda::EventSourceMapping", "AWS::Lambda::EventInvokeConfig"
TABLE, GLOBAL_TABLE = "AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable"
STREAM, STREAM_CONSUMER = "AWS::Kinesis::Stream", "AWS::Kinesis::StreamConsumer"
SUBSCRIPTION, RULE = "AWS::SNS::Subscription", "AWS::Events::Rule"
BUCKET, BUCKET_NOTIFICATIONS = "AWS::S3::Bucket", "Custom::S3BucketNotifications"

# Service principals that invoke Lambda asynchronously (each documents "invokes your function asynchronously").
ASYNC_PRINCIPALS = frozenset(
    f"{service}.amazonaws.com" for service in ("sns", "events", "s3", "ses", "iot", "logs", "codecommit", "config")
)

_ARN = re.compile(r"arn:[^:]*:(?P<service>[a-z0-9-]+):[^:]*:[^:]*:(?P<rest>.+)")


def as_bool(value: Any) -> bool | None:
    """A CloudFormation boolean (``true``, ``"true"``, ``"True"``); None when absent or not a literal."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def as_int(value: Any) -> int | None:
    """A CloudFormation number (``30``, ``"30"``); None when absent or not a literal."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        try:
            return int(float(value))
        except ValueError:
            return None
    return None


@dataclass(eq=False)
class Resource:
    """One resource of one template, as CloudFormation receives it."""

    template: Template
    logical_id: str
    type: str
    properties: dict[str, Any]
    metadata: dict[str, Any]

    @property
    def key(self) -> tuple[str, str]:
        """``(template path, logical id)``: unique across the app."""
        return (self.template.path, self.logical_id)

    def prop(self, *path: str) -> Any:
        """A nested property (``prop("RedrivePolicy", "deadLetterTargetArn")``), None when any step is missing."""
        value: Any = self.properties
        for step in path:
            if isinstance(value, str) and value.startswith("{"):
                try:  # a JSON-typed property written as a string (RedrivePolicy, DefinitionString, ...)
                    value = json.loads(value)
                except ValueError:
                    return None
            if not isinstance(value, dict):
                return None
            value = value.get(step)
        return value

    def __repr__(self) -> str:
        return f"Resource({self.template.name}/{self.logical_id} {self.type})"


@dataclass(eq=False)
class Template:
    """One synthesized template (a stack or a nested stack)."""

    path: str
    name: str
    body: dict[str, Any]
    resources: dict[str, Resource] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for logical_id, raw in (self.body.get("Resources") or {}).items():
            if isinstance(raw, dict):
                self.resources[logical_id] = Resource(
                    self, logical_id, str(raw.get("Type", "")), raw.get("Properties") or {}, raw.get("Metadata") or {}
                )

    @cached_property
    def exports(self) -> dict[str, Any]:
        """Export name -> the output's value (in this template's terms)."""
        out: dict[str, Any] = {}
        for output in (self.body.get("Outputs") or {}).values():
            name = (output.get("Export") or {}).get("Name") if isinstance(output, dict) else None
            if isinstance(name, str):
                out[name] = output.get("Value")
        return out


@dataclass(eq=False)
class SourceMapping:
    """An event source mapping with what it reads and what it invokes."""

    resource: Resource
    kind: str
    """``sqs``, ``kinesis``, ``dynamodb`` or ``other`` (Kafka, MQ, DocumentDB: not checked)."""
    source: Resource | None
    """The queue, stream or table (None when it lives outside the app: an imported ARN)."""
    function: Resource | None

    @property
    def batch_size(self) -> int | None:
        return as_int(self.resource.properties.get("BatchSize"))

    @property
    def batching_window(self) -> int:
        return as_int(self.resource.properties.get("MaximumBatchingWindowInSeconds")) or 0


@dataclass(eq=False)
class AsyncInvoker:
    """Something that invokes a function asynchronously, and how."""

    resource: Resource
    how: str
    """Plain words for the message: "SNS subscription", "EventBridge rule target", ..."""


class Model:
    """Every template of an app, with reference resolution and the indexes the rules share.

    :param templates: template path -> (display name, parsed template).
    """

    def __init__(self, templates: Mapping[str, tuple[str, dict[str, Any]]]) -> None:
        self.templates: dict[str, Template] = {
            path: Template(path, name, body) for path, (name, body) in templates.items()
        }
        self.paths: dict[tuple[str, str], str] = {}
        """``Resource.key`` -> construct path; filled by the pack from the construct tree (or ``aws:cdk:path``)."""
        for resource in self.all():
            cdk_path = resource.metadata.get("aws:cdk:path")
            if isinstance(cdk_path, str):
                self.paths[resource.key] = cdk_path

    @classmethod
    def from_files(cls, templates: Mapping[str, str | Path]) -> Model:
        """Load templates: display name -> file, plus the nested-stack templates next to them."""
        loaded: dict[str, tuple[str, dict[str, Any]]] = {}
        for name, file in templates.items():
            path = Path(file)
            loaded[str(path)] = (name, json.loads(path.read_text()))
            for nested in sorted(path.parent.glob("*.nested.template.json")):
                if str(nested) not in loaded:
                    loaded[str(nested)] = (
                        nested.name.removesuffix(".nested.template.json"),
                        json.loads(nested.read_text()),
                    )
        return cls(loaded)

    # -- lookups ------------------------------------------------------------------------------------------------

    def all(self, *types: str) -> Iterator[Resource]:
        """Every resource of the app (of these types, when given)."""
        for template in self.templates.values():
            for resource in template.resources.values():
                if not types or resource.type in types:
                    yield resource

    def display(self, resource: Resource | None) -> str:
        """How a message names a resource: its construct path, or ``stack/LogicalId`` before the tree is known."""
        if resource is None:
            return "(a resource outside this app)"
        return self.paths.get(resource.key) or f"{resource.template.name}/{resource.logical_id}"

    def refs(self, origin: Resource, value: Any) -> list[Resource]:
        """Every resource ``value`` (a property of ``origin``) references, in order, without repeats."""
        found: list[Resource] = []
        for target in self._refs(origin.template, value, depth=0):
            if target not in found:
                found.append(target)
        return found

    def resolve(self, origin: Resource, value: Any, *types: str) -> Resource | None:
        """The one resource (of these types) that ``value`` names: a reference, or a literal ARN of a named one."""
        candidates = [r for r in self.refs(origin, value) if not types or r.type in types]
        if len(candidates) == 1:
            return candidates[0]
        if not candidates and isinstance(value, str):
            return self._by_arn(value, types)
        return None

    def function_of(self, origin: Resource, value: Any) -> Resource | None:
        """The function ``value`` names, through an alias or a version (``FunctionName`` of either)."""
        target = self.resolve(origin, value, FUNCTION, ALIAS, VERSION)
        if target is not None and target.type in (ALIAS, VERSION):
            return self.resolve(target, target.properties.get("FunctionName"), FUNCTION)
        return target

    def literal_text(self, value: Any) -> str:
        """The literal strings inside ``value`` joined (what an ARN built by ``Fn::Join`` says about itself)."""
        if isinstance(value, str):
            return value
        if isinstance(value, list):
            return "".join(self.literal_text(v) for v in value)
        if isinstance(value, dict):
            return "".join(self.literal_text(v) for k, v in value.items() if k not in ("Ref", "Fn::GetAtt"))
        return ""

    def is_fifo(self, origin: Resource, value: Any) -> bool:
        """Whether ``value`` names a FIFO queue or topic (by the resource, or by a literal ``.fifo`` ARN)."""
        target = self.resolve(origin, value, QUEUE, TOPIC)
        if target is not None:
            flag = "FifoQueue" if target.type == QUEUE else "FifoTopic"
            name = target.properties.get("QueueName" if target.type == QUEUE else "TopicName")
            return bool(as_bool(target.properties.get(flag))) or (isinstance(name, str) and name.endswith(".fifo"))
        return self.literal_text(value).endswith(".fifo")

    # -- indexes ------------------------------------------------------------------------------------------------

    @cached_property
    def mappings(self) -> list[SourceMapping]:
        """Every event source mapping, with its source kind, source and function."""
        out = []
        for esm in self.all(ESM):
            arn = esm.properties.get("EventSourceArn")
            source = self.resolve(esm, arn, QUEUE, STREAM, STREAM_CONSUMER, TABLE, GLOBAL_TABLE)
            if source is not None and source.type == STREAM_CONSUMER:
                source = self.resolve(source, source.properties.get("StreamARN"), STREAM) or source
            kind = _kind(source.type if source is not None else None, self.literal_text(arn), esm.properties)
            out.append(SourceMapping(esm, kind, source, self.function_of(esm, esm.properties.get("FunctionName"))))
        return out

    def mapping(self, esm: Resource) -> SourceMapping | None:
        """The :class:`SourceMapping` of an ``AWS::Lambda::EventSourceMapping``."""
        return self._mapping_index.get(esm.key)

    @cached_property
    def _mapping_index(self) -> dict[tuple[str, str], SourceMapping]:
        return {m.resource.key: m for m in self.mappings}

    @staticmethod
    def timeout(function: Resource | None) -> int | None:
        """A function's timeout in seconds (Lambda's default: 3), None when it is not a literal."""
        if function is None:
            return None
        value = function.properties.get("Timeout")
        return 3 if value is None else as_int(value)

    def mappings_of(self, source: Resource) -> list[SourceMapping]:
        """The event source mappings that read ``source`` (a queue, stream or table)."""
        return [m for m in self.mappings if m.source is source]

    @cached_property
    def invoke_configs(self) -> dict[tuple[str, str], list[Resource]]:
        """Function key -> its ``AWS::Lambda::EventInvokeConfig`` s (any qualifier)."""
        out: dict[tuple[str, str], list[Resource]] = {}
        for config in self.all(INVOKE_CONFIG):
            function = self.function_of(config, config.properties.get("FunctionName"))
            if function is not None:
                out.setdefault(function.key, []).append(config)
        return out

    @cached_property
    def async_invokers(self) -> dict[tuple[str, str], list[AsyncInvoker]]:
        """Function key -> what invokes it asynchronously (SNS, EventBridge, S3, ``InvocationType: Event``, ...)."""
        out: dict[tuple[str, str], list[AsyncInvoker]] = {}

        def add(function: Resource | None, invoker: Resource, how: str) -> None:
            if function is not None and function.type == FUNCTION:
                entries = out.setdefault(function.key, [])
                if not any(e.resource is invoker for e in entries):
                    entries.append(AsyncInvoker(invoker, how))

        for sub in self.all(SUBSCRIPTION):
            if str(sub.properties.get("Protocol", "")).lower() == "lambda":
                add(self.function_of(sub, sub.properties.get("Endpoint")), sub, "SNS subscription")
        for rule in self.all(RULE):
            for target in _list(rule.properties.get("Targets")):
                add(self.function_of(rule, target.get("Arn")), rule, "EventBridge rule target")
        for notifications in self.all(BUCKET_NOTIFICATIONS):
            config = notifications.properties.get("NotificationConfiguration") or {}
            for entry in _list(config.get("LambdaFunctionConfigurations")):
                add(self.function_of(notifications, entry.get("LambdaFunctionArn")), notifications, "S3 notification")
        for bucket in self.all(BUCKET):
            for entry in _list(bucket.prop("NotificationConfiguration", "LambdaConfigurations")):
                add(self.function_of(bucket, entry.get("Function")), bucket, "S3 notification")
        for machine in self.all("AWS::StepFunctions::StateMachine"):
            for function_ref in self._event_invocations(machine):
                add(self.function_of(machine, function_ref), machine, "Step Functions task with InvocationType Event")
        for pipe in self.all("AWS::Pipes::Pipe"):
            invocation = pipe.prop("TargetParameters", "LambdaFunctionParameters", "InvocationType")
            if invocation == "FIRE_AND_FORGET":
                add(
                    self.function_of(pipe, pipe.properties.get("Target")),
                    pipe,
                    "EventBridge Pipes target (FIRE_AND_FORGET)",
                )
        for method in self.all("AWS::ApiGateway::Method"):
            parameters = method.prop("Integration", "RequestParameters") or {}
            if str(parameters.get("integration.request.header.X-Amz-Invocation-Type", "")).strip("'") == "Event":
                for referenced in self.refs(method, method.prop("Integration", "Uri")):
                    add(referenced, method, "API Gateway integration with X-Amz-Invocation-Type Event")
        # A permission for a service that invokes asynchronously, when nothing above names the function (a bucket or
        # topic outside the app, a grant_invoke to the service principal).
        for permission in self.all("AWS::Lambda::Permission"):
            principal = permission.properties.get("Principal")
            if not (isinstance(principal, str) and principal in ASYNC_PRINCIPALS):
                continue
            function = self.function_of(permission, permission.properties.get("FunctionName"))
            if function is not None and function.key not in out:
                add(function, permission, f"lambda:InvokeFunction permission for {principal}")
        return out

    @cached_property
    def subscriptions_by_endpoint(self) -> dict[tuple[str, str], list[Resource]]:
        """Queue or function key -> the SNS subscriptions that deliver to it."""
        out: dict[tuple[str, str], list[Resource]] = {}
        for sub in self.all(SUBSCRIPTION):
            endpoint = sub.properties.get("Endpoint")
            target = self.function_of(sub, endpoint) if str(sub.properties.get("Protocol")) == "lambda" else None
            target = target or self.resolve(sub, endpoint, QUEUE)
            if target is not None:
                out.setdefault(target.key, []).append(sub)
        return out

    def role_of(self, function: Resource) -> Resource | None:
        return self.resolve(function, function.properties.get("Role"), "AWS::IAM::Role")

    def statements(self, role: Resource) -> list[tuple[Resource, dict[str, Any]]]:
        """Every Allow statement that applies to ``role``: its inline policies and the policies that name it."""
        out: list[tuple[Resource, dict[str, Any]]] = []
        for policy in role.properties.get("Policies") or []:
            out.extend(
                (role, s) for s in _statements(policy.get("PolicyDocument") if isinstance(policy, dict) else None)
            )
        attached = self.refs(role, role.properties.get("ManagedPolicyArns"))
        for policy in self.all("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            if policy in attached or role in self.refs(policy, policy.properties.get("Roles")):
                out.extend((policy, s) for s in _statements(policy.properties.get("PolicyDocument")))
        return out

    def allows(self, role: Resource, actions: Iterable[str], target: Resource) -> bool:
        """Whether ``role`` may perform one of ``actions`` on ``target`` (named in the statement's Resource)."""
        wanted = [a.lower() for a in actions]
        for holder, statement in self.statements(role):
            granted = statement.get("Action")
            granted_list = [granted] if isinstance(granted, str) else granted if isinstance(granted, list) else []
            patterns = [str(g).lower() for g in granted_list]
            if not any(fnmatchcase(action, pattern) for action in wanted for pattern in patterns):
                continue
            if target in self.refs(holder, statement.get("Resource")):
                return True
        return False

    # -- internals ----------------------------------------------------------------------------------------------

    def _refs(self, template: Template, value: Any, depth: int) -> Iterator[Resource]:
        if depth > 20:
            return
        if isinstance(value, list):
            for item in value:
                yield from self._refs(template, item, depth + 1)
            return
        if not isinstance(value, dict):
            return
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref" and isinstance(arg, str):
                if arg in template.resources:
                    yield template.resources[arg]
                return
            if key == "Fn::GetAtt":
                name = arg[0] if isinstance(arg, list) and arg else arg.split(".", 1)[0] if isinstance(arg, str) else ""
                if isinstance(name, str) and name in template.resources:
                    yield template.resources[name]
                return
            if key == "Fn::ImportValue":
                if isinstance(arg, str):
                    for other in self.templates.values():
                        if arg in other.exports:
                            yield from self._refs(other, other.exports[arg], depth + 1)
                return
            if key == "Fn::Sub":
                text = arg[0] if isinstance(arg, list) and arg else arg
                if isinstance(text, str):
                    for name in re.findall(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}", text):
                        if name in template.resources:
                            yield template.resources[name]
                if isinstance(arg, list) and len(arg) > 1:
                    yield from self._refs(template, arg[1], depth + 1)
                return
        for item in value.values():
            yield from self._refs(template, item, depth + 1)

    def _by_arn(self, arn: str, types: tuple[str, ...]) -> Resource | None:
        """A named resource of this app from a literal ARN (``Queue.from_queue_arn`` of a queue with a QueueName)."""
        match = _ARN.fullmatch(arn)
        if match is None:
            return None
        service, rest = match["service"], match["rest"]
        wanted: tuple[str, str, str] | None = {
            "sqs": (QUEUE, "QueueName", rest),
            "sns": (TOPIC, "TopicName", rest),
            "lambda": (FUNCTION, "FunctionName", rest.removeprefix("function:").split(":", 1)[0]),
            "kinesis": (STREAM, "Name", rest.removeprefix("stream/").split("/", 1)[0]),
            "dynamodb": (TABLE, "TableName", rest.removeprefix("table/").split("/", 1)[0]),
        }.get(service)
        if wanted is None or (types and wanted[0] not in types):
            return None
        type_, prop, name = wanted
        named = [r for r in self.all(type_) if r.properties.get(prop) == name]
        return named[0] if len(named) == 1 else None

    def _event_invocations(self, machine: Resource) -> list[Any]:
        """``FunctionName`` of every ``lambda:invoke`` task of a state machine that sets ``InvocationType: Event``."""
        definition = machine.properties.get("Definition")
        placeholders: dict[str, Any] = {}
        if definition is None:
            text = _render(machine.properties.get("DefinitionString"), placeholders)
            if text is None:
                return []
            try:
                definition = json.loads(text)
            except ValueError:
                return []
        found: list[Any] = []
        for state in _states(definition):
            resource = str(state.get("Resource", ""))
            arguments = state.get("Parameters") or state.get("Arguments") or {}
            if (
                "lambda:invoke" in resource
                and isinstance(arguments, dict)
                and arguments.get("InvocationType") == "Event"
            ):
                function = arguments.get("FunctionName")
                tokens = re.findall(r"__eventweave_ref_\d+__", function) if isinstance(function, str) else []
                found.append(placeholders[tokens[0]] if tokens else function)
        return found


def _kind(source_type: str | None, arn_text: str, properties: Mapping[str, Any]) -> str:
    if source_type == QUEUE or ":sqs:" in arn_text:
        return "sqs"
    if source_type in (STREAM, STREAM_CONSUMER) or ":kinesis:" in arn_text:
        return "kinesis"
    if source_type in (TABLE, GLOBAL_TABLE) or (":dynamodb:" in arn_text and "/stream/" in arn_text):
        return "dynamodb"
    return "other"


def _list(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _statements(document: Any) -> list[dict[str, Any]]:
    if not isinstance(document, dict):
        return []
    statements = document.get("Statement")
    statements = [statements] if isinstance(statements, dict) else statements or []
    return [s for s in statements if isinstance(s, dict) and s.get("Effect", "Allow") == "Allow"]


def _render(value: Any, placeholders: dict[str, Any]) -> str | None:
    """A ``Fn::Join`` of literal strings and references as one string, each reference replaced by a placeholder."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        rendered = []
        for part in parts:
            if isinstance(part, str):
                rendered.append(part)
            else:
                token = f"__eventweave_ref_{len(placeholders)}__"
                placeholders[token] = part
                rendered.append(token)
        return str(separator).join(rendered)
    return None


def _states(definition: Any) -> Iterator[dict[str, Any]]:
    """Every state of a state machine definition, branches and map iterators included."""
    if not isinstance(definition, dict):
        return
    for state in (definition.get("States") or {}).values():
        if not isinstance(state, dict):
            continue
        yield state
        for branch in state.get("Branches") or []:
            yield from _states(branch)
        for key in ("Iterator", "ItemProcessor"):
            yield from _states(state.get(key))

"""Deploy a synthesized stack into the local cloud: data-plane resources into moto, Lambda resources into records.

The template is *not* handed to moto's CloudFormation: that silently skips ``AWS::SNS::Subscription``,
``AWS::SQS::QueuePolicy`` and ``AWS::Lambda::EventInvokeConfig``, would register event source mappings in moto
(which fire synchronously, batch size 1), cannot create functions whose code lives in the CDK assets bucket, and
answers ``Ref`` on an event bus with a Python repr. The deployer walks the template itself instead: resources in
dependency order, intrinsics evaluated, each resource created by the provisioner registered for its type
(:mod:`eventweave.local.provisioners`, one module per service, extensible with
:func:`~eventweave.local.provisioners.register`): through boto3 against moto, or recorded for eventweave's own
runtime (functions, mappings, async configs, URLs, schedules, bucket notifications). Deliveries moto cannot make
(SNS or EventBridge to Lambda, EventBridge to SNS, S3 notifications) go to an internal relay queue, so moto still
does the filter-policy, event-pattern and key-filter matching, and eventweave's relays make the delivery.

Before anything is created the whole template is checked, as AWS's control plane would check each call
(``CreateFunction``, ``CreateEventSourceMapping``, ``PutFunctionEventInvokeConfig``, ``PutRule`` / ``PutTargets``,
...): every problem is reported at once, naming the stack, the resource, its type and AWS's error code and message,
in a :class:`DeployValidationError`, and nothing is created.

A resource type with no provisioner fails that check, naming the resource; nothing is skipped silently. With
``skip_unsupported`` (``--skip-unsupported TYPE``; patterns like ``AWS::EC2::*`` allowed) those resources, and the
ones that refer to them, are left out instead and listed in :attr:`Deployment.skipped`.
"""

from __future__ import annotations

import contextlib
import fnmatch
import secrets
import string
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .assembly import StackArtifact
from .aws import client
from .intrinsics import Resolver, TemplateError, dependencies
from .model import (
    AsyncConfig,
    BucketNotificationSpec,
    EventSourceMappingSpec,
    FunctionSpec,
    FunctionUrlSpec,
    PushTarget,
    ScheduleSpec,
)
from .provisioners import Planned, Retained, lookup

__all__ = [
    "NO_OP_TYPES",
    "DeployError",
    "DeployValidationError",
    "Deployer",
    "Deployment",
    "ResourceIssue",
    "ResourceNote",
]

NO_OP_TYPES = {
    "AWS::CDK::Metadata": "CDK's analytics metadata; nothing to create",
    "AWS::Lambda::Permission": "resource policies are not enforced locally; every configured source may invoke",
    "AWS::Lambda::LayerVersionPermission": "layer permissions are not enforced locally",
}
"""Types the local cloud records but does not create, each with its reason."""

_ALPHABET = string.ascii_uppercase + string.digits
_GONE = ("NonExistent", "NotFound", "NoSuch", "does not exist")


class DeployError(RuntimeError):
    """A stack cannot be deployed locally; the message names the resource and what to do."""


@dataclass(frozen=True)
class ResourceIssue:
    """One reason a stack cannot be deployed: the resource, its type, and AWS's error code and message (``code``
    is ``None`` for a limit of the local cloud rather than an AWS rule)."""

    stack: str
    logical_id: str
    type: str
    message: str
    code: str | None = None

    def __str__(self) -> str:
        error = f"{self.code}: {self.message}" if self.code else self.message
        return f"{self.logical_id} ({self.type}): {error}"


class DeployValidationError(DeployError):
    """The template fails the control plane's checks; nothing was created. ``issues`` lists every problem."""

    def __init__(self, stack: str, issues: list[ResourceIssue]) -> None:
        self.stack = stack
        self.issues = issues
        count = len(issues)
        lines = "\n".join(f"  {issue}" for issue in issues)
        super().__init__(
            f"stack {stack}: {count} resource{'s' if count != 1 else ''} cannot be deployed; "
            f"nothing was created:\n{lines}"
        )


@dataclass(frozen=True)
class ResourceNote:
    """A resource left out of a deployment (skipped) or left in place by a destroy (retained), and why."""

    logical_id: str
    type: str
    reason: str

    def __str__(self) -> str:
        return f"{self.logical_id} ({self.type}): {self.reason}"


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
    stack_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    skipped: list[ResourceNote] = field(default_factory=list)
    """Resources (and outputs) left out by ``skip_unsupported``: the unsupported ones and those referring to them."""
    retained: list[ResourceNote] = field(default_factory=list)
    """Resources a destroy left in place, as CloudFormation would (a bucket holding objects with
    ``DeletionPolicy: Retain``)."""
    nested: dict[str, Deployment] = field(default_factory=dict)
    """Logical id of each ``AWS::CloudFormation::Stack`` -> the nested stack's deployment. Its functions, mappings,
    relays and schedules are also in this deployment's lists, so the runtime runs them with the parent's."""
    bucket_notifications: list[BucketNotificationSpec] = field(default_factory=list)
    schedules: list[ScheduleSpec] = field(default_factory=list)
    layers: dict[str, Path] = field(default_factory=dict)
    """Layer version ARN -> its directory in the cloud assembly."""
    versions: dict[str, int] = field(default_factory=dict)
    """Function name -> how many versions the stack published."""


class Deployer:
    """Creates and deletes the resources of stacks in the local data plane.

    ``skip_unsupported``: resource types (``fnmatch`` patterns) to leave out, with what refers to them, instead of
    refusing the stack; listed in :attr:`Deployment.skipped`.

    Example::

        deployer = Deployer(endpoint_url="http://127.0.0.1:4566", skip_unsupported=["AWS::EC2::*"])
        deployment = deployer.deploy(CloudAssembly.load("cdk.out").stack("Orders"), stack_name="orders-test-1")
        deployment.skipped   # [ResourceNote('Vpc8378EB38', 'AWS::EC2::VPC', 'AWS::EC2::VPC is not supported ...')]
        deployer.destroy(deployment)
    """

    def __init__(
        self,
        *,
        endpoint_url: str,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        skip_unsupported: Iterable[str] = (),
    ) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self.account_id = account_id
        self.skip_unsupported = tuple(skip_unsupported)
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = client(service, self.endpoint_url, self.region)
        return self._clients[service]

    def validate(
        self, stack: StackArtifact, *, stack_name: str | None = None, skip_unsupported: Iterable[str] | None = None
    ) -> list[ResourceIssue]:
        """Every reason ``stack`` cannot be deployed (``[]`` when it can); creates nothing."""
        run = _Run(self, stack, stack_name or stack.name, skip=self._skip(skip_unsupported))
        return run.issues()

    def deploy(
        self, stack: StackArtifact, *, stack_name: str | None = None, skip_unsupported: Iterable[str] | None = None
    ) -> Deployment:
        """Check the whole stack, then create every resource (in dependency order) and return what was deployed.

        Raises :class:`DeployValidationError` (nothing created) when the template fails the checks, and
        :class:`DeployError` when creating a resource fails (what was created is deleted again).
        """
        started = time.monotonic()
        name = stack_name or stack.name
        run = _Run(self, stack, name, skip=self._skip(skip_unsupported))
        issues = run.issues()
        if issues:
            raise DeployValidationError(name, issues)
        try:
            run.deploy_all()
        except BaseException:
            with contextlib.suppress(DeployError):  # the failure that stopped the deploy is the one to report
                self.destroy(run.deployment)
            raise
        run.deployment.seconds = time.monotonic() - started
        return run.deployment

    def destroy(self, deployment: Deployment) -> None:
        """Delete what ``deployment`` created, newest first; resources already gone are fine.

        A resource that cannot be deleted does not stop the others: the destroy goes on and raises
        :class:`DeployError` at the end, naming each one.
        """
        failures: list[str] = []
        for kind, logical in reversed(deployment.created):
            provisioner = lookup(kind)
            if provisioner is None or provisioner.delete is None:
                continue
            try:
                provisioner.delete(self, deployment.resources.get(logical), deployment.attributes.get(logical, {}))
            except Retained as kept:
                deployment.retained.append(ResourceNote(logical, kind, str(kept)))
            except Exception as error:
                if not any(marker in str(error) for marker in _GONE):
                    failures.append(f"could not delete {logical} ({kind}): {error}")
        for url in deployment.relay_queues:
            with contextlib.suppress(Exception):  # a relay queue already gone is what destroy wants
                self.client("sqs").delete_queue(QueueUrl=url)
        deployment.created.clear()
        if failures:
            raise DeployError(f"stack {deployment.stack_name}: " + "; ".join(failures))

    def _skip(self, override: Iterable[str] | None) -> tuple[str, ...]:
        return tuple(override) if override is not None else self.skip_unsupported


class _Run:
    """One deployment in progress (the provisioners' :class:`~eventweave.local.provisioners.DeployContext`)."""

    def __init__(
        self,
        deployer: Deployer,
        stack: StackArtifact,
        name: str,
        *,
        skip: tuple[str, ...] = (),
        parameters: Mapping[str, Any] | None = None,
        layers: dict[str, Path] | None = None,
    ) -> None:
        self.deployer = deployer
        self.stack = stack
        self.name = name
        self.region = deployer.region
        self.account = deployer.account_id
        self.skip_patterns = skip
        self.deployment = Deployment(stack_name=name)
        if layers is not None:
            self.deployment.layers = layers
        template = stack.template
        self.resources: dict[str, Any] = template.get("Resources") or {}
        self.refs: dict[str, Any] = {}
        for param, spec in (template.get("Parameters") or {}).items():
            self.refs[param] = self._parameter(param, spec or {}, parameters)
        self.resolver = self.new_resolver(self.refs, self.deployment.attributes)
        self.active: set[str] = set()
        self.skip: dict[str, str] = {}
        self.provider_functions: frozenset[str] = frozenset()

    def new_resolver(self, refs: dict[str, Any], attrs: Mapping[str, Mapping[str, Any]], **extra: Any) -> Resolver:
        template = self.stack.template
        return Resolver(
            refs=refs,
            attrs=attrs,
            region=self.region,
            account_id=self.account,
            stack_name=self.name,
            stack_id=f"arn:aws:cloudformation:{self.region}:{self.account}:stack/{self.name}/{self.deployment.stack_id}",
            conditions=template.get("Conditions"),
            mappings=template.get("Mappings"),
            **extra,
        )

    def _parameter(self, param: str, spec: Mapping[str, Any], given: Mapping[str, Any] | None) -> Any:
        supplied = given is not None and param in given
        if supplied:
            value = given[param]  # type: ignore[index]
        elif "BootstrapVersion" in param:
            return "6"
        else:
            value = spec.get("Default", "")
        kind = str(spec.get("Type", "String"))
        if kind.startswith("AWS::SSM::Parameter::Value<") and not supplied:
            with contextlib.suppress(Exception):  # not in the local cloud: the parameter's default, as before
                value = self.client("ssm").get_parameter(Name=str(value))["Parameter"]["Value"]
        if (kind == "CommaDelimitedList" or kind.startswith("List<")) and isinstance(value, str):
            return value.split(",") if value else []
        return value

    # -- what provisioners use (DeployContext) ---------------------------------------------------------------------

    def client(self, service: str) -> Any:
        return self.deployer.client(service)

    def physical_name(self, logical: str, limit: int, suffix: str = "") -> str:
        rand = "".join(secrets.choice(_ALPHABET) for _ in range(12))
        room = limit - len(suffix) - len(rand) - 2
        stem = f"{self.name}-{logical}"[: max(1, room)]
        return f"{stem}-{rand}{suffix}"

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"

    def resource(self, logical: str) -> Mapping[str, Any]:
        entry: Mapping[str, Any] = self.resources.get(logical) or {}
        return entry

    def relay_queue(self, logical: str) -> tuple[str, str]:
        name = f"eventweave-relay-{uuid.uuid4().hex[:20]}"
        url: str = self.client("sqs").create_queue(QueueName=name, Attributes={"VisibilityTimeout": "5"})["QueueUrl"]
        arn = self.arn("sqs", name)
        self.deployment.relay_queues.append(url)
        return url, arn

    def deploy_nested(
        self, logical: str, template: dict[str, Any], template_path: Path, parameters: Mapping[str, Any]
    ) -> Deployment:
        artifact = StackArtifact(
            id=logical,
            name=logical,
            template=template,
            template_path=template_path,
            root=self.stack.root,
            assets=self.stack.assets,
        )
        child = _Run(
            self.deployer,
            artifact,
            self.physical_name(logical, 128),
            skip=self.skip_patterns,
            parameters=parameters,
            layers=self.deployment.layers,
        )
        issues = child.issues()
        if issues:
            raise DeployValidationError(child.name, issues)
        try:
            child.deploy_all()
        except BaseException:
            with contextlib.suppress(DeployError):  # the failure that stopped the deploy is the one to report
                self.deployer.destroy(child.deployment)
            raise
        nested = child.deployment
        mine = self.deployment
        mine.functions.extend(nested.functions)
        mine.mappings.extend(nested.mappings)
        mine.async_configs.update(nested.async_configs)
        mine.push_targets.extend(nested.push_targets)
        mine.urls.extend(nested.urls)
        mine.bucket_notifications.extend(nested.bucket_notifications)
        mine.schedules.extend(nested.schedules)
        mine.skipped.extend(ResourceNote(f"{logical}/{n.logical_id}", n.type, n.reason) for n in nested.skipped)
        mine.nested[logical] = nested
        return nested

    # -- checking --------------------------------------------------------------------------------------------------

    def prepare(self) -> list[ResourceIssue]:
        """Work out which resources are deployed, skipped, or only serve as a native custom resource's provider;
        the unsupported types that are not skipped come back as issues."""
        issues: list[ResourceIssue] = []
        order = _order(self.resources)
        self.active = set()
        for logical in order:
            resource = self.resources[logical]
            condition = resource.get("Condition")
            try:
                holds = condition is None or self.resolver.condition(condition)
            except TemplateError as error:
                raise DeployError(f"stack {self.name}: {error}") from None
            if holds:
                self.active.add(logical)
        self.skip = {}
        for logical in order:
            if logical not in self.active:
                continue
            kind = str(self.resources[logical].get("Type"))
            if kind in NO_OP_TYPES or lookup(kind) is not None:
                continue
            if any(fnmatch.fnmatchcase(kind, pattern) for pattern in self.skip_patterns):
                self.skip[logical] = f"{kind} is not supported by the local cloud (skip_unsupported)"
                continue
            issues.append(
                ResourceIssue(
                    self.name,
                    logical,
                    kind,
                    "the local cloud cannot deploy this type. Skip it (skip_unsupported / --skip-unsupported "
                    f"{kind}), register a provisioner for it (eventweave.local.provisioners.register), or deploy "
                    "the stack to AWS (or LocalStack)",
                )
            )
        for logical in order:
            if logical not in self.active or logical in self.skip:
                continue
            resource = self.resources[logical]
            refers = dependencies(resource.get("Properties") or {}) & set(self.skip)
            if refers:
                self.skip[logical] = f"refers to skipped {', '.join(sorted(refers))}"
        native: set[str] = set()
        other: set[str] = set()
        for logical in self.active:
            resource = self.resources[logical]
            kind = str(resource.get("Type"))
            if not (kind.startswith("Custom::") or kind == "AWS::CloudFormation::CustomResource"):
                continue
            token = dependencies((resource.get("Properties") or {}).get("ServiceToken"))
            provisioner = lookup(kind)
            (native if provisioner is not None and provisioner.native_service_token else other).update(token)
        self.provider_functions = frozenset(
            logical
            for logical in native - other
            if logical in self.resources and self.resources[logical].get("Type") == "AWS::Lambda::Function"
        )
        return issues

    def issues(self) -> list[ResourceIssue]:
        """Every reason the stack cannot be deployed: unsupported types, then each resource's validation."""
        found = self.prepare()
        plan = _Plan(self)
        return found + plan.issues()

    # -- deploying -------------------------------------------------------------------------------------------------

    def deploy_all(self) -> None:
        if not self.active and self.resources:
            self.prepare()
        for logical in _order(self.resources):
            if logical not in self.active:
                continue
            resource = self.resources[logical]
            kind = resource["Type"]
            if logical in self.skip:
                self.deployment.skipped.append(ResourceNote(logical, kind, self.skip[logical]))
                continue
            self.deployment.types[logical] = kind
            if kind in NO_OP_TYPES:
                self.refs[logical] = f"{self.name}-{logical}"
                self.deployment.resources[logical] = self.refs[logical]
                continue
            provisioner = lookup(kind)
            if provisioner is None:
                raise DeployError(f"stack {self.name}: {logical} ({kind}): no provisioner is registered for the type")
            try:
                props = self.resolver.resolve(resource.get("Properties") or {}, f"{logical}.Properties")
                ref, attrs = provisioner.create(self, logical, props)
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
            refers = dependencies(output) & set(self.skip)
            if refers:
                reason = f"refers to skipped {', '.join(sorted(refers))}"
                self.deployment.skipped.append(ResourceNote(f"Outputs.{key}", "Output", reason))
                continue
            self.deployment.outputs[key] = self.resolver.resolve(output["Value"], f"Outputs.{key}")


class _Plan:
    """The stack before it is deployed: every resource's properties resolved against its provisioner's placeholder
    values (the provisioners' :class:`~eventweave.local.provisioners.PlanContext`)."""

    def __init__(self, run: _Run) -> None:
        self.run = run
        self.name = run.name
        self.region = run.region
        self.account = run.account
        self.stack = run.stack
        self.provider_functions = run.provider_functions
        self.refs: dict[str, Any] = dict(run.refs)
        self.attrs: dict[str, dict[str, Any]] = {}
        self.planned: dict[str, Planned] = {}
        self._index: dict[str, list[str]] = {}
        self.resolver = run.new_resolver(self.refs, self.attrs, attribute_fallback=self._fallback)
        self._build()

    def _fallback(self, target: str, attribute: str) -> Any:
        return f"{self.name}-{target}.{attribute}" if target in self.run.resources else None

    def _build(self) -> None:
        run = self.run
        for logical in _order(run.resources):
            if logical not in run.active or logical in run.skip:
                continue
            kind = str(run.resources[logical].get("Type"))
            props: dict[str, Any] | None
            try:
                props = self.resolver.resolve(run.resources[logical].get("Properties") or {}, logical)
            except Exception:  # an import, an attribute only known once created: its own checks are skipped
                props = None
            ref: Any = f"{self.name}-{logical}"
            attrs: dict[str, Any] = {}
            provisioner = lookup(kind)
            if props is not None and provisioner is not None and provisioner.placeholder is not None:
                with contextlib.suppress(Exception):  # a property shape the placeholder does not know
                    ref, attrs = provisioner.placeholder(self, logical, props)
            self.refs[logical] = ref
            self.attrs[logical] = dict(attrs)
            self.planned[logical] = Planned(logical, kind, props, ref, dict(attrs))
            for value in (ref, *attrs.values()):
                if isinstance(value, str):
                    self._index.setdefault(value, []).append(logical)

    def find(self, value: Any, *types: str) -> Planned | None:
        if not isinstance(value, str):
            return None
        for logical in self._index.get(value, []):
            planned = self.planned[logical]
            if not types or planned.type in types:
                return planned
        return None

    def resource(self, logical: str) -> Mapping[str, Any]:
        return self.run.resource(logical)

    def nested(self, logical: str, template: dict[str, Any], parameters: Mapping[str, Any]) -> list[str]:
        artifact = StackArtifact(
            id=logical,
            name=logical,
            template=template,
            template_path=self.stack.template_path,
            root=self.stack.root,
            assets=self.stack.assets,
        )
        child = _Run(
            self.run.deployer, artifact, f"{self.name}-{logical}", skip=self.run.skip_patterns, parameters=parameters
        )
        try:
            return [str(issue) for issue in child.issues()]
        except DeployError as error:
            return [str(error)]

    def issues(self) -> list[ResourceIssue]:
        found: list[ResourceIssue] = []
        for logical, planned in self.planned.items():
            provisioner = lookup(planned.type)
            if provisioner is None or provisioner.validate is None or planned.props is None:
                continue
            try:
                problems = list(provisioner.validate(self, logical, dict(planned.props)))
            except Exception:  # noqa: S112 - a shape the check does not know: creating it will say what is wrong
                continue
            found.extend(
                ResourceIssue(self.name, logical, planned.type, problem.message, problem.code) for problem in problems
            )
        return found


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

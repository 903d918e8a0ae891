"""The provisioner registry's core: what a provisioner is, what it is handed, and the registry itself.

A provisioner turns one CloudFormation resource type into something in the local cloud: ``create`` makes it (in
moto, or as a record for eventweave's runtime) and returns its ``Ref`` value and its ``Fn::GetAtt`` attributes;
``delete`` removes it again; ``validate`` checks its properties before anything of the stack is created, with the
control plane's error code and message; ``placeholder`` predicts its ``Ref`` / attributes for that check, so one
resource's validation can look at another (an event source mapping at its queue's visibility timeout).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..assembly import StackArtifact
    from ..deployer import Deployment

__all__ = [
    "Clients",
    "Constraints",
    "DeployContext",
    "Issue",
    "PlanContext",
    "Planned",
    "Provisioner",
    "Retained",
    "lookup",
    "register",
    "registered_types",
    "unregister",
]


@dataclass(frozen=True)
class Issue:
    """One reason a resource cannot be deployed: AWS's error ``code`` and ``message`` (``code`` is ``None`` for a
    limit of the local cloud rather than an AWS rule)."""

    message: str
    code: str | None = None

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.code else self.message


class Constraints:
    """Collects API member-constraint violations into one ``ValidationException``, worded as AWS's APIs word them.

    Example::

        checks = Constraints()
        checks.at_most(props.get("Timeout"), "timeout", 900)
        yield from checks.issues()   # "1 validation error detected: Value '3000' at 'timeout' failed to satisfy ..."
    """

    def __init__(self) -> None:
        self.errors: list[str] = []

    def _fail(self, value: Any, member: str, constraint: str) -> None:
        shown = "null" if value is None else f"'{value}'"
        self.errors.append(f"Value {shown} at '{member}' failed to satisfy constraint: {constraint}")

    def between(self, value: Any, member: str, low: int | None, high: int | None) -> None:
        """``low <= value <= high`` (either bound optional); absent values pass."""
        if value is None:
            return
        number = as_int(value)
        if number is None:
            self._fail(value, member, "Member must be an integer")
            return
        if low is not None and number < low:
            self._fail(number, member, f"Member must have value greater than or equal to {low}")
        elif high is not None and number > high:
            self._fail(number, member, f"Member must have value less than or equal to {high}")

    def at_most(self, value: Any, member: str, high: int) -> None:
        self.between(value, member, None, high)

    def one_of(self, value: Any, member: str, allowed: Iterable[str]) -> None:
        options = list(allowed)
        if value is not None and str(value) not in options:
            self._fail(value, member, f"Member must satisfy enum value set: [{', '.join(options)}]")

    def longest(self, value: Any, member: str, high: int) -> None:
        self.length(value, member, None, high)

    def length(self, value: Any, member: str, low: int | None, high: int | None) -> None:
        """``low <= len(value) <= high``; absent values pass."""
        if value is None:
            return
        size = len(str(value))
        if low is not None and size < low:
            self._fail(value, member, f"Member must have length greater than or equal to {low}")
        elif high is not None and size > high:
            self._fail(value, member, f"Member must have length less than or equal to {high}")

    def issues(self) -> list[Issue]:
        """The one ``ValidationException`` (or nothing)."""
        if not self.errors:
            return []
        count = len(self.errors)
        head = f"{count} validation error{'s' if count > 1 else ''} detected: "
        return [Issue(head + "; ".join(self.errors), "ValidationException")]


def as_int(value: Any) -> int | None:
    """``value`` as an int (CloudFormation passes numbers as numbers or strings); ``None`` if it is not one."""
    if isinstance(value, bool):
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


class Retained(Exception):  # noqa: N818 - a signal, not an error
    """Raised by ``delete`` to leave a resource in place; the destroy lists it in ``Deployment.retained``."""


class DeployContext(Protocol):
    """What ``create`` is handed: the stack being deployed (one per deployment)."""

    name: str
    """The stack's name."""
    region: str
    account: str
    stack: StackArtifact
    deployment: Deployment
    provider_functions: frozenset[str]
    """Logical ids of the ``AWS::Lambda::Function`` resources that only serve custom resources the local cloud
    handles natively (CDK's bucket-notification, auto-delete and log-retention providers): recorded, never run."""

    def client(self, service: str) -> Any: ...

    def physical_name(self, logical: str, limit: int, suffix: str = "") -> str: ...

    def arn(self, service: str, resource: str) -> str: ...

    def relay_queue(self, logical: str) -> tuple[str, str]:
        """An internal SQS queue (URL, ARN) for deliveries moto cannot make; deleted with the stack."""
        ...

    def resource(self, logical: str) -> Mapping[str, Any]:
        """The template's entry for ``logical`` (``Type``, ``Properties``, ``Metadata``, ``DeletionPolicy``...)."""
        ...

    def deploy_nested(
        self, logical: str, template: dict[str, Any], template_path: Path, parameters: Mapping[str, Any]
    ) -> Deployment:
        """Deploy a nested stack's template as a child of this stack; its runtime records join this deployment."""
        ...


class Clients(Protocol):
    """What ``delete`` is handed (the :class:`~eventweave.local.deployer.Deployer`)."""

    def client(self, service: str) -> Any: ...

    def destroy(self, deployment: Deployment) -> None: ...


@dataclass(frozen=True)
class Planned:
    """A resource of the stack as the pre-deploy check sees it: properties resolved against placeholders."""

    logical_id: str
    type: str
    props: Mapping[str, Any] | None
    """``None`` when the properties could not be resolved before deploying (an import, an unknown attribute)."""
    ref: Any
    attrs: Mapping[str, Any] = field(default_factory=dict)


class PlanContext(Protocol):
    """What ``validate`` and ``placeholder`` are handed: the whole stack, planned, before anything is created."""

    name: str
    region: str
    account: str
    stack: StackArtifact
    provider_functions: frozenset[str]

    def find(self, value: Any, *types: str) -> Planned | None:
        """The resource of the stack (of one of ``types``) whose placeholder ``Ref`` or attribute is ``value``."""
        ...

    def resource(self, logical: str) -> Mapping[str, Any]: ...

    def nested(self, logical: str, template: dict[str, Any], parameters: Mapping[str, Any]) -> list[str]:
        """Validate a nested stack's template; one line per issue."""
        ...


Create = Callable[[DeployContext, str, dict[str, Any]], tuple[Any, dict[str, Any]]]
Delete = Callable[[Clients, Any, dict[str, Any]], None]
Validate = Callable[[PlanContext, str, dict[str, Any]], Iterable[Issue]]
Placeholder = Callable[[PlanContext, str, dict[str, Any]], tuple[Any, dict[str, Any]]]


@dataclass(frozen=True)
class Provisioner:
    """How the local cloud deploys one resource type.

    ``create(ctx, logical_id, props) -> (ref, attributes)``: ``props`` has every intrinsic evaluated; ``ref`` is what
    ``Ref`` returns, ``attributes`` what ``Fn::GetAtt`` returns (keys starting with ``_`` are private to ``delete``).
    ``delete(clients, ref, attributes)``: remove it; "not found" errors are ignored by the caller.
    ``validate(plan, logical_id, props)``: the :class:`Issue` s that would make AWS refuse it.
    ``placeholder(plan, logical_id, props) -> (ref, attributes)``: what ``create`` will return, predicted (names
    may differ), for other resources' validation. ``native_service_token``: for a ``Custom::`` type the local cloud
    implements itself, the Lambda function named by its ``ServiceToken`` is recorded but never run.
    """

    create: Create
    delete: Delete | None = None
    validate: Validate | None = None
    placeholder: Placeholder | None = None
    native_service_token: bool = False


_REGISTRY: dict[str, Provisioner] = {}
_LOCK = threading.Lock()


def register(type_name: str, provisioner: Provisioner) -> Provisioner | None:
    """Deploy ``type_name`` resources with ``provisioner`` from now on (in this process); return the one it replaces.

    Example::

        register("Custom::Greeting", Provisioner(create=lambda ctx, logical, props: (f"hello-{logical}", {})))
    """
    with _LOCK:
        previous = _REGISTRY.get(type_name)
        _REGISTRY[type_name] = provisioner
    return previous


def unregister(type_name: str) -> Provisioner | None:
    """Forget the provisioner of ``type_name`` (a template holding one then fails as unsupported); return it."""
    with _LOCK:
        return _REGISTRY.pop(type_name, None)


def lookup(type_name: str) -> Provisioner | None:
    """The provisioner of ``type_name``, or ``None``."""
    with _LOCK:
        return _REGISTRY.get(type_name)


def registered_types() -> list[str]:
    """Every resource type with a provisioner, sorted."""
    with _LOCK:
        return sorted(_REGISTRY)

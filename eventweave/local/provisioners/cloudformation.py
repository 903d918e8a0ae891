"""CloudFormation: nested stacks (``AWS::CloudFormation::Stack``, CDK's ``NestedStack``).

The nested template is read from the cloud assembly (the asset its ``TemplateURL`` names) and deployed as a child
of the stack: its parameters from the resource's ``Parameters``, its outputs as ``Fn::GetAtt`` ``Outputs.<name>``.
Its functions, mappings, relays and schedules run with the parent's; destroying the parent destroys it first. It is
validated with the parent, before anything is created.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..assembly import StackArtifact
from .base import Clients, DeployContext, Issue, PlanContext, Provisioner, register

__all__ = ["nested_template"]


def nested_template(stack: StackArtifact, props: dict[str, Any]) -> tuple[dict[str, Any], Path]:
    """The nested stack's template (and its file) from the assembly, by the asset key ``TemplateURL`` ends with."""
    url = str(props.get("TemplateURL", ""))
    key = url.rsplit("/", 1)[-1]
    path = stack.assets.get(key)
    if path is None and key:
        candidate = stack.root / key
        path = candidate if candidate.is_file() else None
    if path is None or not path.is_file():
        raise LookupError(f"the nested template {url or '(no TemplateURL)'} is not an asset of this cloud assembly")
    template: dict[str, Any] = json.loads(path.read_text())
    return template, path


def _parameters(props: dict[str, Any]) -> dict[str, Any]:
    return {str(k): v for k, v in (props.get("Parameters") or {}).items()}


def _stack(ctx: DeployContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    template, path = nested_template(ctx.stack, props)
    child = ctx.deploy_nested(logical, template, path, _parameters(props))
    stack_id = f"arn:aws:cloudformation:{ctx.region}:{ctx.account}:stack/{child.stack_name}/{child.stack_id}"
    attrs: dict[str, Any] = {f"Outputs.{key}": value for key, value in child.outputs.items()}
    attrs["_deployment"] = child
    return stack_id, attrs


def _placeholder(plan: PlanContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    return f"arn:aws:cloudformation:{plan.region}:{plan.account}:stack/{plan.name}-{logical}/placeholder", {}


def _validate(plan: PlanContext, logical: str, props: dict[str, Any]) -> Iterator[Issue]:
    try:
        template, _ = nested_template(plan.stack, props)
    except (LookupError, ValueError) as error:
        yield Issue(str(error))
        return
    for line in plan.nested(logical, template, _parameters(props)):
        yield Issue(f"in the nested stack: {line}")


def _delete(clients: Clients, ref: Any, attrs: dict[str, Any]) -> None:
    child = attrs.get("_deployment")
    if child is not None:
        clients.destroy(child)


register(
    "AWS::CloudFormation::Stack",
    Provisioner(create=_stack, delete=_delete, validate=_validate, placeholder=_placeholder),
)

"""SSM Parameter Store: ``AWS::SSM::Parameter`` (``String`` / ``StringList``), created in moto."""

from __future__ import annotations

from typing import Any

from .base import Clients, DeployContext, PlanContext, Provisioner, register

__all__: list[str] = []


def _parameter(ctx: DeployContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = str(props.get("Name") or f"CFN-{ctx.physical_name(logical, 2048)}")
    kind = str(props.get("Type", "String"))
    value = props["Value"]
    if kind == "StringList" and isinstance(value, list):
        value = ",".join(str(v) for v in value)
    args: dict[str, Any] = {"Name": name, "Value": str(value), "Type": kind}
    for key in ("Description", "AllowedPattern", "Tier", "DataType"):
        if props.get(key):
            args[key] = str(props[key])
    if props.get("Policies"):
        args["Policies"] = str(props["Policies"])
    ssm = ctx.client("ssm")
    ssm.put_parameter(**args)
    tags = props.get("Tags")
    if isinstance(tags, dict) and tags:
        ssm.add_tags_to_resource(
            ResourceType="Parameter", ResourceId=name, Tags=[{"Key": k, "Value": str(v)} for k, v in tags.items()]
        )
    return name, {"Type": kind, "Value": str(value)}


def _placeholder(plan: PlanContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = str(props.get("Name") or f"CFN-{plan.name}-{logical}")
    return name, {"Type": str(props.get("Type", "String")), "Value": str(props.get("Value", ""))}


def _delete_parameter(clients: Clients, ref: Any, attrs: dict[str, Any]) -> None:
    clients.client("ssm").delete_parameter(Name=ref)


register("AWS::SSM::Parameter", Provisioner(create=_parameter, delete=_delete_parameter, placeholder=_placeholder))

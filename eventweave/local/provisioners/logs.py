"""CloudWatch Logs: log groups, and CDK's ``Custom::LogRetention`` done natively.

``Custom::LogRetention`` (a function's ``log_retention``) sets the retention of the named log group, creating the
group first if it does not exist, as CDK's provider does; its provider function is recorded, never run. On destroy
the retention stays and the group is kept, as CDK's provider keeps it, unless the resource says
``RemovalPolicy: destroy``.
"""

from __future__ import annotations

from typing import Any

from .base import Clients, DeployContext, Provisioner, register

__all__: list[str] = []


def _log_group(ctx: DeployContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = props.get("LogGroupName") or ctx.physical_name(logical, 512)
    logs = ctx.client("logs")
    logs.create_log_group(logGroupName=name)
    if "RetentionInDays" in props:
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(props["RetentionInDays"]))
    return name, {"Arn": ctx.arn("logs", f"log-group:{name}:*")}


def _delete_log_group(clients: Clients, ref: Any, attrs: dict[str, Any]) -> None:
    clients.client("logs").delete_log_group(logGroupName=ref)


def _log_retention(ctx: DeployContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = str(props["LogGroupName"])
    logs = ctx.client("logs")
    existing = logs.describe_log_groups(logGroupNamePrefix=name).get("logGroups", [])
    if not any(group.get("logGroupName") == name for group in existing):
        logs.create_log_group(logGroupName=name)
    days = props.get("RetentionInDays")
    if days in (None, "", "Infinity"):
        logs.delete_retention_policy(logGroupName=name)
    else:
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(days))
    removal = str(props.get("RemovalPolicy", "retain")).lower()
    return name, {"LogGroupName": name, "_destroy": removal == "destroy"}


def _delete_log_retention(clients: Clients, ref: Any, attrs: dict[str, Any]) -> None:
    if attrs.get("_destroy"):
        clients.client("logs").delete_log_group(logGroupName=ref)


register("AWS::Logs::LogGroup", Provisioner(create=_log_group, delete=_delete_log_group))
register(
    "Custom::LogRetention",
    Provisioner(create=_log_retention, delete=_delete_log_retention, native_service_token=True),
)

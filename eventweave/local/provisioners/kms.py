"""KMS: keys and aliases, created in moto (a key's deletion is scheduled, as CloudFormation does)."""

from __future__ import annotations

from typing import Any

from ._util import json_text
from .base import Clients, DeployContext, Provisioner, register

__all__: list[str] = []


def _key(ctx: DeployContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    args: dict[str, Any] = {"Description": props.get("Description", logical)}
    if "KeyPolicy" in props:
        args["Policy"] = json_text(props["KeyPolicy"])
    metadata = ctx.client("kms").create_key(**args)["KeyMetadata"]
    if props.get("EnableKeyRotation"):
        ctx.client("kms").enable_key_rotation(KeyId=metadata["KeyId"])
    return metadata["KeyId"], {"Arn": metadata["Arn"], "KeyId": metadata["KeyId"]}


def _delete_key(clients: Clients, ref: Any, attrs: dict[str, Any]) -> None:
    clients.client("kms").schedule_key_deletion(KeyId=ref, PendingWindowInDays=7)


def _alias(ctx: DeployContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = str(props["AliasName"])
    ctx.client("kms").create_alias(AliasName=name, TargetKeyId=str(props["TargetKeyId"]))
    return name, {}


def _delete_alias(clients: Clients, ref: Any, attrs: dict[str, Any]) -> None:
    clients.client("kms").delete_alias(AliasName=ref)


register("AWS::KMS::Key", Provisioner(create=_key, delete=_delete_key))
register("AWS::KMS::Alias", Provisioner(create=_alias, delete=_delete_alias))

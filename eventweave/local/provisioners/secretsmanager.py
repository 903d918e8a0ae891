"""Secrets Manager: ``AWS::SecretsManager::Secret``, created in moto; a ``GenerateSecretString`` is generated with
Secrets Manager's own ``GetRandomPassword`` (moto's), honouring the template's options."""

from __future__ import annotations

import json
from typing import Any

from ._util import tag_list
from .base import Clients, DeployContext, PlanContext, Provisioner, register

__all__: list[str] = []

_PASSWORD_OPTIONS = (
    "ExcludeCharacters",
    "ExcludeLowercase",
    "ExcludeNumbers",
    "ExcludePunctuation",
    "ExcludeUppercase",
    "IncludeSpace",
    "RequireEachIncludedType",
)


def _secret(ctx: DeployContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = str(props.get("Name") or ctx.physical_name(logical, 256))
    sm = ctx.client("secretsmanager")
    args: dict[str, Any] = {"Name": name}
    if props.get("Description"):
        args["Description"] = str(props["Description"])
    if props.get("KmsKeyId"):
        args["KmsKeyId"] = str(props["KmsKeyId"])
    tags = tag_list(props.get("Tags"))
    if tags:
        args["Tags"] = tags
    if "SecretString" in props:
        args["SecretString"] = str(props["SecretString"])
    else:
        args["SecretString"] = _generate(sm, props.get("GenerateSecretString") or {})
    arn = sm.create_secret(**args)["ARN"]
    return arn, {"Id": arn, "_name": name}


def _generate(sm: Any, spec: dict[str, Any]) -> str:
    options: dict[str, Any] = {"PasswordLength": int(spec.get("PasswordLength", 32))}
    for key in _PASSWORD_OPTIONS:
        if key in spec:
            value = spec[key]
            options[key] = value if key == "ExcludeCharacters" else str(value).lower() == "true"
    password: str = sm.get_random_password(**options)["RandomPassword"]
    template = spec.get("SecretStringTemplate")
    field = spec.get("GenerateStringKey")
    if template and field:
        document = json.loads(str(template))
        document[str(field)] = password
        return json.dumps(document)
    return password


def _placeholder(plan: PlanContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = str(props.get("Name") or f"{plan.name}-{logical}")
    arn = f"arn:aws:secretsmanager:{plan.region}:{plan.account}:secret:{name}-AbCdEf"
    return arn, {"Id": arn}


def _delete_secret(clients: Clients, ref: Any, attrs: dict[str, Any]) -> None:
    clients.client("secretsmanager").delete_secret(SecretId=ref, ForceDeleteWithoutRecovery=True)


register("AWS::SecretsManager::Secret", Provisioner(create=_secret, delete=_delete_secret, placeholder=_placeholder))

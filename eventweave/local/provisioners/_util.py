"""Small helpers the service modules share."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["arn_name", "function_name", "json_text", "qualifier", "service_of", "tag_list"]


def json_text(value: Any) -> str:
    """A policy / pattern / redrive document as the APIs take it: JSON text (CloudFormation allows an object)."""
    return value if isinstance(value, str) else json.dumps(value)


def function_name(arn_or_name: str) -> str:
    """A function's name from its name or ARN, with or without a qualifier."""
    if arn_or_name.startswith("arn:"):
        return arn_or_name.split(":")[6]
    return arn_or_name.split(":", 1)[0]


def qualifier(arn_or_name: str) -> str | None:
    """The version or alias in ``name:qualifier`` or a qualified ARN; ``None`` when unqualified."""
    parts = arn_or_name.split(":")
    if arn_or_name.startswith("arn:"):
        return parts[7] if len(parts) > 7 and parts[7] else None
    return parts[1] if len(parts) > 1 and parts[1] else None


def service_of(arn: Any) -> str:
    """``sqs``, ``sns``, ``lambda``... of an ARN; ``""`` for anything that is not one."""
    text = str(arn)
    parts = text.split(":")
    return parts[2] if text.startswith("arn:") and len(parts) > 2 else ""


def arn_name(arn: str) -> str:
    """The last name in an ARN (``...:queue-name``, ``...:table/name`` -> ``name``)."""
    return arn.rsplit(":", 1)[-1].rsplit("/", 1)[-1]


def tag_list(tags: Any) -> list[dict[str, str]]:
    """CloudFormation ``Tags`` (a ``[{Key, Value}]`` list or a ``{key: value}`` map) as ``[{Key, Value}]``."""
    if isinstance(tags, dict):
        return [{"Key": str(k), "Value": str(v)} for k, v in tags.items()]
    return [{"Key": str(t["Key"]), "Value": str(t.get("Value", ""))} for t in tags or [] if "Key" in t]

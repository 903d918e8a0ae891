"""Kinesis: data streams, created in moto."""

from __future__ import annotations

from typing import Any

from .base import Clients, DeployContext, PlanContext, Provisioner, register

__all__: list[str] = []


def _stream(ctx: DeployContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = props.get("Name") or ctx.physical_name(logical, 128)
    mode = (props.get("StreamModeDetails") or {}).get("StreamMode", "PROVISIONED")
    if mode == "ON_DEMAND":
        ctx.client("kinesis").create_stream(StreamName=name, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    else:
        ctx.client("kinesis").create_stream(StreamName=name, ShardCount=int(props.get("ShardCount", 1)))
    return name, {"Arn": ctx.arn("kinesis", f"stream/{name}")}


def _placeholder(plan: PlanContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = props.get("Name") or f"{plan.name}-{logical}"
    return name, {"Arn": f"arn:aws:kinesis:{plan.region}:{plan.account}:stream/{name}"}


def _delete_stream(clients: Clients, ref: Any, attrs: dict[str, Any]) -> None:
    clients.client("kinesis").delete_stream(StreamName=ref, EnforceConsumerDeletion=True)


register("AWS::Kinesis::Stream", Provisioner(create=_stream, delete=_delete_stream, placeholder=_placeholder))

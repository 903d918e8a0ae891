"""SQS: queues and queue policies, created in moto."""

from __future__ import annotations

from typing import Any

from ._util import json_text
from .base import Clients, DeployContext, PlanContext, Provisioner, register

__all__ = ["QUEUE_ATTRIBUTES", "queue_placeholder"]

QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
)
"""The ``AWS::SQS::Queue`` properties that are queue attributes of the same name."""


def _queue(ctx: DeployContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    fifo = bool(props.get("FifoQueue"))
    name = props.get("QueueName") or ctx.physical_name(logical, 80, ".fifo" if fifo else "")
    attributes = {
        key: str(props[key]).lower() if isinstance(props[key], bool) else str(props[key])
        for key in QUEUE_ATTRIBUTES
        if key in props
    }
    if fifo:
        attributes["FifoQueue"] = "true"
    if "RedrivePolicy" in props:
        attributes["RedrivePolicy"] = json_text(props["RedrivePolicy"])
    if "RedriveAllowPolicy" in props:
        attributes["RedriveAllowPolicy"] = json_text(props["RedriveAllowPolicy"])
    url = ctx.client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url, {"Arn": ctx.arn("sqs", name), "QueueName": name, "QueueUrl": url}


def queue_placeholder(plan: PlanContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The queue's URL and attributes as they will read (with a stand-in name when the template gives none)."""
    fifo = bool(props.get("FifoQueue"))
    name = props.get("QueueName") or f"{plan.name}-{logical}{'.fifo' if fifo else ''}"
    url = f"https://sqs.{plan.region}.amazonaws.com/{plan.account}/{name}"
    arn = f"arn:aws:sqs:{plan.region}:{plan.account}:{name}"
    return url, {"Arn": arn, "QueueName": name, "QueueUrl": url}


def _delete_queue(clients: Clients, ref: Any, attrs: dict[str, Any]) -> None:
    clients.client("sqs").delete_queue(QueueUrl=ref)


def _queue_policy(ctx: DeployContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    for url in props.get("Queues", []):
        ctx.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": json_text(props["PolicyDocument"])})
    return f"{ctx.name}-{logical}", {}


register("AWS::SQS::Queue", Provisioner(create=_queue, delete=_delete_queue, placeholder=queue_placeholder))
register("AWS::SQS::QueuePolicy", Provisioner(create=_queue_policy))

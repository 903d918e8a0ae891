"""SNS: topics (with inline subscriptions), topic policies and subscriptions.

SQS subscriptions are moto's own (filter policies, raw delivery, redrive). A Lambda subscription is a relay: moto
delivers to an internal queue, still applying the filter policy, and eventweave's push relay invokes the function
asynchronously with the SNS event (see :class:`~eventweave.local.model.PushTarget`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..model import PushTarget
from ._util import json_text
from .base import Clients, DeployContext, Issue, PlanContext, Provisioner, register

__all__ = ["SUPPORTED_PROTOCOLS", "subscribe"]

SUPPORTED_PROTOCOLS = ("sqs", "lambda")
"""Subscription protocols the local cloud delivers."""


def _topic(ctx: DeployContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    fifo = bool(props.get("FifoTopic"))
    name = props.get("TopicName") or ctx.physical_name(logical, 256, ".fifo" if fifo else "")
    attributes: dict[str, str] = {}
    for key in ("KmsMasterKeyId", "DisplayName", "SignatureVersion", "TracingConfig"):
        if key in props:
            attributes[key] = str(props[key])
    if fifo:
        attributes["FifoTopic"] = "true"
    if "ContentBasedDeduplication" in props:
        attributes["ContentBasedDeduplication"] = str(props["ContentBasedDeduplication"]).lower()
    arn = ctx.client("sns").create_topic(Name=name, Attributes=attributes)["TopicArn"]
    for sub in props.get("Subscription") or []:
        subscribe(ctx, logical, arn, sub)
    return arn, {"TopicArn": arn, "TopicName": name}


def _topic_placeholder(plan: PlanContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    fifo = bool(props.get("FifoTopic"))
    name = props.get("TopicName") or f"{plan.name}-{logical}{'.fifo' if fifo else ''}"
    arn = f"arn:aws:sns:{plan.region}:{plan.account}:{name}"
    return arn, {"TopicArn": arn, "TopicName": name}


def _validate_topic(plan: PlanContext, logical: str, props: dict[str, Any]) -> Iterator[Issue]:
    for sub in props.get("Subscription") or []:
        yield from _protocol_issues(sub)


def _protocol_issues(props: dict[str, Any]) -> Iterator[Issue]:
    protocol = props.get("Protocol")
    if protocol not in SUPPORTED_PROTOCOLS:
        yield Issue(
            f"SNS protocol {protocol!r} cannot be delivered locally (supported: {', '.join(SUPPORTED_PROTOCOLS)})"
        )


def _topic_policy(ctx: DeployContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    for arn in props.get("Topics", []):
        ctx.client("sns").set_topic_attributes(
            TopicArn=arn, AttributeName="Policy", AttributeValue=json_text(props["PolicyDocument"])
        )
    return f"{ctx.name}-{logical}", {}


def subscribe(ctx: DeployContext, logical: str, topic_arn: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """Subscribe an SQS queue (in moto) or a Lambda function (through a relay queue) to ``topic_arn``."""
    protocol = props.get("Protocol")
    endpoint = props.get("Endpoint")
    attributes: dict[str, str] = {}
    if "FilterPolicy" in props:
        attributes["FilterPolicy"] = json_text(props["FilterPolicy"])
    if "FilterPolicyScope" in props:
        attributes["FilterPolicyScope"] = str(props["FilterPolicyScope"])
    redrive = props.get("RedrivePolicy")
    sns = ctx.client("sns")
    if protocol == "sqs":
        if props.get("RawMessageDelivery"):
            attributes["RawMessageDelivery"] = "true"
        if redrive:
            attributes["RedrivePolicy"] = json_text(redrive)
        response = sns.subscribe(
            TopicArn=topic_arn, Protocol="sqs", Endpoint=endpoint, Attributes=attributes, ReturnSubscriptionArn=True
        )
        arn = response["SubscriptionArn"]
        return arn, {"Arn": arn}
    if protocol == "lambda":
        url, queue_arn = ctx.relay_queue(logical)
        response = sns.subscribe(
            TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes=attributes, ReturnSubscriptionArn=True
        )
        dead_letter = (redrive or {}).get("deadLetterTargetArn") if isinstance(redrive, dict) else None
        ctx.deployment.push_targets.append(
            PushTarget(
                kind="sns",
                source_arn=topic_arn,
                target_arn=str(endpoint),
                relay_queue_url=url,
                dead_letter_arn=dead_letter,
                maximum_retry_attempts=3,
                maximum_event_age_seconds=3600,
            )
        )
        arn = response["SubscriptionArn"]
        return arn, {"Arn": arn}
    raise ValueError(f"SNS protocol {protocol!r} cannot be delivered locally (supported: sqs, lambda)")


def _subscription(ctx: DeployContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    return subscribe(ctx, logical, str(props["TopicArn"]), props)


def _validate_subscription(plan: PlanContext, logical: str, props: dict[str, Any]) -> Iterator[Issue]:
    yield from _protocol_issues(props)


def _delete_topic(clients: Clients, ref: Any, attrs: dict[str, Any]) -> None:
    clients.client("sns").delete_topic(TopicArn=ref)


def _delete_subscription(clients: Clients, ref: Any, attrs: dict[str, Any]) -> None:
    clients.client("sns").unsubscribe(SubscriptionArn=ref)


register(
    "AWS::SNS::Topic",
    Provisioner(create=_topic, delete=_delete_topic, validate=_validate_topic, placeholder=_topic_placeholder),
)
register("AWS::SNS::TopicPolicy", Provisioner(create=_topic_policy))
register(
    "AWS::SNS::Subscription",
    Provisioner(create=_subscription, delete=_delete_subscription, validate=_validate_subscription),
)

"""Eventweave-RecursiveLoop (warning): a function that writes to the queue, topic, table or stream it is triggered by,
with no loop guard.

AWS: Lambda's recursive loop detection (``RecursiveLoop: Terminate``, the default) stops a loop through SQS, SNS or
Lambda after 16 calls, by tagging events with X-Ray trace metadata; it does not follow DynamoDB Streams or Kinesis,
and ``RecursiveLoop: Allow`` turns it off. Such a loop then runs (and bills) until someone notices.
Sources: https://docs.aws.amazon.com/lambda/latest/dg/invocation-recursion.html,
https://docs.aws.amazon.com/lambda/latest/api/API_PutFunctionRecursionConfig.html.

A loop is guarded when AWS detects it (SQS or SNS, RecursiveLoop not Allow) or when the function runs an eventweave
handler with a hop limit (``EVENTWEAVE_MAX_HOPS``): the handler diverts a record that has passed more eventweave hops
than the limit to its dead-letter queue.
"""

from __future__ import annotations

from ..model import FUNCTION, Model, Resource
from ..rule import WARNING, Problem, Rule

__all__ = ["RULE"]

MAX_HOPS_ENV = "EVENTWEAVE_MAX_HOPS"

_WRITES = {
    "sqs": ("sqs:SendMessage", "sqs:SendMessageBatch"),
    "sns": ("sns:Publish",),
    "dynamodb": (
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:TransactWriteItems",
        "dynamodb:PartiQLInsert",
        "dynamodb:PartiQLUpdate",
        "dynamodb:PartiQLDelete",
    ),
    "kinesis": ("kinesis:PutRecord", "kinesis:PutRecords"),
}
_DETECTED_BY_AWS = ("sqs", "sns")


def _sources(function: Resource, model: Model) -> list[tuple[str, Resource]]:
    """What triggers ``function``: the sources of its event source mappings and the topics subscribed to it."""
    out = [
        (m.kind, m.source)
        for m in model.mappings
        if m.function is function and m.source is not None and m.kind in _WRITES
    ]
    for subscription in model.subscriptions_by_endpoint.get(function.key, []):
        topic = model.resolve(subscription, subscription.properties.get("TopicArn"), "AWS::SNS::Topic")
        if topic is not None:
            out.append(("sns", topic))
    return out


def check(function: Resource, model: Model) -> Problem | None:
    """A function allowed to write to its own trigger needs a loop guard AWS or eventweave provides."""
    if MAX_HOPS_ENV in (function.prop("Environment", "Variables") or {}):
        return None
    role = model.role_of(function)
    if role is None:
        return None
    aws_detects = str(function.properties.get("RecursiveLoop", "Terminate")) != "Allow"
    loops = [
        (kind, source)
        for kind, source in _sources(function, model)
        if not (aws_detects and kind in _DETECTED_BY_AWS) and model.allows(role, _WRITES[kind], source)
    ]
    if not loops:
        return None
    where = ", ".join(f"{model.display(source)} ({kind})" for kind, source in loops)
    detection = (
        "RecursiveLoop is Allow, which turns off Lambda's loop detection"
        if not aws_detects
        else "Lambda's loop detection does not follow DynamoDB Streams or Kinesis"
    )
    return Problem(
        what=f"this function is triggered by and allowed to write to {where}; {detection}, so a write that "
        "triggers the function again can loop without end.",
        cdk="write somewhere else, or guard the loop in code (a hop counter in the record) and keep "
        "lambda_.Function(..., recursive_loop=lambda_.RecursiveLoop.TERMINATE) for SQS/SNS loops.",
        eventweave=f"run an eventweave handler with a hop limit: EventFunction(..., max_hops=N) sets {MAX_HOPS_ENV} "
        "and the handler sends a record past the limit to its dead-letter queue (eventweave's publish helpers "
        "carry the hop count through SQS, SNS, EventBridge, Kinesis and DynamoDB items).",
    )


RULE = Rule(
    id="RecursiveLoop",
    level=WARNING,
    info="A function writes to the queue, topic, table or stream that triggers it, with no loop guard.",
    explanation="Lambda's recursive loop detection covers SQS, SNS and Lambda (unless RecursiveLoop is Allow), not "
    "DynamoDB Streams or Kinesis (docs.aws.amazon.com/lambda/latest/dg/invocation-recursion.html).",
    types=frozenset({FUNCTION}),
    check=check,
)

"""Eventweave-AsyncFailureDestination (error): an asynchronously invoked function without an on-failure destination
or dead-letter queue.

AWS: SNS, EventBridge, S3 (and ``InvocationType: Event`` callers: Step Functions tasks, EventBridge Pipes
``FIRE_AND_FORGET``, API Gateway ``X-Amz-Invocation-Type: Event``) invoke a function asynchronously. Lambda retries a
failing event twice, and keeps throttled events for up to 6 hours; then the event is discarded unless the function
has an on-failure destination (``AWS::Lambda::EventInvokeConfig`` ``DestinationConfig.OnFailure``) or a dead-letter
queue (``DeadLetterConfig``). Events may also be dropped from the queue when the function cannot keep up.
Sources: https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html,
https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html, the archived Lambda guide
(with-sns.md, services-cloudwatchevents.md, with-s3.md: "invokes your function asynchronously").
"""

from __future__ import annotations

from ..model import FUNCTION, Model, Resource
from ..rule import ERROR, Problem, Rule

__all__ = ["RULE"]


def check(function: Resource, model: Model) -> Problem | None:
    """A function something invokes asynchronously needs an on-failure destination or ``DeadLetterConfig``."""
    invokers = model.async_invokers.get(function.key)
    if not invokers:
        return None
    if function.prop("DeadLetterConfig", "TargetArn"):
        return None
    if any(c.prop("DestinationConfig", "OnFailure", "Destination") for c in model.invoke_configs.get(function.key, [])):
        return None
    how = "; ".join(f"{i.how} {model.display(i.resource)}" for i in invokers)
    return Problem(
        what=f"this function is invoked asynchronously ({how}) but has no on-failure destination and no "
        "dead-letter queue: an event that still fails after Lambda's 2 retries (or waits longer than 6 hours) is "
        "discarded.",
        cdk="lambda_.Function(..., on_failure=aws_lambda_destinations.SqsDestination(queue)) or "
        "fn.configure_async_invoke(on_failure=..., retry_attempts=2) (EventInvokeConfig DestinationConfig.OnFailure; "
        "a standard queue or topic), or dead_letter_queue=queue (DeadLetterConfig).",
        eventweave="AsyncFunction, TopicFunction and RuleFunction configure an on-failure destination (a FailureQueue "
        "by default) and bounded retries.",
    )


RULE = Rule(
    id="AsyncFailureDestination",
    level=ERROR,
    info="An asynchronously invoked function has no on-failure destination or dead-letter queue.",
    explanation="Lambda discards an asynchronous event after its retries unless the function has an on-failure "
    "destination or a dead-letter queue (docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html).",
    types=frozenset({FUNCTION}),
    check=check,
)

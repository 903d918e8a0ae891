"""Eventweave-QueueVisibilityBelowFunctionTimeout (error): a consumed queue's visibility timeout is shorter than the
function's timeout.

AWS refuses the mapping: CreateEventSourceMapping fails with ``InvalidParameterValueException: Queue visibility
timeout: 30 seconds is less than Function timeout: 60 seconds`` (aws-cdk does not check it at synth, aws/aws-cdk
#20527), so the deployment fails. The queue's default visibility timeout is 30 s.
Sources: https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html (archived Lambda guide,
awsdocs/aws-lambda-developer-guide doc_source/with-sqs.md); the error text as quoted in winglang/wing #1507 and
hashicorp/terraform-provider-aws #18099.
"""

from __future__ import annotations

from ..model import QUEUE, Model, Resource, as_int
from ..rule import ERROR, Problem, Rule

__all__ = ["RULE", "visibility_timeout"]

DEFAULT_VISIBILITY_TIMEOUT = 30


def visibility_timeout(queue: Resource) -> int | None:
    """The queue's visibility timeout in seconds (SQS's default: 30), None when it is not a literal."""
    value = queue.properties.get("VisibilityTimeout")
    return DEFAULT_VISIBILITY_TIMEOUT if value is None else as_int(value)


def check(queue: Resource, model: Model) -> Problem | None:
    """``VisibilityTimeout`` must be at least the ``Timeout`` of every function consuming the queue."""
    visibility = visibility_timeout(queue)
    if visibility is None:
        return None
    short = []
    for mapping in model.mappings_of(queue):
        timeout = model.timeout(mapping.function)
        if mapping.kind == "sqs" and timeout is not None and visibility < timeout:
            short.append((mapping, timeout))
    if not short:
        return None
    longest = max(timeout for _, timeout in short)
    consumers = ", ".join(f"{model.display(m.function)} (timeout {t} s)" for m, t in short)
    return Problem(
        what=f"the visibility timeout ({visibility} s) is shorter than the timeout of {consumers}: Lambda refuses "
        "the event source mapping (InvalidParameterValueException: Queue visibility timeout ... is less than "
        "Function timeout), so the deployment fails.",
        cdk=f"sqs.Queue(..., visibility_timeout=Duration.seconds({6 * longest})) (at least 6x the function timeout "
        "plus the batching window).",
        eventweave="DurableQueue(consumer_timeout=..., max_batching_window=...) sizes the visibility timeout; "
        "QueueWorker passes its function's timeout to it.",
    )


RULE = Rule(
    id="QueueVisibilityBelowFunctionTimeout",
    level=ERROR,
    info="A queue's visibility timeout is shorter than the timeout of the function consuming it.",
    explanation="Lambda refuses such an event source mapping (InvalidParameterValueException), so the deployment "
    "fails (docs.aws.amazon.com/lambda/latest/dg/with-sqs.html).",
    types=frozenset({QUEUE}),
    check=check,
)

"""Eventweave-QueueVisibilityTimeout (warning): a consumed queue's visibility timeout is below 6x the function's
timeout plus the batching window.

AWS recommends a source queue visibility timeout of at least six times the function's timeout, plus
``MaximumBatchingWindowInSeconds``, so that Lambda can retry a throttled batch before it becomes visible. With
less, a message whose invocation is retried after throttling or a slow batch becomes visible again while it is still
being processed: it is delivered twice and its receive count climbs towards the dead-letter queue.
Sources: https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html (archived Lambda guide,
awsdocs/aws-lambda-developer-guide doc_source/with-sqs.md),
https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html.
(Below the function timeout itself Lambda refuses the mapping: Eventweave-QueueVisibilityBelowFunctionTimeout.)
"""

from __future__ import annotations

from ..model import QUEUE, Model, Resource
from ..rule import WARNING, Problem, Rule
from .queue_visibility_below_timeout import visibility_timeout

__all__ = ["RULE"]


def check(queue: Resource, model: Model) -> Problem | None:
    """``VisibilityTimeout`` >= 6 x ``Timeout`` + ``MaximumBatchingWindowInSeconds`` of every consumer."""
    visibility = visibility_timeout(queue)
    if visibility is None:
        return None
    short = []
    for mapping in model.mappings_of(queue):
        timeout = model.timeout(mapping.function)
        if mapping.kind != "sqs" or timeout is None or visibility < timeout:
            continue  # below the timeout itself is QueueVisibilityBelowFunctionTimeout's error
        needed = 6 * timeout + mapping.batching_window
        if visibility < needed:
            short.append((mapping, timeout, needed))
    if not short:
        return None
    needed = max(n for _, _, n in short)
    consumers = ", ".join(
        f"{model.display(m.function)} (timeout {t} s, batching window {m.batching_window} s)" for m, t, _ in short
    )
    return Problem(
        what=f"the visibility timeout ({visibility} s) is below 6x the timeout plus the batching window of "
        f"{consumers}: a message can become visible again while a retried or slow invocation still holds it, so it "
        "is delivered twice and its receive count moves towards the dead-letter queue.",
        cdk=f"sqs.Queue(..., visibility_timeout=Duration.seconds({needed})).",
        eventweave="DurableQueue(consumer_timeout=..., max_batching_window=...) sets at least 6x the consumer "
        "timeout plus the window; QueueWorker passes its function's timeout to it.",
    )


RULE = Rule(
    id="QueueVisibilityTimeout",
    level=WARNING,
    info="A queue's visibility timeout is below 6x the consuming function's timeout plus the batching window.",
    explanation="AWS recommends a visibility timeout of at least six times the function timeout plus "
    "MaximumBatchingWindowInSeconds (docs.aws.amazon.com/lambda/latest/dg/with-sqs.html).",
    types=frozenset({QUEUE}),
    check=check,
)

"""Eventweave-SqsBatchingWindow (error): an SQS event source mapping with a batch size above 10 and no batching
window.

AWS refuses it: ``InvalidParameterValueException: Maximum batch window in seconds must be greater than 0 if maximum
batch size is greater than 10``: a batch size above 10 needs MaximumBatchingWindowInSeconds of at least 1 second.
Sources: https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html, the archived Lambda guide
(with-sqs.md); the error text as quoted in aws/chalice #1778 and serverless/serverless #8989.
"""

from __future__ import annotations

from ..model import ESM, Model, Resource
from ..rule import ERROR, Problem, Rule

__all__ = ["RULE"]


def check(esm: Resource, model: Model) -> Problem | None:
    """``BatchSize`` > 10 needs ``MaximumBatchingWindowInSeconds`` >= 1 (SQS sources)."""
    mapping = model.mapping(esm)
    if mapping is None or mapping.kind != "sqs" or (mapping.batch_size or 10) <= 10 or mapping.batching_window > 0:
        return None
    return Problem(
        what=f"this event source mapping ({model.display(mapping.source)} -> {model.display(mapping.function)}) "
        f"takes batches of {mapping.batch_size} messages without a batching window: Lambda refuses it "
        "(InvalidParameterValueException: Maximum batch window in seconds must be greater than 0 if maximum batch "
        "size is greater than 10).",
        cdk="SqsEventSource(queue, batch_size=..., max_batching_window=Duration.seconds(1)) "
        "(MaximumBatchingWindowInSeconds >= 1), or batch_size <= 10.",
        eventweave="QueueWorker(batch_size=..., max_batching_window=...) refuses a batch size above 10 without a "
        "window at synth time.",
    )


RULE = Rule(
    id="SqsBatchingWindow",
    level=ERROR,
    info="An SQS event source mapping has a batch size above 10 and no batching window.",
    explanation="Lambda refuses BatchSize > 10 without MaximumBatchingWindowInSeconds >= 1 "
    "(docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html).",
    types=frozenset({ESM}),
    check=check,
)

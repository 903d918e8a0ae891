"""Eventweave-StreamBisectBatch (warning): a Kinesis or DynamoDB Streams event source mapping that does not split a
failing batch.

AWS: ``BisectBatchOnFunctionError`` (default false) splits a failed batch in two and retries each half; splitting
does not consume the retry quota, so a batch of 100 narrows to the failing record in 7 splits instead of retrying
(and re-processing) every record with it until the retries run out.
Sources: https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-parameters.html,
https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html.
"""

from __future__ import annotations

from ..model import ESM, Model, Resource, as_bool
from ..rule import WARNING, Problem, Rule

__all__ = ["RULE"]


def check(esm: Resource, model: Model) -> Problem | None:
    """A stream mapping should set ``BisectBatchOnFunctionError: true``."""
    mapping = model.mapping(esm)
    if mapping is None or mapping.kind not in ("kinesis", "dynamodb"):
        return None
    bisect = esm.properties.get("BisectBatchOnFunctionError")
    if as_bool(bisect) or (bisect is not None and as_bool(bisect) is None):
        return None  # on, or set by an expression this check cannot evaluate
    return Problem(
        what=f"this mapping ({model.display(mapping.source)} -> {model.display(mapping.function)}) does not bisect "
        "a failing batch: it is retried whole (from the failing record, with partial batch responses) and given up "
        "on whole, so the records behind a poison one are discarded with it.",
        cdk="KinesisEventSource/DynamoEventSource(..., bisect_batch_on_error=True).",
        eventweave="StreamProcessor bisects by default (bisect_batch_on_error=True) and its handler reports the "
        "failing record's sequence number.",
    )


RULE = Rule(
    id="StreamBisectBatch",
    level=WARNING,
    info="A stream event source mapping does not bisect a failing batch.",
    explanation="BisectBatchOnFunctionError splits a failing batch without consuming retries "
    "(docs.aws.amazon.com/lambda/latest/dg/services-kinesis-parameters.html).",
    types=frozenset({ESM}),
    check=check,
)

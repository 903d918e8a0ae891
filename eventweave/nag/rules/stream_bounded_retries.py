"""Eventweave-StreamBoundedRetries (error): a Kinesis or DynamoDB Streams event source mapping that retries a failing
batch without a bound.

AWS: ``MaximumRetryAttempts`` and ``MaximumRecordAgeInSeconds`` both default to -1 (infinite): Lambda retries a
failing batch until its records expire from the stream (24 hours for DynamoDB Streams, the retention period for
Kinesis), and the shard makes no progress meanwhile, so the records behind the poison one expire too.
Sources: https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-parameters.html,
https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-params.html,
https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html.
"""

from __future__ import annotations

from ..model import ESM, Model, Resource, as_int
from ..rule import ERROR, Problem, Rule

__all__ = ["RULE"]


def check(esm: Resource, model: Model) -> Problem | None:
    """A stream mapping needs ``MaximumRetryAttempts`` >= 0 or ``MaximumRecordAgeInSeconds`` >= 60."""
    mapping = model.mapping(esm)
    if mapping is None or mapping.kind not in ("kinesis", "dynamodb"):
        return None
    retries = as_int(esm.properties.get("MaximumRetryAttempts"))
    age = as_int(esm.properties.get("MaximumRecordAgeInSeconds"))
    if "MaximumRetryAttempts" in esm.properties and (retries is None or retries >= 0):
        return None
    if "MaximumRecordAgeInSeconds" in esm.properties and (age is None or age >= 0):
        return None
    return Problem(
        what=f"this mapping ({model.display(mapping.source)} -> {model.display(mapping.function)}) retries a "
        "failing batch until its records expire (MaximumRetryAttempts and MaximumRecordAgeInSeconds are -1, "
        "AWS's default): one poison record holds its shard for the stream's whole retention, and the records "
        "behind it expire unprocessed.",
        cdk="KinesisEventSource/DynamoEventSource(..., retry_attempts=10, max_record_age=Duration.hours(12)).",
        eventweave="StreamProcessor bounds both (retry_attempts=10, max_record_age=12 h by default) and bisects "
        "the failing batch.",
    )


RULE = Rule(
    id="StreamBoundedRetries",
    level=ERROR,
    info="A stream event source mapping retries a failing batch until its records expire.",
    explanation="MaximumRetryAttempts and MaximumRecordAgeInSeconds default to -1: a poison record blocks its shard "
    "until the records expire (docs.aws.amazon.com/lambda/latest/dg/services-kinesis-parameters.html).",
    types=frozenset({ESM}),
    check=check,
)

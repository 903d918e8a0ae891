"""Eventweave-StreamFailureDestination (error): a Kinesis or DynamoDB Streams event source mapping without an
on-failure destination.

AWS: when a batch keeps failing, Lambda retries until the records expire, exceed ``MaximumRecordAgeInSeconds`` or
reach ``MaximumRetryAttempts``; then it discards the batch and continues with the shard. Only an on-failure
destination (``DestinationConfig.OnFailure``: a standard SQS queue, SNS topic or S3 bucket) keeps a record of what
was discarded (and where to read it back from the stream).
Sources: https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html,
https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html,
https://docs.aws.amazon.com/lambda/latest/api/API_OnFailure.html.
"""

from __future__ import annotations

from ..model import ESM, Model, Resource
from ..rule import ERROR, Problem, Rule

__all__ = ["RULE"]


def check(esm: Resource, model: Model) -> Problem | None:
    """A stream mapping needs ``DestinationConfig.OnFailure.Destination``."""
    mapping = model.mapping(esm)
    if mapping is None or mapping.kind not in ("kinesis", "dynamodb"):
        return None
    if esm.prop("DestinationConfig", "OnFailure", "Destination"):
        return None
    stream = "Kinesis stream" if mapping.kind == "kinesis" else "DynamoDB stream"
    return Problem(
        what=f"this {stream} mapping ({model.display(mapping.source)} -> {model.display(mapping.function)}) has no "
        "on-failure destination: a batch Lambda gives up on (retries or record age exhausted, or records expired) "
        "is discarded without a trace.",
        cdk=f"{'KinesisEventSource' if mapping.kind == 'kinesis' else 'DynamoEventSource'}(..., "
        "on_failure=SqsDlq(queue)) (DestinationConfig.OnFailure; a standard queue or topic).",
        eventweave="StreamProcessor sends every discarded batch to an on-failure destination (a FailureQueue by "
        "default, or failure_consumer= a StreamFailureHandler that reads the records back).",
    )


RULE = Rule(
    id="StreamFailureDestination",
    level=ERROR,
    info="A Kinesis or DynamoDB Streams event source mapping has no on-failure destination.",
    explanation="Lambda discards a stream batch it gives up on; only an on-failure destination records it "
    "(docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html, services-dynamodb-errors.html).",
    types=frozenset({ESM}),
    check=check,
)

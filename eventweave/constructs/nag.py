"""cdk-nag: the rule packs eventweave is checked against, and every acknowledged finding with its reason.

All suppressions live here, each with a written reason, so a reviewer reads one file to see what eventweave accepts
and why. Constructs call :func:`acknowledge` with a key of :data:`REASONS`; nothing else calls
``Validations.acknowledge``.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, Validations
from constructs import IConstruct

__all__ = ["REASONS", "acknowledge", "add_checks"]

REASONS: dict[str, tuple[str, str]] = {
    # key: (finding id, reason)
    "dlq-without-dlq": (
        "Serverless-SQSRedrivePolicy",
        "this queue is itself the dead-letter queue: it keeps messages 14 days and alarms on depth; a DLQ of a DLQ "
        "would only move the same messages one hop further from the people who must look at them",
    ),
    "sqs-esm-destination": (
        "Serverless-LambdaEventSourceMappingDestination",
        "SQS event source mappings accept no on-failure destination; a failed message returns to the queue and SQS "
        "moves it to the queue's dead-letter queue after maxReceiveCount receives (RedrivePolicy)",
    ),
    "xray": (
        "AwsSolutions-IAM5[Resource::*]",
        "X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level permissions (AWS documents "
        "Resource '*' for them); nothing else in the statement uses a wildcard",
    ),
    "failure-queue": (
        "AwsSolutions-SQS3",
        "this queue is a failure destination (Lambda on-failure destination, stream on-failure destination, "
        "EventBridge target dead-letter queue, eventweave poison): a dead-letter queue by function that no redrive "
        "policy names; it keeps messages 14 days and alarms on the first one",
    ),
    "sns-subscription-dlq": (
        "AwsSolutions-SQS3",
        "this queue is the dead-letter queue of an SNS subscription (its RedrivePolicy): SNS moves notifications it "
        "could not deliver here after its own retries; cdk-nag only recognises SQS redrive policies and Lambda "
        "DeadLetterConfig as DLQ uses. It keeps messages 14 days and alarms on the first one",
    ),
    "async-destination-not-dlq": (
        "Serverless-LambdaDLQ",
        "the function has an on-failure destination (EventInvokeConfig), AWS's successor to the function "
        "dead-letter queue, recording request and response; a DeadLetterConfig as well would send every failed "
        "event a second time, in another shape",
    ),
    "fifo-poison-not-function-dlq": (
        "Serverless-LambdaDLQ",
        "this function's poison destination is a FIFO queue (it consumes a FIFO queue): Lambda's function dead-letter "
        "queue accepts standard queues and topics only, and serves asynchronous invocations, which a function invoked "
        "by an SQS event source mapping never gets; poison goes to the FIFO dead-letter queue through EVENTWEAVE_DLQ",
    ),
    "ddb-list-streams": (
        "AwsSolutions-IAM5[Resource::*]",
        "dynamodb:ListStreams supports no resource-level permissions and a DynamoDB stream event source needs it; "
        "the stream's data actions (DescribeStream, GetRecords, GetShardIterator) are scoped to the stream's ARN",
    ),
}


def acknowledge(scope: IConstruct, key: str) -> None:
    """Acknowledge the finding ``REASONS[key]`` on ``scope`` (and its children), with its recorded reason."""
    finding, reason = REASONS[key]
    Validations.of(scope).acknowledge(Acknowledgment(id=finding, reason=reason))


def add_checks(app: App) -> None:
    """Check ``app`` with AwsSolutionsChecks, ServerlessChecks and eventweave's contract checks
    (:class:`eventweave.nag.EventweaveChecks`) on synth (findings fail the synth)."""
    from cdk_nag import AwsSolutionsChecks, ServerlessChecks

    from eventweave.nag import EventweaveChecks

    Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app), EventweaveChecks(app))

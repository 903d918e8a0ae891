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
}


def acknowledge(scope: IConstruct, key: str) -> None:
    """Acknowledge the finding ``REASONS[key]`` on ``scope`` (and its children), with its recorded reason."""
    finding, reason = REASONS[key]
    Validations.of(scope).acknowledge(Acknowledgment(id=finding, reason=reason))


def add_checks(app: App) -> None:
    """Check ``app`` with AwsSolutionsChecks and ServerlessChecks on synth (findings fail the synth)."""
    from cdk_nag import AwsSolutionsChecks, ServerlessChecks

    Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))

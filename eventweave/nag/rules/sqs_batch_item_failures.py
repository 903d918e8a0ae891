"""Eventweave-SqsReportBatchItemFailures (warning): an SQS event source mapping without partial batch responses.

AWS: without ``FunctionResponseTypes: ["ReportBatchItemFailures"]`` any error fails the whole batch, and the whole
batch becomes visible again after the queue's visibility timeout, the messages that succeeded included; the
function's ``batchItemFailures`` response is ignored unless ReportBatchItemFailures is enabled. Healthy messages are
processed again and count towards ``maxReceiveCount`` with the one that failed.
Source: https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html.
"""

from __future__ import annotations

from ..model import ESM, Model, Resource
from ..rule import WARNING, Problem, Rule

__all__ = ["RULE"]


def check(esm: Resource, model: Model) -> Problem | None:
    """An SQS mapping should list ``ReportBatchItemFailures`` in ``FunctionResponseTypes``."""
    mapping = model.mapping(esm)
    if mapping is None or mapping.kind != "sqs":
        return None
    if "ReportBatchItemFailures" in (esm.properties.get("FunctionResponseTypes") or []):
        return None
    return Problem(
        what=f"this event source mapping ({model.display(mapping.source)} -> {model.display(mapping.function)}) "
        "does not report batch item failures: one failing message makes the whole batch visible again, so the "
        "messages that succeeded are processed again and move towards the dead-letter queue with it.",
        cdk="SqsEventSource(queue, report_batch_item_failures=True) (FunctionResponseTypes: "
        '[ReportBatchItemFailures]), with a handler that returns {"batchItemFailures": [...]}.',
        eventweave="QueueWorker always turns ReportBatchItemFailures on, and its SqsHandler returns the partial "
        "batch response.",
    )


RULE = Rule(
    id="SqsReportBatchItemFailures",
    level=WARNING,
    info="An SQS event source mapping does not report batch item failures.",
    explanation="Without ReportBatchItemFailures an error fails the whole batch and every message in it becomes "
    "visible again (docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html).",
    types=frozenset({ESM}),
    check=check,
)

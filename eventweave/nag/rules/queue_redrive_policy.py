"""Eventweave-QueueRedrivePolicy (error): a queue a Lambda function consumes has no redrive policy.

AWS: the dead-letter queue of an SQS event source is the *queue's* redrive policy: SQS, not Lambda, moves a message
to it after ``maxReceiveCount`` receives (AWS recommends at least 5); a dead-letter queue configured on the
*function* applies to asynchronous invocation only.
Without one, a message that always fails is received again until ``MessageRetentionPeriod`` (4 days by default)
ends, and is then deleted: lost.
Sources: https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html, the archived Lambda guide
(awsdocs/aws-lambda-developer-guide, doc_source/with-sqs.md),
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html.
"""

from __future__ import annotations

from ..model import QUEUE, Model, Resource
from ..rule import ERROR, Problem, Rule

__all__ = ["RULE"]


def check(queue: Resource, model: Model) -> Problem | None:
    """A queue read by an event source mapping needs ``RedrivePolicy.deadLetterTargetArn``."""
    consumers = [m for m in model.mappings_of(queue) if m.kind == "sqs"]
    if not consumers or queue.prop("RedrivePolicy", "deadLetterTargetArn"):
        return None
    functions = ", ".join(model.display(m.function) for m in consumers)
    return Problem(
        what=f"this queue is the event source of {functions} but has no redrive policy: a message that fails every "
        "time is received again and again until its retention period ends (4 days by default), then deleted. A "
        "dead-letter queue on the function does not help: it only receives failed asynchronous invocations.",
        cdk="sqs.Queue(..., dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=5)).",
        eventweave="QueueWorker (or DurableQueue) creates the queue with a dead-letter queue after 5 receives, "
        "encrypted, with an alarm on its first message.",
    )


RULE = Rule(
    id="QueueRedrivePolicy",
    level=ERROR,
    info="A queue consumed by Lambda has no redrive policy (dead-letter queue).",
    explanation="SQS, not Lambda, moves a message that keeps failing to a dead-letter queue after maxReceiveCount "
    "receives; without a redrive policy it is retried until the retention period ends and then lost "
    "(docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html).",
    types=frozenset({QUEUE}),
    check=check,
)

"""Eventweave-SnsSubscriptionDeadLetterQueue (error): an SNS subscription to a queue or function without a
dead-letter queue.

AWS: for AWS-managed endpoints (SQS, Lambda) SNS retries a delivery 100,015 times over 23 days; when the policy is
exhausted, or on a client-side error (the queue or function deleted, its policy or key denying SNS), the message is
discarded unless the *subscription* has a redrive policy naming an SQS dead-letter queue.
Sources: https://docs.aws.amazon.com/sns/latest/dg/sns-message-delivery-retries.html,
https://docs.aws.amazon.com/sns/latest/dg/sns-dead-letter-queues.html.
"""

from __future__ import annotations

from ..model import SUBSCRIPTION, Model, Resource
from ..rule import ERROR, Problem, Rule

__all__ = ["RULE"]


def check(subscription: Resource, model: Model) -> Problem | None:
    """An ``sqs`` or ``lambda`` subscription needs ``RedrivePolicy.deadLetterTargetArn``."""
    protocol = str(subscription.properties.get("Protocol", "")).lower()
    if protocol not in ("sqs", "lambda") or subscription.prop("RedrivePolicy", "deadLetterTargetArn"):
        return None
    endpoint = subscription.properties.get("Endpoint")
    target = (
        model.function_of(subscription, endpoint) if protocol == "lambda" else model.resolve(subscription, endpoint)
    )
    topic = model.resolve(subscription, subscription.properties.get("TopicArn"))
    return Problem(
        what=f"this {'Lambda' if protocol == 'lambda' else 'SQS'} subscription ({model.display(topic)} -> "
        f"{model.display(target)}) has no dead-letter "
        "queue: a message SNS cannot deliver (its retries exhausted, or the endpoint's policy or key refusing it) "
        "is discarded.",
        cdk=f"{'LambdaSubscription' if protocol == 'lambda' else 'SqsSubscription'}(..., dead_letter_queue=dlq) "
        "(RedrivePolicy.deadLetterTargetArn; SNS must be allowed to send to it).",
        eventweave="TopicFanOut and TopicFunction give every subscription a SubscriptionDeadLetterQueue (encrypted, "
        "SNS allowed for this topic only, alarmed).",
    )


RULE = Rule(
    id="SnsSubscriptionDeadLetterQueue",
    level=ERROR,
    info="An SNS subscription to SQS or Lambda has no dead-letter queue.",
    explanation="SNS discards a message it could not deliver unless the subscription has a redrive policy "
    "(docs.aws.amazon.com/sns/latest/dg/sns-message-delivery-retries.html, sns-dead-letter-queues.html).",
    types=frozenset({SUBSCRIPTION}),
    check=check,
)

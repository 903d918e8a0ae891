"""Eventweave-EventBridgeTargetDeadLetterQueue (error): an EventBridge rule target without a dead-letter queue.

AWS: EventBridge retries a target for 24 hours and up to 185 times by default (``RetryPolicy``:
``MaximumRetryAttempts`` 0-185, ``MaximumEventAgeInSeconds`` 60-86,400), and not at all when the target is gone or
the permission is missing; when the retries end, the event is dropped unless the target has a ``DeadLetterConfig``
(a standard SQS queue).
Sources: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html,
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-retry-policy.html.
"""

from __future__ import annotations

from ..model import RULE as EVENTS_RULE
from ..model import Model, Resource
from ..rule import ERROR, Problem, Rule

__all__ = ["RULE"]


def check(rule: Resource, model: Model) -> Problem | None:
    """Every target needs ``DeadLetterConfig.Arn``."""
    missing = []
    for target in rule.properties.get("Targets") or []:
        if isinstance(target, dict) and not (target.get("DeadLetterConfig") or {}).get("Arn"):
            retry = target.get("RetryPolicy")
            resource = model.resolve(rule, target.get("Arn"))
            name = model.display(resource) if resource is not None else str(target.get("Id", "?"))
            missing.append(f"{name} ({'retry policy set' if retry else 'default retry policy'})")
    if not missing:
        return None
    return Problem(
        what=f"the target(s) {', '.join(missing)} have no dead-letter queue: an event EventBridge cannot deliver "
        "(retries exhausted, target deleted, permission missing) is dropped.",
        cdk="targets.LambdaFunction(fn, dead_letter_queue=dlq, retry_attempts=185, max_event_age=Duration.hours(24)) "
        "(every target in aws_events_targets takes dead_letter_queue: DeadLetterConfig.Arn, plus RetryPolicy).",
        eventweave="RuleFunction and EventBusRouter give every target a dead-letter queue (a FailureQueue EventBridge "
        "may use) and an explicit retry policy.",
    )


RULE = Rule(
    id="EventBridgeTargetDeadLetterQueue",
    level=ERROR,
    info="An EventBridge rule target has no dead-letter queue.",
    explanation="EventBridge drops an event whose retries are exhausted unless the target has a dead-letter queue "
    "(docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html, eb-rule-retry-policy.html).",
    types=frozenset({EVENTS_RULE}),
    check=check,
)

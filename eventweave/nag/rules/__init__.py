"""The rules of the Eventweave pack, one module per rule (cdk-nag style), in the order the pack applies them.

| rule | level | checks |
|---|---|---|
| ``Eventweave-QueueRedrivePolicy`` | error | a queue consumed by Lambda has a redrive policy |
| ``Eventweave-QueueVisibilityBelowFunctionTimeout`` | error | visibility timeout >= the function timeout |
| ``Eventweave-QueueVisibilityTimeout`` | warning | visibility timeout >= 6x function timeout + batching window |
| ``Eventweave-SqsReportBatchItemFailures`` | warning | SQS mappings report batch item failures |
| ``Eventweave-SqsBatchingWindow`` | error | SQS batch size > 10 comes with a batching window |
| ``Eventweave-SnsSubscriptionDeadLetterQueue`` | error | SNS -> SQS/Lambda subscriptions have a DLQ |
| ``Eventweave-EventBridgeTargetDeadLetterQueue`` | error | EventBridge targets have a DLQ |
| ``Eventweave-StreamFailureDestination`` | error | Kinesis/DynamoDB mappings have an on-failure destination |
| ``Eventweave-StreamBoundedRetries`` | error | Kinesis/DynamoDB mappings bound retries or record age |
| ``Eventweave-StreamBisectBatch`` | warning | Kinesis/DynamoDB mappings bisect a failing batch |
| ``Eventweave-AsyncFailureDestination`` | error | async-invoked functions have an on-failure destination or DLQ |
| ``Eventweave-FifoCompatibility`` | error | FIFO options AWS accepts |
| ``Eventweave-RecursiveLoop`` | warning | a function writing to its own trigger has a loop guard |

Errors are what AWS refuses to create or what loses data; warnings work but retry too much, deliver twice or can run
away.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

from ..model import Model, Resource
from ..rule import Problem, Rule
from . import (
    async_failure_destination,
    eventbridge_target_dlq,
    fifo_compatibility,
    queue_redrive_policy,
    queue_visibility_below_timeout,
    queue_visibility_timeout,
    recursive_loop,
    sns_subscription_dlq,
    sqs_batch_item_failures,
    sqs_batching_window,
    stream_bisect_batch,
    stream_bounded_retries,
    stream_failure_destination,
)

__all__ = ["RULES", "check", "evaluate"]

RULES: tuple[Rule, ...] = (
    queue_redrive_policy.RULE,
    queue_visibility_below_timeout.RULE,
    queue_visibility_timeout.RULE,
    sqs_batch_item_failures.RULE,
    sqs_batching_window.RULE,
    sns_subscription_dlq.RULE,
    eventbridge_target_dlq.RULE,
    stream_failure_destination.RULE,
    stream_bounded_retries.RULE,
    stream_bisect_batch.RULE,
    async_failure_destination.RULE,
    fifo_compatibility.RULE,
    recursive_loop.RULE,
)


def evaluate(model: Model, rules: Sequence[Rule] = RULES) -> list[tuple[Rule, Resource, Problem]]:
    """Run ``rules`` over every resource of ``model``: ``(rule, resource, problem)`` for each finding.

    Example::

        model = Model.from_files({"Orders": "cdk.out/Orders.template.json"})
        for rule, resource, problem in evaluate(model):
            print(rule.rule_id, model.display(resource), problem.what)
    """
    found = []
    for rule in rules:
        for resource in model.all(*rule.types):
            problem = check(rule, resource, model)
            if problem is not None:
                found.append((rule, resource, problem))
    return found


def check(rule: Rule, resource: Resource, model: Model) -> Problem | None:
    """``rule.check``, except that a template shape the rule did not foresee skips the resource with a warning
    instead of failing the user's synth."""
    try:
        return rule.check(resource, model)
    except Exception as error:  # a bug in a rule must not stop a synth; it is reported, not hidden
        warnings.warn(f"{rule.rule_id} could not check {model.display(resource)}: {error!r}", stacklevel=2)
        return None

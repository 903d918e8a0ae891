"""Eventweave-FifoCompatibility (error): FIFO queue or topic options that AWS refuses, or cannot deliver with.

- An SQS FIFO event source with a batching window, or a batch size above 10: Lambda's FIFO event sources take at most
  10 messages and support no ``MaximumBatchingWindowInSeconds``
  (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html).
- A redrive policy whose dead-letter queue is not the same type: the dead-letter queue of a FIFO queue must be FIFO,
  that of a standard queue standard
  (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html).
- A FIFO queue or topic as a Lambda destination (asynchronous on-success/on-failure, stream on-failure) or function
  dead-letter queue: only standard queues and topics are supported
  (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html,
  https://docs.aws.amazon.com/lambda/latest/api/API_OnFailure.html).
- A FIFO queue as an EventBridge target dead-letter queue (a standard queue,
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html), or as a target without
  ``SqsParameters.MessageGroupId`` (required for FIFO queue targets, AWS::Events::Rule SqsParameters in the
  CloudFormation reference).
- A FIFO topic with a subscription other than SQS: FIFO topics deliver to SQS queues only
  (https://docs.aws.amazon.com/sns/latest/dg/fifo-message-delivery.html).
- S3 event notifications to a FIFO queue or topic: S3 delivers to standard ones only
  (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-event-types-and-destinations.html;
  archived S3 guide, NotificationHowTo.md).
"""

from __future__ import annotations

from ..model import (
    BUCKET,
    BUCKET_NOTIFICATIONS,
    ESM,
    FUNCTION,
    INVOKE_CONFIG,
    QUEUE,
    SUBSCRIPTION,
    TOPIC,
    Model,
    Resource,
    as_bool,
)
from ..model import RULE as EVENTS_RULE
from ..rule import ERROR, Problem, Rule

__all__ = ["RULE"]

_EVENTWEAVE = (
    "QueueWorker with an SqsFifoHandler creates a FIFO queue with a FIFO dead-letter queue and refuses a batching "
    "window or a batch above 10; AsyncFunction and StreamProcessor refuse FIFO failure destinations; TopicFunction "
    "refuses a FIFO topic (use TopicFanOut with an SqsFifoHandler subscriber)."
)


def _fifo_queue(resource: Resource) -> bool:
    name = resource.properties.get("QueueName")
    return bool(as_bool(resource.properties.get("FifoQueue"))) or (isinstance(name, str) and name.endswith(".fifo"))


def _mapping(esm: Resource, model: Model) -> list[tuple[str, str]]:
    mapping = model.mapping(esm)
    out = []
    if mapping is not None and mapping.kind == "sqs" and mapping.source is not None and _fifo_queue(mapping.source):
        if mapping.batching_window > 0:
            out.append(
                (
                    f"the FIFO queue {model.display(mapping.source)} is read with a batching window "
                    f"({mapping.batching_window} s), which Lambda does not support for FIFO queues",
                    "SqsEventSource(queue) without max_batching_window",
                )
            )
        if (mapping.batch_size or 10) > 10:
            out.append(
                (
                    f"the FIFO queue {model.display(mapping.source)} is read in batches of {mapping.batch_size}; FIFO "
                    "event sources take at most 10",
                    "SqsEventSource(queue, batch_size=10)",
                )
            )
    destination = esm.prop("DestinationConfig", "OnFailure", "Destination")
    if destination and model.is_fifo(esm, destination):
        out.append(
            (
                "the on-failure destination is a FIFO queue or topic; Lambda sends failure records to standard "
                "ones only",
                "on_failure=SqsDlq(standard_queue)",
            )
        )
    return out


def _queue(queue: Resource, model: Model) -> list[tuple[str, str]]:
    target = queue.prop("RedrivePolicy", "deadLetterTargetArn")
    if not target:
        return []
    dlq = model.resolve(queue, target, QUEUE)
    dlq_fifo = _fifo_queue(dlq) if dlq is not None else model.literal_text(target).endswith(".fifo")
    if dlq is None and not isinstance(target, str) and not dlq_fifo:
        return []  # a dead-letter queue this check cannot see
    if dlq_fifo == _fifo_queue(queue):
        return []
    kinds = ("FIFO", "standard") if _fifo_queue(queue) else ("standard", "FIFO")
    return [
        (
            f"this {kinds[0]} queue's dead-letter queue {model.display(dlq) if dlq else target} is {kinds[1]}; SQS "
            "requires a dead-letter queue of the same type",
            f"sqs.DeadLetterQueue(queue=sqs.Queue(..., fifo={kinds[0] == 'FIFO'}), max_receive_count=5)",
        )
    ]


def _invoke_config(config: Resource, model: Model) -> list[tuple[str, str]]:
    out = []
    for which in ("OnFailure", "OnSuccess"):
        destination = config.prop("DestinationConfig", which, "Destination")
        if destination and model.is_fifo(config, destination):
            out.append(
                (
                    f"the {which} destination is a FIFO queue or topic; Lambda's destinations accept standard "
                    "ones only",
                    f"{'on_failure' if which == 'OnFailure' else 'on_success'}=SqsDestination(standard_queue)",
                )
            )
    return out


def _function(function: Resource, model: Model) -> list[tuple[str, str]]:
    target = function.prop("DeadLetterConfig", "TargetArn")
    if target and model.is_fifo(function, target):
        return [
            (
                "the function's dead-letter queue is a FIFO queue or topic; Lambda's function dead-letter queue takes "
                "standard ones only",
                "lambda_.Function(..., dead_letter_queue=standard_queue)",
            )
        ]
    return []


def _rule(rule: Resource, model: Model) -> list[tuple[str, str]]:
    out = []
    for target in rule.properties.get("Targets") or []:
        if not isinstance(target, dict):
            continue
        dlq = (target.get("DeadLetterConfig") or {}).get("Arn")
        if dlq and model.is_fifo(rule, dlq):
            out.append(
                (
                    f"target {target.get('Id')}'s dead-letter queue is a FIFO queue; EventBridge needs a standard one",
                    "targets.SqsQueue/LambdaFunction(..., dead_letter_queue=standard_queue)",
                )
            )
        arn = target.get("Arn")
        queue = model.resolve(rule, arn, QUEUE)
        fifo_target = _fifo_queue(queue) if queue is not None else model.literal_text(arn).endswith(".fifo")
        if fifo_target and not (target.get("SqsParameters") or {}).get("MessageGroupId"):
            out.append(
                (
                    f"target {target.get('Id')} is a FIFO queue without SqsParameters.MessageGroupId, which "
                    "EventBridge requires for FIFO queues",
                    "targets.SqsQueue(queue, message_group_id=...)",
                )
            )
    return out


def _subscription(subscription: Resource, model: Model) -> list[tuple[str, str]]:
    topic = model.resolve(subscription, subscription.properties.get("TopicArn"), TOPIC)
    protocol = str(subscription.properties.get("Protocol", "")).lower()
    if topic is None or protocol == "sqs":
        return []
    name = topic.properties.get("TopicName")
    if not (as_bool(topic.properties.get("FifoTopic")) or (isinstance(name, str) and name.endswith(".fifo"))):
        return []
    return [
        (
            f"the FIFO topic {model.display(topic)} has a {protocol} subscription; FIFO topics deliver to SQS "
            "queues only",
            "subscribe a queue (SqsSubscription) and consume it with an SqsEventSource",
        )
    ]


def _notifications(resource: Resource, model: Model) -> list[tuple[str, str]]:
    if resource.type == BUCKET:
        config = resource.properties.get("NotificationConfiguration") or {}
        targets = [c.get("Queue") for c in config.get("QueueConfigurations") or []]
        targets += [c.get("Topic") for c in config.get("TopicConfigurations") or []]
    else:
        config = resource.properties.get("NotificationConfiguration") or {}
        targets = [c.get("QueueArn") for c in config.get("QueueConfigurations") or []]
        targets += [c.get("TopicArn") for c in config.get("TopicConfigurations") or []]
    if any(t and model.is_fifo(resource, t) for t in targets):
        return [
            (
                "S3 event notifications go to a FIFO queue or topic; S3 delivers to standard ones only",
                "bucket.add_event_notification(..., s3n.SqsDestination(standard_queue))",
            )
        ]
    return []


_CHECKS = {
    ESM: _mapping,
    QUEUE: _queue,
    INVOKE_CONFIG: _invoke_config,
    FUNCTION: _function,
    EVENTS_RULE: _rule,
    SUBSCRIPTION: _subscription,
    BUCKET: _notifications,
    BUCKET_NOTIFICATIONS: _notifications,
}


def check(resource: Resource, model: Model) -> Problem | None:
    """FIFO options of event sources, redrive policies, destinations, targets, subscriptions and notifications."""
    problems = _CHECKS[resource.type](resource, model)
    if not problems:
        return None
    return Problem(
        what="; ".join(what for what, _ in problems) + ".",
        cdk="; ".join(fix for _, fix in problems) + ".",
        eventweave=_EVENTWEAVE,
    )


RULE = Rule(
    id="FifoCompatibility",
    level=ERROR,
    info="FIFO queue or topic options that AWS refuses, or cannot deliver with.",
    explanation="FIFO event sources take no batching window and at most 10 messages, dead-letter queues must match "
    "their queue's type, Lambda destinations and S3 notifications take standard queues and topics only, FIFO topics "
    "deliver to SQS only, FIFO queue targets need a message group id.",
    types=frozenset(_CHECKS),
    check=check,
)

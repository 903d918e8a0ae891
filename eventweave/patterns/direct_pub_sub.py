"""Direct pub-sub: SNS -> Lambda (TopicFunction) and EventBridge rule -> Lambda (RuleFunction).

Both invoke the function asynchronously, so both get the same failure handling on the function: Lambda's own
retries (``retry_attempts``, ``max_event_age``) and then an on-failure destination, which is also where the handler
sends poison (``EVENTWEAVE_DLQ``). What the service could not deliver at all has its own dead-letter queue: the SNS
subscription's redrive policy, the EventBridge target's ``DeadLetterConfig``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from eventweave.constructs.function import EventFunction
from eventweave.handlers.base import BaseHandler

from .async_function import AsyncFunction, FailureQueue, check_async_settings
from .topic_fan_out import SecureTopic, SubscriptionDeadLetterQueue, grant_publish

__all__ = [
    "DEFAULT_MAX_EVENT_AGE",
    "DEFAULT_RETRY_ATTEMPTS",
    "DEFAULT_TARGET_MAX_EVENT_AGE",
    "DEFAULT_TARGET_RETRY_ATTEMPTS",
    "RuleFunction",
    "TopicFunction",
]

DEFAULT_RETRY_ATTEMPTS = 2
"""Lambda's asynchronous retries after a function error (0-2): Lambda's own default, kept explicit."""
DEFAULT_MAX_EVENT_AGE = Duration.hours(6)
"""How long Lambda keeps an event it could not run yet (throttled, 60 s - 6 h): Lambda's default, kept explicit."""
DEFAULT_TARGET_RETRY_ATTEMPTS = 185
"""EventBridge's attempts to hand an event to the function (0-185). These retries cover delivery only (throttled
``Invoke``, service errors): once Lambda accepted the event, ``retry_attempts`` apply. Delivery failures are
transient and a retry costs nothing the handler does not already absorb (it is idempotent-aware and Lambda's async
queue may duplicate anyway), so the maximum (also EventBridge's classic default) keeps events out of the dead-letter
queue through any outage shorter than :data:`DEFAULT_TARGET_MAX_EVENT_AGE`; errors that retries cannot fix (missing
permission, deleted function) go to the dead-letter queue without waiting for them."""
DEFAULT_TARGET_MAX_EVENT_AGE = Duration.hours(24)
"""How long EventBridge keeps trying to deliver (60 s - 24 h): the maximum, for the reason above."""


class TopicFunction(Construct):
    """An SNS topic -> a Lambda function running an eventweave ``SnsHandler``, with every failure kept.

    - Delivery: a Lambda subscription (optional filter policy on attributes or on the body) whose redrive policy
      sends notifications SNS could not deliver (after its 23 days of retries) to a dead-letter queue.
    - Processing: Lambda's asynchronous retries (``retry_attempts``, ``max_event_age``), then an on-failure
      destination. Poison (validation failures, ``PermanentError``, recursion limit) goes to the same destination at
      once (``EVENTWEAVE_DLQ``).
    - The new topic is a :class:`SecureTopic` (KMS, TLS-only); the subscription's dead-letter queue is encrypted
      with a key SNS may use for this topic only.

    Example::

        receipts = TopicFunction(self, "Receipts", handler=EmailReceipt, topic=orders.topic,
                                 filter_policy={"region": sns.SubscriptionFilter.string_filter(allowlist=["eu"])})
        receipts.function, receipts.subscription, receipts.on_failure, receipts.subscription_dead_letter_queue

    :param handler: an ``SnsHandler`` subclass.
    :param topic: the topic to subscribe to. Default: a new :class:`SecureTopic`. FIFO topics cannot invoke Lambda.
    :param publishers: principals allowed to publish to the new topic. Default: none.
    :param filter_policy: filter on message attributes. Default: every message.
    :param filter_policy_with_message_body: filter on the JSON message body. Default: none. Not with
        ``filter_policy``.
    :param retry_attempts: Lambda's retries after a function error (0-2). Default: 2.
    :param max_event_age: maximum age of an event Lambda still runs (60 s - 6 h). Default: 6 hours.
    :param on_failure: where failed events and poison go (standard queue or topic; the function's role is granted
        send/publish). Default: a new encrypted :class:`FailureQueue` with an alarm (see :class:`AsyncFunction`).
    :param subscription_dead_letter_queue: where SNS sends what it could not deliver; SNS must be allowed to send
        to it and to use its key. Default: a new :class:`SubscriptionDeadLetterQueue` (KMS, alarm).
    :param timeout: function timeout. Default: 30 s.
    :param idempotency_table: Default: a new table if the handler declares idempotency.
    :param options: further :class:`AsyncFunction` options (``on_success``, ``failure_consumer``, ``alarms``) and
        :class:`EventFunction` options (``memory_size``, ``environment``, ``max_hops``, ...).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        handler: type[BaseHandler[Any, Any]],
        topic: sns.ITopic | None = None,
        publishers: Sequence[iam.IGrantable] = (),
        filter_policy: Mapping[str, sns.SubscriptionFilter] | None = None,
        filter_policy_with_message_body: Mapping[str, sns.FilterOrPolicy] | None = None,
        retry_attempts: int = DEFAULT_RETRY_ATTEMPTS,
        max_event_age: Duration = DEFAULT_MAX_EVENT_AGE,
        on_failure: sqs.IQueue | sns.ITopic | None = None,
        subscription_dead_letter_queue: sqs.IQueue | None = None,
        timeout: Duration | None = None,
        idempotency_table: dynamodb.ITable | None = None,
        **options: Any,
    ) -> None:
        super().__init__(scope, id)
        contract = handler.contract()
        if contract.source != "sns":
            raise TypeError(
                f"{self.node.path}: TopicFunction needs an SnsHandler, {handler.__qualname__} handles "
                f"{contract.source!r} events (for SQS subscribers use TopicFanOut)"
            )
        check_async_settings(self.node.path, retry_attempts, max_event_age)
        if filter_policy and filter_policy_with_message_body:
            raise ValueError(
                f"{self.node.path}: pass filter_policy (message attributes) or filter_policy_with_message_body "
                "(message body), not both"
            )

        self.secure_topic: SecureTopic | None = None
        if topic is None:
            self.secure_topic = SecureTopic(self, "Topic", publishers=publishers)
            topic = self.secure_topic.topic
        else:
            if topic.fifo:
                raise ValueError(
                    f"{self.node.path}: SNS FIFO topics deliver to SQS queues only, not to Lambda; use TopicFanOut "
                    "with an SqsFifoHandler subscriber"
                )
            for publisher in publishers:
                grant_publish(topic, publisher)
        self.topic: sns.ITopic = topic

        self.undelivered: SubscriptionDeadLetterQueue | None = None
        if subscription_dead_letter_queue is None:
            self.undelivered = SubscriptionDeadLetterQueue(self, "Undelivered", topic=topic)
            subscription_dead_letter_queue = self.undelivered.queue
        self.subscription_dead_letter_queue: sqs.IQueue = subscription_dead_letter_queue

        # Lambda's retries, the on-failure destination (also EVENTWEAVE_DLQ for poison), no legacy function DLQ.
        self.async_function = AsyncFunction(
            self,
            "Handler",
            handler=handler,
            on_failure=on_failure,
            retry_attempts=retry_attempts,
            max_event_age=max_event_age,
            idempotency_table=idempotency_table,
            timeout=timeout,
            **{"service_name": id, **options},
        )
        self.worker: EventFunction = self.async_function.worker
        self.function: lambda_.Function = self.async_function.function
        self.on_failure: Any = self.async_function.on_failure
        self.failure_queue: FailureQueue | None = self.async_function.failure_queue

        self.subscription: sns.Subscription = topic.add_subscription(
            subscriptions.LambdaSubscription(
                self.function,
                filter_policy=dict(filter_policy) if filter_policy else None,
                filter_policy_with_message_body=(
                    dict(filter_policy_with_message_body) if filter_policy_with_message_body else None
                ),
                dead_letter_queue=subscription_dead_letter_queue,
            )
        )

    def grant_publish(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to publish to the topic (``sns:Publish`` and use of its key)."""
        return grant_publish(self.topic, grantee)


class RuleFunction(Construct):
    """An EventBridge rule -> a Lambda function running an eventweave ``EventBridgeHandler``, with every failure kept.

    - Matching: the rule's pattern defaults to the ``detail-type`` s the handler routes with ``@on_event``, so the
      rule sends exactly what the handler has methods for.
    - Delivery: the target's retry policy (``target_retry_attempts``, ``target_max_event_age``), then its
      dead-letter queue (encrypted with a key EventBridge may use).
    - Processing: Lambda's asynchronous retries (``retry_attempts``, ``max_event_age``), then an on-failure
      destination, which also receives poison at once (``EVENTWEAVE_DLQ``).

    Example::

        tracking = RuleFunction(self, "Tracking", handler=TrackOrders)      # detail-type OrderPlaced/OrderCancelled
        audit = RuleFunction(self, "Audit", handler=AuditEvent, event_bus=bus,
                             event_pattern=events.EventPattern(source=["shop.orders"]))
        tracking.rule, tracking.function, tracking.target_dead_letter_queue, tracking.on_failure

    :param handler: an ``EventBridgeHandler`` subclass.
    :param event_bus: the bus the rule listens on. Default: the account's default bus.
    :param event_pattern: Default: ``detail_type`` = the handler's ``@on_event`` types; required when the handler
        declares none. A pattern naming a detail-type the handler has no method (and no ``handle``) for is refused.
    :param rule_name: Default: generated.
    :param target_retry_attempts: EventBridge's delivery attempts (0-185). Default: 185 (see
        :data:`DEFAULT_TARGET_RETRY_ATTEMPTS`).
    :param target_max_event_age: how long EventBridge keeps trying (60 s - 24 h). Default: 24 hours.
    :param target_dead_letter_queue: where EventBridge sends what it could not deliver; EventBridge must be allowed
        to use its key. Default: a new :class:`FailureQueue` with a KMS key EventBridge may use, and an alarm.
    :param retry_attempts: Lambda's retries after a function error (0-2). Default: 2.
    :param max_event_age: maximum age of an event Lambda still runs (60 s - 6 h). Default: 6 hours.
    :param on_failure: where failed events and poison go (standard queue or topic). Default: a new encrypted
        :class:`FailureQueue` with an alarm (see :class:`AsyncFunction`).
    :param timeout: function timeout. Default: 30 s.
    :param idempotency_table: Default: a new table if the handler declares idempotency.
    :param options: further :class:`AsyncFunction` options (``on_success``, ``failure_consumer``, ``alarms``) and
        :class:`EventFunction` options (``memory_size``, ``environment``, ``max_hops``, ...).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        handler: type[BaseHandler[Any, Any]],
        event_bus: events.IEventBus | None = None,
        event_pattern: events.EventPattern | None = None,
        rule_name: str | None = None,
        target_retry_attempts: int = DEFAULT_TARGET_RETRY_ATTEMPTS,
        target_max_event_age: Duration = DEFAULT_TARGET_MAX_EVENT_AGE,
        target_dead_letter_queue: sqs.IQueue | None = None,
        retry_attempts: int = DEFAULT_RETRY_ATTEMPTS,
        max_event_age: Duration = DEFAULT_MAX_EVENT_AGE,
        on_failure: sqs.IQueue | sns.ITopic | None = None,
        timeout: Duration | None = None,
        idempotency_table: dynamodb.ITable | None = None,
        **options: Any,
    ) -> None:
        super().__init__(scope, id)
        contract = handler.contract()
        if contract.source != "eventbridge":
            raise TypeError(
                f"{self.node.path}: RuleFunction needs an EventBridgeHandler, {handler.__qualname__} handles "
                f"{contract.source!r} events"
            )
        check_async_settings(self.node.path, retry_attempts, max_event_age)
        if not 0 <= target_retry_attempts <= 185:
            raise ValueError(f"{self.node.path}: target_retry_attempts must be 0-185, got {target_retry_attempts}")
        target_age = target_max_event_age.to_seconds()
        if not 60 <= target_age <= 86_400:
            raise ValueError(f"{self.node.path}: target_max_event_age must be 60 s - 24 h, got {target_age} s")
        self.event_pattern = self._pattern(handler, event_pattern)
        self.event_bus: events.IEventBus = event_bus or events.EventBus.from_event_bus_name(
            self, "DefaultBus", "default"
        )

        self.undelivered: FailureQueue | None = None
        if target_dead_letter_queue is None:
            # EventBridge itself sends to this queue, so its key must let events.amazonaws.com use it. AWS documents
            # no aws:SourceArn condition for target dead-letter queues (only for event-bus encryption); the queue
            # policy the target adds lets EventBridge send for this rule only, and the key encrypts nothing else.
            self.undelivered = FailureQueue(self, "Undelivered", allow_services=["events"])
            target_dead_letter_queue = self.undelivered.queue
        self.target_dead_letter_queue: sqs.IQueue = target_dead_letter_queue

        # Lambda's retries, the on-failure destination (also EVENTWEAVE_DLQ for poison), no legacy function DLQ.
        self.async_function = AsyncFunction(
            self,
            "Handler",
            handler=handler,
            on_failure=on_failure,
            retry_attempts=retry_attempts,
            max_event_age=max_event_age,
            idempotency_table=idempotency_table,
            timeout=timeout,
            **{"service_name": id, **options},
        )
        self.worker: EventFunction = self.async_function.worker
        self.function: lambda_.Function = self.async_function.function
        self.on_failure: Any = self.async_function.on_failure
        self.failure_queue: FailureQueue | None = self.async_function.failure_queue

        self.rule = events.Rule(
            self,
            "Rule",
            event_bus=self.event_bus,
            event_pattern=self.event_pattern,
            rule_name=rule_name,
            description=f"eventweave: {handler.__qualname__} ({self.node.path})",
        )
        self.rule.add_target(
            targets.LambdaFunction(
                self.function,
                dead_letter_queue=target_dead_letter_queue,
                retry_attempts=target_retry_attempts,
                max_event_age=target_max_event_age,
            )
        )

    def _pattern(
        self, handler: type[BaseHandler[Any, Any]], event_pattern: events.EventPattern | None
    ) -> events.EventPattern:
        routed = handler.contract().event_types
        if event_pattern is None:
            if not routed:
                raise ValueError(
                    f"{self.node.path}: {handler.__qualname__} declares no @on_event detail-types, so there is no "
                    "pattern to derive: pass event_pattern=events.EventPattern(...)"
                )
            return events.EventPattern(detail_type=list(routed))
        has_handle = not getattr(handler.handle, "__eventweave_placeholder__", False)
        detail_types = event_pattern.detail_type or []
        if routed and not has_handle and all(isinstance(t, str) for t in detail_types):
            missing = [t for t in detail_types if t not in routed]
            if missing:
                raise ValueError(
                    f"{self.node.path}: the rule would send detail-types {missing} that {handler.__qualname__} has "
                    f"no @on_event method for (it routes {list(routed)} and has no handle()); they would all be "
                    "poison. Add methods or narrow event_pattern"
                )
        return event_pattern

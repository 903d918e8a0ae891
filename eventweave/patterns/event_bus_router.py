"""EventBusRouter: a custom EventBridge bus with an archive for replay, and rules routing events to functions, queue
workers and topics, each target with its retry policy and dead-letter queue."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jsii
from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk.interfaces.aws_events import IRuleRef
from constructs import Construct

from eventweave.constructs.queue import DEFAULT_MAX_RECEIVE_COUNT, DurableQueue
from eventweave.handlers.base import BaseHandler

from .async_function import AsyncFunction, DestinationTarget, FailureQueue
from .queue_worker import QueueWorker

__all__ = ["DEFAULT_ARCHIVE_RETENTION", "EventBusRouter", "Route", "TopicTarget"]

DEFAULT_ARCHIVE_RETENTION = Duration.days(14)
"""As long as eventweave's dead-letter queues keep a message: any failure found in one can still be replayed."""

QUEUE_SAME_ACCOUNT_FLAG = "@aws-cdk/aws-events:eventsTargetQueueSameAccount"

MAX_DELIVERY_RETRIES = 185
MAX_DELIVERY_AGE = Duration.hours(24)

EventPatternLike = events.EventPattern | Mapping[str, Any]


@jsii.implements(events.IRuleTarget)
class TopicTarget:
    """An SNS topic as rule target that only this rule may publish to, with a retry policy and a dead-letter queue.

    ``aws_events_targets.SnsTopic`` lets ``events.amazonaws.com`` publish to the topic with no condition, so any
    account's rule could target it (the confused deputy); this target adds the statement with ``aws:SourceArn`` set
    to the rule, and lets EventBridge send to the dead-letter queue for that rule only.

    Example::

        rule.add_target(TopicTarget(topic, dead_letter_queue=dlq, retry_attempts=185, max_event_age=Duration.hours(24)))
    """

    def __init__(
        self, topic: sns.ITopic, *, dead_letter_queue: sqs.IQueue, retry_attempts: int, max_event_age: Duration
    ) -> None:
        self.topic = topic
        self.dead_letter_queue = dead_letter_queue
        self.retry_attempts = retry_attempts
        self.max_event_age = max_event_age

    def bind(self, rule: IRuleRef, id: str | None = None) -> events.RuleTargetConfig:
        rule_arn = rule.rule_ref.rule_arn
        service = iam.ServicePrincipal("events.amazonaws.com")
        condition = {"ArnEquals": {"aws:SourceArn": rule_arn}}
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["sns:Publish"], principals=[service], resources=[self.topic.topic_arn], conditions=condition
            )
        )
        self.dead_letter_queue.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["sqs:SendMessage"],
                principals=[service],
                resources=[self.dead_letter_queue.queue_arn],
                conditions=condition,
            )
        )
        return events.RuleTargetConfig(
            arn=self.topic.topic_arn,
            dead_letter_config=events.CfnRule.DeadLetterConfigProperty(arn=self.dead_letter_queue.queue_arn),
            retry_policy=events.CfnRule.RetryPolicyProperty(
                maximum_retry_attempts=self.retry_attempts,
                maximum_event_age_in_seconds=int(self.max_event_age.to_seconds()),
            ),
            target_resource=self.topic,
        )


@dataclass(frozen=True)
class Route:
    """One rule of an :class:`EventBusRouter` and what it delivers to.

    ``kind`` is ``"function"``, ``"queue-worker"`` or ``"topic"``; ``dead_letter_queue`` receives the events
    EventBridge could not deliver to the target after its retry policy; ``failures`` is where the handler's failure
    records and poison go (none for a topic).
    """

    id: str
    kind: str
    rule: events.Rule
    dead_letter_queue: sqs.IQueue
    function: AsyncFunction | None = None
    worker: QueueWorker | None = None
    queue: DurableQueue | None = None
    topic: sns.ITopic | None = None
    failures: FailureQueue | None = None


class EventBusRouter(Construct):
    """A custom event bus whose rules route events to eventweave handlers, queue-buffered workers and topics.

    Every target gets an explicit retry policy and a dead-letter queue (events EventBridge could not deliver), so no
    event is dropped silently; handlers' failures go to their own failure destinations. All events on the bus are
    archived for replay (14 days by default). The router's queues share one rotating KMS key whose policy lets
    EventBridge deliver to them.

    Example::

        router = EventBusRouter(self, "Orders")
        router.route_to_function("Shipping", handler=Shipping)            # @on_event detail-types -> pattern
        router.route_to_queue_worker("Invoicing", handler=Invoicing, batch_size=10)
        router.route_to_topic("Audit", topic=audit_topic, event_pattern=events.EventPattern(source=["shop"]))
        router.event_bus.grant_put_events_to(producer)

    :param event_bus: bring your own bus (same account). Default: a new custom bus.
    :param archive: archive every event of this account on the bus, for replay: ``True`` (14 days), a retention
        ``Duration``, or ``False``. Default: True.
    :param event_bus_name: name of a new bus. Default: generated.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        event_bus: events.IEventBus | None = None,
        archive: bool | Duration = True,
        event_bus_name: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        # CDK's SqsQueue target lets events.amazonaws.com send to a KMS-encrypted queue without any condition unless
        # this flag is on; with it, only EventBridge rules of this account may (aws:SourceAccount). Set here, before
        # any child exists, it applies to this router's rules only.
        self.node.set_context(QUEUE_SAME_ACCOUNT_FLAG, True)
        if event_bus is not None and event_bus_name is not None:
            raise ValueError(f"{self.node.path}: event_bus_name names a new bus; yours already has a name")
        self.event_bus: events.IEventBus = event_bus or events.EventBus(
            self, "Bus", event_bus_name=event_bus_name, description=f"eventweave router {self.node.path}"
        )
        self.archive: events.Archive | None = None
        if archive is not False:
            retention = DEFAULT_ARCHIVE_RETENTION if archive is True else archive
            if not isinstance(retention, Duration):
                raise TypeError(f"{self.node.path}: archive must be True, False or a Duration, got {archive!r}")
            self.archive = self.event_bus.archive(
                "Archive",
                event_pattern=events.EventPattern(account=[Stack.of(self).account]),
                retention=retention,
                description=f"Every event of {self.node.path}, for replay",
            )
        self.routes: dict[str, Route] = {}
        self._keys_shared: list[kms.IKey] = []
        self._key: kms.Key | None = None

    @property
    def key(self) -> kms.IKey:
        """The KMS key of the router's queues (created with the first route); EventBridge may use it."""
        if self._key is None:
            self._key = kms.Key(
                self,
                "Key",
                enable_key_rotation=True,
                description=f"Encrypts the queues of {self.node.path}",
                removal_policy=RemovalPolicy.DESTROY,
            )
            self._key.add_to_resource_policy(
                iam.PolicyStatement(
                    actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                    principals=[iam.ServicePrincipal("events.amazonaws.com")],
                    resources=["*"],  # in a key policy "*" means this key
                )
            )
        return self._key

    # -- routes ------------------------------------------------------------------------------------------------------

    def route_to_function(
        self,
        id: str,
        *,
        handler: type[BaseHandler[Any, Any]],
        event_pattern: EventPatternLike | None = None,
        retry_attempts: int = 2,
        max_event_age: Duration | None = None,
        on_success: DestinationTarget | None = None,
        delivery_retry_attempts: int = MAX_DELIVERY_RETRIES,
        delivery_max_event_age: Duration | None = None,
        **function_props: Any,
    ) -> Route:
        """Rule -> Lambda function (an ``EventBridgeHandler``), invoked asynchronously.

        The function is an :class:`AsyncFunction`: Lambda retries a failed event ``retry_attempts`` times (0-2) and
        then sends its record to the function's :class:`FailureQueue` (``route.failures``), which is also the
        handler's poison destination. Events EventBridge could not hand to Lambda at all go to the target's
        dead-letter queue (``route.dead_letter_queue``).

        :param event_pattern: Default: the handler's ``@on_event`` detail-types.
        :param retry_attempts: Lambda's retries after a function error, 0-2. Default: 2.
        :param max_event_age: Lambda's asynchronous event age limit, 60 s - 6 h. Default: 6 h.
        :param on_success: destination of successful invocations' records. Default: none.
        :param delivery_retry_attempts: EventBridge's retries when it cannot invoke the function, 0-185. Default: 185.
        :param delivery_max_event_age: 60 s - 24 h. Default: 24 h.
        """
        self._check_id(id)
        contract = handler.contract()
        if contract.source != "eventbridge":
            hint = " (use route_to_queue_worker)" if contract.source == "sqs" else ""
            raise TypeError(
                f"{self.node.path}/{id}: route_to_function needs an EventBridgeHandler, {handler.__qualname__} handles "
                f"{contract.source!r} events{hint}"
            )
        pattern = self._pattern(id, handler, event_pattern)
        retry = self._delivery(id, delivery_retry_attempts, delivery_max_event_age)
        scope = Construct(self, id)
        # EventBridge writes only to this queue (under the router's key); the function writes only to its own
        # SQS-encrypted failure queue, so its role needs no KMS permissions.
        undelivered = FailureQueue(scope, "Undelivered", encryption_key=self.key)
        function = AsyncFunction(
            scope,
            "Handler",
            handler=handler,
            on_success=on_success,
            retry_attempts=retry_attempts,
            max_event_age=max_event_age,
            **function_props,
        )
        rule = events.Rule(
            scope,
            "Rule",
            event_bus=self.event_bus,
            event_pattern=pattern,
            description=f"{scope.node.path} -> {handler.__qualname__}",
            targets=[targets.LambdaFunction(function.function, dead_letter_queue=undelivered.queue, **retry)],
        )
        route = Route(id, "function", rule, undelivered.queue, function=function, failures=function.failure_queue)
        self.routes[id] = route
        return route

    def route_to_queue_worker(
        self,
        id: str,
        *,
        handler: type[BaseHandler[Any, Any]],
        event_pattern: EventPatternLike | None = None,
        batch_size: int = 10,
        max_batching_window: Duration | None = None,
        max_concurrency: int | None = None,
        max_receive_count: int = DEFAULT_MAX_RECEIVE_COUNT,
        timeout: Duration | None = None,
        delivery_retry_attempts: int = MAX_DELIVERY_RETRIES,
        delivery_max_event_age: Duration | None = None,
        **function_props: Any,
    ) -> Route:
        """Rule -> encrypted queue -> Lambda (an ``SqsHandler``, which unwraps each message's EventBridge event).

        The queue buffers bursts and lets the worker take batches; it is a :class:`DurableQueue` (visibility timeout
        6x the function timeout, DLQ after ``max_receive_count`` receives) drained by a :class:`QueueWorker` with
        partial batch responses. Its DLQ is also the rule target's dead-letter queue: it holds every event that was not
        delivered or not processed, as the event. Poison records go to ``route.failures``.

        :param event_pattern: Default: the handler's ``@on_event`` detail-types.
        :param batch_size, max_batching_window, max_concurrency, max_receive_count, timeout: as for
            :class:`QueueWorker`.
        :param delivery_retry_attempts: EventBridge's retries when it cannot send to the queue, 0-185. Default: 185.
        :param delivery_max_event_age: 60 s - 24 h. Default: 24 h.
        """
        self._check_id(id)
        contract = handler.contract()
        if contract.source != "sqs":
            hint = " (use route_to_function)" if contract.source == "eventbridge" else ""
            raise TypeError(
                f"{self.node.path}/{id}: route_to_queue_worker needs an SqsHandler, {handler.__qualname__} handles "
                f"{contract.source!r} events{hint}"
            )
        if contract.fifo:
            raise TypeError(
                f"{self.node.path}/{id}: {handler.__qualname__} is a FIFO handler; route_to_queue_worker feeds a "
                "standard queue (EventBridge events carry no message group)"
            )
        pattern = self._pattern(id, handler, event_pattern)
        retry = self._delivery(id, delivery_retry_attempts, delivery_max_event_age)
        timeout = timeout or Duration.seconds(30)
        scope = Construct(self, id)
        queue = DurableQueue(
            scope,
            "Queue",
            consumer_timeout=timeout,
            max_batching_window=max_batching_window,
            max_receive_count=max_receive_count,
            encryption_key=self.key,
        )
        # Poison goes to a queue of its own under SQS-managed encryption, so the worker's role needs no KMS
        # permissions beyond kms:Decrypt on the queue it consumes.
        poison = FailureQueue(scope, "Poison")
        worker = QueueWorker(
            scope,
            "Worker",
            handler=handler,
            queue=queue.queue,
            dead_letter_queue=poison.queue,
            batch_size=batch_size,
            max_batching_window=max_batching_window,
            max_concurrency=max_concurrency,
            timeout=timeout,
            **function_props,
        )
        rule = events.Rule(
            scope,
            "Rule",
            event_bus=self.event_bus,
            event_pattern=pattern,
            description=f"{scope.node.path} -> queue -> {handler.__qualname__}",
            targets=[targets.SqsQueue(queue.queue, dead_letter_queue=queue.dead_letter_queue, **retry)],
        )
        route = Route(id, "queue-worker", rule, queue.dead_letter_queue, worker=worker, queue=queue, failures=poison)
        self.routes[id] = route
        return route

    def route_to_topic(
        self,
        id: str,
        *,
        topic: sns.ITopic,
        event_pattern: EventPatternLike,
        delivery_retry_attempts: int = MAX_DELIVERY_RETRIES,
        delivery_max_event_age: Duration | None = None,
    ) -> Route:
        """Rule -> SNS topic, with a dead-letter queue for events EventBridge could not publish.

        EventBridge publishes under the topic's resource policy, which gets a statement for this rule only (see
        :class:`TopicTarget`; an imported topic's policy is yours to set). A topic encrypted with a customer-managed
        key created in this app (``TopicFanOut``'s, say) gets a key-policy statement letting ``events.amazonaws.com``
        use it for this bus's rules (the key policy cannot name the rule itself: the rule refers to the topic, which
        refers to the key); an imported key's policy is yours to set, and the AWS managed key cannot be used by
        EventBridge at all. FIFO topics are not supported.

        :param event_pattern: which events to publish (required: a topic has no handler to read it from).
        :param delivery_retry_attempts: 0-185. Default: 185.
        :param delivery_max_event_age: 60 s - 24 h. Default: 24 h.
        """
        self._check_id(id)
        if getattr(topic, "fifo", False):
            raise ValueError(f"{self.node.path}/{id}: EventBridge rules cannot target FIFO topics")
        pattern = self._pattern(id, None, event_pattern)
        retry = self._delivery(id, delivery_retry_attempts, delivery_max_event_age)
        scope = Construct(self, id)
        undelivered = FailureQueue(scope, "Undelivered", encryption_key=self.key)
        rule = events.Rule(
            scope,
            "Rule",
            event_bus=self.event_bus,
            event_pattern=pattern,
            description=f"{scope.node.path} -> topic",
            targets=[TopicTarget(topic, dead_letter_queue=undelivered.queue, **retry)],
        )
        self._let_rules_use_key(topic.master_key)
        route = Route(id, "topic", rule, undelivered.queue, topic=topic)
        self.routes[id] = route
        return route

    # -- helpers -----------------------------------------------------------------------------------------------------

    def _let_rules_use_key(self, key: kms.IKey | None) -> None:
        if key is None or key in self._keys_shared:
            return
        self._keys_shared.append(key)
        bus_rules = Stack.of(self).format_arn(
            service="events", resource="rule", resource_name=f"{self.event_bus.event_bus_name}/*"
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowEventBridgeRulesOfTheBus",
                actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                resources=["*"],  # in a key policy, "*" is this key
                conditions={"ArnLike": {"aws:SourceArn": bus_rules}},
            )
        )

    def _check_id(self, id: str) -> None:
        if id in self.routes:
            raise ValueError(f"{self.node.path}: a route named {id!r} exists already")

    def _delivery(self, id: str, retry_attempts: int, max_event_age: Duration | None) -> dict[str, Any]:
        where = f"{self.node.path}/{id}"
        if isinstance(retry_attempts, bool) or not isinstance(retry_attempts, int):
            raise TypeError(f"{where}: delivery_retry_attempts must be an int (0-185), got {retry_attempts!r}")
        if not 0 <= retry_attempts <= MAX_DELIVERY_RETRIES:
            raise ValueError(f"{where}: delivery_retry_attempts must be 0-185 (EventBridge), got {retry_attempts}")
        age = max_event_age or MAX_DELIVERY_AGE
        if not 60 <= age.to_seconds() <= MAX_DELIVERY_AGE.to_seconds():
            raise ValueError(
                f"{where}: delivery_max_event_age must be between 60 seconds and 24 hours (EventBridge), "
                f"got {age.to_seconds():g} s"
            )
        return {"retry_attempts": retry_attempts, "max_event_age": age}

    def _pattern(
        self, id: str, handler: type[BaseHandler[Any, Any]] | None, pattern: EventPatternLike | None
    ) -> events.EventPattern:
        """The rule's pattern: given, or the handler's ``@on_event`` detail-types; checked against the handler."""
        where = f"{self.node.path}/{id}"
        routes = handler.contract().event_types if handler is not None else ()
        if pattern is None:
            if not routes:
                raise ValueError(
                    f"{where}: pass event_pattern; {getattr(handler, '__qualname__', 'the target')} declares no "
                    "@on_event detail-types to derive one from"
                )
            return events.EventPattern(detail_type=list(routes))
        if isinstance(pattern, Mapping):
            pattern = events.EventPattern(**{k.replace("-", "_"): v for k, v in pattern.items()})
        if handler is not None and routes and not _handles_everything(handler):
            wanted = pattern.detail_type
            if wanted is None:
                raise ValueError(
                    f"{where}: {handler.__qualname__} handles only {sorted(routes)} (no handle() fallback) but the "
                    "pattern matches any detail-type; add detail_type to the pattern or a handle() method"
                )
            unknown = [t for t in wanted if isinstance(t, str) and t not in routes]
            if unknown:
                raise ValueError(
                    f"{where}: the pattern matches detail-types {unknown} that {handler.__qualname__} has no "
                    f"@on_event method for (it handles {sorted(routes)}); they would all be poison"
                )
        return pattern


def _handles_everything(handler: type[BaseHandler[Any, Any]]) -> bool:
    """Whether the handler defines ``handle`` (its fallback for detail-types without an ``@on_event`` method)."""
    return not getattr(handler.handle, "__eventweave_placeholder__", False)

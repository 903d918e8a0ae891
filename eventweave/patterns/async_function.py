"""AsyncFunction: an asynchronously invoked Lambda function with bounded retries and success / failure destinations.

Also :class:`FailureQueue`, the terminal queue every failure path of the stream, event-bus and asynchronous patterns
ends in when the user brings none.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jsii
from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from eventweave.constructs.function import EventFunction
from eventweave.constructs.nag import acknowledge
from eventweave.handlers.base import BaseHandler

from .queue_worker import QueueWorker

__all__ = [
    "ASYNC_SOURCES",
    "AsyncFunction",
    "DestinationTarget",
    "FailureQueue",
    "FunctionDestination",
    "as_destination",
]

ASYNC_SOURCES = ("lambda", "lambda-destination", "eventbridge", "sns")
"""Handler sources Lambda invokes asynchronously (``InvokeHandler``, ``DestinationHandler``, ``EventBridgeHandler``,
``SnsHandler``): the ones whose retries and failure records are the function's asynchronous invocation settings."""

DestinationTarget = Any
"""``sqs.IQueue | sns.ITopic | events.IEventBus | lambda_.IFunction | AsyncFunction | lambda_.IDestination``
(jsii interfaces cannot be combined in a checked union, so the construct checks the value itself)."""

MAX_ASYNC_RETRIES = 2
MIN_EVENT_AGE_S, MAX_EVENT_AGE_S = 60, 21_600


class FailureQueue(Construct):
    """A terminal queue for failure records: nothing consumes it, people look at it, an alarm says when to.

    It receives what the failure paths produce (Lambda's destination records, stream on-failure records, eventweave's
    poison records, events EventBridge could not deliver) and keeps them 14 days (the SQS maximum), encrypted, TLS-only,
    with an alarm on the first visible message. It has no dead-letter queue of its own: it is the end of the line
    (acknowledged as ``dlq-without-dlq`` in :mod:`eventweave.constructs.nag`).

    Example::

        failures = FailureQueue(self, "Failures", allow_services=["events"])
        failures.queue, failures.alarm, failures.key

    :param allow_services: service principals that deliver to the queue themselves ("events", "sns"); they get use of
        its KMS key. Lambda's destinations and event source mappings send with the function's role and need none.
        Default: none.
    :param encryption_key: customer-managed key. Default: a new rotating key when ``allow_services`` is set,
        SQS-managed encryption otherwise.
    :param alarm: alarm when a message is visible. Default: True.
    :param retention_period: Default: 14 days.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        allow_services: Sequence[str] = (),
        encryption_key: kms.IKey | None = None,
        alarm: bool = True,
        retention_period: Duration | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.key: kms.IKey | None = encryption_key
        if self.key is None and allow_services:
            self.key = kms.Key(
                self,
                "Key",
                enable_key_rotation=True,
                description=f"Encrypts the failure queue {self.node.path}",
                removal_policy=RemovalPolicy.DESTROY,
            )
        services = [f"{name}.amazonaws.com" if "." not in name else name for name in allow_services]
        if self.key is not None and services:
            self.key.add_to_resource_policy(
                iam.PolicyStatement(
                    actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                    principals=[iam.ServicePrincipal(s) for s in services],
                    resources=["*"],  # in a key policy "*" means this key
                )
            )
        self.queue = sqs.Queue(
            self,
            "Queue",
            retention_period=retention_period or Duration.days(14),
            encryption=sqs.QueueEncryption.KMS if self.key is not None else sqs.QueueEncryption.SQS_MANAGED,
            encryption_master_key=self.key,
            enforce_ssl=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        acknowledge(self.queue, "dlq-without-dlq")
        acknowledge(self.queue, "failure-queue")
        self.alarm: cloudwatch.Alarm | None = None
        if alarm:
            self.alarm = self.queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(1), statistic="Maximum"
            ).create_alarm(
                self,
                "Alarm",
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=f"Failure records in {self.node.path}: inspect, fix, replay",
            )


def _is_queue(value: Any) -> bool:
    return hasattr(value, "queue_url") and hasattr(value, "queue_arn")


def _is_topic(value: Any) -> bool:
    return hasattr(value, "topic_arn")


@jsii.implements(lambda_.IDestination)
class FunctionDestination:
    """A Lambda function as destination, allowed to invoke exactly that function.

    ``aws_lambda_destinations.LambdaDestination`` grants ``lambda:InvokeFunction`` on the function *and* all its
    versions and aliases (``<arn>:*``); Lambda invokes the unqualified ARN it is given, so that is all this grants.

    Example::

        fn.configure_async_invoke(on_success=FunctionDestination(audit_function))
    """

    def __init__(self, target: lambda_.IFunction) -> None:
        self.target = target

    def bind(
        self, scope: Construct, fn: lambda_.IFunction, *, type: lambda_.DestinationType | None = None
    ) -> lambda_.DestinationConfig:
        fn.add_to_role_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[self.target.function_arn])
        )
        return lambda_.DestinationConfig(destination=self.target.function_arn)


def as_destination(target: DestinationTarget, *, where: str, what: str) -> lambda_.IDestination:
    """Wrap a queue, topic, event bus or function in the matching ``aws_lambda_destinations`` class.

    FIFO queues and topics are refused: Lambda's destinations accept standard ones only.
    """
    if isinstance(target, AsyncFunction):
        target = target.function
    if _is_queue(target):
        if target.fifo:
            raise ValueError(f"{where}: {what} cannot be a FIFO queue; Lambda destinations take standard queues only")
        return destinations.SqsDestination(target)
    if _is_topic(target):
        if getattr(target, "fifo", False):
            raise ValueError(f"{where}: {what} cannot be a FIFO topic; Lambda destinations take standard topics only")
        return destinations.SnsDestination(target)
    if hasattr(target, "event_bus_arn"):
        return destinations.EventBridgeDestination(target)
    if hasattr(target, "function_arn"):
        return FunctionDestination(target)
    if hasattr(target, "bind"):
        destination: lambda_.IDestination = target
        return destination
    raise TypeError(
        f"{where}: {what} must be an sqs.IQueue, sns.ITopic, events.IEventBus, lambda_.IFunction (or AsyncFunction) "
        f"or an aws_lambda_destinations destination, got {type(target).__name__}"
    )


def check_async_settings(where: str, retry_attempts: int, max_event_age: Duration) -> None:
    """Validate Lambda's asynchronous invocation settings (retries 0-2, event age 60 s - 6 h) with a clear message."""
    if isinstance(retry_attempts, bool) or not isinstance(retry_attempts, int):
        raise TypeError(f"{where}: retry_attempts must be an int (0-2), got {retry_attempts!r}")
    if not 0 <= retry_attempts <= MAX_ASYNC_RETRIES:
        raise ValueError(f"{where}: retry_attempts must be 0-2 (Lambda asynchronous invocation), got {retry_attempts}")
    age = max_event_age.to_seconds()
    if not MIN_EVENT_AGE_S <= age <= MAX_EVENT_AGE_S:
        raise ValueError(
            f"{where}: max_event_age must be between 60 seconds and 6 hours (Lambda asynchronous invocation), "
            f"got {age:g} s"
        )


class AsyncFunction(Construct):
    """A Lambda function invoked asynchronously, whose every outcome ends somewhere.

    Lambda retries a failed invocation ``retry_attempts`` times (0-2), gives up on events still waiting after
    ``max_event_age``, and sends a record of each event it gives up on to the on-failure destination (a new encrypted
    :class:`FailureQueue` unless you choose one); on-success records go where you say. Poison (a payload that fails
    validation or raises ``PermanentError``) is not retried: the handler sends it at once to ``EVENTWEAVE_DLQ``, which
    is the on-failure queue or topic (or a new :class:`FailureQueue` when on-failure is a bus or a function). The
    function gets no legacy ``DeadLetterConfig``: the on-failure destination replaces it (both would receive every
    failed event). Alarms: failure records waiting, and destination delivery failures.

    Example::

        resize = AsyncFunction(self, "Resize", handler=Resize, on_success=results_bus, retry_attempts=1,
                               max_event_age=Duration.hours(1))
        resize.function.grant_invoke(producer)
        resize.on_failure_queue      # Lambda's failure records (AsyncInvocationRecord) and poison records

    :param handler: an ``InvokeHandler`` (or ``DestinationHandler``; ``EventBridgeHandler`` and ``SnsHandler`` too,
        for their patterns to add the trigger).
    :param on_success: where records of successful invocations go (queue, topic, event bus, function or
        AsyncFunction, or any ``aws_lambda_destinations`` destination). Default: none.
    :param on_failure: where records of failed invocations go (same kinds). Default: a new :class:`FailureQueue`, or
        the queue of ``failure_consumer``.
    :param dead_letter: where the handler sends poison (``EVENTWEAVE_DLQ``). Default: ``on_failure`` when it is a
        queue or topic, otherwise a new :class:`FailureQueue`.
    :param retry_attempts: retries after a function error, 0-2. Default: 2 (Lambda's default).
    :param max_event_age: how long Lambda keeps an event it could not run yet (throttles), 60 s - 6 h. Default: 6 h.
    :param failure_consumer: an ``SqsHandler[AsyncInvocationRecord[Model]]`` that consumes the failure records: it
        gets a :class:`QueueWorker` whose queue is the on-failure destination; poison goes to that worker's DLQ.
        Default: none (failure records wait in the queue, alarmed).
    :param idempotency_table: for an idempotent handler. Default: a new table when the handler declares idempotency.
    :param alarms: alarms on waiting failure records and on ``DestinationDeliveryFailures``. Default: True.
    :param function_props: further :class:`EventFunction` options (timeout, memory_size, environment, max_hops, ...).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        handler: type[BaseHandler[Any, Any]],
        on_success: DestinationTarget | None = None,
        on_failure: DestinationTarget | None = None,
        dead_letter: sqs.IQueue | sns.ITopic | None = None,
        retry_attempts: int = MAX_ASYNC_RETRIES,
        max_event_age: Duration | None = None,
        failure_consumer: type[BaseHandler[Any, Any]] | None = None,
        idempotency_table: dynamodb.ITable | None = None,
        alarms: bool = True,
        **function_props: Any,
    ) -> None:
        super().__init__(scope, id)
        where = self.node.path
        contract = handler.contract()
        if contract.source not in ASYNC_SOURCES:
            hint = {
                "sqs": "use QueueWorker",
                "kinesis": "use StreamProcessor",
                "dynamodb": "use StreamProcessor",
            }.get(contract.source, "use an InvokeHandler")
            raise TypeError(
                f"{where}: AsyncFunction needs a handler Lambda invokes asynchronously (InvokeHandler, "
                f"DestinationHandler, EventBridgeHandler, SnsHandler); {handler.__qualname__} handles "
                f"{contract.source!r} events: {hint}"
            )
        max_event_age = max_event_age or Duration.hours(6)
        check_async_settings(where, retry_attempts, max_event_age)
        if failure_consumer is not None and on_failure is not None:
            raise ValueError(f"{where}: pass on_failure or failure_consumer, not both (the consumer brings its queue)")

        self.failure_consumer: QueueWorker | None = None
        self.failure_queue: FailureQueue | None = None
        if failure_consumer is not None:
            consumer_contract = failure_consumer.contract()
            if consumer_contract.source != "sqs" or consumer_contract.fifo:
                raise TypeError(
                    f"{where}: failure_consumer must be a standard SqsHandler, e.g. "
                    f"SqsHandler[AsyncInvocationRecord[Model]]; {failure_consumer.__qualname__} handles "
                    f"{'FIFO ' if consumer_contract.fifo else ''}{consumer_contract.source!r} events (Lambda "
                    "destinations accept standard queues only)"
                )
            self.failure_consumer = QueueWorker(self, "FailureConsumer", handler=failure_consumer)
            on_failure = self.failure_consumer.queue
            dead_letter = dead_letter or self.failure_consumer.dead_letter_queue
        elif on_failure is None:
            self.failure_queue = FailureQueue(self, "Failures", alarm=alarms)
            on_failure = self.failure_queue.queue

        on_failure_destination = as_destination(on_failure, where=where, what="on_failure")
        on_success_destination = (
            as_destination(on_success, where=where, what="on_success") if on_success is not None else None
        )
        if dead_letter is None:
            if _is_queue(on_failure) or _is_topic(on_failure):
                dead_letter = on_failure
            else:
                self.failure_queue = FailureQueue(self, "DeadLetters", alarm=alarms)
                dead_letter = self.failure_queue.queue

        self.worker = EventFunction(
            self, "Function", handler=handler, idempotency_table=idempotency_table, **function_props
        )
        self.function: lambda_.Function = self.worker.function
        assert dead_letter is not None
        self.worker.use_dead_letter(dead_letter)
        self.dead_letter: sqs.IQueue | sns.ITopic = dead_letter
        self.function.configure_async_invoke(
            on_success=on_success_destination,
            on_failure=on_failure_destination,
            retry_attempts=retry_attempts,
            max_event_age=max_event_age,
        )
        acknowledge(self.function, "async-destination-not-dlq")

        self.on_failure: DestinationTarget = on_failure
        self.on_success: DestinationTarget | None = on_success
        self.on_failure_queue: sqs.IQueue | None = on_failure if _is_queue(on_failure) else None
        self.retry_attempts = retry_attempts
        self.max_event_age = max_event_age

        self.delivery_alarm: cloudwatch.Alarm | None = None
        if alarms:
            self.delivery_alarm = self.function.metric(
                "DestinationDeliveryFailures", statistic="Sum", period=Duration.minutes(5)
            ).create_alarm(
                self,
                "DestinationDeliveryFailuresAlarm",
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=(
                    f"Lambda could not deliver invocation records of {self.node.path} to a destination "
                    "(permissions, FIFO target, size): those records are lost"
                ),
            )

"""OrdersStack: the orders service on eventweave's patterns.

``OrderPlaced`` goes on a custom bus (archived for replay). One rule feeds billing's queue worker, another the
fulfilment topic, whose subscribers are shipping (every order) and notifications (express orders only, by a filter
policy on the message body). Billing's poison queue is read by a failure log into the ``failures`` table.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, CfnOutput, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_sns as sns
from constructs import Construct

from eventweave.patterns import EventBusRouter, FailureQueue, QueueWorker, TopicFanOut

from .handlers import TABLE_ENV
from .handlers.billing import Charge
from .handlers.failures import RecordFailure
from .handlers.notifications import NotifyExpress
from .handlers.shipping import Ship
from .models import ORDER_PLACED, SOURCE

__all__ = ["BILLING_TIMEOUT", "OrdersStack"]

BILLING_TIMEOUT = Duration.seconds(3)
"""Billing makes three DynamoDB calls and one provider call. The queue's visibility timeout is 6x this, so a record
that failed (provider unavailable) is delivered again about 18 s later."""
SUBSCRIBER_TIMEOUT = Duration.seconds(5)


class OrdersStack(Stack):
    """The orders service: bus -> billing queue worker, bus -> fulfilment topic -> shipping / notifications.

    Example::

        app = App()
        OrdersStack(app, "EventweaveOrders")
        add_checks(app)
        app.synth()

    Attributes: ``router`` (the bus and its routes), ``billing`` (the route: queue, worker, poison queue),
    ``fulfilment`` (the topic fan-out), ``shipping`` / ``notifications`` (its subscribers), ``failure_log`` and the
    tables ``charges``, ``shipments``, ``notification_log``, ``failures``.
    """

    def __init__(self, scope: Construct, id: str, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        self.charges = _table(self, "Charges")
        self.shipments = _table(self, "Shipments")
        self.notification_log = _table(self, "Notifications")
        self.failures = _table(self, "Failures", key="failure_id")

        placed = events.EventPattern(source=[SOURCE], detail_type=[ORDER_PLACED])
        self.router = EventBusRouter(self, "Orders")

        # Billing: bus -> queue -> Charge. Poison goes to the route's poison queue, undeliverable or exhausted
        # events to the queue's DLQ.
        self.billing = self.router.route_to_queue_worker(
            "Billing",
            handler=Charge,
            event_pattern=placed,
            timeout=BILLING_TIMEOUT,
            environment={TABLE_ENV["charges"]: self.charges.table_name},
        )
        assert self.billing.worker is not None and self.billing.failures is not None

        # Fulfilment: bus -> topic -> one queue + worker per subscriber. EventBridge delivers the whole event, so the
        # express filter looks into the body's detail.
        self.fulfilment = TopicFanOut(self, "Fulfilment")
        self.shipping = self.fulfilment.add_subscriber(
            "Shipping",
            handler=Ship,
            timeout=SUBSCRIBER_TIMEOUT,
            environment={TABLE_ENV["shipments"]: self.shipments.table_name},
        )
        express = sns.FilterOrPolicy.filter(sns.SubscriptionFilter.string_filter(allowlist=["express"]))
        self.notifications = self.fulfilment.add_subscriber(
            "Notifications",
            handler=NotifyExpress,
            timeout=SUBSCRIBER_TIMEOUT,
            filter_policy_with_message_body={"detail": sns.FilterOrPolicy.policy({"priority": express})},
            environment={TABLE_ENV["notifications"]: self.notification_log.table_name},
        )
        # route_to_topic also lets this bus's rules use the topic's key (EventBridge encrypts what it publishes).
        self.fulfilment_route = self.router.route_to_topic(
            "Fulfilment", topic=self.fulfilment.topic, event_pattern=placed
        )

        # The failure log drains billing's poison queue into the failures table; what it cannot read itself goes
        # to a failure queue of its own.
        self.failure_log_poison = FailureQueue(self, "FailureLogPoison")
        self.failure_log = QueueWorker(
            self,
            "FailureLog",
            handler=RecordFailure,
            queue=self.billing.failures.queue,
            dead_letter_queue=self.failure_log_poison.queue,
            timeout=SUBSCRIBER_TIMEOUT,
            environment={TABLE_ENV["failures"]: self.failures.table_name},
        )
        # Billing's poison queue is a FailureQueue: the end of the line, with no redrive policy. Draining it is a
        # choice eventweave check reports (Eventweave-QueueRedrivePolicy); acknowledged here, the cdk-nag way.
        Validations.of(self.billing.failures.queue).acknowledge(
            Acknowledgment(
                id="Eventweave-QueueRedrivePolicy",
                reason="billing's poison queue, drained by the failure log: what the log cannot parse goes to its own "
                "poison queue at once; a record it cannot store stays here, kept 14 days and alarmed on the first "
                "visible message, for an operator, rather than one more queue further away",
            )
        )

        # Each function may write exactly the items it owns, with exactly the calls it makes.
        self.charges.grant(self.billing.worker.function, "dynamodb:UpdateItem")
        self.shipments.grant(self.shipping.function, "dynamodb:UpdateItem")
        self.notification_log.grant(self.notifications.function, "dynamodb:PutItem")
        self.failures.grant(self.failure_log.function, "dynamodb:PutItem")

        self._outputs()

    def _outputs(self) -> None:
        billing, failures = self.billing, self.billing.failures
        assert billing.queue is not None and billing.worker is not None and failures is not None
        outputs = {
            "EventBusName": self.router.event_bus.event_bus_name,
            "ArchiveName": self.router.archive.archive_name if self.router.archive else "",
            "ChargesTable": self.charges.table_name,
            "ShipmentsTable": self.shipments.table_name,
            "NotificationsTable": self.notification_log.table_name,
            "FailuresTable": self.failures.table_name,
            "BillingQueueUrl": billing.queue.queue.queue_url,
            "BillingDeadLetterQueueUrl": billing.dead_letter_queue.queue_url,
            "BillingPoisonQueueUrl": failures.queue.queue_url,
            "BillingFunctionName": billing.worker.function.function_name,
            "FulfilmentTopicArn": self.fulfilment.topic.topic_arn,
            "FulfilmentUndeliveredQueueUrl": self.fulfilment_route.dead_letter_queue.queue_url,
            "ShippingQueueUrl": self.shipping.queue.queue_url,
            "ShippingDeadLetterQueueUrl": self.shipping.dead_letter_queue.queue_url,
            "NotificationsQueueUrl": self.notifications.queue.queue_url,
            "NotificationsDeadLetterQueueUrl": self.notifications.dead_letter_queue.queue_url,
            "FailureLogPoisonQueueUrl": self.failure_log_poison.queue.queue_url,
        }
        for name, value in outputs.items():
            CfnOutput(self, name, value=value)


def _table(scope: Construct, id: str, *, key: str = "order_id") -> dynamodb.Table:
    """An on-demand table keyed by ``key``, encrypted, with point-in-time recovery.

    Destroyed with the stack because this is a demo; a real service keeps its charges (``RemovalPolicy.RETAIN``).
    """
    return dynamodb.Table(
        scope,
        id,
        partition_key=dynamodb.Attribute(name=key, type=dynamodb.AttributeType.STRING),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption=dynamodb.TableEncryption.AWS_MANAGED,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        removal_policy=RemovalPolicy.DESTROY,
    )

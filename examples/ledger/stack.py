"""LedgerStack: the events table and its stream, the balance projection, the domain-event bus and its consumers."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from eventweave.patterns import EventBusRouter, StreamProcessor

from .handlers import BALANCES_TABLE, EVENT_BUS, EVENTS_TABLE, STATEMENTS_TABLE
from .handlers.overdraft import FEE_MAX_HOPS, ChargeOverdraftFee
from .handlers.projector import ProjectBalance
from .handlers.statements import RecordStatement
from .models import SOURCE

__all__ = ["FEE_MAX_HOPS", "LedgerStack"]


def _table(
    scope: Construct, id: str, *, sort_key: str | None, removal_policy: RemovalPolicy, stream: bool = False
) -> dynamodb.Table:
    return dynamodb.Table(
        scope,
        id,
        partition_key=dynamodb.Attribute(name="account_id", type=dynamodb.AttributeType.STRING),
        sort_key=dynamodb.Attribute(name=sort_key, type=dynamodb.AttributeType.NUMBER) if sort_key else None,
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption=dynamodb.TableEncryption.AWS_MANAGED,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        # The projection needs the new row only: NEW_IMAGE halves the stream's record size against both images.
        stream=dynamodb.StreamViewType.NEW_IMAGE if stream else None,
        removal_policy=removal_policy,
    )


class LedgerStack(Stack):
    """The ledger service: append-only account events, a balance projection, domain events on a bus.

    Example::

        app = App()
        LedgerStack(app, "EventweaveLedger")
        app.synth()

    Attributes: ``events`` / ``balances`` / ``statements`` (tables), ``projection`` (:class:`StreamProcessor`),
    ``bus`` (:class:`EventBusRouter`), ``statement_route`` and ``fee_route`` (its routes).
    """

    def __init__(self, scope: Construct, id: str, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        # The ledger is the system of record: kept when the stack goes. The other two are rebuilt by replaying it.
        self.events = _table(self, "Events", sort_key="version", removal_policy=RemovalPolicy.RETAIN, stream=True)
        self.balances = _table(self, "Balances", sort_key=None, removal_policy=RemovalPolicy.DESTROY)
        self.statements = _table(self, "Statements", sort_key="version", removal_policy=RemovalPolicy.DESTROY)

        self.bus = EventBusRouter(self, "DomainEvents")

        # The ledger is append-only: only INSERTs reach the function (a filter costs no invocation).
        inserts = lambda_.FilterCriteria.filter({"eventName": lambda_.FilterRule.is_equal("INSERT")})
        self.projection = StreamProcessor(
            self,
            "Projection",
            handler=ProjectBalance,
            table=self.events,
            filters=[inserts],
            service_name="ledger-projection",
            environment={BALANCES_TABLE: self.balances.table_name, EVENT_BUS: self.bus.event_bus.event_bus_name},
        )
        self.balances.grant(self.projection.function, "dynamodb:UpdateItem")
        self.bus.event_bus.grant_put_events_to(self.projection.function)

        self.statement_route = self.bus.route_to_queue_worker(
            "Statements",
            handler=RecordStatement,
            event_pattern=events.EventPattern(source=[SOURCE], detail_type=["BalanceChanged"]),
            service_name="ledger-statements",
            environment={STATEMENTS_TABLE: self.statements.table_name},
        )
        assert self.statement_route.worker is not None
        self.statements.grant(self.statement_route.worker.function, "dynamodb:PutItem")

        self.fee_route = self.bus.route_to_function(
            "OverdraftFees",
            handler=ChargeOverdraftFee,
            event_pattern=events.EventPattern(source=[SOURCE], detail_type=["Overdrawn"]),
            max_hops=FEE_MAX_HOPS,
            service_name="ledger-overdraft-fees",
            environment={EVENTS_TABLE: self.events.table_name},
        )
        assert self.fee_route.function is not None and self.fee_route.failures is not None
        self.events.grant(self.fee_route.function.function, "dynamodb:Query", "dynamodb:PutItem")

        assert self.events.table_stream_arn is not None and self.statement_route.failures is not None
        outputs = {
            "EventsTableName": self.events.table_name,
            "EventsStreamArn": self.events.table_stream_arn,
            "BalancesTableName": self.balances.table_name,
            "StatementsTableName": self.statements.table_name,
            "EventBusName": self.bus.event_bus.event_bus_name,
            "ProjectionFunctionName": self.projection.function.function_name,
            "ProjectionFailureQueueUrl": _queue_url(self.projection.on_failure),
            "StatementsDeadLetterQueueUrl": self.statement_route.dead_letter_queue.queue_url,
            "StatementsPoisonQueueUrl": self.statement_route.failures.queue.queue_url,
            "FeeFunctionName": self.fee_route.function.function.function_name,
            "FeeFailureQueueUrl": self.fee_route.failures.queue.queue_url,
        }
        for name, value in outputs.items():
            CfnOutput(self, name, value=value)


def _queue_url(target: Any) -> str:
    url: str = target.queue_url
    return url

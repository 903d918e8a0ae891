"""DynamoDB tables the runtime needs: idempotency records and fan-in job counters."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

__all__ = ["IdempotencyTable", "JobTable"]


def _table(scope: Construct, id: str, *, sort_key: bool, removal_policy: RemovalPolicy, ttl: str) -> dynamodb.Table:
    return dynamodb.Table(
        scope,
        id,
        partition_key=dynamodb.Attribute(name="pk" if sort_key else "id", type=dynamodb.AttributeType.STRING),
        sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING) if sort_key else None,
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption=dynamodb.TableEncryption.AWS_MANAGED,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        time_to_live_attribute=ttl,
        removal_policy=removal_policy,
    )


class IdempotencyTable(Construct):
    """Table of idempotency records (partition key ``id``, TTL on ``expiration``): Powertools' layout.

    Defaults: on-demand, encrypted (AWS managed key), point-in-time recovery, destroyed with the stack (the records
    only matter for the TTL window).

    Example::

        table = IdempotencyTable(self, "Idempotency").table
    """

    def __init__(self, scope: Construct, id: str, *, removal_policy: RemovalPolicy = RemovalPolicy.DESTROY) -> None:
        super().__init__(scope, id)
        self.table = _table(self, "Table", sort_key=False, removal_policy=removal_policy, ttl="expiration")


class JobTable(Construct):
    """Fan-in job table (partition key ``pk``, sort key ``sk``, TTL on ``expires_at``), as ``FanIn`` expects.

    Defaults: on-demand, encrypted, point-in-time recovery, retained when the stack is deleted (it holds results).

    Example::

        jobs = JobTable(self, "Jobs").table
    """

    def __init__(self, scope: Construct, id: str, *, removal_policy: RemovalPolicy = RemovalPolicy.RETAIN) -> None:
        super().__init__(scope, id)
        self.table = _table(self, "Table", sort_key=True, removal_policy=removal_policy, ttl="expires_at")

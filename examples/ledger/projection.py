"""The balance projection: one item per account with its balance and the last ledger version applied to it.

Applying is one conditional update (``version < :v``), so it is idempotent per ``(account, version)`` and atomic
with the balance: a record delivered twice (streams deliver at least once) cannot add its amount twice, whatever
failed in between. A redelivery of the version last applied returns the stored balance with ``replayed=True`` so the
caller can publish again (its first publish may be the thing that failed); an older one returns ``None``.

Example::

    applied = apply("ledger-balances", event)
    if applied is not None:
        publish(BalanceChanged(..., balance=applied.balance))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from eventweave.handlers.clients import client as shared_client

from .models import LedgerEvent

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["Applied", "apply"]


@dataclass(frozen=True)
class Applied:
    """The balance right after ``version`` was applied; ``replayed`` when it had been applied before."""

    balance: int
    version: int
    replayed: bool = False


def apply(table: str, event: LedgerEvent, *, client: DynamoDBClient | None = None) -> Applied | None:
    """Add ``event.delta`` to the account's balance unless this version (or a later one) was applied already."""
    ddb = client or shared_client("dynamodb")
    key = {"account_id": {"S": event.account_id}}
    try:
        response = ddb.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET balance = if_not_exists(balance, :zero) + :delta, version = :v",
            ConditionExpression="attribute_not_exists(account_id) OR version < :v",
            ExpressionAttributeValues={
                ":zero": {"N": "0"},
                ":delta": {"N": str(event.delta)},
                ":v": {"N": str(event.version)},
            },
            ReturnValues="ALL_NEW",
        )
        return Applied(int(response["Attributes"]["balance"]["N"]), event.version)
    except ddb.exceptions.ConditionalCheckFailedException:
        pass
    # A redelivery: count it (operators see how often it happens) and read the state in the same request.
    current = ddb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="ADD redeliveries :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
        ReturnValues="ALL_NEW",
    )["Attributes"]
    if int(current["version"]["N"]) == event.version:
        return Applied(int(current["balance"]["N"]), event.version, replayed=True)
    return None

"""The ledger's write path: append an event at the next version of its account, or fail if another writer did.

The events table's key is ``(account_id, version)``. An append is a conditional put (``attribute_not_exists``):
two writers that both read version 3 both try to write version 4, DynamoDB accepts exactly one, and the other gets
:class:`ConcurrencyError`. It reads the latest version again and retries (:func:`append_next` does that loop).

Rows carry eventweave's trace (``__context``, see ``eventweave.handlers.publish.stamp_attribute``): a row appended
by a handler continues that handler's chain, hop count included, so a loop through this table is stopped by the
recursion guard.

Example::

    version = latest_version("ledger-events", "a-1")                      # 2
    append("ledger-events", "a-1", "deposit", 5_000, expected_version=version)   # writes version 3
    append_next("ledger-events", "a-1", "fee", 500)                       # reads the latest, retries on conflict
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eventweave.handlers.clients import client as shared_client
from eventweave.handlers.publish import stamp_attribute

from .models import Kind, LedgerEvent

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["ConcurrencyError", "append", "append_next", "latest_version"]

DEFAULT_ATTEMPTS = 5


class ConcurrencyError(Exception):
    """Another writer appended ``version`` of ``account_id`` first: read the latest version and decide again.

    Example::

        try:
            append(table, "a-1", "withdrawal", 2_000, expected_version=seen)
        except ConcurrencyError as conflict:
            seen = latest_version(table, conflict.account_id)    # then re-check the business rule and retry
    """

    def __init__(self, account_id: str, version: int) -> None:
        super().__init__(
            f"account {account_id} already has version {version}: another writer appended first; "
            "read the latest version and retry"
        )
        self.account_id = account_id
        self.version = version


def latest_version(table: str, account_id: str, *, client: DynamoDBClient | None = None) -> int:
    """The highest version of ``account_id`` in the ledger (0 for a new account), read consistently."""
    ddb = client or shared_client("dynamodb")
    page = ddb.query(
        TableName=table,
        KeyConditionExpression="account_id = :a",
        ExpressionAttributeValues={":a": {"S": account_id}},
        ProjectionExpression="version",
        ScanIndexForward=False,
        Limit=1,
        ConsistentRead=True,
    )
    items = page.get("Items", [])
    return int(items[0]["version"]["N"]) if items else 0


def append(
    table: str,
    account_id: str,
    kind: Kind,
    amount: int,
    expected_version: int,
    *,
    note: str = "",
    client: DynamoDBClient | None = None,
) -> LedgerEvent:
    """Write ``expected_version + 1`` of ``account_id``; raise :class:`ConcurrencyError` if it exists already.

    The event is validated before the write (a pydantic ``ValidationError`` writes nothing), so rows appended here
    are never poison for the projection.
    """
    event = LedgerEvent(account_id=account_id, version=expected_version + 1, kind=kind, amount=amount, note=note)
    ddb = client or shared_client("dynamodb")
    item: dict[str, Any] = {
        "account_id": {"S": event.account_id},
        "version": {"N": str(event.version)},
        "kind": {"S": event.kind},
        "amount": {"N": str(event.amount)},
        "note": {"S": event.note},
        "recorded_at": {"S": event.recorded_at.isoformat()},
        **stamp_attribute(),
    }
    try:
        ddb.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(account_id)")
    except ddb.exceptions.ConditionalCheckFailedException:
        raise ConcurrencyError(account_id, event.version) from None
    return event


def append_next(
    table: str,
    account_id: str,
    kind: Kind,
    amount: int,
    *,
    note: str = "",
    attempts: int = DEFAULT_ATTEMPTS,
    client: DynamoDBClient | None = None,
) -> LedgerEvent:
    """Append at whatever the next version is, re-reading it after each conflict (up to ``attempts`` tries).

    Only for appends that are valid at any version (a fee); a withdrawal checked against a balance must re-check
    after a conflict, so it calls :func:`append` and handles :class:`ConcurrencyError` itself.
    """
    conflict: ConcurrencyError | None = None
    for _ in range(attempts):
        seen = latest_version(table, account_id, client=client)
        try:
            return append(table, account_id, kind, amount, seen, note=note, client=client)
        except ConcurrencyError as error:
            conflict = error
    assert conflict is not None
    raise conflict

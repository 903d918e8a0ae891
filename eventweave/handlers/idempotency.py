"""Batch-aware idempotency on a DynamoDB table.

The table layout is the one Powertools' ``DynamoDBPersistenceLayer`` uses (partition key ``id``, ``status``,
``expiration`` as the TTL attribute, ``in_progress_expiration`` in epoch milliseconds), so one table serves both.
What this adds over Powertools is batch awareness:

* one ``BatchGetItem`` per batch finds keys already COMPLETED: those records skip the side effect with **0 writes**;
* a new record costs **2 writes**: a conditional put of ``INPROGRESS`` whose lock expires with the invocation's
  remaining time, then ``COMPLETED`` with a TTL; a failed record releases its lock (the second write) so a retry can
  take it;
* duplicates inside one batch are seen without asking DynamoDB again.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from .clients import client

__all__ = ["Idempotency", "IdempotencyStore", "KeyState"]

log = logging.getLogger("eventweave.idempotency")

KeyState = Literal["new", "completed", "in-progress"]
INPROGRESS = "INPROGRESS"
COMPLETED = "COMPLETED"
MAX_KEY_LENGTH = 512


@dataclass(frozen=True, slots=True)
class Idempotency:
    """A handler's idempotency contract.

    ``key`` names the model field(s) that identify the business operation, or is a function of
    ``(model, ctx)``; by default the logical message id (the SNS ``MessageId`` / EventBridge ``id`` / SQS
    ``messageId``) is used, which catches redeliveries but not a producer sending the same order twice.

    Example::

        class Charge(SqsHandler[OrderPlaced]):
            idempotency = Idempotency(key="order_id")      # duplicate OrderPlaced events charge once
    """

    key: str | tuple[str, ...] | Callable[[Any, Any], str] | None = None
    ttl_seconds: int | None = None
    """How long a COMPLETED key suppresses duplicates. Default: ``EVENTWEAVE_IDEMPOTENCY_TTL_SECONDS`` (3600)."""
    scope: str | None = None
    """Prefix that keeps keys of different handlers apart in a shared table. Default: ``<function>.<class>``."""

    def fields(self) -> tuple[str, ...]:
        if self.key is None or callable(self.key):
            return ()
        return (self.key,) if isinstance(self.key, str) else tuple(self.key)


class IdempotencyStore:
    """Idempotency records of one handler in one DynamoDB table.

    Example::

        store = IdempotencyStore("idempotency", scope="orders.Charge", ttl_seconds=3600)
        states = store.precheck(["o-1", "o-2"])          # one BatchGetItem
        if states.get("o-1", "new") == "new" and store.acquire("o-1", remaining_ms=30_000) == "new":
            ...                                           # side effect
            store.complete("o-1")
    """

    def __init__(self, table: str, *, scope: str, ttl_seconds: int) -> None:
        self.table = table
        self.scope = scope
        self.ttl_seconds = ttl_seconds
        self._locks: dict[str, int] = {}

    def item_id(self, key: str) -> str:
        raw = f"{self.scope}#{key}"
        if len(raw) <= MAX_KEY_LENGTH:
            return raw
        return f"{self.scope}#sha256:{hashlib.sha256(key.encode()).hexdigest()}"

    def precheck(self, keys: Iterable[str]) -> dict[str, KeyState]:
        """States of ``keys`` known to the table (keys absent from the result are new). One request per 100 keys."""
        ids = {self.item_id(k): k for k in dict.fromkeys(keys)}
        states: dict[str, KeyState] = {}
        pending = list(ids)
        now_s, now_ms = int(time.time()), int(time.time() * 1000)
        for start in range(0, len(pending), 100):
            request: dict[str, Any] = {
                self.table: {
                    "Keys": [{"id": {"S": item_id}} for item_id in pending[start : start + 100]],
                    "ConsistentRead": True,
                    "ProjectionExpression": "#id, #s, #e, #ip",
                    "ExpressionAttributeNames": {
                        "#id": "id",
                        "#s": "status",
                        "#e": "expiration",
                        "#ip": "in_progress_expiration",
                    },
                }
            }
            for attempt in range(5):
                response = client("dynamodb").batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table, []):
                    state = _state(item, now_s, now_ms)
                    if state != "new":
                        states[ids[item["id"]["S"]]] = state
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(0.05 * (2**attempt))
        return states

    def acquire(self, key: str, *, remaining_ms: int) -> KeyState:
        """Lock ``key`` for this invocation. ``"new"``: the caller owns it; otherwise what another caller left."""
        from botocore.exceptions import ClientError

        now = time.time()
        now_ms = int(now * 1000)
        lock_until = now_ms + max(remaining_ms, 1000)
        try:
            client("dynamodb").put_item(
                TableName=self.table,
                Item={
                    "id": {"S": self.item_id(key)},
                    "status": {"S": INPROGRESS},
                    "expiration": {"N": str(int(now) + self.ttl_seconds)},
                    "in_progress_expiration": {"N": str(lock_until)},
                },
                ConditionExpression="attribute_not_exists(#id) OR #e < :now OR (#s = :inprogress AND #ip < :now_ms)",
                ExpressionAttributeNames={
                    "#id": "id",
                    "#e": "expiration",
                    "#s": "status",
                    "#ip": "in_progress_expiration",
                },
                ExpressionAttributeValues={
                    ":now": {"N": str(int(now))},
                    ":now_ms": {"N": str(now_ms)},
                    ":inprogress": {"S": INPROGRESS},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            response: dict[str, Any] = dict(error.response)
            old: dict[str, Any] | None = response.get("Item")
            if old is None:
                return "in-progress"  # condition failed, so a record exists; be conservative
            state = _state(old, int(now), now_ms)
            return "in-progress" if state == "new" else state
        self._locks[key] = lock_until
        return "new"

    def complete(self, key: str) -> None:
        """Mark ``key`` COMPLETED until its TTL; later duplicates skip the side effect."""
        self._locks.pop(key, None)
        client("dynamodb").update_item(
            TableName=self.table,
            Key={"id": {"S": self.item_id(key)}},
            UpdateExpression="SET #s = :completed, #e = :expiration REMOVE #ip",
            ExpressionAttributeNames={"#s": "status", "#e": "expiration", "#ip": "in_progress_expiration"},
            ExpressionAttributeValues={
                ":completed": {"S": COMPLETED},
                ":expiration": {"N": str(int(time.time()) + self.ttl_seconds)},
            },
        )

    def release(self, key: str) -> None:
        """Drop this invocation's lock on ``key`` so a retry can process it; a lock taken over since is kept."""
        from botocore.exceptions import ClientError

        lock_until = self._locks.pop(key, None)
        if lock_until is None:
            return
        try:
            client("dynamodb").delete_item(
                TableName=self.table,
                Key={"id": {"S": self.item_id(key)}},
                ConditionExpression="#s = :inprogress AND #ip = :mine",
                ExpressionAttributeNames={"#s": "status", "#ip": "in_progress_expiration"},
                ExpressionAttributeValues={":inprogress": {"S": INPROGRESS}, ":mine": {"N": str(lock_until)}},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise


def _state(item: dict[str, Any], now_s: int, now_ms: int) -> KeyState:
    status = item.get("status", {}).get("S")
    expiration = int(item.get("expiration", {}).get("N", "0"))
    if expiration and expiration < now_s:
        return "new"  # TTL deletion is lazy (and absent in emulators): an expired record counts as gone
    if status == COMPLETED:
        return "completed"
    if status == INPROGRESS:
        lock = item.get("in_progress_expiration", {}).get("N")
        if lock is not None and int(lock) < now_ms:
            return "new"
        return "in-progress"
    return "new"

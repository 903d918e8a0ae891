"""Side effects the e2e tests count: one DynamoDB item per (kind, key), its ``n`` bumped once per effect.

Handlers also count attempts, so a test can make a record fail its first N deliveries and still assert that the
effect happened exactly once.
"""

from __future__ import annotations

import os
from typing import Any

from eventweave.handlers.clients import client

TABLE_ENV = "E2E_EFFECTS_TABLE"


def _bump(pk: str) -> int:
    response: Any = client("dynamodb").update_item(
        TableName=os.environ[TABLE_ENV],
        Key={"pk": {"S": pk}},
        UpdateExpression="ADD n :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
        ReturnValues="UPDATED_NEW",
    )
    return int(response["Attributes"]["n"]["N"])


def attempt(kind: str, key: str) -> int:
    """Count one attempt at (kind, key); return how many there have been, this one included."""
    return _bump(f"attempt#{kind}#{key}")


def effect(kind: str, key: str) -> int:
    """Count the side effect of (kind, key); return how many times it has happened, this one included."""
    return _bump(f"effect#{kind}#{key}")


def log(kind: str, key: str, value: str) -> None:
    """Append ``value`` to the ordered list of (kind, key): what order things happened in."""
    client("dynamodb").update_item(
        TableName=os.environ[TABLE_ENV],
        Key={"pk": {"S": f"log#{kind}#{key}"}},
        UpdateExpression="SET v = list_append(if_not_exists(v, :empty), :value)",
        ExpressionAttributeValues={":empty": {"L": []}, ":value": {"L": [{"S": value}]}},
    )

"""The e2e suite: the app in this folder, deployed once per module into the embedded local cloud."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eventweave.testing import EphemeralStack
from eventweave.testing.plugin import ephemeral


@pytest.fixture(scope="module")
def stack(eventweave_cloud: Any, eventweave_assembly: Path) -> Iterator[EphemeralStack]:
    with ephemeral(eventweave_cloud, eventweave_assembly, "EventweaveE2E") as deployed:
        yield deployed


class Effects:
    """Reads the counters the e2e handlers write (see app/effects.py)."""

    def __init__(self, stack: EphemeralStack) -> None:
        self.stack = stack
        self.table = stack.outputs["EffectsTable"]

    def _get(self, pk: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = (
            self.stack.client("dynamodb")
            .get_item(TableName=self.table, Key={"pk": {"S": pk}}, ConsistentRead=True)
            .get("Item")
        )
        return item

    def count(self, kind: str, key: str) -> int:
        item = self._get(f"effect#{kind}#{key}")
        return int(item["n"]["N"]) if item else 0

    def attempts(self, kind: str, key: str) -> int:
        item = self._get(f"attempt#{kind}#{key}")
        return int(item["n"]["N"]) if item else 0

    def scan(self, prefix: str, contains: str) -> dict[str, int]:
        """Counters whose key starts with ``prefix`` and contains ``contains``: key (without prefix) -> count."""
        out: dict[str, int] = {}
        pages = self.stack.client("dynamodb").get_paginator("scan").paginate(
            TableName=self.table,
            FilterExpression="begins_with(pk, :prefix) AND contains(pk, :run)",
            ExpressionAttributeValues={":prefix": {"S": prefix}, ":run": {"S": contains}},
        )
        for page in pages:
            for item in page["Items"]:
                out[item["pk"]["S"].removeprefix(prefix)] = int(item["n"]["N"])
        return out

    def log(self, kind: str, key: str) -> list[str]:
        item = self._get(f"log#{kind}#{key}")
        return [v["S"] for v in item["v"]["L"]] if item else []


@pytest.fixture(scope="module")
def effects(stack: EphemeralStack) -> Effects:
    return Effects(stack)

"""The ledger deployed into the embedded local cloud, driven through its table, its stream and its bus."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from eventweave.testing import EphemeralStack, wait_until
from examples.conftest import deploy_example
from examples.ledger import scenario
from examples.ledger.ledger import ConcurrencyError, append, append_next
from examples.ledger.stack import FEE_MAX_HOPS


@pytest.fixture(scope="module")
def stack(eventweave_cloud: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EphemeralStack]:
    yield from deploy_example(
        eventweave_cloud, tmp_path_factory, "examples.ledger.stack:LedgerStack", "EventweaveLedger"
    )


def test_scenario_runs_and_every_check_holds(stack: EphemeralStack) -> None:
    summary = scenario.run(stack, print)
    assert summary.ok, [c for c in summary.checks if not c.ok]


def _account(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_two_writers_at_the_same_version_conflict_on_the_deployed_table(stack: EphemeralStack) -> None:
    table, ddb, account = stack.outputs["EventsTableName"], stack.client("dynamodb"), _account("race")
    append(table, account, "deposit", 1_000, 0, client=ddb)

    with pytest.raises(ConcurrencyError):
        append(table, account, "deposit", 2_000, 0, client=ddb)
    retried = append_next(table, account, "deposit", 2_000, client=ddb)

    assert retried.version == 2
    assert [r["amount"]["N"] for r in scenario.ledger_rows(stack, account)] == ["1000", "2000"]
    projected = wait_until(
        lambda: scenario.projection_at(stack, account, 2), timeout=30, what="the projection of both deposits"
    )
    assert projected["balance"] == 3_000


def test_the_fee_loop_is_one_traced_chain_stopped_by_the_guard(stack: EphemeralStack) -> None:
    table, ddb, account = stack.outputs["EventsTableName"], stack.client("dynamodb"), _account("loop")
    append(table, account, "deposit", 1_000, 0, client=ddb)
    append(table, account, "withdrawal", 6_000, 1, client=ddb)

    stopped = scenario.Inbox(stack, stack.outputs["FeeFailureQueueUrl"]).wait_for(
        lambda d: d.get("record", {}).get("detail", {}).get("account_id") == account,
        what="the Overdrawn event the guard stopped",
    )

    rows = scenario.ledger_rows(stack, account)
    assert [r["kind"]["S"] for r in rows] == ["deposit", "withdrawal", "fee", "fee"]
    chain = rows[1]["__context"]["M"]["correlationId"]["S"]
    # Each fee continues the withdrawal's chain, two hops (projection, fee handler) per round.
    assert [(r["__context"]["M"]["correlationId"]["S"], r["__context"]["M"]["hops"]["N"]) for r in rows[1:]] == [
        (chain, "0"),
        (chain, "2"),
        (chain, "4"),
    ]
    assert (stopped["reason"], stopped["correlationId"], stopped["hops"]) == (
        "recursion-limit",
        chain,
        FEE_MAX_HOPS + 1,
    )
    assert stopped["record"]["detail"]["version"] == 4
    assert stopped["record"]["detail-type"] == "Overdrawn"
    wait_until(lambda: len(_statement_items(stack, account)) == 4, timeout=30, what="a statement line per version")
    lines = _statement_items(stack, account)
    assert [(int(i["balance"]["N"]), i["correlation_id"]["S"] == chain) for i in lines] == [
        (1_000, False),
        (-5_000, True),
        (-5_500, True),
        (-6_000, True),
    ]


def _statement_items(stack: EphemeralStack, account: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (
        stack.client("dynamodb")
        .query(
            TableName=stack.outputs["StatementsTableName"],
            KeyConditionExpression="account_id = :a",
            ExpressionAttributeValues={":a": {"S": account}},
            ConsistentRead=True,
        )
        .get("Items", [])
    )
    return items

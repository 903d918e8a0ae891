"""The ledger's demo: two accounts driven through the deployed stack, every outcome read back from its state.

* alice (happy path, plus a conflict, a poison row and a redelivery): deposits and withdrawals appended with
  optimistic locking; two writers at the same version conflict and the loser retries at the next one; a row written
  by a legacy importer with its amount as text is poison, goes to the projection's failure queue, and the row after
  it is still applied; a stream record delivered a second time does not change the balance.
* bob (the mis-wired loop): a withdrawal overdraws the account, the overdraft-fee handler charges a fee, which
  overdraws it again... until the recursion guard diverts the third ``Overdrawn`` (hops 5 > 4) to the fee
  function's failure queue. Two fees, then it stops.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from typing import Any

from eventweave.testing import EphemeralStack, wait_until
from eventweave.testing.scenario import Summary, Trace

from .handlers.overdraft import FEE_MAX_HOPS, OVERDRAFT_FEE
from .ledger import ConcurrencyError, append, latest_version

__all__ = ["Inbox", "balance_of", "ledger_rows", "projection_at", "run", "statement_versions", "stream_record"]

PATIENCE = 30.0  # seconds for any one outcome; the whole run takes ~10 s on a laptop


def _money(cents: int) -> str:
    return f"{cents / 100:,.2f}"


class Inbox:
    """A failure queue read without losing anything: what one probe drains is kept for the next ones.

    Example::

        failures = Inbox(stack, stack.outputs["FeeFailureQueueUrl"])
        doc = failures.wait_for(lambda d: d.get("reason") == "recursion-limit", what="the stopped event")
    """

    def __init__(self, stack: EphemeralStack, queue_url: str) -> None:
        self.stack = stack
        self.queue_url = queue_url
        self.bodies: list[dict[str, Any]] = []

    def read(self) -> list[dict[str, Any]]:
        self.bodies += [m["body"] for m in self.stack.drain(self.queue_url) if isinstance(m["body"], dict)]
        return self.bodies

    def wait_for(
        self, match: Callable[[dict[str, Any]], bool], *, what: str, timeout: float = PATIENCE
    ) -> dict[str, Any]:
        found: dict[str, Any] = wait_until(
            lambda: next((b for b in self.read() if match(b)), None), timeout=timeout, what=what
        )
        return found


def balance_of(stack: EphemeralStack, account_id: str) -> dict[str, int] | None:
    """The account's projection (``balance``, ``version``, ``redeliveries``), or None before its first row."""
    item = (
        stack.client("dynamodb")
        .get_item(
            TableName=stack.outputs["BalancesTableName"],
            Key={"account_id": {"S": account_id}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    if item is None:
        return None
    return {name: int(item[name]["N"]) if name in item else 0 for name in ("balance", "version", "redeliveries")}


def projection_at(stack: EphemeralStack, account_id: str, version: int) -> dict[str, int] | None:
    """The account's projection once it has applied ``version`` (for ``wait_until``), else None."""
    projected = balance_of(stack, account_id)
    return projected if projected is not None and projected["version"] >= version else None


def _query(stack: EphemeralStack, table: str, account_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (
        stack.client("dynamodb")
        .query(
            TableName=table,
            KeyConditionExpression="account_id = :a",
            ExpressionAttributeValues={":a": {"S": account_id}},
            ConsistentRead=True,
        )
        .get("Items", [])
    )
    return items


def ledger_rows(stack: EphemeralStack, account_id: str) -> list[dict[str, Any]]:
    """The account's rows in the events table, oldest first (DynamoDB JSON)."""
    return _query(stack, stack.outputs["EventsTableName"], account_id)


def statement_versions(stack: EphemeralStack, account_id: str) -> list[int]:
    """Versions with a statement line (written by the bus consumer of ``BalanceChanged``)."""
    return [int(i["version"]["N"]) for i in _query(stack, stack.outputs["StatementsTableName"], account_id)]


def stream_record(stack: EphemeralStack, account_id: str, version: int) -> dict[str, Any]:
    """The events table's stream record of ``(account_id, version)``, shaped as Lambda delivers it."""
    arn = stack.outputs["EventsStreamArn"]
    streams = stack.client("dynamodbstreams")
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator)
            for raw in page["Records"]:
                keys = raw["dynamodb"]["Keys"]
                if keys["account_id"]["S"] == account_id and keys["version"]["N"] == str(version):
                    record: dict[str, Any] = json.loads(json.dumps(raw, default=_json_default))
                    record.update(eventSourceARN=arn, eventSource="aws:dynamodb")
                    return record
            iterator = page.get("NextShardIterator") if page["Records"] else None
    raise LookupError(f"no stream record for {account_id} v{version}")


def _json_default(value: Any) -> Any:
    return value.timestamp() if isinstance(value, dt.datetime) else str(value)


def _account_of_poison(doc: dict[str, Any]) -> str | None:
    image = doc.get("record", {}).get("dynamodb", {}).get("NewImage", {})
    account = image.get("account_id", {}).get("S")
    return account if isinstance(account, str) else None


def run(stack: EphemeralStack, trace: Trace) -> Summary:
    """Drive the deployed ledger through the happy path, a conflict, a poison row, a redelivery and the loop."""
    summary = Summary("ledger")
    table = stack.outputs["EventsTableName"]
    ddb = stack.client("dynamodb")
    run_id = uuid.uuid4().hex[:6]
    alice, bob = f"alice-{run_id}", f"bob-{run_id}"
    projection_failures = Inbox(stack, stack.outputs["ProjectionFailureQueueUrl"])
    fee_failures = Inbox(stack, stack.outputs["FeeFailureQueueUrl"])

    # -- bob first: the loop takes the most hops, so it runs while alice's steps do --------------------------------
    append(table, bob, "deposit", 1_000, 0, client=ddb)
    append(table, bob, "withdrawal", 5_000, 1, client=ddb)
    summary.events_in += 2
    trace(f"{bob}: deposit 10.00 (v1), withdraw 50.00 (v2) -> balance -40.00, the projection publishes Overdrawn")

    # -- alice: appends with optimistic locking ---------------------------------------------------------------------
    append(table, alice, "deposit", 10_000, 0, client=ddb)
    append(table, alice, "withdrawal", 3_000, 1, client=ddb)
    summary.events_in += 2
    trace(f"{alice}: deposit 100.00 (v1), withdraw 30.00 (v2)")

    seen_by_a = seen_by_b = latest_version(table, alice, client=ddb)
    append(table, alice, "deposit", 2_000, seen_by_a, client=ddb)
    conflict: ConcurrencyError | None = None
    try:
        landed = append(table, alice, "withdrawal", 1_000, seen_by_b, client=ddb)
    except ConcurrencyError as error:
        conflict = error
        summary.retried += 1
        seen_by_b = latest_version(table, alice, client=ddb)
        landed = append(table, alice, "withdrawal", 1_000, seen_by_b, client=ddb)
    trace(
        f"{alice}: writers A and B both saw v{seen_by_a}; A wrote v{seen_by_a + 1}, "
        f"B {'got ConcurrencyError and retried as' if conflict else 'wrote'} v{landed.version}"
    )
    summary.events_in += 2
    summary.check(
        "two writers at the same version conflict; the loser lands on the next version",
        conflict is not None and conflict.version == 3 and seen_by_b == 3,
        f"conflict at v{conflict.version if conflict else None}, retried after v{seen_by_b}",
    )

    # A row no ledger.append would write: the amount as text, as some legacy importer might put it.
    ddb.put_item(
        TableName=table,
        Item={
            "account_id": {"S": alice},
            "version": {"N": "5"},
            "kind": {"S": "deposit"},
            "amount": {"S": "12.50"},
            "recorded_at": {"S": dt.datetime.now(dt.UTC).isoformat()},
        },
        ConditionExpression="attribute_not_exists(account_id)",
    )
    append(table, alice, "deposit", 500, latest_version(table, alice, client=ddb), client=ddb)
    summary.events_in += 2
    trace(f"{alice}: an importer writes v5 with amount '12.50' (text: poison), then a deposit of 5.00 lands as v6")

    projected = wait_until(
        lambda: projection_at(stack, alice, 6),
        timeout=PATIENCE,
        what=f"{alice}'s projection at v6",
    )
    trace(f"{alice}: projection at v{projected['version']}, balance {_money(projected['balance'])}")
    summary.check(
        "alice's balance is 85.00 at v6 (v5 skipped)", projected["balance"] == 8_500, _money(projected["balance"])
    )
    poison = projection_failures.wait_for(
        lambda d: d.get("reason") == "validation-error" and _account_of_poison(d) == alice,
        what=f"{alice}'s poison row in the projection's failure queue",
    )
    poison_version = poison["record"]["dynamodb"]["Keys"]["version"]["N"]
    trace(f"{alice}: v{poison_version} in the projection's failure queue, reason {poison['reason']}")
    summary.check(
        "the poison row is in the failure queue with its reason",
        poison_version == "5" and "amount" in poison["errorMessage"],
        f"v{poison_version}: {poison['errorMessage'].splitlines()[0]}",
    )
    wait_until(
        lambda: statement_versions(stack, alice) == [1, 2, 3, 4, 6], timeout=PATIENCE, what=f"{alice}'s statement"
    )
    versions = statement_versions(stack, alice)
    trace(f"{alice}: statement lines for versions {versions} (BalanceChanged via the bus)")
    summary.check("alice's statement has every valid version, in order", versions == [1, 2, 3, 4, 6], str(versions))

    # -- a redelivery: the projection function gets alice's v1 stream record again ----------------------------------
    response = stack.client("lambda").invoke(
        FunctionName=stack.outputs["ProjectionFunctionName"],
        Payload=json.dumps({"Records": [stream_record(stack, alice, 1)]}).encode(),
    )
    answer = json.loads(response["Payload"].read())
    summary.events_in += 1
    after = balance_of(stack, alice) or {"balance": 0, "version": 0, "redeliveries": 0}
    summary.duplicates_suppressed += after["redeliveries"]
    trace(f"{alice}: v1's stream record delivered again -> {answer}, balance still {_money(after['balance'])}")
    summary.check(
        "a redelivered record does not change the balance",
        "FunctionError" not in response and after["balance"] == 8_500 and after["redeliveries"] == 1,
        f"balance {_money(after['balance'])}, redeliveries {after['redeliveries']}",
    )

    # -- bob: the loop and its end -----------------------------------------------------------------------------------
    stopped = fee_failures.wait_for(
        lambda d: (
            d.get("reason") == "recursion-limit" and d.get("record", {}).get("detail", {}).get("account_id") == bob
        ),
        what=f"{bob}'s Overdrawn event stopped by the recursion guard",
    )
    detail = stopped["record"]["detail"]
    trace(
        f"{bob}: Overdrawn at v{detail['version']} stopped at hops {stopped['hops']} > {FEE_MAX_HOPS} "
        f"(reason {stopped['reason']}) in the fee function's failure queue"
    )
    rows = ledger_rows(stack, bob)
    fees = [r for r in rows if r["kind"]["S"] == "fee"]
    bob_balance = wait_until(lambda: projection_at(stack, bob, len(rows)), timeout=PATIENCE, what=f"{bob}'s balance")
    wait_until(lambda: len(statement_versions(stack, bob)) >= len(rows), timeout=PATIENCE, what=f"{bob}'s statement")
    bob_versions = statement_versions(stack, bob)
    trace(f"{bob}: {len(fees)} fees of {_money(OVERDRAFT_FEE)} charged, balance {_money(bob_balance['balance'])}")
    summary.check(
        "the guard stopped the fee loop after two fees, at hops 5",
        len(fees) == 2 and stopped["hops"] == FEE_MAX_HOPS + 1 and detail["version"] == 4,
        f"{len(fees)} fees, stopped at hops {stopped['hops']} on v{detail['version']}",
    )
    summary.check(
        "bob's balance is -50.00 at v4, with a statement line per version",
        bob_balance["balance"] == -5_000 and bob_versions == [1, 2, 3, 4],
        f"{_money(bob_balance['balance'])} at v{bob_balance['version']}, statements {bob_versions}",
    )

    # -- the end state, read back ------------------------------------------------------------------------------------
    summary.processed = len(statement_versions(stack, alice)) + len(statement_versions(stack, bob))
    summary.in_dlq = sum(_account_of_poison(d) in (alice, bob) for d in projection_failures.read()) + sum(
        d.get("record", {}).get("detail", {}).get("account_id") in (alice, bob) for d in fee_failures.read()
    )
    still = len(ledger_rows(stack, bob))
    summary.check("the loop is over: bob's ledger still ends at v4", still == 4, f"{still} rows")
    summary.check("exactly the two diverted records are in failure queues", summary.in_dlq == 2, str(summary.in_dlq))
    trace(
        f"done: {summary.processed} ledger rows projected and published, {summary.in_dlq} in failure queues, "
        f"{summary.duplicates_suppressed} redelivery suppressed"
    )
    return summary

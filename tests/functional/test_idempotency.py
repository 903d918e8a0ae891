"""Batch-aware idempotency against a real (moto) DynamoDB table: request costs, duplicates, locks and concurrency."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from pydantic import BaseModel

from eventweave.handlers import (
    BatchFailedError,
    Idempotency,
    IdempotencyStore,
    PermanentError,
    Settings,
    SqsHandler,
    SqsRecordContext,
)
from tests.factories import FakeLambdaContext, sns_envelope, sqs_event, sqs_record
from tests.functional.drivers import AwsCounter, atomic_dynamodb, drain

TABLE = "idempotency"


class Order(BaseModel):
    order_id: str
    customer: str = "c-1"


class Charge(SqsHandler[Order]):
    """Charges each order once; the side effect is an append to ``effects`` (shared between instances if given)."""

    idempotency = Idempotency(key="order_id")

    def __init__(
        self,
        *,
        effects: list[str] | None = None,
        fail_once: tuple[str, ...] = (),
        permanent: tuple[str, ...] = (),
        slow: dict[str, float] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.effects: list[str] = effects if effects is not None else []
        self.mine: list[str] = []
        self.fail_once = set(fail_once)
        self.permanent = set(permanent)
        self.slow = slow or {}

    def handle(self, order: Order, ctx: SqsRecordContext) -> None:
        if order.order_id in self.permanent:
            raise PermanentError(f"order {order.order_id} can never be charged")
        if order.order_id in self.fail_once:
            self.fail_once.discard(order.order_id)
            raise RuntimeError(f"payment provider timed out for {order.order_id}")
        if order.order_id in self.slow:
            time.sleep(self.slow[order.order_id])  # holds the lock while other invocations race for the key
        self.effects.append(order.order_id)
        self.mine.append(order.order_id)


class ByMessage(Charge):
    """Default key: the logical message id."""

    idempotency = Idempotency()


class ByCustomerAndOrder(Charge):
    idempotency = Idempotency(key=("customer", "order_id"))


@pytest.fixture
def table(aws: Any) -> str:
    aws("dynamodb").create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return TABLE


@pytest.fixture
def ddb(table: str) -> Any:
    with AwsCounter("dynamodb") as counter:
        yield counter


def settings(**changes: Any) -> Settings:
    return Settings(idempotency_table=TABLE, **changes)


def orders(*ids: str) -> list[dict[str, Any]]:
    return [sqs_record({"order_id": order_id}, message_id=f"m-{order_id}") for order_id in ids]


def failures(response: dict[str, Any]) -> list[str]:
    return [f["itemIdentifier"] for f in response["batchItemFailures"]]


def items(aws: Any) -> dict[str, dict[str, Any]]:
    return {item["id"]["S"]: item for item in aws("dynamodb").scan(TableName=TABLE, ConsistentRead=True)["Items"]}


def put_item(aws: Any, item_id: str, **attributes: str | int) -> None:
    item: dict[str, Any] = {"id": {"S": item_id}}
    for name, value in attributes.items():
        item[name] = {"N": str(value)} if isinstance(value, int) else {"S": value}
    aws("dynamodb").put_item(TableName=TABLE, Item=item)


# -- request costs -----------------------------------------------------------------------------------------------------


def test_new_records_cost_one_batch_get_and_two_writes_each(aws, ddb, lambda_context):
    """Three new orders: 1 BatchGetItem for the batch, then PutItem (lock) + UpdateItem (COMPLETED) per record."""
    handler = Charge(settings=settings())
    assert handler(sqs_event(*orders("a", "b", "c")), lambda_context) == {"batchItemFailures": []}
    assert handler.effects == ["a", "b", "c"]
    assert ddb.counts() == Counter(BatchGetItem=1, PutItem=3, UpdateItem=3)
    (batch_get,) = ddb.of("BatchGetItem")
    assert len(batch_get.params["RequestItems"][TABLE]["Keys"]) == 3
    stored = items(aws)
    assert set(stored) == {handler.store.item_id(k) for k in ("a", "b", "c")}
    now = int(time.time())
    for item in stored.values():
        assert item["status"]["S"] == "COMPLETED"
        assert "in_progress_expiration" not in item
        assert now + 3500 <= int(item["expiration"]["N"]) <= now + 3700  # the default one-hour TTL


def test_second_delivery_of_the_same_batch_has_no_side_effect_and_no_write(ddb, lambda_context):
    """A redelivered batch is answered by the pre-check alone: 0 side effects, 1 BatchGetItem, 0 writes."""
    handler = Charge(settings=settings())
    event = sqs_event(*orders("a", "b", "c"))
    handler(event, lambda_context)
    ddb.reset()
    assert handler(event, lambda_context) == {"batchItemFailures": []}
    assert handler.effects == ["a", "b", "c"]
    assert ddb.counts() == Counter(BatchGetItem=1)
    again = Charge(settings=settings())  # another container of the same function sees the same table
    assert again(event, FakeLambdaContext()) == {"batchItemFailures": []}
    assert again.effects == []


def test_duplicates_inside_one_batch_have_one_side_effect(ddb, lambda_context):
    """Three messages for one order in one batch: one charge, one key looked up, one lock, no failure."""
    records = [sqs_record({"order_id": "a"}, message_id=f"m-{n}") for n in range(3)]
    handler = Charge(settings=settings())
    assert handler(sqs_event(*records, *orders("b")), lambda_context) == {"batchItemFailures": []}
    assert handler.effects == ["a", "b"]
    (batch_get,) = ddb.of("BatchGetItem")
    assert len(batch_get.params["RequestItems"][TABLE]["Keys"]) == 2
    assert ddb.counts() == Counter(BatchGetItem=1, PutItem=2, UpdateItem=2)


def test_more_than_100_keys_are_prechecked_in_two_requests(aws, ddb, lambda_context):
    """150 unique keys exceed BatchGetItem's 100-key limit: 2 requests (100 + 50). Keys found COMPLETED in either
    page are skipped with no write, and the new keys of both pages are all processed."""
    ids = [f"o-{n:03d}" for n in range(150)]
    new = ids[::15]  # 10 new keys, spread over both pages; the 140 others were charged before
    handler = Charge(settings=settings())
    assert handler.store is not None
    seeded = [
        {
            "PutRequest": {
                "Item": {
                    "id": {"S": handler.store.item_id(k)},
                    "status": {"S": "COMPLETED"},
                    "expiration": {"N": str(int(time.time()) + 3600)},
                }
            }
        }
        for k in ids
        if k not in new
    ]
    for start in range(0, len(seeded), 25):
        aws("dynamodb").batch_write_item(RequestItems={TABLE: seeded[start : start + 25]})
    assert handler(sqs_event(*orders(*ids)), lambda_context) == {"batchItemFailures": []}
    assert handler.effects == new
    assert [len(c.params["RequestItems"][TABLE]["Keys"]) for c in ddb.of("BatchGetItem")] == [100, 50]
    assert ddb.counts() == Counter(BatchGetItem=2, PutItem=10, UpdateItem=10)
    ddb.reset()
    assert handler(sqs_event(*orders(*ids)), lambda_context) == {"batchItemFailures": []}
    assert handler.effects == new
    assert ddb.counts() == Counter(BatchGetItem=2)


# -- failures release the lock -----------------------------------------------------------------------------------------


def test_failing_record_releases_its_lock_and_is_processed_once_on_redelivery(aws, ddb, lambda_context):
    """A retryable failure deletes its INPROGRESS lock, is reported failed, and its redelivery charges it once."""
    handler = Charge(settings=settings(), fail_once=("b",))
    records = orders("a", "b", "c")
    assert failures(handler(sqs_event(*records), lambda_context)) == ["m-b"]
    assert handler.effects == ["a", "c"]
    assert ddb.counts() == Counter(BatchGetItem=1, PutItem=3, UpdateItem=2, DeleteItem=1)
    assert handler.store.item_id("b") not in items(aws)

    ddb.reset()
    assert handler(sqs_event(records[1]), lambda_context) == {"batchItemFailures": []}
    assert handler.effects == ["a", "c", "b"]
    assert ddb.counts() == Counter(BatchGetItem=1, PutItem=1, UpdateItem=1)
    assert handler(sqs_event(*records), lambda_context) == {"batchItemFailures": []}
    assert handler.effects == ["a", "c", "b"]


def test_permanent_error_releases_its_lock_and_goes_to_the_dlq(aws, ddb, lambda_context):
    """A PermanentError record releases its lock (no COMPLETED mark) and lands in the DLQ; the batch succeeds."""
    sqs = aws("sqs")
    dlq = sqs.create_queue(QueueName="charge-dlq")["QueueUrl"]
    handler = Charge(settings=settings(dlq=dlq), permanent=("p",))
    assert handler(sqs_event(*orders("a", "p")), lambda_context) == {"batchItemFailures": []}
    assert handler.effects == ["a"]
    assert ddb.counts() == Counter(BatchGetItem=1, PutItem=2, UpdateItem=1, DeleteItem=1)
    assert set(items(aws)) == {handler.store.item_id("a")}
    (message,) = drain(sqs, dlq, 1)
    doc = json.loads(message["Body"])
    assert (doc["reason"], doc["errorType"], doc["recordId"]) == ("permanent-error", "PermanentError", "m-p")


def test_idempotency_table_that_does_not_exist_processes_nothing(aws, lambda_context):
    """Without a lock nothing runs: every record is retried (the whole batch fails), no side effect happens."""
    handler = Charge(settings=Settings(idempotency_table="no-such-table"))
    with pytest.raises(BatchFailedError):
        handler(sqs_event(*orders("a", "b")), lambda_context)
    assert handler.effects == []


# -- what the key is ---------------------------------------------------------------------------------------------------


def test_default_key_is_the_logical_message_id(aws, lambda_context, table):
    """Two SQS messages carrying the same SNS MessageId are one message; a new SNS MessageId is a new one."""
    handler = ByMessage(settings=settings())
    first = sqs_record(sns_envelope({"order_id": "a"}, message_id="sns-1"), message_id="sqs-1")
    copy = sqs_record(sns_envelope({"order_id": "a"}, message_id="sns-1"), message_id="sqs-2")
    resent = sqs_record(sns_envelope({"order_id": "a"}, message_id="sns-2"), message_id="sqs-3")
    assert handler(sqs_event(first, copy, resent), lambda_context) == {"batchItemFailures": []}
    assert handler.effects == ["a", "a"]  # sns-1 once, sns-2 once: the producer's resend is not a redelivery
    assert handler.store is not None
    assert set(items(aws)) == {handler.store.item_id("sns-1"), handler.store.item_id("sns-2")}

    plain = sqs_record({"order_id": "b"}, message_id="sqs-4")
    handler(sqs_event(plain), lambda_context)
    handler(sqs_event(plain), lambda_context)  # SQS redelivers the same messageId
    handler(sqs_event(sqs_record(sns_envelope({"order_id": "c"}, message_id="sns-1"))), lambda_context)
    assert handler.effects == ["a", "a", "b"]


def test_tuple_key_combines_fields(lambda_context, ddb):
    """A key of several fields: same order id for two customers is two operations; the same pair is one."""
    handler = ByCustomerAndOrder(settings=settings())
    records = [
        sqs_record({"customer": "c-1", "order_id": "o-1"}),
        sqs_record({"customer": "c-1", "order_id": "o-2"}),
        sqs_record({"customer": "c-2", "order_id": "o-1"}),
        sqs_record({"customer": "c-1", "order_id": "o-1"}),
    ]
    assert handler(sqs_event(*records), lambda_context) == {"batchItemFailures": []}
    assert handler.effects == ["o-1", "o-2", "o-1"]
    assert len(ddb.of("BatchGetItem")[0].params["RequestItems"][TABLE]["Keys"]) == 3
    handler(sqs_event(sqs_record({"customer": "c-2", "order_id": "o-1"})), lambda_context)
    assert handler.effects == ["o-1", "o-2", "o-1"]


def test_tuple_keys_of_different_field_values_never_collide(lambda_context, table):
    """("a|b", "c") and ("a", "b|c") are different operations: both must be processed, neither is a duplicate."""
    handler = ByCustomerAndOrder(settings=settings())
    records = [sqs_record({"customer": "a|b", "order_id": "c"}), sqs_record({"customer": "a", "order_id": "b|c"})]
    assert handler(sqs_event(*records), lambda_context) == {"batchItemFailures": []}
    assert handler.effects == ["c", "b|c"]


def test_very_long_key_is_hashed_and_still_deduplicated(aws, lambda_context, table):
    """A 2,000-character key fits DynamoDB's key limit once hashed, and its redelivery is still a duplicate."""
    long_id = "x" * 2000
    handler = Charge(settings=settings())
    event = sqs_event(sqs_record({"order_id": long_id}))
    handler(event, lambda_context)
    handler(event, lambda_context)
    assert handler.effects == [long_id]
    (item_id,) = items(aws)
    assert len(item_id) < 600


# -- stored state decides ----------------------------------------------------------------------------------------------


def test_completed_key_whose_ttl_has_passed_is_processed_again(aws, ddb, lambda_context):
    """A COMPLETED item past its expiration counts as gone (TTL deletion is lazy): the record runs and is re-marked."""
    handler = Charge(settings=settings())
    assert handler.store is not None
    put_item(aws, handler.store.item_id("a"), status="COMPLETED", expiration=int(time.time()) - 10)
    assert handler(sqs_event(*orders("a")), lambda_context) == {"batchItemFailures": []}
    assert handler.effects == ["a"]
    assert ddb.counts() == Counter(BatchGetItem=1, PutItem=1, UpdateItem=1)
    item = items(aws)[handler.store.item_id("a")]
    assert item["status"]["S"] == "COMPLETED"
    assert int(item["expiration"]["N"]) > time.time()


def test_in_progress_key_whose_lock_expired_is_taken_over(aws, lambda_context, table):
    """An INPROGRESS item whose in_progress_expiration has passed (its invocation died) is taken over and finished."""
    handler = Charge(settings=settings())
    assert handler.store is not None
    put_item(
        aws,
        handler.store.item_id("a"),
        status="INPROGRESS",
        expiration=int(time.time()) + 3600,
        in_progress_expiration=int(time.time() * 1000) - 1000,
    )
    assert handler(sqs_event(*orders("a")), lambda_context) == {"batchItemFailures": []}
    assert handler.effects == ["a"]
    item = items(aws)[handler.store.item_id("a")]
    assert item["status"]["S"] == "COMPLETED"
    assert "in_progress_expiration" not in item


def test_key_locked_by_another_invocation_is_retried_without_calling_handle(aws, ddb, lambda_context):
    """An unexpired INPROGRESS lock: the record is reported failed, handle is not called and the lock is untouched."""
    handler = Charge(settings=settings())
    assert handler.store is not None
    lock = int(time.time() * 1000) + 60_000
    put_item(
        aws,
        handler.store.item_id("a"),
        status="INPROGRESS",
        expiration=int(time.time()) + 3600,
        in_progress_expiration=lock,
    )
    ddb.reset()
    assert failures(handler(sqs_event(*orders("a", "b")), lambda_context)) == ["m-a"]
    assert handler.effects == ["b"]
    assert ddb.counts() == Counter(BatchGetItem=1, PutItem=1, UpdateItem=1)
    item = items(aws)[handler.store.item_id("a")]
    assert (item["status"]["S"], int(item["in_progress_expiration"]["N"])) == ("INPROGRESS", lock)


def test_release_after_a_takeover_keeps_the_new_holders_lock(aws, table):
    """An invocation whose lock expired and was taken over must not delete the new holder's lock when it fails."""
    first = IdempotencyStore(TABLE, scope="s", ttl_seconds=3600)
    second = IdempotencyStore(TABLE, scope="s", ttl_seconds=3600)
    assert first.acquire("k", remaining_ms=60_000) == "new"
    assert second.acquire("k", remaining_ms=60_000) == "in-progress"
    aws("dynamodb").update_item(  # the first invocation ran past its lock
        TableName=TABLE,
        Key={"id": {"S": first.item_id("k")}},
        UpdateExpression="SET in_progress_expiration = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time() * 1000) - 1)}},
    )
    assert second.acquire("k", remaining_ms=60_000) == "new"
    held = items(aws)[second.item_id("k")]["in_progress_expiration"]
    first.release("k")
    item = items(aws)[second.item_id("k")]
    assert (item["status"]["S"], item["in_progress_expiration"]) == ("INPROGRESS", held)
    second.complete("k")
    assert first.acquire("k", remaining_ms=60_000) == "completed"


# -- concurrency -------------------------------------------------------------------------------------------------------


def test_concurrent_invocations_with_the_same_batch_charge_each_order_once(aws, table):
    """8 invocations receive the same 10 records at once: each order is charged once in total, and every record an
    invocation did not charge is either reported failed (retried) or was already COMPLETED when it returned."""
    ids = [f"o-{n}" for n in range(10)]
    records = orders(*ids)
    effects: list[str] = []
    # o-0's charge is slow, so its lock is still held while the other invocations finish the rest of the batch.
    handlers = [Charge(settings=settings(), effects=effects, slow={"o-0": 1.0}) for _ in range(8)]
    store = handlers[0].store
    assert store is not None
    observer = aws("dynamodb")
    start = threading.Barrier(len(handlers))

    def invoke(handler: Charge) -> tuple[list[str], dict[str, str]]:
        start.wait()
        try:
            failed = failures(handler(sqs_event(*records), FakeLambdaContext()))
        except BatchFailedError:
            failed = [r["messageId"] for r in records]  # all failed: Lambda retries the whole batch
        # A record this invocation skipped is acknowledged to SQS (deleted): it must already be COMPLETED, or a
        # failure of the invocation still holding it would lose it.
        skipped = [k for k in ids if k not in handler.mine and f"m-{k}" not in failed]
        states = {}
        for key in skipped:
            item = observer.get_item(TableName=TABLE, Key={"id": {"S": store.item_id(key)}}, ConsistentRead=True)
            states[key] = item.get("Item", {}).get("status", {}).get("S", "ABSENT")
        return failed, states

    with atomic_dynamodb(), ThreadPoolExecutor(len(handlers)) as pool:
        outcomes = list(pool.map(invoke, handlers))

    assert Counter(effects) == Counter(ids)
    for handler, (failed, skipped) in zip(handlers, outcomes, strict=True):
        assert len(failed) == len(set(failed))
        assert not {f"m-{k}" for k in handler.mine} & set(failed)  # charged here and also retried: a double charge
        assert set(skipped.values()) <= {"COMPLETED"}, skipped

    retry = Charge(settings=settings(), effects=effects)
    for failed, _ in outcomes:
        if failed:
            again = [r for r in records if r["messageId"] in failed]
            assert retry(sqs_event(*again), FakeLambdaContext()) == {"batchItemFailures": []}
    assert Counter(effects) == Counter(ids)

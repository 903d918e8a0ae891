"""Handler and write-path tests against a moto server: the ledger's append, the projection, the bus consumers.

Stream records are read from the events table's real (moto) stream and handed to the handler as Lambda's mapping
would; domain events go to a real (moto) bus whose catch-all rule feeds a queue the tests read.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

import boto3
import pytest
import requests
from pydantic import ValidationError

from eventweave.handlers import Settings
from eventweave.handlers.clients import reset_clients
from eventweave.testing.events import FakeLambdaContext
from examples.ledger import ledger
from examples.ledger.handlers.overdraft import OVERDRAFT_FEE, ChargeOverdraftFee
from examples.ledger.handlers.projector import ProjectBalance
from examples.ledger.handlers.statements import RecordStatement
from examples.ledger.ledger import ConcurrencyError, append, append_next, latest_version
from examples.ledger.models import SOURCE

REGION = "us-east-1"


FakeContext = partial(FakeLambdaContext, function_name="ledger-test")


@dataclass
class Aws:
    """The moto resources LedgerStack would create, by name, and clients to read them."""

    ddb: Any
    sqs: Any
    streams: Any
    events_table: str
    stream_arn: str
    balances_table: str
    statements_table: str
    idempotency_table: str
    bus: str
    published_url: str
    dlq_url: str
    read_from: str = ""

    def stream_event(self) -> dict[str, Any]:
        """Records the stream got since the last call, as Lambda's DynamoDB mapping delivers them."""
        shard = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
        kwargs: dict[str, Any] = {"StreamArn": self.stream_arn, "ShardId": shard}
        if self.read_from:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=self.read_from)
        else:
            kwargs.update(ShardIteratorType="TRIM_HORIZON")
        iterator = self.streams.get_shard_iterator(**kwargs)["ShardIterator"]
        raws = self.streams.get_records(ShardIterator=iterator)["Records"]
        if raws:
            self.read_from = raws[-1]["dynamodb"]["SequenceNumber"]
        records = [json.loads(json.dumps(r, default=_json_default)) for r in raws]
        for record in records:
            record.update(eventSourceARN=self.stream_arn, eventSource="aws:dynamodb")
        return {"Records": records}

    def published(self) -> list[dict[str, Any]]:
        """Domain events on the bus (the whole EventBridge event), in order of publication."""
        out: list[dict[str, Any]] = []
        while batch := self.sqs.receive_message(QueueUrl=self.published_url, MaxNumberOfMessages=10).get("Messages"):
            out += [json.loads(m["Body"]) for m in batch]
            self.sqs.delete_message_batch(
                QueueUrl=self.published_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
            )
        return out

    def dead_letters(self) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(QueueUrl=self.dlq_url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]

    def balance(self, account_id: str) -> dict[str, int] | None:
        item = self.ddb.get_item(TableName=self.balances_table, Key={"account_id": {"S": account_id}}).get("Item")
        return None if item is None else {k: int(v["N"]) for k, v in item.items() if "N" in v}

    def rows(self, account_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.ddb.query(
            TableName=self.events_table,
            KeyConditionExpression="account_id = :a",
            ExpressionAttributeValues={":a": {"S": account_id}},
        )["Items"]
        return items


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    return int(value) if isinstance(value, Decimal) else str(value)


def _table(ddb: Any, name: str, *, sort_key: str | None, key: str = "account_id", stream: bool = False) -> Any:
    schema = [{"AttributeName": key, "KeyType": "HASH"}]
    attributes = [{"AttributeName": key, "AttributeType": "S"}]
    if sort_key:
        schema.append({"AttributeName": sort_key, "KeyType": "RANGE"})
        attributes.append({"AttributeName": sort_key, "AttributeType": "N"})
    extra: dict[str, Any] = {}
    if stream:
        extra["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    return ddb.create_table(
        TableName=name, KeySchema=schema, AttributeDefinitions=attributes, BillingMode="PAY_PER_REQUEST", **extra
    )["TableDescription"]


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """A moto server for this module (in-process ``mock_aws`` does not route DynamoDB Streams calls)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """A clean moto state with LedgerStack's resources; eventweave's clients point at it through the environment."""
    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    reset_clients()

    def make(service: str) -> Any:
        return boto3.client(service, endpoint_url=moto_endpoint, region_name=REGION)  # type: ignore[call-overload]

    ddb, sqs, events = make("dynamodb"), make("sqs"), make("events")
    stream_arn = _table(ddb, "events", sort_key="version", stream=True)["LatestStreamArn"]
    _table(ddb, "balances", sort_key=None)
    _table(ddb, "statements", sort_key="version")
    _table(ddb, "idempotency", sort_key=None, key="id")
    published_url = sqs.create_queue(QueueName="published")["QueueUrl"]
    published_arn = sqs.get_queue_attributes(QueueUrl=published_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.create_event_bus(Name="ledger")
    events.put_rule(Name="all", EventBusName="ledger", EventPattern=json.dumps({"source": [SOURCE]}))
    events.put_targets(Rule="all", EventBusName="ledger", Targets=[{"Id": "tap", "Arn": published_arn}])
    yield Aws(
        ddb=ddb,
        sqs=sqs,
        streams=make("dynamodbstreams"),
        events_table="events",
        stream_arn=stream_arn,
        balances_table="balances",
        statements_table="statements",
        idempotency_table="idempotency",
        bus="ledger",
        published_url=published_url,
        dlq_url=sqs.create_queue(QueueName="dlq")["QueueUrl"],
    )
    reset_clients()


def _projector(aws: Aws, **settings: Any) -> ProjectBalance:
    return ProjectBalance(
        balances_table=aws.balances_table, bus_name=aws.bus, settings=Settings(dlq=aws.dlq_url, **settings)
    )


def _overdrawn_event(account_id: str, version: int, *, hops: int, correlation: str = "chain-1") -> dict[str, Any]:
    detail = {
        "account_id": account_id,
        "version": version,
        "kind": "withdrawal",
        "balance": -500,
        "__context": {"correlationId": correlation, "causationId": "cause-1", "hops": hops},
    }
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Overdrawn",
        "source": SOURCE,
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": REGION,
        "resources": [],
        "detail": detail,
    }


# -- ledger.append -----------------------------------------------------------------------------------------------------


def test_append_writes_the_next_version_stamped_with_a_new_trace(aws: Aws) -> None:
    append(aws.events_table, "a-1", "deposit", 1_000, 0)
    append(aws.events_table, "a-1", "withdrawal", 300, 1, note="rent")

    rows = aws.rows("a-1")
    assert [(r["version"]["N"], r["kind"]["S"], r["amount"]["N"]) for r in rows] == [
        ("1", "deposit", "1000"),
        ("2", "withdrawal", "300"),
    ]
    assert rows[1]["note"]["S"] == "rent"
    assert rows[0]["__context"]["M"]["hops"]["N"] == "0"  # outside a handler a chain starts at 0
    assert latest_version(aws.events_table, "a-1") == 2


def test_a_second_writer_at_the_same_version_gets_a_concurrency_error_and_writes_nothing(aws: Aws) -> None:
    append(aws.events_table, "a-1", "deposit", 1_000, 0)

    with pytest.raises(ConcurrencyError) as conflict:
        append(aws.events_table, "a-1", "withdrawal", 999, 0)

    assert (conflict.value.account_id, conflict.value.version) == ("a-1", 1)
    assert "another writer appended first" in str(conflict.value)
    assert [(r["kind"]["S"], r["amount"]["N"]) for r in aws.rows("a-1")] == [("deposit", "1000")]


def test_append_validates_the_event_before_writing(aws: Aws) -> None:
    with pytest.raises(ValidationError):
        append(aws.events_table, "a-1", "deposit", 0, 0)
    assert latest_version(aws.events_table, "a-1") == 0


def test_append_next_rereads_the_version_after_losing_a_race(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    append(aws.events_table, "a-1", "deposit", 1_000, 0)
    real = ledger.latest_version
    calls: list[int] = []

    def racing(table: str, account_id: str, **kwargs: Any) -> int:
        seen = real(table, account_id, **kwargs)
        if not calls:  # another writer appends between our read and our write
            append(table, account_id, "withdrawal", 100, seen)
        calls.append(seen)
        return seen

    monkeypatch.setattr(ledger, "latest_version", racing)
    event = append_next(aws.events_table, "a-1", "fee", 500)

    assert calls == [1, 2]
    assert event.version == 3
    assert [r["kind"]["S"] for r in aws.rows("a-1")] == ["deposit", "withdrawal", "fee"]


# -- ProjectBalance ----------------------------------------------------------------------------------------------------


def test_projector_applies_rows_in_order_and_publishes_domain_events(aws: Aws) -> None:
    append(aws.events_table, "a-1", "deposit", 1_000, 0)
    append(aws.events_table, "a-1", "withdrawal", 1_500, 1)

    response = _projector(aws)(aws.stream_event(), FakeContext())

    assert response == {"batchItemFailures": []}
    assert aws.balance("a-1") == {"balance": -500, "version": 2}
    events = aws.published()
    assert [(e["detail-type"], e["detail"]["version"], e["detail"]["balance"]) for e in events] == [
        ("BalanceChanged", 1, 1_000),
        ("BalanceChanged", 2, -500),
        ("Overdrawn", 2, -500),
    ]
    assert events[1]["detail"]["delta"] == -1_500
    # Published from a record at hops 0: the events continue its chain one hop further.
    assert {e["detail"]["__context"]["hops"] for e in events} == {1}


def test_a_redelivered_batch_does_not_change_the_balance(aws: Aws) -> None:
    append(aws.events_table, "a-1", "deposit", 1_000, 0)
    append(aws.events_table, "a-1", "withdrawal", 300, 1)
    batch = aws.stream_event()
    projector = _projector(aws)
    projector(batch, FakeContext())
    aws.published()

    assert projector(batch, FakeContext()) == {"batchItemFailures": []}

    assert aws.balance("a-1") == {"balance": 700, "version": 2, "redeliveries": 2}
    # v1 is older than the projection: skipped. v2 is the last applied: published again (its first publish may be
    # what failed), with the balance it left.
    assert [(e["detail-type"], e["detail"]["version"], e["detail"]["balance"]) for e in aws.published()] == [
        ("BalanceChanged", 2, 700)
    ]


def test_a_poison_row_goes_to_the_dlq_and_the_rows_after_it_are_applied(aws: Aws) -> None:
    append(aws.events_table, "a-1", "deposit", 1_000, 0)
    aws.ddb.put_item(
        TableName=aws.events_table,
        Item={
            "account_id": {"S": "a-1"},
            "version": {"N": "2"},
            "kind": {"S": "deposit"},
            "amount": {"S": "12.50"},
        },
    )
    append(aws.events_table, "a-1", "withdrawal", 200, 2)

    response = _projector(aws)(aws.stream_event(), FakeContext())

    assert response == {"batchItemFailures": []}
    assert aws.balance("a-1") == {"balance": 800, "version": 3}
    (poison,) = aws.dead_letters()
    assert poison["reason"] == "validation-error"
    assert "amount" in poison["errorMessage"]
    assert poison["record"]["dynamodb"]["Keys"]["version"] == {"N": "2"}
    assert poison["eventSourceARN"] == aws.stream_arn


def test_a_row_past_the_hop_limit_is_diverted_not_applied(aws: Aws) -> None:
    item = {
        "account_id": {"S": "a-1"},
        "version": {"N": "1"},
        "kind": {"S": "fee"},
        "amount": {"N": "500"},
        "__context": {"M": {"correlationId": {"S": "loop"}, "hops": {"N": "3"}}},
    }
    aws.ddb.put_item(TableName=aws.events_table, Item=item)

    _projector(aws, max_hops=2)(aws.stream_event(), FakeContext())

    assert aws.balance("a-1") is None
    (stopped,) = aws.dead_letters()
    assert (stopped["reason"], stopped["hops"], stopped["correlationId"]) == ("recursion-limit", 3, "loop")
    assert aws.published() == []


# -- RecordStatement ---------------------------------------------------------------------------------------------------


def test_record_statement_writes_one_line_per_version_even_when_delivered_twice(aws: Aws) -> None:
    event = {
        "version": "0",
        "id": "evt-1",
        "detail-type": "BalanceChanged",
        "source": SOURCE,
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": REGION,
        "resources": [],
        "detail": {
            "account_id": "a-1",
            "version": 4,
            "kind": "fee",
            "delta": -500,
            "balance": -2_000,
            "__context": {"correlationId": "chain-9", "hops": 3},
        },
    }
    record = {
        "messageId": "m-1",
        "receiptHandle": "r-1",
        "body": json.dumps(event),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:statements",
    }
    handler = RecordStatement(statements_table=aws.statements_table, settings=Settings(dlq=aws.dlq_url))

    for _ in range(2):
        assert handler({"Records": [record]}, FakeContext()) == {"batchItemFailures": []}

    (line,) = aws.ddb.scan(TableName=aws.statements_table)["Items"]
    assert {k: next(iter(v.values())) for k, v in line.items()} == {
        "account_id": "a-1",
        "version": "4",
        "kind": "fee",
        "delta": "-500",
        "balance": "-2000",
        "correlation_id": "chain-9",
    }


# -- ChargeOverdraftFee ------------------------------------------------------------------------------------------------


def _fee_handler(aws: Aws, max_hops: int = 4) -> ChargeOverdraftFee:
    settings = Settings(dlq=aws.dlq_url, idempotency_table=aws.idempotency_table, max_hops=max_hops)
    return ChargeOverdraftFee(events_table=aws.events_table, settings=settings)


def test_fee_is_appended_at_the_next_version_continuing_the_chain(aws: Aws) -> None:
    append(aws.events_table, "a-1", "withdrawal", 500, 0)

    _fee_handler(aws)(_overdrawn_event("a-1", 1, hops=1), FakeContext())

    fee = aws.rows("a-1")[-1]
    assert (fee["version"]["N"], fee["kind"]["S"], fee["amount"]["N"]) == ("2", "fee", str(OVERDRAFT_FEE))
    assert fee["note"]["S"] == "overdraft fee for version 1"
    context = fee["__context"]["M"]
    assert (context["correlationId"]["S"], context["hops"]["N"]) == ("chain-1", "2")


def test_a_redelivered_overdrawn_event_charges_one_fee(aws: Aws) -> None:
    append(aws.events_table, "a-1", "withdrawal", 500, 0)
    event = _overdrawn_event("a-1", 1, hops=1)
    handler = _fee_handler(aws)

    handler(event, FakeContext())
    handler(event, FakeContext())

    assert [r["kind"]["S"] for r in aws.rows("a-1")] == ["withdrawal", "fee"]


def test_an_overdrawn_event_past_the_hop_limit_goes_to_the_dlq_and_charges_nothing(aws: Aws) -> None:
    append(aws.events_table, "a-1", "withdrawal", 500, 0)

    _fee_handler(aws, max_hops=4)(_overdrawn_event("a-1", 1, hops=5, correlation="loop-7"), FakeContext())

    assert [r["kind"]["S"] for r in aws.rows("a-1")] == ["withdrawal"]
    (stopped,) = aws.dead_letters()
    assert (stopped["reason"], stopped["hops"], stopped["correlationId"]) == ("recursion-limit", 5, "loop-7")
    assert stopped["record"]["detail"]["account_id"] == "a-1"

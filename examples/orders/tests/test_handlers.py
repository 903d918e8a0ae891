"""The orders handlers called with the events Lambda delivers, against moto's DynamoDB and SQS (in process)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from functools import partial
from typing import Any

import boto3
import pytest
from moto import mock_aws

from eventweave.handlers import ConfigurationError, Settings
from eventweave.handlers.clients import reset_clients
from eventweave.testing.events import FakeLambdaContext
from examples.orders.handlers.billing import Charge
from examples.orders.handlers.failures import RecordFailure, order_id_of
from examples.orders.handlers.notifications import NotifyExpress
from examples.orders.handlers.shipping import Ship
from examples.orders.models import ORDER_PLACED, SOURCE, OrderPlaced
from examples.orders.payments import (
    DECLINED,
    UNAVAILABLE_ONCE,
    VISA,
    CardDeclinedError,
    ChargeLedger,
    ProviderUnavailableError,
    SandboxPaymentProvider,
)

REGION, ACCOUNT = "us-east-1", "123456789012"
TABLES = {"charges": "order_id", "shipments": "order_id", "notifications": "order_id", "failures": "failure_id"}


LambdaContext = partial(FakeLambdaContext, remaining_ms=10_000, function_name="orders-test")


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Fresh moto tables and a DLQ; yields the DLQ URL and table names."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SQS", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        reset_clients()
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        for table, key in {**TABLES, "idempotency": "id"}.items():
            dynamodb.create_table(
                TableName=table,
                KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        dlq = boto3.client("sqs", region_name=REGION).create_queue(QueueName="billing-poison")["QueueUrl"]
        yield {"dlq": dlq}
        reset_clients()


def settings(aws: dict[str, str], **changes: Any) -> Settings:
    return Settings(dlq=aws["dlq"], idempotency_table="idempotency", function_name="orders-test").with_(**changes)


def order(**fields: Any) -> OrderPlaced:
    values: dict[str, Any] = {"order_id": f"o-{uuid.uuid4().hex[:6]}", "customer": "c-1", "amount": 2500, "card": VISA}
    return OrderPlaced(**{**values, **fields})


def record(placed: OrderPlaced | dict[str, Any], *, event_id: str | None = None, message_id: str | None = None) -> Any:
    """An SQS record whose body is the EventBridge event (as the bus rule, or SNS raw delivery, puts it there)."""
    detail = placed.model_dump(mode="json") if isinstance(placed, OrderPlaced) else placed
    event = {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": ORDER_PLACED,
        "source": SOURCE,
        "account": ACCOUNT,
        "time": "2026-12-01T10:00:00Z",
        "region": REGION,
        "resources": [],
        "detail": detail,
    }
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": uuid.uuid4().hex,
        "body": json.dumps(event),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1796160000000"},
        "messageAttributes": {},
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders-queue",
        "awsRegion": REGION,
    }


def invoke(handler: Any, *records: Any) -> list[str]:
    """Call the handler as the SQS mapping does; return the ids it asks to have retried."""
    response = handler({"Records": list(records)}, LambdaContext())
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def item(table: str, key: str) -> dict[str, Any]:
    found: dict[str, Any] = (
        boto3.client("dynamodb", region_name=REGION)
        .get_item(TableName=table, Key={TABLES[table]: {"S": key}}, ConsistentRead=True)
        .get("Item", {})
    )
    return found


def poison(aws: dict[str, str]) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=REGION)
    messages = sqs.receive_message(QueueUrl=aws["dlq"], MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


# -- billing --------------------------------------------------------------------------------------------------------


def test_billing_charges_an_order_placed_twice_once(aws: dict[str, str]) -> None:
    charge = Charge(settings=settings(aws), charges_table="charges")
    placed = order()
    first, duplicate = str(uuid.uuid4()), str(uuid.uuid4())

    assert invoke(charge, record(placed, event_id=first), record(placed, event_id=duplicate)) == []
    assert invoke(charge, record(placed)) == []  # placed a third time, in a later invocation

    charged = item("charges", placed.order_id)
    assert charged["charge_id"]["S"].startswith("ch_")
    assert charged["attempts"]["N"] == "1"  # the provider was called once
    assert charged["event_ids"]["SS"] == [first]
    assert charged["amount"]["N"] == "2500"
    assert poison(aws) == []


def test_billing_sends_a_declined_card_to_the_dlq_with_its_reason_without_retrying(aws: dict[str, str]) -> None:
    charge = Charge(settings=settings(aws), charges_table="charges")
    declined = order(card=DECLINED)

    assert invoke(charge, record(declined)) == []  # handled: the source must not retry it

    [document] = poison(aws)
    assert (document["kind"], document["reason"], document["errorType"]) == (
        "eventweave.poison",
        "permanent-error",
        "PermanentError",
    )
    assert document["errorMessage"] == f"order {declined.order_id}: card ending 0002 was declined"
    assert json.loads(document["record"]["body"])["detail"]["order_id"] == declined.order_id
    assert "charge_id" not in item("charges", declined.order_id)
    assert item("charges", declined.order_id)["attempts"]["N"] == "1"


def test_billing_refuses_a_non_positive_amount_before_calling_the_provider(aws: dict[str, str]) -> None:
    charge = Charge(settings=settings(aws), charges_table="charges")
    free = order(amount=0)

    assert invoke(charge, record(free)) == []

    [document] = poison(aws)
    assert document["reason"] == "permanent-error"
    assert "amount must be positive" in document["errorMessage"]
    assert item("charges", free.order_id) == {}


def test_billing_sends_an_unreadable_order_to_the_dlq_as_a_validation_error(aws: dict[str, str]) -> None:
    charge = Charge(settings=settings(aws), charges_table="charges")

    assert invoke(charge, record({"customer": "c-1", "amount": 5})) == []

    [document] = poison(aws)
    assert document["reason"] == "validation-error"
    assert "order_id" in document["errorMessage"]


def test_billing_retries_only_the_record_that_met_a_provider_outage(aws: dict[str, str]) -> None:
    charge = Charge(settings=settings(aws), charges_table="charges")
    flaky, fine = order(card=UNAVAILABLE_ONCE), order()
    outage = record(flaky)

    assert invoke(charge, outage, record(fine)) == [outage["messageId"]]
    assert "charge_id" not in item("charges", flaky.order_id)
    assert "charge_id" in item("charges", fine.order_id)

    assert invoke(charge, outage) == []  # SQS delivers the same message again
    charged = item("charges", flaky.order_id)
    assert "charge_id" in charged
    assert charged["attempts"]["N"] == "2"
    assert len(charged["event_ids"]["SS"]) == 1  # two attempts, one event
    assert poison(aws) == []


def test_billing_needs_its_table() -> None:
    with pytest.raises(ConfigurationError, match="CHARGES_TABLE"):
        Charge(settings=Settings(idempotency_table="idempotency"))


# -- payments -------------------------------------------------------------------------------------------------------


def test_sandbox_provider_outcomes_follow_the_test_cards() -> None:
    provider = SandboxPaymentProvider()
    placed = order()
    assert provider.charge(placed, attempt=1) == provider.charge(placed, attempt=2)  # provider-side idempotency
    with pytest.raises(CardDeclinedError):
        provider.charge(order(card=DECLINED), attempt=1)
    with pytest.raises(ProviderUnavailableError):
        provider.charge(order(card=UNAVAILABLE_ONCE), attempt=1)
    assert provider.charge(order(card=UNAVAILABLE_ONCE), attempt=2).startswith("ch_")


def test_ledger_refuses_a_second_charge_of_the_same_order(aws: dict[str, str]) -> None:
    ledger, placed = ChargeLedger("charges"), order()
    assert ledger.record_charge(placed, "ch_1") is True
    assert ledger.record_charge(placed, "ch_2") is False
    assert item("charges", placed.order_id)["charge_id"]["S"] == "ch_1"


# -- shipping and notifications -------------------------------------------------------------------------------------


def test_shipping_ships_once_and_records_each_event(aws: dict[str, str]) -> None:
    ship = Ship(settings=settings(aws, idempotency_table=None), shipments_table="shipments")
    express = order(priority="express")
    first, duplicate = record(express), record(express)

    assert invoke(ship, first, duplicate) == []
    assert invoke(ship, first) == []  # a redelivered message: same event id, nothing new

    shipment = item("shipments", express.order_id)
    assert shipment["shipment_id"]["S"] == f"sh-{express.order_id}"
    assert shipment["service"]["S"] == "next-day"
    assert sorted(shipment["event_ids"]["SS"]) == sorted(json.loads(r["body"])["id"] for r in (first, duplicate))


def test_notifications_notify_an_order_once(aws: dict[str, str]) -> None:
    notify = NotifyExpress(settings=settings(aws), notifications_table="notifications")
    express = order(priority="express")

    assert invoke(notify, record(express), record(express)) == []
    assert invoke(notify, record(express)) == []

    sent = item("notifications", express.order_id)
    assert sent["message"]["S"] == f"Your express order {express.order_id} ships today."
    assert boto3.client("dynamodb", region_name=REGION).scan(TableName="notifications")["Count"] == 1


# -- failure log ----------------------------------------------------------------------------------------------------


def test_failure_log_records_what_billing_sent_to_its_dlq(aws: dict[str, str]) -> None:
    charge = Charge(settings=settings(aws), charges_table="charges")
    declined = order(card=DECLINED)
    invoke(charge, record(declined))
    sqs = boto3.client("sqs", region_name=REGION)
    [message] = sqs.receive_message(QueueUrl=aws["dlq"], MaxNumberOfMessages=10, MessageAttributeNames=["All"])[
        "Messages"
    ]
    poison_record = {
        **record({}),
        "messageId": message["MessageId"],
        "body": message["Body"],
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:billing-poison",
    }

    log = RecordFailure(settings=settings(aws, idempotency_table=None), failures_table="failures")
    assert invoke(log, poison_record, poison_record) == []  # a redelivery overwrites the same item

    [failure] = boto3.client("dynamodb", region_name=REGION).scan(TableName="failures")["Items"]
    assert failure["order_id"]["S"] == declined.order_id
    assert failure["reason"]["S"] == "permanent-error"
    assert "declined" in failure["error_message"]["S"]
    assert failure["function"]["S"] == "orders-test"
    assert failure["dead_letter_queue"]["S"].endswith(":billing-poison")


def test_order_id_of_an_unreadable_payload_is_unknown() -> None:
    from eventweave.handlers import PoisonRecord

    document = {
        "reason": "malformed-record",
        "errorType": "ValueError",
        "errorMessage": "no body",
        "eventSource": "aws:sqs",
        "functionName": "orders-test",
        "timestamp": "2026-12-01T10:00:00Z",
        "record": {"body": "not json"},
    }
    assert order_id_of(PoisonRecord.model_validate(document)) == "?"

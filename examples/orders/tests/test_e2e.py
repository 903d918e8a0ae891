"""The orders stack deployed into the local cloud, driven through the bus as the orders API would."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from eventweave.testing import EphemeralStack, wait_until
from examples.conftest import deploy_example
from examples.orders import scenario
from examples.orders.models import OrderPlaced
from examples.orders.payments import DECLINED, VISA


@pytest.fixture(scope="module")
def stack(eventweave_cloud: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EphemeralStack]:
    yield from deploy_example(
        eventweave_cloud, tmp_path_factory, "examples.orders.stack:OrdersStack", "EventweaveOrders"
    )


def _order(**fields: Any) -> OrderPlaced:
    values: dict[str, Any] = {"order_id": f"o-{uuid.uuid4().hex[:8]}", "customer": "c-1", "amount": 1000, "card": VISA}
    return OrderPlaced(**{**values, **fields})


def _put(stack: EphemeralStack, *orders: OrderPlaced) -> None:
    response = stack.client("events").put_events(Entries=[o.entry(stack.outputs["EventBusName"]) for o in orders])
    assert response["FailedEntryCount"] == 0, response


def _item(stack: EphemeralStack, table: str, order_id: str) -> dict[str, Any]:
    item: dict[str, Any] = (
        stack.client("dynamodb")
        .get_item(TableName=stack.outputs[table], Key={"order_id": {"S": order_id}}, ConsistentRead=True)
        .get("Item", {})
    )
    return item


def _event_ids(item: dict[str, Any]) -> set[str]:
    return set(item.get("event_ids", {}).get("SS", []))


def test_duplicate_order_placed_is_charged_once_and_shipped_once(stack: EphemeralStack) -> None:
    order = _order()
    _put(stack, order, order)
    wait_until(
        lambda: len(_event_ids(_item(stack, "ShipmentsTable", order.order_id))) == 2,
        timeout=20,
        what="both events at shipping",
    )
    shipped = _event_ids(_item(stack, "ShipmentsTable", order.order_id))
    wait_until(lambda: _item(stack, "ChargesTable", order.order_id).get("charge_id"), timeout=20, what="a charge")
    wait_until(lambda: stack.depth(stack.outputs["BillingQueueUrl"]) == 0, timeout=30, what="billing to settle")
    charged = _event_ids(_item(stack, "ChargesTable", order.order_id))
    assert len(charged) == 1 and charged < shipped  # the other event never reached the payment provider
    assert _item(stack, "ShipmentsTable", order.order_id)["shipment_id"]["S"] == f"sh-{order.order_id}"


def test_only_express_orders_are_notified(stack: EphemeralStack) -> None:
    express, standard = _order(priority="express"), _order()
    _put(stack, express, standard)
    wait_until(lambda: _item(stack, "NotificationsTable", express.order_id), timeout=20, what="the notification")
    # Both were published to the topic together: once shipping has the standard one, the filter has decided.
    wait_until(lambda: _item(stack, "ShipmentsTable", standard.order_id), timeout=20, what="the standard shipment")
    wait_until(lambda: stack.depth(stack.outputs["NotificationsQueueUrl"]) == 0, timeout=20, what="notifications idle")
    assert _item(stack, "NotificationsTable", standard.order_id) == {}


def test_poison_reaches_the_failure_log_with_its_reason_and_is_never_retried(stack: EphemeralStack) -> None:
    declined, free = _order(card=DECLINED), _order(amount=0)
    _put(stack, declined, free)

    def failures() -> dict[str, dict[str, Any]]:
        items = stack.client("dynamodb").scan(TableName=stack.outputs["FailuresTable"], ConsistentRead=True)["Items"]
        found = {i["order_id"]["S"]: i for i in items if i["order_id"]["S"] in (declined.order_id, free.order_id)}
        return found if len(found) == 2 else {}

    found = wait_until(failures, timeout=30, what="both failures recorded")
    assert found[declined.order_id]["reason"]["S"] == "permanent-error"
    assert "declined" in found[declined.order_id]["error_message"]["S"]
    assert "amount must be positive" in found[free.order_id]["error_message"]["S"]
    poison_queue = stack.outputs["BillingPoisonQueueUrl"].rsplit("/", 1)[-1]
    assert all(f["dead_letter_queue"]["S"].endswith(":" + poison_queue) for f in found.values())
    assert _item(stack, "ChargesTable", declined.order_id)["attempts"]["N"] == "1"  # never retried
    assert _item(stack, "ChargesTable", free.order_id) == {}  # refused before the provider was called


def test_scenario(stack: EphemeralStack) -> None:
    summary = scenario.run(stack, print)
    failed = [check for check in summary.checks if not check.ok]
    assert summary.ok, failed
    assert (summary.events_in, summary.processed, summary.in_dlq, summary.duplicates_suppressed) == (5, 3, 1, 1)
    assert summary.retried >= 1  # the provider outage; a redelivery after a timeout on a loaded machine adds one

"""The orders demo: five ``OrderPlaced`` events, one of them a duplicate, one poison, one hitting a provider outage.

Everything the summary reports is read back from the service's own state: the charges ledger (charges and attempts),
the shipments and notifications tables, the failure log, and the depth of every queue and dead-letter queue.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from eventweave.testing import EphemeralStack, wait_until
from eventweave.testing.scenario import Summary, Trace

from .models import OrderPlaced
from .payments import DECLINED, UNAVAILABLE_ONCE, VISA

__all__ = ["run"]

SETTLE_SECONDS = 50.0
"""How long the scenario waits, in all, for the services to settle: one billing retry takes the queue's visibility
timeout (~18 s) plus a cold start; the whole run stays under a minute."""


def run(stack: EphemeralStack, trace: Trace) -> Summary:
    """Put the orders on the bus, wait until every service has settled, and check what each one did."""
    summary = Summary("orders")
    out = stack.outputs
    run_id = uuid.uuid4().hex[:6]
    standard = OrderPlaced(order_id=f"o-{run_id}-std", customer="c-ana", amount=2500, card=VISA)
    express = OrderPlaced(order_id=f"o-{run_id}-exp", customer="c-bo", amount=4900, card=VISA, priority="express")
    declined = OrderPlaced(order_id=f"o-{run_id}-dec", customer="c-cy", amount=1200, card=DECLINED)
    flaky = OrderPlaced(order_id=f"o-{run_id}-flk", customer="c-di", amount=800, card=UNAVAILABLE_ONCE)
    good, everyone = [standard, express, flaky], [standard, express, declined, flaky]
    placed = [standard, express, standard, declined, flaky]

    trace(
        f"put {len(placed)} OrderPlaced on bus {out['EventBusName']}: {standard.order_id} (standard), "
        f"{express.order_id} (express), {standard.order_id} again (duplicate), {declined.order_id} (card declined), "
        f"{flaky.order_id} (provider unavailable on the first attempt)"
    )
    response = stack.client("events").put_events(Entries=[order.entry(out["EventBusName"]) for order in placed])
    summary.events_in = len(placed) - int(response.get("FailedEntryCount", 0))
    summary.check("the bus accepted every event", summary.events_in == len(placed), f"{summary.events_in} accepted")

    tables = _Tables(stack)
    settle = _Settle(summary, time.monotonic() + SETTLE_SECONDS)
    trace("billing: charging through the queue worker; a failed attempt comes back after the visibility timeout")
    settle("a charge for each good order", lambda: all("charge_id" in tables.charge(o.order_id) for o in good))
    settle("the declined order in the failure log", lambda: tables.failures_of(declined.order_id))
    trace("shipping and notifications: waiting for every event to reach the fulfilment topic's subscribers")
    settle(
        "shipping to see all five events",
        lambda: sum(len(tables.shipping_events(o.order_id)) for o in everyone) == len(placed),
    )
    settle("the express notification", lambda: tables.notification(express.order_id))
    queues = ["BillingQueueUrl", "ShippingQueueUrl", "NotificationsQueueUrl", "BillingPoisonQueueUrl"]
    settle("every queue empty", lambda: all(stack.depth(out[q]) == 0 for q in queues))

    # Billing: one charge per good order, each from one event however often it was attempted.
    charges = {o.order_id: tables.charge(o.order_id) for o in everyone}
    for order in good:
        charge = charges[order.order_id]
        trace(
            f"billing: {order.order_id} charged {_s(charge, 'charge_id') or 'NOT'} after {_n(charge, 'attempts')} "
            f"attempt(s), from {len(_ids(charge))} of its {len(tables.shipping_events(order.order_id))} event(s)"
        )
    std_events, std_charged = tables.shipping_events(standard.order_id), _ids(charges[standard.order_id])
    summary.check(
        f"{standard.order_id} charged once although placed twice",
        len(std_events) == 2 and len(std_charged) == 1 and std_charged <= std_events,
        f"{len(std_events)} events, {len(std_charged)} reached the payment provider",
    )
    summary.check(f"{express.order_id} charged once", "charge_id" in charges[express.order_id])
    flk = charges[flaky.order_id]
    summary.check(
        f"{flaky.order_id} retried after 'payment provider unavailable' and charged once",
        _n(flk, "attempts") >= 2 and "charge_id" in flk,
        f"{_n(flk, 'attempts')} attempts",
    )
    summary.check(f"{declined.order_id} not charged", "charge_id" not in charges[declined.order_id])

    # The declined order: poison, read out of billing's poison queue by the failure log, with its reason.
    failures = tables.failures_of(declined.order_id)
    failure = failures[0] if failures else {}
    poison_queue = _s(failure, "dead_letter_queue").rsplit(":", 1)[-1]
    trace(
        f"failure log: {declined.order_id} {_s(failure, 'reason')} ({_s(failure, 'error_type')}: "
        f"{_s(failure, 'error_message')}), read from {poison_queue or '?'}"
    )
    summary.check(
        f"{declined.order_id} in billing's poison queue with its reason, recorded once",
        len(failures) == 1
        and _s(failure, "reason") == "permanent-error"
        and "declined" in _s(failure, "error_message")
        and out["BillingPoisonQueueUrl"].endswith("/" + poison_queue),
        _s(failure, "error_message") or "no failure recorded",
    )

    # Fulfilment: every order shipped once; only the express one notified.
    shipped = {o.order_id: tables.shipment(o.order_id) for o in everyone}
    trace("shipping: " + ", ".join(f"{k} {_s(v, 'service')} ({len(_ids(v))} events)" for k, v in shipped.items()))
    summary.check("every order shipped once", all(_s(v, "shipment_id") == f"sh-{k}" for k, v in shipped.items()))
    notified = sorted({o.order_id for o in placed if tables.notification(o.order_id)})
    trace(f"notifications: sent for {notified} (the filter policy passes express orders only)")
    summary.check("express order notified, standard orders not", notified == [express.order_id], str(notified))

    # Nothing waiting anywhere else: no exhausted billing events, no undelivered or failed notifications.
    dead = ["BillingDeadLetterQueueUrl", "FulfilmentUndeliveredQueueUrl", "ShippingDeadLetterQueueUrl"]
    dead += ["NotificationsDeadLetterQueueUrl", "FailureLogPoisonQueueUrl"]
    stuck = {q: depth for q in dead if (depth := stack.depth(out[q]))}
    summary.check("no other dead letters", not stuck, str(stuck or "all empty"))

    summary.processed = sum("charge_id" in charges[o.order_id] for o in good)
    # Attempts beyond the first of each event: the provider outage (and any redelivery after a timeout).
    summary.retried = sum(_n(c, "attempts") - len(_ids(c)) for c in charges.values())
    summary.in_dlq = sum(len(tables.failures_of(o.order_id)) for o in everyone)
    # Events that reached the services (shipping records each one) but never the payment provider.
    summary.duplicates_suppressed = sum(
        len(tables.shipping_events(o.order_id) - _ids(charges[o.order_id])) for o in everyone
    )
    trace(
        f"summary: {summary.processed} charged, {summary.retried} retried, {summary.in_dlq} in the DLQ, "
        f"{summary.duplicates_suppressed} duplicate suppressed"
    )
    return summary


class _Settle:
    """Waits for one end state after another against a shared deadline; a timeout is a failed check, not a crash."""

    def __init__(self, summary: Summary, deadline: float) -> None:
        self.summary = summary
        self.deadline = deadline

    def __call__(self, what: str, probe: Callable[[], object]) -> bool:
        try:
            wait_until(probe, timeout=max(0.5, self.deadline - time.monotonic()), what=what)
        except AssertionError as error:
            return self.summary.check(f"settled: {what}", False, str(error))
        return True


def _n(item: dict[str, Any], name: str) -> int:
    return int(item.get(name, {}).get("N", 0))


def _s(item: dict[str, Any], name: str) -> str:
    return str(item.get(name, {}).get("S", ""))


def _ids(item: dict[str, Any]) -> set[str]:
    """The ``event_ids`` string set of an item: the OrderPlaced events that reached that service for the order."""
    return set(item.get("event_ids", {}).get("SS", []))


class _Tables:
    """Reads the service's tables through the stack's DynamoDB client (strongly consistent)."""

    def __init__(self, stack: EphemeralStack) -> None:
        self.dynamodb = stack.client("dynamodb")
        self.out = stack.outputs

    def _get(self, output: str, order_id: str) -> dict[str, Any]:
        item: dict[str, Any] = self.dynamodb.get_item(
            TableName=self.out[output], Key={"order_id": {"S": order_id}}, ConsistentRead=True
        ).get("Item", {})
        return item

    def charge(self, order_id: str) -> dict[str, Any]:
        return self._get("ChargesTable", order_id)

    def shipment(self, order_id: str) -> dict[str, Any]:
        return self._get("ShipmentsTable", order_id)

    def shipping_events(self, order_id: str) -> set[str]:
        return _ids(self.shipment(order_id))

    def notification(self, order_id: str) -> dict[str, Any]:
        return self._get("NotificationsTable", order_id)

    def failures_of(self, order_id: str) -> list[dict[str, Any]]:
        pages = self.dynamodb.get_paginator("scan").paginate(
            TableName=self.out["FailuresTable"],
            ConsistentRead=True,
            FilterExpression="order_id = :order",
            ExpressionAttributeValues={":order": {"S": order_id}},
        )
        return [item for page in pages for item in page["Items"]]

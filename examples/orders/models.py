"""The event the orders service is built around, and how a producer puts it on the bus.

Example::

    order = OrderPlaced(order_id="o-1", customer="c-7", amount=2500, card=payments.VISA, priority="express")
    events.put_events(Entries=[order.entry(bus_name)])
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ORDER_PLACED", "SOURCE", "OrderPlaced"]

SOURCE = "eventweave.orders"
"""EventBridge ``source`` of every event the orders API puts on the bus."""
ORDER_PLACED = "OrderPlaced"
"""EventBridge ``detail-type`` of :class:`OrderPlaced`."""


class OrderPlaced(BaseModel):
    """An order was placed: billing charges it, shipping ships it, express orders get a notification.

    ``amount`` is in minor units (cents); ``card`` is the payment token the checkout collected (the sandbox provider's
    test cards decide the outcome, see ``payments.py``). The same order placed twice has the same ``order_id``:
    that is what billing's idempotency is keyed by.

    Example::

        OrderPlaced(order_id="o-1", customer="c-7", amount=2500, card="4242424242424242")
    """

    model_config = ConfigDict(frozen=True)

    order_id: str = Field(min_length=1)
    customer: str
    amount: int
    currency: str = "EUR"
    card: str
    priority: Literal["standard", "express"] = "standard"

    def entry(self, bus_name: str) -> dict[str, str]:
        """This event as a ``PutEvents`` entry for the orders bus."""
        return {
            "Source": SOURCE,
            "DetailType": ORDER_PLACED,
            "EventBusName": bus_name,
            "Detail": self.model_dump_json(),
        }

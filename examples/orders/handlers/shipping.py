"""Shipping: one shipment per placed order (a fan-out subscriber of the fulfilment topic, no filter)."""

from __future__ import annotations

import time
from typing import Any

from eventweave.handlers import SqsHandler, SqsRecordContext
from eventweave.handlers.clients import client

from ..models import OrderPlaced
from . import table_name

__all__ = ["Ship", "handler"]


class Ship(SqsHandler[OrderPlaced]):
    """Creates the order's shipment once; remembers the id of every ``OrderPlaced`` event it sees for the order.

    The write is idempotent by itself (``if_not_exists``, and a set of event ids), so this handler needs no
    idempotency table: a duplicate event only adds its id to ``event_ids``, which is how the demo shows duplicates
    arriving; a redelivered message has the same event id and changes nothing.

    Example::

        Ship(shipments_table="shipments").handle(order, ctx)
    """

    def __init__(self, *, shipments_table: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.table = table_name("shipments", shipments_table)
        self.dynamodb = client("dynamodb")  # in the init phase, not within the first invocation's timeout

    def handle(self, order: OrderPlaced, ctx: SqsRecordContext) -> None:
        self.dynamodb.update_item(
            TableName=self.table,
            Key={"order_id": {"S": order.order_id}},
            UpdateExpression=(
                "SET shipment_id = if_not_exists(shipment_id, :id), service = if_not_exists(service, :service), "
                "created_at = if_not_exists(created_at, :at) ADD event_ids :event"
            ),
            ExpressionAttributeValues={
                ":id": {"S": f"sh-{order.order_id}"},
                ":service": {"S": "next-day" if order.priority == "express" else "ground"},
                ":at": {"N": str(int(time.time()))},
                ":event": {"SS": [ctx.message_id]},
            },
        )


handler = Ship.lambda_handler()

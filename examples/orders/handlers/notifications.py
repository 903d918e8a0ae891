"""Notifications: tells the customer their express order is on its way (behind a filter policy: express only)."""

from __future__ import annotations

import time
from typing import Any

from eventweave.handlers import Idempotency, SqsHandler, SqsRecordContext
from eventweave.handlers.clients import client

from ..models import OrderPlaced
from . import table_name

__all__ = ["NotifyExpress", "handler"]


class NotifyExpress(SqsHandler[OrderPlaced]):
    """Sends one notification per express order; the subscription's filter policy keeps standard orders away.

    A real service would call SES or a push provider here, a side effect that cannot be taken back: hence
    idempotency by order id. The notification is recorded in the ``notifications`` table.

    Example::

        NotifyExpress(notifications_table="notifications").handle(order, ctx)
    """

    idempotency = Idempotency(key="order_id")

    def __init__(self, *, notifications_table: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.table = table_name("notifications", notifications_table)
        self.dynamodb = client("dynamodb")  # in the init phase, not within the first invocation's timeout

    def handle(self, order: OrderPlaced, ctx: SqsRecordContext) -> None:
        self.dynamodb.put_item(
            TableName=self.table,
            Item={
                "order_id": {"S": order.order_id},
                "customer": {"S": order.customer},
                "message": {"S": f"Your express order {order.order_id} ships today."},
                "sent_at": {"N": str(int(time.time()))},
            },
        )


handler = NotifyExpress.lambda_handler()

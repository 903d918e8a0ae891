"""Billing: charges each placed order exactly once.

The function drains a queue that the bus's ``OrderPlaced`` rule fills (``EventBusRouter.route_to_queue_worker``);
each message is an EventBridge event, which ``SqsHandler`` unwraps to its ``detail``.
"""

from __future__ import annotations

from typing import Any

from eventweave.handlers import Idempotency, PermanentError, SqsHandler, SqsRecordContext

from ..models import OrderPlaced
from ..payments import CardDeclinedError, ChargeLedger, SandboxPaymentProvider
from . import table_name

__all__ = ["Charge", "handler"]


class Charge(SqsHandler[OrderPlaced]):
    """Charges an order once, however often ``OrderPlaced`` arrives.

    * a duplicate ``OrderPlaced`` (same ``order_id``) is skipped before ``handle`` (idempotency keyed by order id);
    * a non-positive amount or a declined card raises :class:`PermanentError`: the record goes to the poison queue
      at once, with its reason, and is never retried;
    * the provider being unavailable raises a retryable error: only that record returns to the queue.

    Example::

        Charge(charges_table="charges").handle(order, ctx)   # or, in Lambda: handler = Charge.lambda_handler()
    """

    idempotency = Idempotency(key="order_id")

    def __init__(self, *, charges_table: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ledger = ChargeLedger(table_name("charges", charges_table))
        self.provider = SandboxPaymentProvider()

    def handle(self, order: OrderPlaced, ctx: SqsRecordContext) -> None:
        if order.amount <= 0:
            raise PermanentError(f"order {order.order_id}: amount must be positive, got {order.amount}")
        attempt = self.ledger.record_attempt(order.order_id, event_id=ctx.message_id)
        try:
            charge_id = self.provider.charge(order, attempt=attempt)
        except CardDeclinedError as error:
            raise PermanentError(f"order {order.order_id}: {error}") from error
        if not self.ledger.record_charge(order, charge_id):
            # Idempotency skips duplicates before handle(); getting here means its record expired (TTL) first.
            self.logger.warning("order already charged", extra={"order_id": order.order_id, "charge_id": charge_id})
            return
        self.logger.info("charged", extra={"order_id": order.order_id, "amount": order.amount, "attempt": attempt})


handler = Charge.lambda_handler()

"""Small handlers, one per pattern, used by the showcase stack (`app.py`) and the construct tests."""

from __future__ import annotations

from pydantic import BaseModel

from eventweave.handlers import (
    Idempotency,
    SqsFifoHandler,
    SqsHandler,
    SqsRecordContext,
)


class OrderPlaced(BaseModel):
    order_id: str
    amount: int
    priority: str = "standard"


class Charge(SqsHandler[OrderPlaced]):
    """Queue worker: charges each order once."""

    idempotency = Idempotency(key="order_id")

    def handle(self, order: OrderPlaced, ctx: SqsRecordContext) -> None:
        # A real service calls its payment provider here; idempotency guarantees it runs once per order.
        self.logger.info("charged", extra={"order_id": order.order_id, "amount": order.amount})


charge = Charge.lambda_handler()


class LedgerEntry(BaseModel):
    account: str
    delta: int


class ApplyLedgerEntry(SqsFifoHandler[LedgerEntry]):
    """FIFO queue worker: entries of one account arrive in order."""

    def handle(self, entry: LedgerEntry, ctx: SqsRecordContext) -> None:
        self.logger.info("applied", extra={"account": entry.account, "delta": entry.delta, "group": ctx.group_id})


apply_ledger_entry = ApplyLedgerEntry.lambda_handler()

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
        ctx.record_id  # the charge itself would call a payment API here


charge = Charge.lambda_handler()


class LedgerEntry(BaseModel):
    account: str
    delta: int


class ApplyLedgerEntry(SqsFifoHandler[LedgerEntry]):
    """FIFO queue worker: entries of one account arrive in order."""

    def handle(self, entry: LedgerEntry, ctx: SqsRecordContext) -> None:
        ctx.record_id


apply_ledger_entry = ApplyLedgerEntry.lambda_handler()

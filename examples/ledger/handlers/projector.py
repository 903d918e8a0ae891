"""ProjectBalance: the events table's stream -> the balance projection -> domain events on the ledger's bus."""

from __future__ import annotations

from typing import Any

from eventweave.handlers import IGNORED, DynamoDBRecordContext, DynamoDBStreamHandler
from eventweave.handlers.publish import put_event

from ..models import SOURCE, BalanceChanged, LedgerEvent, Overdrawn
from ..projection import apply
from . import BALANCES_TABLE, EVENT_BUS, setting


class ProjectBalance(DynamoDBStreamHandler[LedgerEvent]):
    """Applies each new ledger row to its account's balance, then publishes ``BalanceChanged`` (and ``Overdrawn``
    when the balance is below zero).

    Rows arrive in order per account; a row that is not a valid :class:`LedgerEvent` is poison (failure queue, with
    the validation error) and the rows after it are still applied. Publishing is at least once: a redelivered row
    whose publish may have failed is published again, so consumers key on ``(account_id, version)``.

    Example::

        handler = ProjectBalance(balances_table="ledger-balances", bus_name="ledger")
        handler({"Records": [stream_record]}, context)    # {"batchItemFailures": []}
    """

    def __init__(self, *, balances_table: str | None = None, bus_name: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.balances_table = setting(balances_table, BALANCES_TABLE)
        self.bus_name = setting(bus_name, EVENT_BUS)

    def on_insert(self, new: LedgerEvent, ctx: DynamoDBRecordContext) -> Any:
        applied = apply(self.balances_table, new)
        if applied is None:
            return IGNORED  # an older redelivery: applied and published when it first came
        changed = BalanceChanged(
            account_id=new.account_id, version=new.version, kind=new.kind, delta=new.delta, balance=applied.balance
        )
        put_event("BalanceChanged", changed, source=SOURCE, bus_name=self.bus_name)
        if applied.balance < 0:
            overdrawn = Overdrawn(
                account_id=new.account_id, version=new.version, kind=new.kind, balance=applied.balance
            )
            put_event("Overdrawn", overdrawn, source=SOURCE, bus_name=self.bus_name)
        return None


handler = ProjectBalance.lambda_handler()

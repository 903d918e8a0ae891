"""ChargeOverdraftFee: ``Overdrawn`` -> a fee appended to the ledger. DELIBERATELY MIS-WIRED (see below)."""

from __future__ import annotations

from typing import Any

from eventweave.handlers import EventBridgeHandler, EventBridgeRecordContext, Idempotency, on_event

from ..ledger import append_next
from ..models import Overdrawn
from . import EVENTS_TABLE, setting

OVERDRAFT_FEE = 500
"""Cents charged per ``Overdrawn`` event."""

FEE_MAX_HOPS = 4
"""Recursion limit of this function (the stack sets it): two rounds of its deliberate loop, then the failure queue."""


class ChargeOverdraftFee(EventBridgeHandler[Overdrawn]):
    """Charges a fee for every ``Overdrawn`` event, by appending a ``fee`` row to the ledger.

    The bug, kept on purpose to show the recursion guard: the fee itself leaves the account overdrawn, so its
    stream record makes the projection publish ``Overdrawn`` again, which charges another fee, and so on. Each round
    adds two hops to the chain (fee row -> projection -> event); the stack sets this function's
    ``EVENTWEAVE_MAX_HOPS`` to 4, so the third ``Overdrawn`` of a chain (hops 5) goes to the failure queue with
    reason ``recursion-limit`` and the loop ends after two fees. The fix is a rule, not the guard: charge only for
    the row that crossed zero (publish ``Overdrawn`` on the crossing, or match ``kind`` anything-but ``fee``).

    Idempotent per ``(account_id, version)``: a redelivered event does not charge twice.

    Example::

        handler = ChargeOverdraftFee(events_table="ledger-events")
        handler(eventbridge_event_with_overdrawn_detail, context)
    """

    idempotency = Idempotency(key=("account_id", "version"))

    def __init__(self, *, events_table: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.events_table = setting(events_table, EVENTS_TABLE)

    @on_event("Overdrawn")
    def charge(self, overdrawn: Overdrawn, ctx: EventBridgeRecordContext) -> None:
        note = f"overdraft fee for version {overdrawn.version}"
        append_next(self.events_table, overdrawn.account_id, "fee", OVERDRAFT_FEE, note=note)


handler = ChargeOverdraftFee.lambda_handler()

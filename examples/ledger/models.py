"""The ledger's events: what a row of the events table holds, and the domain events the projection publishes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SOURCE", "BalanceChanged", "Kind", "LedgerEvent", "Overdrawn"]

SOURCE = "ledger"
"""The EventBridge ``source`` of every domain event the ledger publishes."""

Kind = Literal["deposit", "withdrawal", "fee"]


class LedgerEvent(BaseModel):
    """One row of the events table: an immutable fact about an account, at a version unique per account.

    Amounts are whole cents and always positive; the kind gives the sign. A row that does not fit (an amount written
    as text by some other writer, an unknown kind) is poison for the projection: it goes to the failure queue with
    the validation error, and later rows are still applied.

    Example::

        event = LedgerEvent(account_id="a-1", version=3, kind="withdrawal", amount=2_500)
        event.delta   # -2500
    """

    model_config = ConfigDict(frozen=True)

    account_id: str = Field(min_length=1)
    version: int = Field(ge=1)
    kind: Kind
    amount: int = Field(gt=0)
    note: str = ""
    recorded_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @property
    def delta(self) -> int:
        """The change to the balance: deposits add, withdrawals and fees subtract."""
        return self.amount if self.kind == "deposit" else -self.amount


class BalanceChanged(BaseModel):
    """Published for every ledger row applied to the balance projection (detail-type ``BalanceChanged``).

    Example::

        BalanceChanged(account_id="a-1", version=3, kind="withdrawal", delta=-2_500, balance=7_500)
    """

    account_id: str
    version: int
    kind: Kind
    delta: int
    balance: int


class Overdrawn(BaseModel):
    """Published when a ledger row leaves the balance below zero (detail-type ``Overdrawn``).

    Example::

        Overdrawn(account_id="a-1", version=4, kind="withdrawal", balance=-500)
    """

    account_id: str
    version: int
    kind: Kind
    """The kind of the row that left the balance below zero (rules can match on it)."""
    balance: int

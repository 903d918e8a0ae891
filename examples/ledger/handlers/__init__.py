"""The ledger's Lambda handlers, one module per function, and the environment they read.

``stack.py`` sets these variables; unit tests pass the same values as constructor arguments instead.
"""

from __future__ import annotations

import os

from eventweave.handlers import ConfigurationError

__all__ = ["BALANCES_TABLE", "EVENTS_TABLE", "EVENT_BUS", "STATEMENTS_TABLE", "setting"]

EVENTS_TABLE = "LEDGER_EVENTS_TABLE"
BALANCES_TABLE = "LEDGER_BALANCES_TABLE"
STATEMENTS_TABLE = "LEDGER_STATEMENTS_TABLE"
EVENT_BUS = "LEDGER_EVENT_BUS"


def setting(given: str | None, variable: str) -> str:
    """``given``, else the environment variable ``variable``; a clear error when neither is set."""
    value = given or os.environ.get(variable)
    if not value:
        raise ConfigurationError(f"{variable} is not set; deploy with LedgerStack or pass it to the handler")
    return value

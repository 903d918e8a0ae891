"""One module per Lambda function of the orders service; each defines ``handler = X.lambda_handler()``.

* :mod:`.billing`: ``Charge``, the queue worker behind the bus (idempotent per order);
* :mod:`.shipping`: ``Ship``, a fan-out subscriber for every order;
* :mod:`.notifications`: ``NotifyExpress``, a fan-out subscriber behind a filter policy (express orders only);
* :mod:`.failures`: ``RecordFailure``, which reads billing's poison queue into the ``failures`` table.
"""

from __future__ import annotations

import os

from eventweave.handlers import ConfigurationError

__all__ = ["TABLE_ENV", "table_name"]

TABLE_ENV = {
    "charges": "CHARGES_TABLE",
    "shipments": "SHIPMENTS_TABLE",
    "notifications": "NOTIFICATIONS_TABLE",
    "failures": "FAILURES_TABLE",
}
"""The environment variable naming each table the handlers write to (the stack sets them)."""


def table_name(table: str, given: str | None) -> str:
    """``given`` if set, else the variable of ``table`` in :data:`TABLE_ENV`; a clear error when neither is."""
    name = given or os.environ.get(TABLE_ENV[table])
    if not name:
        raise ConfigurationError(
            f"{TABLE_ENV[table]} is not set: deploy with the orders stack (which sets it) or pass the table name"
        )
    return name

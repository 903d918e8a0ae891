"""A faster clock for moto's SQS model (same values), so a queue with a backlog stays usable.

moto's SQS asks ``moto.core.utils.unix_time_millis()`` for the current time several times per message on every
receive (visibility, delay, counts), and each call builds two datetimes: about 8 us, so a ``ReceiveMessage`` at a depth
of 2,000 costs ~2 s. ``time.time()`` returns the same number (seconds since the epoch, UTC) in ~0.05 us. Only the
no-argument form is replaced; a call with a datetime goes to moto's function unchanged.

``bench/local_cloud.py`` measures ReceiveMessage by depth with and without this.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

__all__ = ["install", "installed", "uninstall"]

_ORIGINAL: dict[str, Any] = {}


def _unix_time(value: dt.datetime | None = None) -> float:
    return time.time() if value is None else float(_ORIGINAL["unix_time"](value))


def _unix_time_millis(value: dt.datetime | None = None) -> float:
    return time.time() * 1000.0 if value is None else float(_ORIGINAL["unix_time"](value)) * 1000.0


def install() -> None:
    """Use the fast clock in moto's SQS model (idempotent)."""
    models = _models()
    if not _ORIGINAL:
        _ORIGINAL["unix_time"] = models.unix_time
        _ORIGINAL["unix_time_millis"] = models.unix_time_millis
    models.unix_time = _unix_time
    models.unix_time_millis = _unix_time_millis


def uninstall() -> None:
    """Restore moto's own clock functions."""
    models = _models()
    if _ORIGINAL:
        models.unix_time = _ORIGINAL["unix_time"]
        models.unix_time_millis = _ORIGINAL["unix_time_millis"]


def installed() -> bool:
    return bool(_models().unix_time_millis is _unix_time_millis)


def _models() -> Any:
    from moto.sqs import models

    return models

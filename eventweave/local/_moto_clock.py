"""A faster clock for moto's SQS model (same values), so a queue with a backlog stays usable.

moto's SQS asks ``moto.core.utils.unix_time_millis()`` for the current time several times per message on every
receive (visibility, delay, counts), and each call builds two datetimes: about 8 us, so a ``ReceiveMessage`` at a depth
of 2,000 costs ~2 s. ``time.time()`` returns the same number (seconds since the epoch, UTC) in ~0.05 us. Only the
no-argument form is replaced; a call with a datetime goes to moto's function unchanged.

``bench/local_cloud.py`` measures ReceiveMessage by depth with and without this.

:func:`frozen` stops this clock for the calling thread: a FIFO receive (:mod:`eventweave.local._moto_fixes`) scans the
queue at one instant, as SQS decides what is visible at the moment of the receive, instead of watching messages time
out halfway through its own scan.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections.abc import Iterator
from typing import Any

__all__ = ["frozen", "install", "installed", "uninstall"]

_ORIGINAL: dict[str, Any] = {}
_FROZEN = threading.local()


def _now() -> float:
    now: float | None = getattr(_FROZEN, "now", None)
    return time.time() if now is None else now


def _unix_time(value: dt.datetime | None = None) -> float:
    return _now() if value is None else float(_ORIGINAL["unix_time"](value))


def _unix_time_millis(value: dt.datetime | None = None) -> float:
    return _now() * 1000.0 if value is None else float(_ORIGINAL["unix_time"](value)) * 1000.0


@contextlib.contextmanager
def frozen() -> Iterator[float]:
    """moto's SQS clock stands still for this thread inside the block (at the time it was entered, which it yields);
    other threads see time pass as usual. Requires :func:`install`."""
    outer: float | None = getattr(_FROZEN, "now", None)
    _FROZEN.now = now = time.time() if outer is None else outer
    try:
        yield now
    finally:
        _FROZEN.now = outer


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

"""Test doubles that let unit tests run handlers without AWS.

:class:`RecordingDeadLetter` stands in for :class:`eventweave.handlers.poison.DeadLetter`: assign it to
``handler.dead_letter`` and every poison record is rendered with the real :func:`poison_body` and kept in memory::

    handler = Charge(settings=Settings())
    dlq = handler.dead_letter = RecordingDeadLetter()
    handler(event, None)
    assert dlq.reasons() == {"m2": "validation-error"}
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from eventweave.handlers.poison import PoisonEntry, poison_body

__all__ = ["DEFAULT_DLQ", "RecordingDeadLetter", "with_dead_letter"]

DEFAULT_DLQ = "https://sqs.us-east-1.amazonaws.com/123456789012/unit-dlq"


class RecordingDeadLetter:
    """In-memory dead-letter destination with ``DeadLetter``'s interface (``target``, ``configured``, ``send``).

    ``target=None`` behaves like a handler without ``EVENTWEAVE_DLQ`` (nothing is ever delivered). ``fail=True``
    simulates a destination that refuses every send; ``fail_ids`` refuses only entries with those record ids.
    ``offered`` keeps every entry the handler tried to send, ``delivered`` the ones reported stored.
    """

    def __init__(
        self,
        target: str | None = DEFAULT_DLQ,
        *,
        fail: bool = False,
        fail_ids: Iterable[str | None] = (),
        function_name: str = "unit-fn",
    ) -> None:
        self.target = target
        self.function_name = function_name
        self.fail = fail
        self.fail_ids = set(fail_ids)
        self.offered: list[PoisonEntry] = []
        self.delivered: list[PoisonEntry] = []
        self.calls = 0

    @property
    def configured(self) -> bool:
        return self.target is not None

    @property
    def fifo(self) -> bool:
        return self.target is not None and self.target.endswith(".fifo")

    def send(self, entries: list[PoisonEntry]) -> list[bool]:
        self.calls += 1
        results: list[bool] = []
        for entry in entries:
            # Rendering the real document proves every entry the handler builds is serialisable.
            entry.body = poison_body(entry, self.function_name)
            self.offered.append(entry)
            ok = self.target is not None and not self.fail and entry.record_id not in self.fail_ids
            if ok:
                self.delivered.append(entry)
            results.append(ok)
        return results

    def documents(self) -> list[dict[str, Any]]:
        """The JSON bodies of the delivered entries, as the DLQ would hold them."""
        return [json.loads(entry.body) for entry in self.delivered]

    def reasons(self) -> dict[str | None, str]:
        """``{record id: reason}`` of the delivered entries."""
        return {entry.record_id: entry.reason for entry in self.delivered}


def with_dead_letter(handler: Any, dead_letter: RecordingDeadLetter | None = None) -> RecordingDeadLetter:
    """Install ``dead_letter`` (by default a configured one named for the handler's function) and return it."""
    dlq = dead_letter if dead_letter is not None else RecordingDeadLetter(function_name=handler.settings.function_name)
    handler.dead_letter = dlq
    return dlq

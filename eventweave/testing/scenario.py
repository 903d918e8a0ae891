"""Scenario results: what a driven service did (events in, processed, retried, in a DLQ, duplicates suppressed),
and the checks of its end state. The examples' ``scenario.py`` modules return one; ``make demo`` prints them.

Example::

    def run(stack: EphemeralStack, trace: Trace) -> Summary:
        summary = Summary("orders")
        trace("put OrderPlaced o-1 on the bus (twice: a duplicate delivery)")
        ...
        summary.check("o-1 charged once", charges == 1, f"{charges} charges")
        return summary
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Check", "Scenario", "Summary", "Trace"]

Trace = Callable[[str], None]
"""Prints one line of the demo's story ("what flowed where")."""


@dataclass(frozen=True)
class Check:
    """One expected end state: what, whether it held, and what was seen."""

    what: str
    ok: bool
    detail: str = ""


@dataclass
class Summary:
    """One service's row in the demo's summary table, plus the checks that decide the exit code."""

    service: str
    events_in: int = 0
    """Events the scenario put in (published, sent, requested), duplicates included."""
    processed: int = 0
    """Events whose side effect happened (counted from the service's own state, not assumed)."""
    retried: int = 0
    """Deliveries that failed and were delivered again (transient failures)."""
    in_dlq: int = 0
    """Events that ended in a DLQ or failure destination, with their reason."""
    duplicates_suppressed: int = 0
    """Duplicate deliveries whose side effect was skipped (idempotency, fan-in guard)."""
    checks: list[Check] = field(default_factory=list)

    def check(self, what: str, ok: bool, detail: str = "") -> bool:
        self.checks.append(Check(what, bool(ok), detail))
        return bool(ok)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)


Scenario = Callable[..., Summary]
"""``run(stack: EphemeralStack, trace: Trace) -> Summary``: drives one deployed example and reports."""

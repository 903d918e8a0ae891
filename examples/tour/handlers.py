"""The tour's handlers: thin classes on eventweave's base classes, as a function's module would hold them.

Side effects go to :data:`LEDGER` (a stand-in for payments, a ledger, counters) so the tour can check afterwards what
really happened, independently of what the runtime says about itself. :func:`flaky` stands in for a downstream
service that times out once: it remembers, in a module-level set, which keys it has already failed, as a warm
Lambda container would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eventweave.coordination import FanIn
from eventweave.handlers import (
    IGNORED,
    Idempotency,
    InvokeHandler,
    KinesisHandler,
    KinesisRecordContext,
    PermanentError,
    RecordContext,
    Settings,
    SqsFifoHandler,
    SqsHandler,
    SqsRecordContext,
)
from eventweave.handlers.publish import send_sqs, send_sqs_batch

from .models import Click, LedgerEntry, OrderPlaced, Ping, SquareTask, StartReport

__all__ = [
    "FLAKY",
    "LEDGER",
    "ApplyLedgerEntry",
    "ChargeOrder",
    "DownstreamTimeoutError",
    "Ledger",
    "MisWiredRelay",
    "SquareWorker",
    "TrackClick",
    "Ventilator",
    "flaky",
    "reset",
]


class DownstreamTimeoutError(ConnectionError):
    """A dependency did not answer in time: retryable, so the source delivers the record again."""


FLAKY: set[str] = set()
"""Keys whose first attempt fails with :class:`DownstreamTimeoutError` (the scenarios fill it)."""
_failed_once: set[str] = set()


def flaky(key: str) -> None:
    """Fail the first attempt for a key in :data:`FLAKY`, succeed on every later one."""
    if key in FLAKY and key not in _failed_once:
        _failed_once.add(key)
        raise DownstreamTimeoutError(f"{key}: downstream timed out (fails on the first attempt only)")


@dataclass
class Ledger:
    """What the handlers did, in the order they did it."""

    charges: list[str] = field(default_factory=list)
    attempts: list[tuple[str, str]] = field(default_factory=list)
    applied: dict[str, list[str]] = field(default_factory=dict)
    clicks: list[int] = field(default_factory=list)
    relayed: list[tuple[int, str]] = field(default_factory=list)
    squares: list[str] = field(default_factory=list)
    completions: list[tuple[str, int]] = field(default_factory=list)

    def clear(self) -> None:
        vars(self).update(vars(Ledger()))


LEDGER = Ledger()


def reset() -> None:
    """Forget side effects and flaky state, so a second tour in the same process starts clean."""
    LEDGER.clear()
    FLAKY.clear()
    _failed_once.clear()


def _attempt(key: str) -> None:
    """Log the attempt, then let :func:`flaky` decide whether it fails."""
    try:
        flaky(key)
    except DownstreamTimeoutError:
        LEDGER.attempts.append((key, "timeout"))
        raise
    LEDGER.attempts.append((key, "ok"))


class ChargeOrder(SqsHandler[OrderPlaced]):
    """Scenario 1: charges each order once, however often (and in however many messages) it arrives."""

    idempotency = Idempotency(key="order_id")

    def handle(self, order: OrderPlaced, ctx: SqsRecordContext) -> None:
        _attempt(order.order_id)
        LEDGER.charges.append(order.order_id)


class ApplyLedgerEntry(SqsFifoHandler[LedgerEntry]):
    """Scenario 2: applies an account's entries in order (the account is the FIFO message group)."""

    def handle(self, entry: LedgerEntry, ctx: SqsRecordContext) -> None:
        _attempt(entry.entry)
        LEDGER.applied.setdefault(ctx.group_id or "?", []).append(entry.entry)


class TrackClick(KinesisHandler[Click]):
    """Scenario 3: counts clicks in stream order; a click nobody made is a permanent error."""

    def handle(self, click: Click, ctx: KinesisRecordContext) -> None:
        if not click.user:
            raise PermanentError(f"click {click.seq} on {click.page} has no user; it cannot be attributed")
        _attempt(f"click-{click.seq}")
        LEDGER.clicks.append(click.seq)


class MisWiredRelay(SqsHandler[Ping]):
    """Scenario 4: a relay whose output was wired to its own input queue by mistake."""

    def __init__(self, *, settings: Settings | None = None, output_queue_url: str) -> None:
        super().__init__(settings=settings)
        self.output_queue_url = output_queue_url

    def handle(self, ping: Ping, ctx: SqsRecordContext) -> None:
        LEDGER.relayed.append((ctx.hops, ctx.correlation_id))
        send_sqs(self.output_queue_url, ping)


class Ventilator(InvokeHandler[StartReport]):
    """Scenario 5: starts a job and sends one task per number to the workers' queue.

    A redelivered start request finds the job already started (``start_job`` returns False) and sends the tasks
    again: the first attempt may have died before sending them, and workers count each task once anyway.
    """

    def __init__(self, *, settings: Settings | None = None, tasks_queue_url: str) -> None:
        super().__init__(settings=settings)
        self.tasks_queue_url = tasks_queue_url
        self.jobs = FanIn(self.settings.job_table)

    def handle(self, request: StartReport, ctx: RecordContext) -> dict[str, Any]:
        started = self.jobs.start_job(request.job_id, total_tasks=len(request.numbers))
        tasks = [SquareTask(job_id=request.job_id, task_id=f"t{i}", value=n) for i, n in enumerate(request.numbers, 1)]
        send_sqs_batch(self.tasks_queue_url, tasks)
        return {"job_id": request.job_id, "started": started, "tasks_sent": len(tasks)}


class SquareWorker(SqsHandler[SquareTask]):
    """Scenario 5: squares a value, counts its task done once, and aggregates when the job completes."""

    def __init__(self, *, settings: Settings | None = None) -> None:
        super().__init__(settings=settings)
        self.jobs = FanIn(self.settings.job_table)

    def handle(self, task: SquareTask, ctx: SqsRecordContext) -> Any:
        outcome = self.jobs.complete_task(task.job_id, task.task_id, result=task.value * task.value)
        if outcome.first_delivery:
            LEDGER.squares.append(task.task_id)
        if outcome.job_complete:
            total = sum(self.jobs.results(task.job_id).values())
            LEDGER.completions.append((task.job_id, total))
        return None if outcome.first_delivery else IGNORED  # a duplicate delivery: counted as ignored, not processed

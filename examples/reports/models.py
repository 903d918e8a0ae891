"""Payloads of the reports service: the request that starts a report, the chunk tasks, partial and final results."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

ReportState = Literal["UNKNOWN", "RUNNING", "COMPLETED", "FAILED"]


class ReportRequest(BaseModel):
    """Start a report over ``csv``, one sale per line: ``region,amount`` (amount in units, at most 2 decimals).

    ``report_id`` is the job id: asking twice for the same report starts it once. ``flaky_chunks`` is fault
    injection for the demo and the tests (chunk index -> deliveries of that chunk that fail with a retryable error);
    a real service drops it.

    Example::

        {"report_id": "sales-2026-11", "csv": "EU,19.99\\nUS,5.00\\n...", "chunk_rows": 100}
    """

    report_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._-]+$")
    csv: str
    chunk_rows: int = Field(default=100, ge=1, le=5000)
    flaky_chunks: dict[int, int] = Field(default_factory=dict)


class Chunk(BaseModel):
    """One task: a slice of the request's lines, summed by one worker invocation.

    Example::

        {"index": 3, "first_line": 300, "lines": ["EU,19.99", "APAC,7.10"], "fail_receives": 0}
    """

    index: int
    first_line: int
    lines: list[str]
    fail_receives: int = 0


class ChunkTotals(BaseModel):
    """A worker's partial result, stored with its task in the job table: cents per region over the chunk's rows.

    ``attempt`` is the delivery of the chunk that was counted (1 unless earlier deliveries failed).

    Example::

        {"rows": 100, "cents_by_region": {"EU": 812345, "US": 90210}, "attempt": 1}
    """

    rows: int
    cents_by_region: dict[str, int]
    attempt: int = 1


class Report(BaseModel):
    """The finished report, written once per report into the ``reports`` table by the aggregator.

    Example::

        {"report_id": "sales-2026-11", "rows": 1200, "chunks": 12, "cents_by_region": {"EU": 7492055, ...},
         "total_cents": 29724135, "retries": 1}
    """

    report_id: str
    rows: int
    chunks: int
    cents_by_region: dict[str, int]
    total_cents: int
    retries: int
    """Chunk deliveries that failed before their chunk was counted."""


class StatusQuery(BaseModel):
    """What the status function takes.

    Example::

        {"report_id": "sales-2026-11"}
    """

    report_id: str = Field(min_length=1, max_length=128)


class ReportProgress(BaseModel):
    """What the status function answers, while the report runs and after.

    ``done`` / ``total`` are the fan-in job's counters (chunks counted / chunks); ``state`` is ``FAILED`` once a chunk
    was refused as poison (the job itself then stays running with one chunk missing), ``COMPLETED`` once the report
    is written. ``report`` is the report when it is written.

    Example::

        {"report_id": "sales-2026-11", "state": "RUNNING", "done": 7, "total": 12, "failed_chunks": [], ...}
    """

    report_id: str
    state: ReportState
    done: int = 0
    total: int = 0
    failed_chunks: list[str] = Field(default_factory=list)
    reason: str | None = None
    duplicates: int = 0
    """Chunk deliveries that arrived after their chunk was counted (and changed nothing)."""
    aggregations: int = 0
    """Invocations of the aggregator for this report: 1 once written."""
    report: Report | None = None

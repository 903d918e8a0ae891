"""The aggregator: the fan-in's completion sink, invoked once per report, merges the partial sums and writes it."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from eventweave.coordination import FanIn, JobCompleted
from eventweave.handlers import InvokeHandler, RecordContext

from ..models import ChunkTotals
from ..sales import merge
from ..store import ReportStore


class WriteReport(InvokeHandler[JobCompleted]):
    """Merges the chunks' :class:`ChunkTotals` into a :class:`Report` and writes it to the ``reports`` table.

    Invoked asynchronously by the worker that completed the job, once per job; writing is idempotent all the same
    (the same totals again), and ``aggregations`` counts the invocations.

    Example::

        {"job_id": "sales-2026-11", "total": 12, "created_at": 1764633600, "completed_at": 1764633604}
    """

    @cached_property
    def jobs(self) -> FanIn:
        return FanIn(self.settings.job_table)

    @cached_property
    def reports(self) -> ReportStore:
        return ReportStore()

    def handle(self, done: JobCompleted, ctx: RecordContext) -> dict[str, Any]:
        partials = [ChunkTotals.model_validate(r) for r in self.jobs.results(done.job_id).values()]
        report = merge(done.job_id, partials)
        self.reports.write(report)
        self.logger.info("report %s written: %d rows, %d cents", report.report_id, report.rows, report.total_cents)
        return {"report_id": report.report_id, "total_cents": report.total_cents}


handler = WriteReport.lambda_handler()

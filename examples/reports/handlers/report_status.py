"""The status function: a report's progress, queryable while it runs (synchronous invoke)."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from eventweave.coordination import FanIn
from eventweave.handlers import InvokeHandler, RecordContext

from ..models import StatusQuery
from ..store import ReportStore


class ReportStatus(InvokeHandler[StatusQuery]):
    """Answers ``{"report_id": ...}`` with a :class:`ReportProgress` (chunks done / total, state, the report).

    Example::

        aws lambda invoke --function-name <StatusFunction> --payload '{"report_id": "sales-2026-11"}' out.json
    """

    @cached_property
    def jobs(self) -> FanIn:
        return FanIn(self.settings.job_table)

    @cached_property
    def reports(self) -> ReportStore:
        return ReportStore()

    def handle(self, query: StatusQuery, ctx: RecordContext) -> dict[str, Any]:
        return self.reports.progress(query.report_id, self.jobs).model_dump(mode="json")


handler = ReportStatus.lambda_handler()

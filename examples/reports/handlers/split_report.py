"""The ventilator: one report request -> one fan-in job of N chunk tasks."""

from __future__ import annotations

from typing import Any

from eventweave.coordination import Ventilator

from ..models import Chunk, ReportRequest
from ..sales import chunk_id, split


class SplitReport(Ventilator[ReportRequest]):
    """Splits the request's sales lines into chunks of ``chunk_rows``; the job is the report.

    Invoked asynchronously with a :class:`ReportRequest`; a second request for the same report resends the tasks of
    a running job (counted once each) and nothing for a finished one.

    Example::

        aws lambda invoke --function-name <StartFunction> --invocation-type Event \\
            --payload '{"report_id": "sales-2026-11", "csv": "EU,19.99\\nUS,5.00"}' /dev/null
    """

    def job_id(self, request: ReportRequest) -> str:
        return request.report_id

    def split(self, request: ReportRequest) -> list[Chunk]:
        return split(request)

    def task_id(self, task: Any, index: int) -> str:
        return chunk_id(task)


handler = SplitReport.lambda_handler()

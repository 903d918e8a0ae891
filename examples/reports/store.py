"""The ``reports`` table (partition key ``report_id``): one item per report, written by the handlers.

The item collects what happened to the report: the finished totals (aggregator), a FAILED mark with the refused chunks
(worker, on poison), and operational counters (``aggregations``, ``duplicates``). Progress combines it with the
fan-in job's counters (:class:`eventweave.coordination.FanIn`).
"""

from __future__ import annotations

import os
import time
from typing import Any

from eventweave.coordination import FanIn
from eventweave.handlers import ConfigurationError
from eventweave.handlers.clients import client

from .models import Report, ReportProgress

REPORTS_TABLE_ENV = "REPORTS_TABLE"


class ReportStore:
    """Reads and writes report items in the table named by ``REPORTS_TABLE`` (the stack sets it).

    Example::

        store = ReportStore()
        store.write(report)                  # aggregator
        store.progress("sales-2026-11", FanIn())
    """

    def __init__(self, table: str | None = None) -> None:
        table = table or os.environ.get(REPORTS_TABLE_ENV)
        if not table:
            raise ConfigurationError(f"ReportStore needs the reports table: set {REPORTS_TABLE_ENV} or pass table=")
        self.table = table

    def write(self, report: Report) -> None:
        """Write the finished report; the same report written again leaves the same item, with ``aggregations`` + 1."""
        client("dynamodb").update_item(
            TableName=self.table,
            Key={"report_id": {"S": report.report_id}},
            UpdateExpression=(
                "SET #s = :done, #rows = :rows, chunks = :chunks, totals = :totals, total_cents = :total, "
                "retries = :retries, completed_at = :now ADD aggregations :one"
            ),
            ExpressionAttributeNames={"#s": "state", "#rows": "rows"},
            ExpressionAttributeValues={
                ":done": {"S": "COMPLETED"},
                ":rows": {"N": str(report.rows)},
                ":chunks": {"N": str(report.chunks)},
                ":totals": {"M": {k: {"N": str(v)} for k, v in report.cents_by_region.items()}},
                ":total": {"N": str(report.total_cents)},
                ":retries": {"N": str(report.retries)},
                ":now": {"N": str(int(time.time()))},
                ":one": {"N": "1"},
            },
        )

    def mark_failed(self, report_id: str, chunk: str, reason: str) -> None:
        """Record that ``chunk`` was refused: the report can never be complete."""
        client("dynamodb").update_item(
            TableName=self.table,
            Key={"report_id": {"S": report_id}},
            UpdateExpression="SET #s = :failed, reason = if_not_exists(reason, :reason) ADD failed_chunks :chunk",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues={
                ":failed": {"S": "FAILED"},
                ":reason": {"S": reason[:1000]},
                ":chunk": {"SS": [chunk]},
            },
        )

    def count_duplicate(self, report_id: str) -> None:
        client("dynamodb").update_item(
            TableName=self.table,
            Key={"report_id": {"S": report_id}},
            UpdateExpression="ADD duplicates :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )

    def progress(self, report_id: str, jobs: FanIn) -> ReportProgress:
        """The report's state and the job's counters, read consistently (one GetItem each)."""
        job = jobs.status(report_id)
        item: dict[str, Any] = (
            client("dynamodb")
            .get_item(TableName=self.table, Key={"report_id": {"S": report_id}}, ConsistentRead=True)
            .get("Item")
            or {}
        )
        state = item.get("state", {}).get("S") or ("RUNNING" if job is not None else "UNKNOWN")
        report = None
        if state == "COMPLETED":
            report = Report(
                report_id=report_id,
                rows=int(item["rows"]["N"]),
                chunks=int(item["chunks"]["N"]),
                cents_by_region={k: int(v["N"]) for k, v in item["totals"]["M"].items()},
                total_cents=int(item["total_cents"]["N"]),
                retries=int(item["retries"]["N"]),
            )
        return ReportProgress(
            report_id=report_id,
            state=state,
            done=job.done if job else 0,
            total=job.total if job else 0,
            failed_chunks=sorted(item.get("failed_chunks", {}).get("SS", [])),
            reason=item.get("reason", {}).get("S"),
            duplicates=int(item.get("duplicates", {}).get("N", "0")),
            aggregations=int(item.get("aggregations", {}).get("N", "0")),
            report=report,
        )

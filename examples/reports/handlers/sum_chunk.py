"""The fan-in worker: sums one chunk per region; counted once per chunk however often it is delivered."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from eventweave.coordination import FanInTask, FanInWorker
from eventweave.handlers import IGNORED, PermanentError, SqsRecordContext

from ..models import Chunk, ChunkTotals
from ..sales import BadSaleError, sum_chunk
from ..store import ReportStore


class ChunkNotReadyError(RuntimeError):
    """A retryable failure: the chunk comes back after the task queue's visibility timeout.

    Example::

        raise ChunkNotReadyError("chunk 4: injected failure of delivery 1")   # reported in batchItemFailures
    """


class SumChunk(FanInWorker[Chunk]):
    """Sums a chunk's sales per region; its :class:`ChunkTotals` is stored with the task for the aggregator.

    A chunk with a malformed line is poison: the report is marked FAILED and the chunk goes to the task DLQ, once.
    A duplicate delivery (SQS at-least-once, a repeated start request) is counted on the report and changes nothing.

    Example::

        {"job_id": "sales-2026-11", "task_id": "chunk-0003", "task": {"index": 3, "first_line": 300, "lines": [...]}}
    """

    completion_source = "reports.sales"

    @cached_property
    def reports(self) -> ReportStore:
        return ReportStore()

    def process(self, chunk: Chunk, ctx: SqsRecordContext) -> ChunkTotals:
        if ctx.receive_count <= chunk.fail_receives:
            raise ChunkNotReadyError(f"chunk {chunk.index}: injected failure of delivery {ctx.receive_count}")
        return sum_chunk(chunk, attempt=ctx.receive_count)

    def handle(self, message: FanInTask[Chunk], ctx: SqsRecordContext) -> Any:
        try:
            outcome = super().handle(message, ctx)
        except BadSaleError as error:
            # Mark the report before the chunk leaves for the DLQ: the job itself can never complete.
            self.reports.mark_failed(message.job_id, message.task_id, str(error))
            raise PermanentError(f"report {message.job_id}, {message.task_id}: {error}") from error
        if outcome is IGNORED:
            self.reports.count_duplicate(message.job_id)
        return outcome


handler = SumChunk.lambda_handler()

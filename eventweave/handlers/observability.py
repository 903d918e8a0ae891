"""Logger and metrics of a handler (Powertools), with the current record's correlation id on every log line.

The correlation id is added by a logging filter when a line is *emitted*, so records that log nothing pay nothing:
a batch of 10,000 records costs one context switch per record, not one dictionary update per record.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .context import current_record

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.metrics import Metrics

__all__ = ["BatchCounts", "BatchMetrics", "CorrelationFilter", "flush_user_metrics", "make_logger", "make_metrics"]


class CorrelationFilter(logging.Filter):
    """Adds ``correlation_id``, ``message_id`` and ``hops`` of the record being handled to each log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = current_record()
        # A line that names its record explicitly (a poison report about another record) keeps what it says.
        if ctx is not None and not hasattr(record, "correlation_id"):
            record.correlation_id = ctx.correlation_id
            record.message_id = ctx.message_id
            record.hops = ctx.hops
        return True


@dataclass(slots=True)
class BatchCounts:
    """What happened to the records of one invocation; emitted as metrics once per invocation."""

    processed: int = 0
    failed: int = 0
    poison: int = 0
    duplicate: int = 0
    recursion_stopped: int = 0
    ignored: int = 0

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in _COUNT_NAMES}


_COUNT_NAMES = ("processed", "failed", "poison", "duplicate", "recursion_stopped", "ignored")
_METRIC_NAMES = {
    "processed": "RecordsProcessed",
    "failed": "RecordsFailed",
    "poison": "RecordsPoisoned",
    "duplicate": "RecordsDuplicate",
    "recursion_stopped": "RecursionStopped",
    "ignored": "RecordsIgnored",
}


def _serialize_log(log: dict[str, Any]) -> str:
    """Powertools' compact JSON, falling back to ASCII escapes when a line holds a lone surrogate.

    Record ids and validation errors quote producer input; a lone surrogate there (legal in a JSON escape) cannot be
    written to Lambda's UTF-8 stdout, and the logging module would drop the whole line, reason and record id included.
    """
    text = json.dumps(log, default=str, separators=(",", ":"), ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(log, default=str, separators=(",", ":"))
    return text


def make_logger(service: str) -> Logger:
    from aws_lambda_powertools import Logger

    logger = Logger(service=service, json_serializer=_serialize_log)
    logger.addFilter(CorrelationFilter())
    return logger


def make_metrics(namespace: str, service: str) -> Metrics:
    from aws_lambda_powertools.metrics import Metrics

    return Metrics(namespace=namespace, service=service)


class BatchMetrics:
    """Writes eventweave's per-invocation counters as one CloudWatch Embedded Metric Format line.

    Powertools ``Metrics`` stays the tool for a handler's own metrics (``self.metrics``, flushed here too when used);
    eventweave's fixed counters do not go through it because its general flush (validation, environment look-ups,
    serialisation of a nested document) costs ~50 us, which at Lambda's default batch of 10 would be more than
    validating the records. The document is the one Powertools writes: namespace, ``service`` dimension, Count units.

    Example::

        BatchMetrics("orders", "billing").emit(BatchCounts(processed=9, poison=1))
        # {"_aws":{"Timestamp":...,"CloudWatchMetrics":[{"Namespace":"orders","Dimensions":[["service"]],
        #   "Metrics":[{"Name":"RecordsProcessed","Unit":"Count"},{"Name":"RecordsPoisoned","Unit":"Count"}]}]},
        #  "service":"billing","RecordsProcessed":9,"RecordsPoisoned":1}
    """

    def __init__(self, namespace: str, service: str, *, disabled: bool | None = None) -> None:
        self.namespace = namespace
        self.service = service
        if disabled is None:
            disabled = os.environ.get("POWERTOOLS_METRICS_DISABLED", "").lower() in ("1", "true")
        self.disabled = disabled
        self._heads: dict[tuple[str, ...], tuple[str, str]] = {}
        self._processed_head: tuple[str, str] | None = None

    def document(self, counts: BatchCounts) -> str:
        if not (counts.failed or counts.poison or counts.duplicate or counts.recursion_stopped or counts.ignored):
            head = self._heads.get(("RecordsProcessed",))
            if head is not None:  # the usual invocation: everything processed
                return f'{head[0]}{int(time.time() * 1000)}{head[1]},"RecordsProcessed":{counts.processed}}}'
        values = [(name, value) for name, value in counts.as_dict().items() if value or name == "processed"]
        names = tuple(_METRIC_NAMES[name] for name, _ in values)
        head = self._heads.get(names)
        if head is None:
            definitions = json.dumps(
                [
                    {
                        "Namespace": self.namespace,
                        "Dimensions": [["service"]],
                        "Metrics": [{"Name": n, "Unit": "Count"} for n in names],
                    }
                ],
                separators=(",", ":"),
            )
            head = (
                '{"_aws":{"Timestamp":',
                f',"CloudWatchMetrics":{definitions}}},"service":{json.dumps(self.service)}',
            )
            self._heads[names] = head
        body = "".join(f',"{n}":{value}' for n, (_, value) in zip(names, values, strict=True))
        return f"{head[0]}{int(time.time() * 1000)}{head[1]}{body}}}"

    def emit(self, counts: BatchCounts) -> None:
        if not self.disabled:
            sys.stdout.write(self.document(counts) + "\n")

    def emit_processed(self, processed: int) -> None:
        """:meth:`emit` for the usual invocation, every record processed (no counts object to build)."""
        if self.disabled:
            return
        head = self._processed_head
        if head is None:
            self.emit(BatchCounts(processed=processed))
            cached = self._heads.get(("RecordsProcessed",))
            if cached is not None:
                self._processed_head = (cached[0], cached[1] + ',"RecordsProcessed":')
            return
        sys.stdout.write(f"{head[0]}{time.time_ns() // 1_000_000}{head[1]}{processed}}}\n")


def flush_user_metrics(metrics: Metrics) -> None:
    """Flush what the handler's own code added to ``self.metrics`` (nothing to do, and no cost, when it added none)."""
    if metrics.metric_set:
        metrics.flush_metrics()

"""Benchmark handlers: each prints when it starts handling a record, so the benchmark sees publish -> handler start."""

from __future__ import annotations

import os
import time

from pydantic import BaseModel

from eventweave.handlers import (
    InvokeHandler,
    RecordContext,
    SnsHandler,
    SnsRecordContext,
    SqsHandler,
    SqsRecordContext,
)


class Probe(BaseModel):
    id: str


def _mark(path: str, probe: Probe) -> None:
    print(f"BENCH-START {path} {probe.id} {time.time():.6f}", flush=True)


class QueueProbe(SqsHandler[Probe]):
    """SQS path: queue -> event source mapping -> handler."""

    def handle(self, probe: Probe, ctx: SqsRecordContext) -> None:
        _mark("sqs", probe)


queue_probe = QueueProbe.lambda_handler()


class TopicProbe(SnsHandler[Probe]):
    """SNS path: topic -> Lambda (asynchronous invoke) -> handler."""

    def handle(self, probe: Probe, ctx: SnsRecordContext) -> None:
        _mark("sns", probe)


topic_probe = TopicProbe.lambda_handler()


class FanOutProbe(SqsHandler[Probe]):
    """Fan-out path: topic -> subscriber queue -> event source mapping -> handler (two subscribers)."""

    def handle(self, probe: Probe, ctx: SqsRecordContext) -> None:
        _mark("fanout:" + os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "?"), probe)


fan_out_probe = FanOutProbe.lambda_handler()


class InvokeProbe(InvokeHandler[Probe]):
    """Async path: ``Invoke`` with ``InvocationType=Event`` -> the async queue -> handler."""

    def handle(self, probe: Probe, ctx: RecordContext) -> None:
        _mark("async", probe)


invoke_probe = InvokeProbe.lambda_handler()


class DrainProbe(SqsHandler[Probe]):
    """Backlog path: a queue loaded before its event source mapping exists, then drained by it."""

    def handle(self, probe: Probe, ctx: SqsRecordContext) -> None:
        _mark("drain", probe)


drain_probe = DrainProbe.lambda_handler()

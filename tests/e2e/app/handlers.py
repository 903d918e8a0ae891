"""One handler per pattern, all driven by the same instructions in the payload (fail N times, or be poison)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from eventweave.coordination import FanInWorker, JobCompleted, Ventilator
from eventweave.handlers import (
    AsyncInvocationRecord,
    DynamoDBRecordContext,
    DynamoDBStreamHandler,
    EventBridgeHandler,
    EventBridgeRecordContext,
    Idempotency,
    InvokeHandler,
    KinesisHandler,
    KinesisRecordContext,
    PermanentError,
    RecordContext,
    SnsHandler,
    SnsRecordContext,
    SqsHandler,
    SqsRecordContext,
)
from eventweave.handlers.publish import stamp_attribute

from .effects import attempt, effect, log


class Work(BaseModel):
    key: str
    fail: int = 0
    """Fail this many attempts with a retryable error first."""
    poison: bool = False
    """Raise PermanentError: the record must reach the DLQ at once, never retried."""
    crash: int = 0
    """Kill the execution environment on this many attempts first: the whole batch fails (what makes Lambda
    bisect a stream batch, and an SQS batch come back after the visibility timeout)."""


def act(kind: str, work: Work) -> None:
    n = attempt(kind, work.key)
    if n <= work.crash:
        import os

        os._exit(1)
    if work.poison:
        raise PermanentError(f"{kind} {work.key}: poison by request")
    if n <= work.fail:
        raise RuntimeError(f"{kind} {work.key}: transient failure {n} of {work.fail}")
    effect(kind, work.key)


class QueueJob(SqsHandler[Work]):
    idempotency = Idempotency(key="key")

    def handle(self, work: Work, ctx: SqsRecordContext) -> None:
        act("queue", work)


queue_job = QueueJob.lambda_handler()


class AllOrders(SqsHandler[Work]):
    idempotency = Idempotency(key="key")  # redelivery (a timed-out batch, a killed environment) must not double

    def handle(self, work: Work, ctx: SqsRecordContext) -> None:
        act("fanout-all", work)


all_orders = AllOrders.lambda_handler()


class ExpressOrders(SqsHandler[Work]):
    def handle(self, work: Work, ctx: SqsRecordContext) -> None:
        act("fanout-express", work)


express_orders = ExpressOrders.lambda_handler()


class TopicJob(SnsHandler[Work]):
    def handle(self, work: Work, ctx: SnsRecordContext) -> None:
        act("topic", work)


topic_job = TopicJob.lambda_handler()


class RuleJob(EventBridgeHandler[Work]):
    def handle(self, work: Work, ctx: EventBridgeRecordContext) -> None:
        act("rule", work)


rule_job = RuleJob.lambda_handler()


class StreamJob(KinesisHandler[Work]):
    def handle(self, work: Work, ctx: KinesisRecordContext) -> None:
        act("stream", work)
        log("stream", ctx.partition_key, work.key)


stream_job = StreamJob.lambda_handler()


class Item(BaseModel):
    pk: str
    n: int = 0


class Loop(DynamoDBStreamHandler[Item]):
    """A mis-wired projection: it writes back to the table it reads, so it would run forever without the guard."""

    def on_insert(self, new: Item, ctx: DynamoDBRecordContext) -> None:
        self._again(new, ctx)

    def on_modify(self, new: Item | None, old: Item | None, ctx: DynamoDBRecordContext) -> None:
        if new is not None:
            self._again(new, ctx)

    def _again(self, item: Item, ctx: DynamoDBRecordContext) -> None:
        import os

        from eventweave.handlers.clients import client

        effect("loop", item.pk)
        client("dynamodb").put_item(
            TableName=os.environ["LOOP_TABLE"],
            Item={"pk": {"S": item.pk}, "n": {"N": str(item.n + 1)}, **stamp_attribute()},
        )


loop = Loop.lambda_handler()


class AsyncJob(InvokeHandler[Work]):
    def handle(self, work: Work, ctx: RecordContext) -> dict[str, Any]:
        act("async", work)
        return {"done": work.key}


async_job = AsyncJob.lambda_handler()


class Job(BaseModel):
    job: str
    parts: int


class Part(BaseModel):
    job: str
    index: int


class Split(Ventilator[Job]):
    def job_id(self, job: Job) -> str:
        return job.job

    def split(self, job: Job) -> list[Part]:
        return [Part(job=job.job, index=i) for i in range(job.parts)]


split = Split.lambda_handler()


class DoPart(FanInWorker[Part]):
    def process(self, part: Part, ctx: SqsRecordContext) -> int:
        effect("part", f"{part.job}#{part.index}")
        return part.index


do_part = DoPart.lambda_handler()


class Complete(InvokeHandler[JobCompleted]):
    def handle(self, done: JobCompleted, ctx: RecordContext) -> None:
        effect("complete", done.job_id)


complete = Complete.lambda_handler()


class FailureLog(SqsHandler[AsyncInvocationRecord[Work]]):
    def handle(self, record: AsyncInvocationRecord[Work], ctx: SqsRecordContext) -> None:
        effect("async-failure", record.request_payload.key)


failure_log = FailureLog.lambda_handler()

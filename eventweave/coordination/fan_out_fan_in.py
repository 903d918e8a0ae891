"""Fan-out/fan-in handler base classes: a ventilator splits a job into tasks, workers count them in, once each.

The pieces, as :class:`eventweave.patterns.FanOutFanIn` deploys them::

    start request --async invoke--> Ventilator --SendMessageBatch--> task queue --> FanInWorker (xN)
                                        |                                               |
                                        +-- FanIn.start_job (job table) <-- FanIn.complete_task, once per task
                                                                                        |
                                         the one call told the job is complete --> JobCompleted (EventBridge
                                                                                   event and/or async invoke)

Guarantees:

* every task is counted exactly once, however often its message is delivered (:class:`FanIn`'s transaction);
* the completion is emitted once per job: the worker claims it with a conditional write before emitting and marks it
  done after. Only a worker that dies between a successful emission and that mark (a lease then expires) can emit it
  a second time, so completion consumers key on ``job_id``;
* a ventilator re-run (Lambda's async retry, a duplicate start request) resends the tasks of a running job, which is
  safe because workers count each task once; it sends nothing for a job already complete.

``process`` itself runs at least once per task (SQS delivers at least once): make it safe to repeat, or declare
``idempotency = Idempotency(key=("job_id", "task_id"))`` on the worker so a duplicate skips it.

Environment (set by the pattern): ``EVENTWEAVE_JOB_TABLE`` (both), ``EVENTWEAVE_TASK_QUEUE_URL`` (ventilator),
``EVENTWEAVE_COMPLETION_BUS`` and/or ``EVENTWEAVE_COMPLETION_FUNCTION`` (worker).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from eventweave.handlers.base import IGNORED
from eventweave.handlers.clients import client
from eventweave.handlers.context import RecordContext, SqsRecordContext
from eventweave.handlers.errors import ConfigurationError, PermanentError
from eventweave.handlers.invoke import InvokeHandler
from eventweave.handlers.publish import invoke_async, put_event, send_sqs_batch
from eventweave.handlers.sqs import SqsHandler

from .fan_in import FanIn, JobStatus

__all__ = [
    "COMPLETION_BUS_ENV",
    "COMPLETION_FUNCTION_ENV",
    "JOB_COMPLETED",
    "TASK_QUEUE_ENV",
    "FanInTask",
    "FanInWorker",
    "JobCompleted",
    "Ventilator",
]

M = TypeVar("M")
T = TypeVar("T")

TASK_QUEUE_ENV = "EVENTWEAVE_TASK_QUEUE_URL"
COMPLETION_BUS_ENV = "EVENTWEAVE_COMPLETION_BUS"
COMPLETION_FUNCTION_ENV = "EVENTWEAVE_COMPLETION_FUNCTION"
JOB_COMPLETED = "JobCompleted"
"""``detail-type`` of the completion event."""
DEFAULT_TTL_SECONDS = 7 * 24 * 3600


class FanInTask(BaseModel, Generic[T]):
    """The message a :class:`Ventilator` sends for each task: the job, the task's id within it, and the task.

    Example::

        {"job_id": "doc-42", "task_id": "3", "task": {"offset": 3000, "text": "..."}}
    """

    job_id: str
    task_id: str
    task: T


class JobCompleted(BaseModel):
    """What a job's completion carries (EventBridge ``detail`` or the sink's payload), plus whatever
    :meth:`FanInWorker.on_job_complete` added (kept as extra fields).

    Example::

        class Announce(InvokeHandler[JobCompleted]):
            def handle(self, done: JobCompleted, ctx: RecordContext) -> None:
                notify(done.job_id, done.total, getattr(done, "words", None))
    """

    model_config = ConfigDict(extra="allow")

    job_id: str
    total: int
    created_at: int
    completed_at: int | None = None


def _jsonable(value: Any) -> Any:
    if value is IGNORED:
        return None
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    return value


class Ventilator(InvokeHandler[M]):
    """Starts a job: splits one request into tasks, records the job, and sends the tasks to the workers' queue.

    Implement :meth:`job_id` and :meth:`split` (and :meth:`task_id` if the tasks carry their own ids). ``split`` must
    be deterministic: a re-run for the same job must produce the same tasks with the same ids, since workers count a
    task id once. Invoked asynchronously by default (see :class:`eventweave.patterns.FanOutFanIn`); the return value
    ``{"job_id", "tasks", "started", "sent"}`` goes to an on-success destination if there is one.

    Example::

        class SplitDocument(Ventilator[Document]):
            def job_id(self, doc: Document) -> str:
                return doc.document_id

            def split(self, doc: Document) -> list[Chunk]:
                return [Chunk(offset=i, text=doc.text[i : i + 1000]) for i in range(0, len(doc.text), 1000)]

        split_document = SplitDocument.lambda_handler()
    """

    ttl_seconds: ClassVar[int] = DEFAULT_TTL_SECONDS
    """How long the job's items stay in the job table (DynamoDB TTL). Default: 7 days."""

    def __init__(self, *, task_queue_url: str | None = None, jobs: FanIn | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._task_queue_url = task_queue_url or os.environ.get(TASK_QUEUE_ENV) or None
        if jobs is not None:
            self.jobs = jobs

    # Resolved on first use, not at import: a module may hold several entries, each deployed with its own environment.
    @cached_property
    def jobs(self) -> FanIn:
        return FanIn(self.settings.job_table, ttl_seconds=self.ttl_seconds)

    @property
    def task_queue_url(self) -> str:
        if not self._task_queue_url:
            raise ConfigurationError(
                f"{type(self).__name__} needs the task queue: set {TASK_QUEUE_ENV} (the FanOutFanIn pattern does) "
                "or pass task_queue_url="
            )
        return self._task_queue_url

    # -- what users write ------------------------------------------------------------------------------------------

    def job_id(self, request: M) -> str:
        """The job's id: the same request must give the same id (a retried start is then recognised)."""
        raise NotImplementedError

    def split(self, request: M) -> Sequence[Any]:
        """The tasks (pydantic models or JSON-able values), in a deterministic order."""
        raise NotImplementedError

    def task_id(self, task: Any, index: int) -> str:
        """Id of ``task`` within its job. Default: its position in :meth:`split`'s result."""
        return str(index)

    # -- the base's work -------------------------------------------------------------------------------------------

    def handle(self, message: M, ctx: RecordContext) -> dict[str, Any]:
        job_id = self.job_id(message)
        if not isinstance(job_id, str) or not job_id:
            raise PermanentError(f"{type(self).__name__}.job_id() returned {job_id!r}; a job needs a non-empty id")
        tasks = list(self.split(message))
        if not tasks:
            raise PermanentError(f"job {job_id}: split() returned no tasks")
        ids = [self.task_id(task, index) for index, task in enumerate(tasks)]
        if len(set(ids)) != len(ids):
            raise PermanentError(f"job {job_id}: task ids are not unique; the job could never complete")
        started = self.jobs.start_job(job_id, total_tasks=len(tasks))
        if not started:
            status = self.jobs.status(job_id)
            if status is not None and status.status != "RUNNING":
                self.logger.info("job %s is already %s; no task sent again", job_id, status.status.lower())
                return {"job_id": job_id, "tasks": len(tasks), "started": False, "sent": 0}
            self.logger.info("job %s was started before; sending its %d tasks again", job_id, len(tasks))
        messages = [
            {"job_id": job_id, "task_id": task_id, "task": _jsonable(task)}
            for task_id, task in zip(ids, tasks, strict=True)
        ]
        send_sqs_batch(self.task_queue_url, messages)
        return {"job_id": job_id, "tasks": len(tasks), "started": started, "sent": len(messages)}


class FanInWorker(SqsHandler[FanInTask[T]], Generic[T]):
    """Processes one task of a job, counts it done exactly once, and announces the job's completion once.

    Implement :meth:`process`; its return value (JSON-able or a pydantic model; at most ~350 KB) is stored as the
    task's result, read back with ``self.jobs.results(job_id)``. Override :meth:`on_job_complete` to aggregate: it
    runs when the job completes and what it returns is added to the completion. A task that raises
    :class:`PermanentError` (or does not validate) goes to the DLQ uncounted: its job stays ``RUNNING`` (see
    ``FanIn.status``) until the task is redriven and succeeds.

    The completion goes to the EventBridge bus ``EVENTWEAVE_COMPLETION_BUS`` (``detail-type`` ``JobCompleted``,
    ``source`` :attr:`completion_source`) and/or is sent by async invoke to ``EVENTWEAVE_COMPLETION_FUNCTION``; with
    neither set it is only recorded in the job table.

    Example::

        class CountWords(FanInWorker[Chunk]):
            def process(self, chunk: Chunk, ctx: SqsRecordContext) -> int:
                return len(chunk.text.split())

            def on_job_complete(self, job: JobStatus) -> dict[str, Any]:
                return {"words": sum(self.jobs.results(job.job_id).values())}

        count_words = CountWords.lambda_handler()
    """

    completion_source: ClassVar[str] = "eventweave.fan-in"
    """``source`` of the completion event (the pattern's rule matches it)."""

    @classmethod
    def _payload_type(cls, declared: Any) -> Any:
        if isinstance(declared, type) and issubclass(declared, FanInTask):
            return declared
        return FanInTask[declared]

    def __init__(
        self,
        *,
        completion_bus: str | None = None,
        completion_function: str | None = None,
        jobs: FanIn | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if jobs is not None:
            self.jobs = jobs
        self.completion_bus = completion_bus or os.environ.get(COMPLETION_BUS_ENV) or None
        self.completion_function = completion_function or os.environ.get(COMPLETION_FUNCTION_ENV) or None

    @cached_property
    def jobs(self) -> FanIn:
        return FanIn(self.settings.job_table)

    # -- what users write ------------------------------------------------------------------------------------------

    def process(self, task: T, ctx: SqsRecordContext) -> Any:
        """Do one task; return its result (stored with the task) or ``None``."""
        raise NotImplementedError

    def on_job_complete(self, job: JobStatus) -> Mapping[str, Any] | BaseModel | None:
        """Runs when the job completes, before the completion is emitted; returns fields to add to it."""
        return None

    # -- the base's work -------------------------------------------------------------------------------------------

    def handle(self, message: FanInTask[T], ctx: SqsRecordContext) -> Any:
        result = _jsonable(self.process(message.task, ctx))
        outcome = self.jobs.complete_task(message.job_id, message.task_id, result=result)
        if outcome.job_complete or not outcome.first_delivery:
            # The winner of the completion claim, or a redelivery that may find a completion its first attempt
            # claimed but never announced (it died or the emission failed).
            self._announce(message.job_id, ctx)
        return None if outcome.first_delivery else IGNORED

    def _announce(self, job_id: str, ctx: RecordContext) -> bool:
        """Emit the job's completion unless it was emitted already or another worker is emitting it now."""
        from botocore.exceptions import ClientError

        now = int(time.time())
        lease = now + max(5, ctx.remaining_time_ms() // 1000 + 1)
        key = {"pk": {"S": f"JOB#{job_id}"}, "sk": {"S": "JOB"}}
        ddb = client("dynamodb")
        try:
            item = ddb.update_item(
                TableName=self.jobs.table,
                Key=key,
                UpdateExpression="SET notify_lease = :lease",
                ConditionExpression=(
                    "#s = :completed AND attribute_not_exists(notified_at) "
                    "AND (attribute_not_exists(notify_lease) OR notify_lease < :now)"
                ),
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":completed": {"S": "COMPLETED"},
                    ":lease": {"N": str(lease)},
                    ":now": {"N": str(now)},
                },
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False  # not complete, already announced, or being announced by a live invocation
            raise
        completed = item.get("completed_at", {}).get("N")
        job = JobStatus(
            job_id=job_id,
            total=int(item["total"]["N"]),
            remaining=int(item["remaining"]["N"]),
            status=item["status"]["S"],
            created_at=int(item["created_at"]["N"]),
            completed_at=int(completed) if completed else None,
        )
        try:
            extra = _jsonable(self.on_job_complete(job)) or {}
            detail = {**dict(extra), "job_id": job_id, "total": job.total, "created_at": job.created_at}
            detail["completed_at"] = job.completed_at
            if self.completion_bus:
                put_event(JOB_COMPLETED, detail, source=self.completion_source, bus_name=self.completion_bus)
            if self.completion_function:
                invoke_async(self.completion_function, detail)
        except Exception:
            self._release_lease(key)
            raise
        try:
            ddb.update_item(
                TableName=self.jobs.table,
                Key=key,
                UpdateExpression="SET notified_at = :now REMOVE notify_lease",
                ExpressionAttributeValues={":now": {"N": str(int(time.time()))}},
            )
        except Exception:
            # Emitted: raising now would have the task retried and the completion emitted again after the lease.
            self.logger.exception("job %s: completion emitted but not recorded as such in %s", job_id, self.jobs.table)
        self.logger.info("job %s complete (%d tasks); completion emitted", job_id, job.total)
        return True

    def _release_lease(self, key: dict[str, Any]) -> None:
        try:
            client("dynamodb").update_item(TableName=self.jobs.table, Key=key, UpdateExpression="REMOVE notify_lease")
        except Exception:
            self.logger.exception("could not release the completion lease of %s; it expires by itself", key)

"""FanOutFanIn: a ventilator splits a job into tasks, workers count them in once each, one completion per job."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from eventweave.constructs.queue import DEFAULT_MAX_RECEIVE_COUNT
from eventweave.constructs.tables import JobTable
from eventweave.coordination.fan_out_fan_in import (
    COMPLETION_BUS_ENV,
    COMPLETION_FUNCTION_ENV,
    JOB_COMPLETED,
    TASK_QUEUE_ENV,
    FanInWorker,
    Ventilator,
)
from eventweave.handlers.base import BaseHandler
from eventweave.handlers.settings import ENV

from .async_function import MAX_ASYNC_RETRIES, AsyncFunction
from .queue_worker import QueueWorker

__all__ = ["FanOutFanIn", "JobCompletion"]


class JobCompletion:
    """How a :class:`FanOutFanIn` job announces that its last task is done (exactly one announcement per job).

    Example::

        JobCompletion.event()                      # a JobCompleted event on the account's default bus (the default)
        JobCompletion.event(orders_bus)            # ... on your bus
        JobCompletion.invoke(AnnounceWordCount)    # async invoke of a new sink function (an InvokeHandler)
        JobCompletion.invoke_function(existing)    # async invoke of a function you have
        JobCompletion.status_only()                # nothing emitted: poll FanIn.status(job_id)
    """

    def __init__(
        self,
        kind: str,
        *,
        bus: events.IEventBus | None = None,
        handler: type[BaseHandler[Any, Any]] | None = None,
        function: lambda_.IFunction | None = None,
    ) -> None:
        self.kind = kind
        self.bus = bus
        self.handler = handler
        self.function = function

    @staticmethod
    def event(bus: events.IEventBus | None = None) -> JobCompletion:
        """Put a ``JobCompleted`` event (``source`` = the worker's ``completion_source``) on ``bus``.

        :param bus: Default: the account's default event bus.
        """
        return JobCompletion("event", bus=bus)

    @staticmethod
    def invoke(handler: type[BaseHandler[Any, Any]]) -> JobCompletion:
        """Invoke a new :class:`AsyncFunction` running ``handler`` (an ``InvokeHandler[JobCompleted]``)."""
        return JobCompletion("invoke", handler=handler)

    @staticmethod
    def invoke_function(function: lambda_.IFunction) -> JobCompletion:
        """Invoke ``function`` asynchronously with the ``JobCompleted`` payload."""
        return JobCompletion("function", function=function)

    @staticmethod
    def status_only() -> JobCompletion:
        """Emit nothing: the completion is recorded in the job table only (and the worker's ``on_job_complete``)."""
        return JobCompletion("none")


class FanOutFanIn(Construct):
    """Fan-out/fan-in: ``Ventilator`` -> task queue -> ``FanInWorker`` x N -> one completion per job.

    The ventilator is an :class:`AsyncFunction` (start a job by invoking it asynchronously with the request:
    ``grant_start``); Lambda retries it ``retry_attempts`` times and records what it gives up on in the failure queue,
    where its poison goes too. A re-run is safe: tasks are resent, and workers count each task id once. The tasks go
    through a :class:`QueueWorker` (durable queue with a DLQ, partial batch responses) to the worker, which counts
    each task in the job table (a transaction: task marker + counter) and, for the one call that completes the job,
    emits the completion (see :class:`JobCompletion`). Job progress: ``FanIn(table).status(job_id)`` anywhere with
    ``grant_read_status``.

    Example::

        jobs = FanOutFanIn(self, "WordCount", ventilator=SplitDocument, worker=CountWords,
                           completion=JobCompletion.invoke(AnnounceWordCount), max_concurrency=20)
        jobs.grant_start(api_function)        # lambda:InvokeFunction on the ventilator
        jobs.job_table, jobs.task_queue, jobs.ventilator.function, jobs.worker.function, jobs.sink

    :param ventilator: a ``Ventilator`` subclass.
    :param worker: a ``FanInWorker`` subclass (standard queue; FIFO is refused).
    :param completion: Default: ``JobCompletion.event()`` (the default event bus).
    :param job_table: bring your own table (partition key ``pk``, sort key ``sk``, strings; TTL ``expires_at``).
        Default: a new :class:`JobTable` (retained when the stack is deleted).
    :param batch_size: tasks per worker invocation. Default: 10.
    :param max_batching_window: Default: none.
    :param max_concurrency: maximum concurrent worker invocations (2-1000). Default: no limit.
    :param max_receive_count: receives of a task before SQS moves it to the task DLQ. Default: 5.
    :param retry_attempts: Lambda's retries of a failed ventilator (and sink) invocation, 0-2. Default: 2.
    :param max_event_age: how long Lambda keeps a start request it could not run yet. Default: 6 hours.
    :param ventilator_timeout: Default: 60 seconds (splitting and sending the tasks).
    :param worker_timeout: Default: 30 seconds.
    :param ventilator_props: further :class:`AsyncFunction` options (on_success, memory_size, environment, ...).
    :param worker_props: further :class:`EventFunction` options of the worker (memory_size, environment, ...).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        ventilator: type[BaseHandler[Any, Any]],
        worker: type[BaseHandler[Any, Any]],
        completion: JobCompletion | None = None,
        job_table: dynamodb.ITable | None = None,
        batch_size: int = 10,
        max_batching_window: Duration | None = None,
        max_concurrency: int | None = None,
        max_receive_count: int = DEFAULT_MAX_RECEIVE_COUNT,
        retry_attempts: int = MAX_ASYNC_RETRIES,
        max_event_age: Duration | None = None,
        ventilator_timeout: Duration | None = None,
        worker_timeout: Duration | None = None,
        ventilator_props: dict[str, Any] | None = None,
        worker_props: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(scope, id)
        where = self.node.path
        if not (isinstance(ventilator, type) and issubclass(ventilator, Ventilator)):
            raise TypeError(
                f"{where}: ventilator must subclass eventweave.coordination.Ventilator (implement job_id and split); "
                f"got {ventilator!r}"
            )
        if not (isinstance(worker, type) and issubclass(worker, FanInWorker)):
            raise TypeError(
                f"{where}: worker must subclass eventweave.coordination.FanInWorker (implement process); got {worker!r}"
            )
        if worker.contract().fifo:
            raise TypeError(
                f"{where}: {worker.__qualname__} is a FIFO handler; the ventilator sends to a standard queue"
            )
        completion = completion or JobCompletion.event()

        self.jobs: JobTable | None = None
        if job_table is None:
            self.jobs = JobTable(self, "Jobs")
            job_table = self.jobs.table
        self.job_table: dynamodb.ITable = job_table

        self.worker = QueueWorker(
            self,
            "Tasks",
            handler=worker,
            batch_size=batch_size,
            max_batching_window=max_batching_window,
            max_concurrency=max_concurrency,
            max_receive_count=max_receive_count,
            timeout=worker_timeout,
            **(worker_props or {}),
        )
        self.task_queue: sqs.IQueue = self.worker.queue
        self.task_dead_letter_queue: sqs.IQueue | None = self.worker.dead_letter_queue
        worker_fn = self.worker.function
        worker_fn.add_environment(ENV.JOB_TABLE, job_table.table_name)
        # complete_task: a transaction of Put (task marker) + Update (counter), then GetItem + UpdateItem to claim and
        # announce the completion; Query for on_job_complete's FanIn.results().
        job_table.grant(worker_fn, "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:Query")

        self.ventilator = AsyncFunction(
            self,
            "Ventilator",
            handler=ventilator,
            retry_attempts=retry_attempts,
            max_event_age=max_event_age,
            timeout=ventilator_timeout or Duration.seconds(60),
            **(ventilator_props or {}),
        )
        ventilator_fn = self.ventilator.function
        ventilator_fn.add_environment(ENV.JOB_TABLE, job_table.table_name)
        ventilator_fn.add_environment(TASK_QUEUE_ENV, self.task_queue.queue_url)
        job_table.grant(ventilator_fn, "dynamodb:PutItem", "dynamodb:GetItem")  # start_job, status on a re-run
        self.task_queue.grant_send_messages(ventilator_fn)
        self.failure_queue: sqs.IQueue | None = self.ventilator.on_failure_queue

        self.completion = completion
        self.completion_bus: events.IEventBus | None = None
        self.completion_event_pattern: events.EventPattern | None = None
        self.sink: AsyncFunction | None = None
        self.sink_function: lambda_.IFunction | None = None
        if completion.kind == "event":
            self.completion_bus = completion.bus or events.EventBus.from_event_bus_name(self, "DefaultBus", "default")
            self.completion_bus.grant_put_events_to(worker_fn)
            worker_fn.add_environment(COMPLETION_BUS_ENV, self.completion_bus.event_bus_arn)
            self.completion_event_pattern = events.EventPattern(
                source=[worker.completion_source], detail_type=[JOB_COMPLETED]
            )
        elif completion.kind in ("invoke", "function"):
            if completion.handler is not None:
                self.sink = AsyncFunction(
                    self,
                    "Sink",
                    handler=completion.handler,
                    retry_attempts=retry_attempts,
                    on_failure=self.failure_queue,
                )
                self.sink_function = self.sink.function
                # A sink usually aggregates: it reads the job's results (``FanIn.results``) from the job table.
                self.sink.function.add_environment(ENV.JOB_TABLE, job_table.table_name)
                self.grant_read_status(self.sink.function)
            else:
                self.sink_function = completion.function
            assert self.sink_function is not None
            worker_fn.add_environment(COMPLETION_FUNCTION_ENV, self.sink_function.function_arn)
            # Exactly the unqualified function: invoke_async names it so (grant_invoke would add "<arn>:*").
            worker_fn.add_to_role_policy(
                iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[self.sink_function.function_arn])
            )

    def grant_start(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to start jobs: ``lambda:InvokeFunction`` on the ventilator (invoke it with ``Event``)."""
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=["lambda:InvokeFunction"], resource_arns=[self.ventilator.function.function_arn]
        )

    def grant_read_status(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to read job progress and results (``FanIn.status`` / ``FanIn.results``)."""
        return self.job_table.grant(grantee, "dynamodb:GetItem", "dynamodb:Query")

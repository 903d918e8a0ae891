"""QueueWorker: SQS (standard or FIFO) -> Lambda, with partial batch responses, a DLQ and poison routing."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from eventweave.constructs.function import EventFunction
from eventweave.constructs.nag import acknowledge
from eventweave.constructs.queue import DEFAULT_MAX_RECEIVE_COUNT, DurableQueue
from eventweave.handlers.base import BaseHandler

__all__ = ["QueueWorker"]


class QueueWorker(Construct):
    """A queue drained by an eventweave ``SqsHandler`` (or ``SqsFifoHandler``).

    The pattern reads the handler's contract: a FIFO handler gets a FIFO queue; ``ReportBatchItemFailures`` is always
    on (the handler returns partial batch responses); the queue's visibility timeout is at least 6x the function
    timeout plus the batching window; poison goes straight to the queue's DLQ (``EVENTWEAVE_DLQ``), retryable
    failures return to the queue until ``max_receive_count``; an idempotent handler gets its table.

    Example::

        worker = QueueWorker(self, "Billing", handler=Charge, batch_size=10, max_concurrency=5)
        worker.queue            # send OrderPlaced here (or subscribe it to a topic)
        worker.dead_letter_queue, worker.function, worker.event_source

    :param handler: an ``SqsHandler`` subclass.
    :param queue: bring your own queue. Default: a new :class:`DurableQueue` (FIFO if the handler is). With your own
        queue, its redrive policy and visibility timeout are yours to get right.
    :param dead_letter_queue: where poison goes when you bring your own queue. Default: the new queue's DLQ.
    :param batch_size: Default: 10 (max 10 for FIFO; above 10 needs ``max_batching_window``).
    :param max_batching_window: Default: none (not supported by FIFO queues).
    :param max_concurrency: maximum concurrent invocations from this queue (2-1000). Default: no limit.
    :param max_receive_count: receives before SQS moves a message to the DLQ. Default: 5.
    :param timeout: function timeout. Default: 30 s.
    :param function_props: further :class:`EventFunction` options (memory_size, environment, max_hops, ...).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        handler: type[BaseHandler[Any, Any]],
        queue: sqs.IQueue | None = None,
        dead_letter_queue: sqs.IQueue | None = None,
        batch_size: int = 10,
        max_batching_window: Duration | None = None,
        max_concurrency: int | None = None,
        max_receive_count: int = DEFAULT_MAX_RECEIVE_COUNT,
        timeout: Duration | None = None,
        idempotency_table: dynamodb.ITable | None = None,
        allow_services: tuple[str, ...] = (),
        **function_props: Any,
    ) -> None:
        super().__init__(scope, id)
        contract = handler.contract()
        if contract.source != "sqs":
            raise TypeError(
                f"{self.node.path}: QueueWorker needs an SqsHandler, {handler.__qualname__} handles "
                f"{contract.source!r} events"
            )
        if contract.fifo and max_batching_window is not None:
            raise ValueError(f"{self.node.path}: FIFO queues do not support a batching window (AWS Lambda)")
        if contract.fifo and batch_size > 10:
            raise ValueError(f"{self.node.path}: FIFO event sources take at most 10 messages per batch")
        if batch_size > 10 and max_batching_window is None:
            raise ValueError(f"{self.node.path}: batch_size > 10 needs max_batching_window >= 1 second (AWS Lambda)")
        timeout = timeout or Duration.seconds(30)

        self.durable_queue: DurableQueue | None = None
        if queue is None:
            self.durable_queue = DurableQueue(
                self,
                "Queue",
                fifo=contract.fifo,
                consumer_timeout=timeout,
                max_batching_window=max_batching_window,
                max_receive_count=max_receive_count,
                allow_services=allow_services,
            )
            queue = self.durable_queue.queue
            dead_letter_queue = dead_letter_queue or self.durable_queue.dead_letter_queue
        self.queue: sqs.IQueue = queue
        self.dead_letter_queue: sqs.IQueue | None = dead_letter_queue

        self.worker = EventFunction(
            self,
            "Worker",
            handler=handler,
            dead_letter=dead_letter_queue,
            idempotency_table=idempotency_table,
            timeout=timeout,
            **function_props,
        )
        self.function: lambda_.Function = self.worker.function
        self.event_source = event_sources.SqsEventSource(
            queue,
            batch_size=batch_size,
            max_batching_window=max_batching_window,
            max_concurrency=max_concurrency,
            report_batch_item_failures=True,
        )
        self.function.add_event_source(self.event_source)
        for child in self.function.node.children:
            if isinstance(child, lambda_.EventSourceMapping):
                acknowledge(child, "sqs-esm-destination")

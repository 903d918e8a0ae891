"""ShowcaseStack: every eventweave pattern once, with the small handlers next to this file."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_sns as sns
from constructs import Construct

from eventweave.patterns import (
    AsyncFunction,
    DecoupledInvocation,
    EventBusRouter,
    FanOutFanIn,
    JobCompletion,
    QueueWorker,
    RuleFunction,
    StreamProcessor,
    TopicFanOut,
    TopicFunction,
)

from .handlers import ApplyLedgerEntry, Charge
from .job_handlers import AnnounceWordCount, CountWords, SplitDocument, Summarize
from .pubsub_handlers import EmailReceipt, FlagLargeOrder, ReserveStock, TrackOrders
from .stream_handlers import CountPageViews, Invoicing, ProjectAccounts, Resize, ResizeDone, Shipping


class ShowcaseStack(Stack):
    """One stack using every pattern; ``app.py`` synthesizes it (with cdk-nag) and the construct tests check it.

    Example::

        app = App()
        ShowcaseStack(app, "EventweaveShowcase")
        app.synth()
    """

    def __init__(self, scope: Construct, id: str, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        # 1. Queue worker: standard (idempotent) and FIFO.
        self.billing = QueueWorker(self, "Billing", handler=Charge, max_concurrency=5, timeout=Duration.seconds(20))
        self.ledger = QueueWorker(self, "Ledger", handler=ApplyLedgerEntry)

        # 2. Topic fan-out: two filtered subscribers.
        self.orders = TopicFanOut(self, "Orders")
        self.orders.add_subscriber("Stock", handler=ReserveStock)
        self.orders.add_subscriber(
            "LargeOrders",
            handler=FlagLargeOrder,
            filter_policy={"priority": sns.SubscriptionFilter.string_filter(allowlist=["express"])},
        )

        # 3. Direct pub-sub: SNS -> Lambda and EventBridge rule -> Lambda.
        self.receipts = TopicFunction(self, "Receipts", handler=EmailReceipt)
        self.tracking = RuleFunction(self, "Tracking", handler=TrackOrders)

        # 4. Event bus router: a custom bus with an archive, routes to a function and to a queue-buffered worker.
        self.bus = EventBusRouter(self, "Commerce")
        self.bus.route_to_function("Shipping", handler=Shipping)
        self.bus.route_to_queue_worker(
            "Invoicing", handler=Invoicing, event_pattern=events.EventPattern(detail_type=["OrderPlaced"])
        )

        # 5. Stream processors: Kinesis and DynamoDB Streams.
        self.page_views = StreamProcessor(self, "PageViews", handler=CountPageViews)
        self.accounts = StreamProcessor(self, "Accounts", handler=ProjectAccounts)

        # 6. Fan-out/fan-in with a sink invoked exactly once per job.
        self.word_count = FanOutFanIn(
            self,
            "WordCount",
            ventilator=SplitDocument,
            worker=CountWords,
            completion=JobCompletion.invoke(AnnounceWordCount),
        )

        # 7. Decoupled invocation behind an IAM-authenticated Function URL.
        self.summaries = DecoupledInvocation(self, "Summaries", worker=Summarize)

        # 8. Async function with destinations: failure records go to a typed consumer function (DestinationHandler).
        self.resize_failures = AsyncFunction(self, "ResizeFailures", handler=ResizeDone)
        self.resize = AsyncFunction(self, "Resize", handler=Resize, on_failure=self.resize_failures)

"""E2EStack: each pattern once, with short timeouts so retries happen within a test's patience."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

from eventweave.patterns import (
    AsyncFunction,
    FanOutFanIn,
    JobCompletion,
    QueueWorker,
    RuleFunction,
    StreamProcessor,
    TopicFanOut,
    TopicFunction,
)

from . import handlers as h
from .effects import TABLE_ENV

FAST = Duration.seconds(2)  # visibility timeouts are 6x this: a retried message comes back after ~12 s


class E2EStack(Stack):
    """The stack the local-cloud e2e tests deploy (ephemeral, uniquely named per test module)."""

    def __init__(self, scope: Construct, id: str, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        effects = dynamodb.Table(
            self,
            "Effects",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.queue = QueueWorker(self, "Queue", handler=h.QueueJob, timeout=FAST, max_receive_count=2)
        self.fan_out = TopicFanOut(self, "Orders")
        # The reliability run pushes 1,000 messages through this one: room for a loaded 2-core machine.
        self.all_orders = self.fan_out.add_subscriber("All", handler=h.AllOrders, timeout=Duration.seconds(10))
        self.fan_out.add_subscriber(
            "Express",
            handler=h.ExpressOrders,
            timeout=FAST,
            filter_policy={"priority": sns.SubscriptionFilter.string_filter(allowlist=["express"])},
        )
        self.topic = TopicFunction(self, "Topic", handler=h.TopicJob, timeout=FAST)
        self.rule = RuleFunction(
            self, "Rule", handler=h.RuleJob, timeout=FAST, event_pattern=events.EventPattern(source=["e2e.work"])
        )
        self.stream = StreamProcessor(
            self, "Stream", handler=h.StreamJob, timeout=FAST, retry_attempts=2, max_record_age=Duration.seconds(60)
        )
        self.loop = StreamProcessor(
            self,
            "Loop",
            handler=h.Loop,
            timeout=FAST,
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            retry_attempts=2,
        )
        self.failures = QueueWorker(self, "AsyncFailures", handler=h.FailureLog, timeout=FAST)
        self.async_job = AsyncFunction(
            self, "Async", handler=h.AsyncJob, timeout=FAST, retry_attempts=1, on_failure=self.failures.queue
        )
        self.jobs = FanOutFanIn(
            self,
            "Jobs",
            ventilator=h.Split,
            worker=h.DoPart,
            completion=JobCompletion.invoke(h.Complete),
            worker_timeout=FAST,
        )
        assert self.loop.table is not None
        for child in self.node.find_all():
            if isinstance(child, lambda_.Function):
                child.add_environment(TABLE_ENV, effects.table_name)
                child.add_environment("LOOP_TABLE", self.loop.table.table_name)
                effects.grant_read_write_data(child)
        self.loop.table.grant_write_data(self.loop.function)

        assert self.queue.dead_letter_queue is not None and self.stream.stream is not None
        outputs = {
            "EffectsTable": effects.table_name,
            "QueueUrl": self.queue.queue.queue_url,
            "QueueDlqUrl": self.queue.dead_letter_queue.queue_url,
            "FanOutTopicArn": self.fan_out.topic.topic_arn,
            "FanOutAllDlqUrl": self.all_orders.dead_letter_queue.queue_url,
            "TopicArn": self.topic.topic.topic_arn,
            "StreamName": self.stream.stream.stream_name,
            "StreamFailureQueueUrl": _queue_url(self.stream.on_failure),
            "LoopTable": self.loop.table.table_name,
            "LoopFailureQueueUrl": _queue_url(self.loop.on_failure),
            "AsyncFunction": self.async_job.function.function_name,
            "Ventilator": self.jobs.ventilator.function.function_name,
        }
        for name, value in outputs.items():
            CfnOutput(self, name, value=value)


def _queue_url(target: Any) -> str:
    url: str = target.queue_url
    return url

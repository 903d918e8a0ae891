"""The benchmark stacks: BenchStack (bench/local_cloud.py), PeerStack (bench/ministack_peer.py) and the two SQS
poller stacks (bench/sqs_poller.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from eventweave.constructs.function import EventFunction
from eventweave.patterns import AsyncFunction, QueueWorker, TopicFanOut, TopicFunction

from .handlers import DrainProbe, FanOutProbe, InvokeProbe, QueueProbe, TopicProbe

IDLE_FUNCTIONS = 9
"""Functions PeerStack deploys that nothing invokes: with its four measured paths, 13 functions in all."""


class BenchStack(Stack):
    """A queue worker, a topic function and a two-subscriber fan-out, all with their default settings."""

    def __init__(self, scope: Construct, id: str, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        queue = QueueWorker(self, "Queue", handler=QueueProbe)
        topic = TopicFunction(self, "Topic", handler=TopicProbe)
        fan_out = TopicFanOut(self, "FanOut")
        fan_out.add_subscriber("A", handler=FanOutProbe)
        fan_out.add_subscriber("B", handler=FanOutProbe)
        CfnOutput(self, "QueueUrl", value=queue.queue.queue_url)
        CfnOutput(self, "TopicArn", value=topic.topic.topic_arn)
        CfnOutput(self, "FanOutTopicArn", value=fan_out.topic.topic_arn)


class PeerStack(Stack):
    """What bench/ministack_peer.py deploys on eventweave (and builds the same through boto3 on MiniStack): a queue
    worker, a topic function, an async function, a queue with a function but no mapping yet (the backlog drain), and
    nine functions nothing invokes; 13 functions."""

    def __init__(self, scope: Construct, id: str, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        queue = QueueWorker(self, "Queue", handler=QueueProbe)
        topic = TopicFunction(self, "Topic", handler=TopicProbe)
        invoked = AsyncFunction(self, "Async", handler=InvokeProbe)
        # The QueueWorker queue's settings (visibility 6x the 30 s timeout, DLQ after 5 receives), without the mapping.
        drain_dlq = sqs.Queue(self, "DrainDeadLetters", retention_period=Duration.days(14))
        drain_queue = sqs.Queue(
            self,
            "DrainQueue",
            visibility_timeout=Duration.seconds(180),
            dead_letter_queue=sqs.DeadLetterQueue(queue=drain_dlq, max_receive_count=5),
        )
        drain = EventFunction(self, "Drain", handler=DrainProbe, dead_letter=drain_dlq)
        for i in range(IDLE_FUNCTIONS):
            EventFunction(self, f"Idle{i}", handler=QueueProbe)
        CfnOutput(self, "QueueUrl", value=queue.queue.queue_url)
        CfnOutput(self, "TopicArn", value=topic.topic.topic_arn)
        CfnOutput(self, "AsyncFunctionName", value=invoked.function.function_name)
        CfnOutput(self, "DrainQueueUrl", value=drain_queue.queue_url)
        CfnOutput(self, "DrainQueueArn", value=drain_queue.queue_arn)
        CfnOutput(self, "DrainFunctionName", value=drain.function.function_name)


class TrickleStack(Stack):
    """A queue worker batching up to 100 messages for up to 2 seconds (bench/sqs_poller.py's trickle)."""

    def __init__(self, scope: Construct, id: str, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        worker = QueueWorker(
            self, "Trickle", handler=QueueProbe, batch_size=100, max_batching_window=Duration.seconds(2)
        )
        CfnOutput(self, "QueueUrl", value=worker.queue.queue_url)
        CfnOutput(self, "FunctionName", value=worker.function.function_name)


class FifoStack(Stack):
    """A FIFO queue -> a plain Lambda function (``fifo_handler``) with partial batch responses; a 2 s visibility
    timeout, so a failed message of a group is back (and its group unblocked) soon."""

    def __init__(self, scope: Construct, id: str, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        queue = sqs.Queue(
            self, "Ordered", fifo=True, content_based_deduplication=True, visibility_timeout=Duration.seconds(2)
        )
        function = lambda_.Function(
            self,
            "OrderedHandler",
            runtime=lambda_.Runtime.PYTHON_3_13,
            handler="fifo_handler.handler",
            code=lambda_.Code.from_asset(str(Path(__file__).parent), exclude=["__pycache__", "*.pyc"]),
            timeout=Duration.seconds(2),
        )
        function.add_event_source(event_sources.SqsEventSource(queue, batch_size=10, report_batch_item_failures=True))
        CfnOutput(self, "QueueUrl", value=queue.queue_url)
        CfnOutput(self, "FunctionName", value=function.function_name)

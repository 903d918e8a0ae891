"""BenchStack: the three delivery paths the local-cloud benchmark measures."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from eventweave.patterns import QueueWorker, TopicFanOut, TopicFunction

from .handlers import FanOutProbe, QueueProbe, TopicProbe


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

"""The recursion guard across real (moto) services: a mis-wired loop runs max_hops + 1 times, then lands in the DLQ."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel

from eventweave.handlers import (
    DynamoDBRecordContext,
    DynamoDBStreamHandler,
    Settings,
    SqsHandler,
    SqsRecordContext,
)
from eventweave.handlers.clients import client
from eventweave.handlers.publish import publish_sns, send_sqs, stamp_attribute
from tests.functional.drivers import DynamoStreamDriver, QueueDriver, drain, lambda_ddb_event, queue_arn

MAX_HOPS = 5


class Ping(BaseModel):
    n: int


class Echo(SqsHandler[Ping]):
    """Mis-wired: publishes every message it handles back to the queue it consumes."""

    def __init__(self, queue_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.queue_url = queue_url
        self.runs: list[tuple[int, int, str]] = []

    def handle(self, ping: Ping, ctx: SqsRecordContext) -> None:
        self.runs.append((ping.n, ctx.hops, ctx.correlation_id))
        send_sqs(self.queue_url, Ping(n=ping.n + 1))


class ShortEcho(Echo):
    max_hops: ClassVar[int | None] = 2


def queues(aws: Any) -> tuple[Any, str, str]:
    sqs = aws("sqs")
    return sqs, sqs.create_queue(QueueName="loop")["QueueUrl"], sqs.create_queue(QueueName="loop-dlq")["QueueUrl"]


@pytest.mark.parametrize("first", ["plain", "traced"])
def test_sqs_loop_stops_after_max_hops_with_one_poison_in_the_dlq(aws, lambda_context, first):
    """The loop is handled at hops 0..max_hops (max_hops + 1 runs), the next message goes to the DLQ as
    recursion-limit with the first message's correlation id, and the queue ends empty."""
    sqs, url, dlq = queues(aws)
    if first == "plain":  # an untraced message names the chain after itself
        correlation = sqs.send_message(QueueUrl=url, MessageBody='{"n": 0}')["MessageId"]
    else:  # a traced publish outside any handler mints the chain's id
        send_sqs(url, Ping(n=0))
        (peek,) = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], VisibilityTimeout=0)["Messages"]
        correlation = peek["MessageAttributes"]["eventweave-correlation-id"]["StringValue"]
    handler = Echo(url, settings=Settings(dlq=dlq, max_hops=MAX_HOPS))

    deliveries = QueueDriver(sqs, url, handler, lambda_context).run(limit=20)

    assert handler.runs == [(n, n, correlation) for n in range(MAX_HOPS + 1)]
    assert len(deliveries) == MAX_HOPS + 2
    assert all(d.error is None and d.failed == [] for d in deliveries)
    (message,) = drain(sqs, dlq, 1)
    doc = json.loads(message["Body"])
    assert (doc["reason"], doc["correlationId"], doc["hops"]) == ("recursion-limit", correlation, MAX_HOPS + 1)
    assert doc["recordId"] == deliveries[-1].record_ids[0]
    assert json.loads(doc["record"]["body"]) == {"n": MAX_HOPS + 1}
    assert doc["record"]["messageAttributes"]["eventweave-hops"]["stringValue"] == str(MAX_HOPS + 1)
    assert message["MessageAttributes"]["eventweave-correlation-id"]["StringValue"] == correlation
    assert message["MessageAttributes"]["eventweave-reason"]["StringValue"] == "recursion-limit"
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []


def test_handler_max_hops_overrides_the_setting(aws, lambda_context):
    """A class-level max_hops (2) wins over Settings.max_hops (5): three runs, then the DLQ."""
    sqs, url, dlq = queues(aws)
    sqs.send_message(QueueUrl=url, MessageBody='{"n": 0}')
    handler = ShortEcho(url, settings=Settings(dlq=dlq, max_hops=MAX_HOPS))
    QueueDriver(sqs, url, handler, lambda_context).run(limit=20)
    assert [hops for _, hops, _ in handler.runs] == [0, 1, 2]
    (message,) = drain(sqs, dlq, 1)
    assert json.loads(message["Body"])["hops"] == 3


def test_sqs_loop_without_dlq_keeps_the_stopped_message_on_the_queue(aws, lambda_context):
    """With no DLQ the stopped message is reported failed, so it stays on the queue for its redrive policy;
    the loop still does not run a (max_hops + 2)th time."""
    sqs, url, _ = queues(aws)
    sqs.send_message(QueueUrl=url, MessageBody='{"n": 0}')
    handler = Echo(url, settings=Settings(max_hops=MAX_HOPS))
    deliveries = QueueDriver(sqs, url, handler, lambda_context).run(limit=20)
    assert len(handler.runs) == MAX_HOPS + 1
    assert deliveries[-1].error is not None  # a one-record batch that fails is raised to Lambda
    assert deliveries[-1].failed == deliveries[-1].record_ids
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
    assert attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "1"


class Announce(SqsHandler[Ping]):
    """Mis-wired through SNS: publishes to a topic its own queue subscribes to (SNS envelope, not raw)."""

    def __init__(self, topic_arn: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.topic_arn = topic_arn
        self.runs: list[tuple[int, int, str, str]] = []

    def handle(self, ping: Ping, ctx: SqsRecordContext) -> None:
        self.runs.append((ping.n, ctx.hops, ctx.correlation_id, ctx.message_id))
        publish_sns(self.topic_arn, Ping(n=ping.n + 1))


def test_sns_to_sqs_loop_is_stopped_from_the_envelope_trace(aws, lambda_context):
    """Through SNS the trace travels in the envelope's MessageAttributes: the loop still stops after max_hops, and
    the chain is named by the first SNS MessageId (the logical id), not by an SQS message id."""
    sns, sqs = aws("sns"), aws("sqs")
    topic = sns.create_topic(Name="pings")["TopicArn"]
    _, url, dlq = queues(aws)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn(sqs, url))
    first = sns.publish(TopicArn=topic, Message='{"n": 0}')["MessageId"]
    handler = Announce(topic, settings=Settings(dlq=dlq, max_hops=MAX_HOPS))

    deliveries = QueueDriver(sqs, url, handler, lambda_context).run(limit=20)

    assert [(n, hops, corr) for n, hops, corr, _ in handler.runs] == [(n, n, first) for n in range(MAX_HOPS + 1)]
    assert handler.runs[0][3] == first
    assert len({message_id for *_, message_id in handler.runs}) == MAX_HOPS + 1
    assert len(deliveries) == MAX_HOPS + 2
    (message,) = drain(sqs, dlq, 1)
    doc = json.loads(message["Body"])
    assert (doc["reason"], doc["correlationId"], doc["hops"]) == ("recursion-limit", first, MAX_HOPS + 1)
    envelope = json.loads(doc["record"]["body"])
    assert envelope["TopicArn"] == topic
    assert envelope["MessageAttributes"]["eventweave-hops"]["Value"] == str(MAX_HOPS + 1)
    assert doc["messageId"] == envelope["MessageId"]


# -- DynamoDB Streams --------------------------------------------------------------------------------------------------


class Item(BaseModel):
    id: str
    n: int


class Chain(DynamoDBStreamHandler[Item]):
    """Mis-wired: every insert it sees makes it insert the next item into the same table."""

    def __init__(self, table: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.table = table
        self.runs: list[tuple[int, int, str]] = []

    def on_insert(self, new: Item, ctx: DynamoDBRecordContext) -> None:
        self.runs.append((new.n, ctx.hops, ctx.correlation_id))
        client("dynamodb").put_item(
            TableName=self.table,
            Item={"id": {"S": f"i-{new.n + 1}"}, "n": {"N": str(new.n + 1)}, **stamp_attribute()},
        )


def test_dynamodb_stream_loop_stops_at_the_limit(aws, lambda_context):
    """A stream handler inserting stamped items into its own table: handled at hops 0..max_hops, then the next
    insert is a recursion-limit poison in the DLQ, carrying the chain's first correlation id and its stream record."""
    ddb, sqs = aws("dynamodb"), aws("sqs")
    ddb.create_table(
        TableName="events",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    stream_arn = ddb.describe_table(TableName="events")["Table"]["LatestStreamArn"]
    dlq = sqs.create_queue(QueueName="events-dlq")["QueueUrl"]
    ddb.put_item(TableName="events", Item={"id": {"S": "i-0"}, "n": {"N": "0"}})  # untraced: starts the chain
    handler = Chain("events", settings=Settings(dlq=dlq, max_hops=MAX_HOPS))

    streams = aws("dynamodbstreams")
    deliveries = DynamoStreamDriver(streams, stream_arn, handler, lambda_context).run(limit=20)

    assert all(d.error is None and d.failed == [] for d in deliveries)
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]
    records = lambda_ddb_event(streams.get_records(ShardIterator=iterator)["Records"], stream_arn)["Records"]
    assert [r["eventName"] for r in records] == ["INSERT"] * (MAX_HOPS + 2)
    correlation = records[0]["eventID"]  # an untraced item names the chain after its stream record
    assert handler.runs == [(n, n, correlation) for n in range(MAX_HOPS + 1)]
    assert ddb.scan(TableName="events", Select="COUNT")["Count"] == MAX_HOPS + 2

    (message,) = drain(sqs, dlq, 1)
    doc = json.loads(message["Body"])
    assert (doc["reason"], doc["correlationId"], doc["hops"]) == ("recursion-limit", correlation, MAX_HOPS + 1)
    assert (doc["eventSource"], doc["eventSourceARN"]) == ("aws:dynamodb", stream_arn)
    stopped = records[-1]
    assert doc["recordId"] == stopped["dynamodb"]["SequenceNumber"]
    assert doc["record"]["dynamodb"]["NewImage"]["id"] == {"S": f"i-{MAX_HOPS + 1}"}
    assert doc["record"]["dynamodb"]["NewImage"]["__context"]["M"]["hops"] == {"N": str(MAX_HOPS + 1)}
    assert message["MessageAttributes"]["eventweave-correlation-id"]["StringValue"] == correlation

"""Publishers against moto: trace metadata on SNS, SQS, EventBridge, Kinesis and DynamoDB, read back by the handlers."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest
from pydantic import BaseModel, ConfigDict

from eventweave.handlers import (
    DynamoDBRecordContext,
    DynamoDBStreamHandler,
    KinesisHandler,
    KinesisRecordContext,
    Settings,
    SqsHandler,
    SqsRecordContext,
)
from eventweave.handlers.clients import client
from eventweave.handlers.publish import (
    PublishError,
    publish_sns,
    put_event,
    put_record,
    send_sqs,
    send_sqs_batch,
    stamp,
    stamp_attribute,
    trace_attributes,
)
from tests.factories import kinesis_event, kinesis_record, sqs_attribute, sqs_event, sqs_record, trace_sqs_attributes

CORR = "eventweave-correlation-id"
CAUSE = "eventweave-causation-id"
HOPS = "eventweave-hops"


class Order(BaseModel):
    model_config = ConfigDict(extra="forbid")  # proves __context never reaches the model

    order_id: str
    amount: int = 0


class Relay(SqsHandler[Order]):
    """Runs ``action(order)`` inside handle, so publishers see a current record."""

    def __init__(self, action: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.action = action
        self.results: list[Any] = []

    def handle(self, order: Order, ctx: SqsRecordContext) -> None:
        self.results.append(self.action(order))


class Sink(SqsHandler[Order]):
    """Remembers what it received, to read published messages back through a handler."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seen: list[tuple[Order, SqsRecordContext]] = []

    def handle(self, order: Order, ctx: SqsRecordContext) -> None:
        self.seen.append((order, ctx))


def relay(action: Any, *, message_id: str = "msg-in", correlation: str | None = "corr-in", hops: int = 3) -> Relay:
    """Drive a Relay with one incoming SQS record carrying the given trace; returns the handler."""
    handler = Relay(action, settings=Settings())
    attributes = trace_sqs_attributes(correlation, hops) if correlation is not None else {}
    record = sqs_record({"order_id": "in-1"}, message_id=message_id, attributes=attributes)
    assert handler(sqs_event(record), None) == {"batchItemFailures": []}
    return handler


def drain(sqs: Any, url: str, expected: int) -> list[dict[str, Any]]:
    """Receive and delete ``expected`` messages (deleting unblocks the next messages of a FIFO group)."""
    messages: list[dict[str, Any]] = []
    for _ in range(expected + 3):
        page = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                   AttributeNames=["All"]).get("Messages", [])
        messages.extend(page)
        for message in page:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        if len(messages) >= expected:
            break
    assert len(messages) == expected, messages
    return messages


def attrs_of(message: dict[str, Any]) -> dict[str, str]:
    return {name: value["StringValue"] for name, value in message.get("MessageAttributes", {}).items()}


def as_lambda_record(message: dict[str, Any]) -> dict[str, Any]:
    """An SQS message as received by boto3, reshaped as the record Lambda would deliver."""
    attributes = {name: sqs_attribute(value["StringValue"], value["DataType"])
                  for name, value in message.get("MessageAttributes", {}).items()}
    return sqs_record(message["Body"], message_id=message["MessageId"], attributes=attributes)


def queue_arn(sqs: Any, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def subscribed_queue(aws: Any, *, raw: bool) -> tuple[str, str]:
    sns, sqs = aws("sns"), aws("sqs")
    topic = sns.create_topic(Name="orders")["TopicArn"]
    url = sqs.create_queue(QueueName="orders-sub")["QueueUrl"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn(sqs, url),
                  Attributes={"RawMessageDelivery": "true" if raw else "false"})
    return topic, url


def is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


# -- SNS ---------------------------------------------------------------------------------------------------------------


def test_publish_sns_raw_delivery_puts_the_trace_in_sqs_message_attributes(aws):
    """Raw delivery: the body is the message as published and eventweave-* are SQS message attributes."""
    topic, url = subscribed_queue(aws, raw=True)
    publish_sns(topic, Order(order_id="o-1", amount=5), attributes={"tenant": "acme", "priority": 2})
    (message,) = drain(aws("sqs"), url, 1)
    assert json.loads(message["Body"]) == {"order_id": "o-1", "amount": 5}
    attrs = attrs_of(message)
    assert is_uuid(attrs[CORR])
    assert attrs[HOPS] == "0"
    assert CAUSE not in attrs
    assert (attrs["tenant"], attrs["priority"]) == ("acme", "2")
    assert message["MessageAttributes"][HOPS]["DataType"] == "Number"
    assert message["MessageAttributes"]["priority"]["DataType"] == "Number"


def test_publish_sns_without_raw_delivery_puts_the_trace_in_the_envelope(aws):
    """Envelope delivery: MessageAttributes ({Type, Value}) inside the JSON body carry the trace."""
    topic, url = subscribed_queue(aws, raw=False)
    message_id = publish_sns(topic, {"order_id": "o-2"}, subject="new order")
    (message,) = drain(aws("sqs"), url, 1)
    envelope = json.loads(message["Body"])
    assert envelope["MessageId"] == message_id
    assert json.loads(envelope["Message"]) == {"order_id": "o-2"}
    attributes = envelope["MessageAttributes"]
    assert attributes[HOPS] == {"Type": "Number", "Value": "0"}
    assert attributes[CORR]["Type"] == "String"
    assert is_uuid(attributes[CORR]["Value"])
    assert CAUSE not in attributes


def test_each_publish_outside_a_handler_starts_a_new_chain(aws):
    """Outside a handler every message gets a fresh correlation id."""
    topic, url = subscribed_queue(aws, raw=True)
    publish_sns(topic, {"order_id": "a"})
    publish_sns(topic, {"order_id": "b"})
    first, second = (attrs_of(m)[CORR] for m in drain(aws("sqs"), url, 2))
    assert first != second


@pytest.mark.parametrize("raw", [True, False])
def test_publish_sns_inside_a_handler_continues_the_chain(aws, raw):
    """Inside handle: correlation id kept, causation = incoming message id, hops + 1; a consumer reads it back."""
    topic, url = subscribed_queue(aws, raw=raw)
    relay(lambda order: publish_sns(topic, {"order_id": f"out-{order.order_id}"}))
    (message,) = drain(aws("sqs"), url, 1)
    if raw:
        attrs = attrs_of(message)
    else:
        attrs = {name: value["Value"] for name, value in json.loads(message["Body"])["MessageAttributes"].items()}
    assert (attrs[CORR], attrs[CAUSE], attrs[HOPS]) == ("corr-in", "msg-in", "4")

    sink = Sink(settings=Settings())
    assert sink(sqs_event(as_lambda_record(message)), None) == {"batchItemFailures": []}
    ((order, ctx),) = sink.seen
    assert order == Order(order_id="out-in-1")
    assert (ctx.correlation_id, ctx.causation_id, ctx.hops) == ("corr-in", "msg-in", 4)


def test_untraced_incoming_record_starts_the_chain_at_its_own_id(aws):
    """A record without trace metadata is hop 0 of a chain named by its message id: outgoing hops is 1."""
    topic, url = subscribed_queue(aws, raw=True)
    relay(lambda _: publish_sns(topic, {"order_id": "x"}), message_id="first-msg", correlation=None)
    (message,) = drain(aws("sqs"), url, 1)
    attrs = attrs_of(message)
    assert (attrs[CORR], attrs[CAUSE], attrs[HOPS]) == ("first-msg", "first-msg", "1")


# -- SQS ---------------------------------------------------------------------------------------------------------------


def test_send_sqs_outside_and_inside_a_handler(aws):
    """send_sqs stamps a fresh chain outside a handler and continues the incoming one inside."""
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName="tasks")["QueueUrl"]
    outside_id = send_sqs(url, {"order_id": "o"}, attributes={"kind": "task"})
    relay(lambda order: send_sqs(url, order))
    messages = {m["MessageId"]: m for m in drain(sqs, url, 2)}
    outside = attrs_of(messages.pop(outside_id))
    assert is_uuid(outside[CORR]) and outside[HOPS] == "0" and outside["kind"] == "task"
    (inside,) = messages.values()
    assert json.loads(inside["Body"]) == {"order_id": "in-1", "amount": 0}
    assert (attrs_of(inside)[CORR], attrs_of(inside)[CAUSE], attrs_of(inside)[HOPS]) == ("corr-in", "msg-in", "4")


def test_send_sqs_to_a_fifo_queue_sets_the_group(aws):
    """group_id and deduplication_id reach SQS on a FIFO queue."""
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName="ledger.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    send_sqs(url, {"order_id": "a"}, group_id="acct-1", deduplication_id="d-1")
    send_sqs(url, {"order_id": "a"}, group_id="acct-1", deduplication_id="d-1")  # deduplicated by SQS
    (message,) = drain(sqs, url, 1)
    assert message["Attributes"]["MessageGroupId"] == "acct-1"
    assert message["Attributes"]["MessageDeduplicationId"] == "d-1"


def test_send_sqs_batch_sends_ten_per_request_and_returns_ids_in_order(aws):
    """25 messages take 3 SendMessageBatch calls; the ids come back in input order, each message traced."""
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName="bulk")["QueueUrl"]
    calls: list[int] = []
    client("sqs").meta.events.register(
        "before-parameter-build.sqs.SendMessageBatch", lambda params, **_: calls.append(len(params["Entries"]))
    )
    ids = send_sqs_batch(url, [{"order_id": f"o-{i}", "amount": i} for i in range(25)])
    assert calls == [10, 10, 5]
    assert len(ids) == len(set(ids)) == 25
    by_id = {m["MessageId"]: m for m in drain(sqs, url, 25)}
    assert [json.loads(by_id[i]["Body"])["order_id"] for i in ids] == [f"o-{n}" for n in range(25)]
    correlations = {attrs_of(m)[CORR] for m in by_id.values()}
    assert len(correlations) == 1  # one logical publish: one chain
    assert {attrs_of(m)[HOPS] for m in by_id.values()} == {"0"}


def test_send_sqs_batch_splits_by_payload_size_too(aws):
    """Ten 120 KB messages are each valid but exceed SendMessageBatch's total payload limit together; all are sent."""
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName="big")["QueueUrl"]
    bodies = [f"{i:02d}" + "x" * 120_000 for i in range(10)]
    ids = send_sqs_batch(url, bodies)
    assert len(ids) == 10
    by_id = {m["MessageId"]: m["Body"] for m in drain(sqs, url, 10)}
    assert [by_id[i] for i in ids] == bodies


def test_send_sqs_batch_to_fifo_queue_keeps_group_and_order(aws):
    """On a FIFO queue every message carries the group id and they arrive in the order given."""
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName="bulk.fifo", Attributes={"FifoQueue": "true",
                                                              "ContentBasedDeduplication": "true"})["QueueUrl"]
    ids = send_sqs_batch(url, [f"entry-{i}" for i in range(12)], group_id="acct-9")
    messages = drain(sqs, url, 12)
    assert [m["MessageId"] for m in messages] == ids
    assert [m["Body"] for m in messages] == [f"entry-{i}" for i in range(12)]
    assert {m["Attributes"]["MessageGroupId"] for m in messages} == {"acct-9"}


def test_send_sqs_batch_inside_a_handler_is_traced(aws):
    """Batch sends made while handling a record carry that record's trace."""
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName="fanout")["QueueUrl"]
    relay(lambda order: send_sqs_batch(url, [order, order]), hops=0)
    messages = drain(sqs, url, 2)
    assert {(attrs_of(m)[CORR], attrs_of(m)[CAUSE], attrs_of(m)[HOPS]) for m in messages} == {
        ("corr-in", "msg-in", "1")
    }


# -- trace_attributes limits -------------------------------------------------------------------------------------------


def test_trace_attributes_allows_ten_and_refuses_eleven():
    """SNS/SQS allow 10 attributes: outside a handler 8 extra fit (trace uses 2), 9 do not."""
    assert len(trace_attributes({f"a{i}": i for i in range(8)})) == 10
    with pytest.raises(PublishError):
        trace_attributes({f"a{i}": i for i in range(9)})


def test_trace_attributes_inside_a_handler_counts_the_causation_id():
    """Inside a handler the trace uses 3 attributes, so 7 extra fit and 8 raise."""
    outcome: dict[str, Any] = {}

    def probe(_: Order) -> None:
        outcome["seven"] = trace_attributes({f"a{i}": "x" for i in range(7)})
        with pytest.raises(PublishError):
            trace_attributes({f"a{i}": "x" for i in range(8)})
        outcome["raised"] = True

    relay(probe)
    assert len(outcome["seven"]) == 10
    assert outcome["raised"]


def test_trace_attributes_types_extra_values():
    """Numbers become Number attributes, booleans and strings String."""
    attrs = trace_attributes({"n": 3, "f": 1.5, "flag": True, "s": "x"})
    assert attrs["n"] == {"DataType": "Number", "StringValue": "3"}
    assert attrs["f"] == {"DataType": "Number", "StringValue": "1.5"}
    assert attrs["flag"] == {"DataType": "String", "StringValue": "True"}
    assert attrs["s"] == {"DataType": "String", "StringValue": "x"}


def test_too_many_attributes_publish_nothing(aws):
    """publish_sns with 9 extra attributes raises PublishError before anything reaches the topic."""
    topic, url = subscribed_queue(aws, raw=True)
    with pytest.raises(PublishError):
        publish_sns(topic, {"order_id": "o"}, attributes={f"a{i}": i for i in range(9)})
    assert aws("sqs").receive_message(QueueUrl=url).get("Messages", []) == []


# -- EventBridge -------------------------------------------------------------------------------------------------------


def bus_to_queue(aws: Any) -> str:
    events, sqs = aws("events"), aws("sqs")
    events.create_event_bus(Name="orders")
    url = sqs.create_queue(QueueName="orders-events")["QueueUrl"]
    events.put_rule(Name="all-orders", EventBusName="orders", EventPattern=json.dumps({"source": ["shop"]}))
    events.put_targets(Rule="all-orders", EventBusName="orders", Targets=[{"Id": "q", "Arn": queue_arn(sqs, url)}])
    return url


def test_put_event_puts_context_in_detail(aws):
    """The event's detail carries __context; an SQS consumer of the rule sees the model and the trace."""
    url = bus_to_queue(aws)
    event_id = put_event("OrderPlaced", Order(order_id="o-1", amount=3), source="shop", bus_name="orders")
    (message,) = drain(aws("sqs"), url, 1)
    event = json.loads(message["Body"])
    assert (event["id"], event["detail-type"], event["source"]) == (event_id, "OrderPlaced", "shop")
    context = event["detail"]["__context"]
    assert is_uuid(context["correlationId"])
    assert (context["causationId"], context["hops"]) == (None, 0)

    sink = Sink(settings=Settings())
    sink(sqs_event(as_lambda_record(message)), None)
    ((order, ctx),) = sink.seen
    assert order == Order(order_id="o-1", amount=3)
    assert (ctx.message_id, ctx.correlation_id, ctx.hops, ctx.event_type) == (
        event_id, context["correlationId"], 0, "OrderPlaced")


def test_put_event_inside_a_handler_continues_the_chain(aws):
    """detail.__context inside handle: same correlation, causation = incoming id, hops + 1."""
    url = bus_to_queue(aws)
    relay(lambda order: put_event("OrderPlaced", {"order_id": order.order_id}, source="shop", bus_name="orders"))
    (message,) = drain(aws("sqs"), url, 1)
    assert json.loads(message["Body"])["detail"]["__context"] == {
        "correlationId": "corr-in", "causationId": "msg-in", "hops": 4}


# -- Kinesis -----------------------------------------------------------------------------------------------------------


class Track(KinesisHandler[Order]):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seen: list[tuple[Order, KinesisRecordContext]] = []

    def handle(self, order: Order, ctx: KinesisRecordContext) -> None:
        self.seen.append((order, ctx))


def read_stream(kinesis: Any, name: str) -> list[dict[str, Any]]:
    shard = kinesis.describe_stream(StreamName=name)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    return kinesis.get_records(ShardIterator=iterator["ShardIterator"])["Records"]


def test_put_record_puts_context_in_the_data_and_a_kinesis_handler_reads_it(aws):
    """put_record stores JSON with __context; the record fed to a KinesisHandler gives back the same trace."""
    kinesis = aws("kinesis")
    kinesis.create_stream(StreamName="orders", ShardCount=1)
    arn = kinesis.describe_stream(StreamName="orders")["StreamDescription"]["StreamARN"]
    seq_by_name = put_record("orders", Order(order_id="o-1"), partition_key="o-1")
    seq_by_arn = put_record(arn, {"order_id": "o-2"}, partition_key="o-2")
    records = read_stream(kinesis, "orders")
    assert [r["SequenceNumber"] for r in records] == [seq_by_name, seq_by_arn]
    first = json.loads(records[0]["Data"])
    assert first["order_id"] == "o-1"
    assert is_uuid(first["__context"]["correlationId"])
    assert (first["__context"]["causationId"], first["__context"]["hops"]) == (None, 0)

    track = Track(settings=Settings())
    event = kinesis_event(*(kinesis_record(r["Data"], sequence_number=r["SequenceNumber"],
                                           partition_key=r["PartitionKey"], stream="orders") for r in records))
    assert track(event, None) == {"batchItemFailures": []}
    (o1, c1), (o2, _) = track.seen
    assert (o1, o2) == (Order(order_id="o-1"), Order(order_id="o-2"))
    assert (c1.correlation_id, c1.hops, c1.partition_key) == (first["__context"]["correlationId"], 0, "o-1")


def test_put_record_inside_a_handler_continues_the_chain(aws):
    """A record put while handling carries correlation, causation and hops + 1 in __context."""
    kinesis = aws("kinesis")
    kinesis.create_stream(StreamName="orders", ShardCount=1)
    relay(lambda order: put_record("orders", order, partition_key=order.order_id), hops=7)
    (record,) = read_stream(kinesis, "orders")
    assert json.loads(record["Data"])["__context"] == {"correlationId": "corr-in", "causationId": "msg-in", "hops": 8}
    assert record["PartitionKey"] == "in-1"


# -- DynamoDB (stamp / stamp_attribute) --------------------------------------------------------------------------------


class Account(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    n: int


class Project(DynamoDBStreamHandler[Account]):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seen: list[tuple[str, Account, DynamoDBRecordContext]] = []

    def on_insert(self, new: Account, ctx: DynamoDBRecordContext) -> None:
        self.seen.append(("insert", new, ctx))

    def on_modify(self, new: Account | None, old: Account | None, ctx: DynamoDBRecordContext) -> None:
        assert new is not None
        self.seen.append(("modify", new, ctx))


def streamed_table(aws: Any, moto_endpoint: str) -> tuple[Any, str]:
    """A table with a NEW_AND_OLD_IMAGES stream; returns (boto3 Table resource, stream ARN)."""
    aws("dynamodb").create_table(
        TableName="accounts",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    table = boto3.resource("dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1").Table("accounts")
    return table, table.latest_stream_arn


class StreamReader:
    """Reads a DynamoDB stream with the dynamodbstreams client, as Lambda's poller would, from where it left off."""

    def __init__(self, aws: Any, stream_arn: str) -> None:
        self.streams = aws("dynamodbstreams")
        self.arn = stream_arn
        self.shard = self.streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
        self.iterator = self.streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=self.shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]

    def event(self) -> dict[str, Any]:
        """The next records as a Lambda event (Lambda adds eventSourceARN to each record)."""
        page = self.streams.get_records(ShardIterator=self.iterator)
        self.iterator = page["NextShardIterator"]
        return {"Records": [{**record, "eventSourceARN": self.arn} for record in page["Records"]]}


def test_stamp_written_by_a_handler_is_read_back_by_a_stream_handler(aws, moto_endpoint):
    """An item stamped inside handle reaches a DynamoDBStreamHandler with the same chain and hops + 1."""
    table, stream_arn = streamed_table(aws, moto_endpoint)
    relay(lambda order: table.put_item(Item=stamp({"id": order.order_id, "n": 1})), hops=2)
    item = table.get_item(Key={"id": "in-1"})["Item"]
    assert item["__context"] == {"correlationId": "corr-in", "causationId": "msg-in", "hops": 3}

    project = Project(settings=Settings())
    event = StreamReader(aws, stream_arn).event()
    assert [r["eventName"] for r in event["Records"]] == ["INSERT"]
    assert project(event, None) == {"batchItemFailures": []}
    ((kind, account, ctx),) = project.seen
    assert (kind, account) == ("insert", Account(id="in-1", n=1))
    assert (ctx.correlation_id, ctx.causation_id, ctx.hops) == ("corr-in", "msg-in", 3)


def test_stamp_outside_a_handler_starts_a_chain_the_stream_handler_sees(aws, moto_endpoint):
    """stamp() outside a handler mints a correlation id (hops 0); the stream handler reports that same id."""
    table, stream_arn = streamed_table(aws, moto_endpoint)
    item = stamp(Account(id="a", n=1))
    table.put_item(Item=item)
    project = Project(settings=Settings())
    project(StreamReader(aws, stream_arn).event(), None)
    ((_, account, ctx),) = project.seen
    assert account == Account(id="a", n=1)
    assert (ctx.correlation_id, ctx.causation_id, ctx.hops) == (item["__context"]["correlationId"], None, 0)


def test_stamp_attribute_with_the_low_level_client(aws, moto_endpoint):
    """stamp_attribute() gives the __context map in DynamoDB JSON for put_item; inserts and updates are traced."""
    _, stream_arn = streamed_table(aws, moto_endpoint)
    dynamodb = aws("dynamodb")
    outside = stamp_attribute()
    assert set(outside["__context"]["M"]) == {"correlationId", "hops"}
    dynamodb.put_item(TableName="accounts", Item={"id": {"S": "a"}, "n": {"N": "1"}, **outside})

    def update(_: Order) -> None:
        dynamodb.put_item(TableName="accounts", Item={"id": {"S": "a"}, "n": {"N": "2"}, **stamp_attribute()})

    relay(update, hops=5)
    project = Project(settings=Settings())
    assert project(StreamReader(aws, stream_arn).event(), None) == {"batchItemFailures": []}
    (_, a1, c1), (_, a2, c2) = project.seen
    assert (a1, a2) == (Account(id="a", n=1), Account(id="a", n=2))
    assert (c1.correlation_id, c1.causation_id, c1.hops) == (outside["__context"]["M"]["correlationId"]["S"], None, 0)
    assert (c2.event_name, c2.correlation_id, c2.causation_id, c2.hops) == ("MODIFY", "corr-in", "msg-in", 6)


def test_a_stream_handler_writing_back_to_its_own_table_is_stopped(aws, moto_endpoint):
    """A projector that re-stamps its own table's items loops; the recursion guard ends it in the DLQ."""
    table, stream_arn = streamed_table(aws, moto_endpoint)
    dlq = aws("sqs").create_queue(QueueName="loop-dlq")["QueueUrl"]

    class Echo(DynamoDBStreamHandler[Account]):
        def on_insert(self, new: Account, ctx: DynamoDBRecordContext) -> None:
            table.put_item(Item=stamp({"id": new.id, "n": new.n + 1}))

        def on_modify(self, new: Account | None, old: Account | None, ctx: DynamoDBRecordContext) -> None:
            assert new is not None
            table.put_item(Item=stamp({"id": new.id, "n": new.n + 1}))

    echo = Echo(settings=Settings(max_hops=3, dlq=dlq))
    table.put_item(Item=stamp({"id": "a", "n": 0}))
    reader = StreamReader(aws, stream_arn)
    for _ in range(10):
        event = reader.event()
        if not event["Records"]:
            break
        assert echo(event, None) == {"batchItemFailures": []}
    # hops 0..3 are handled (4 writes after the first), the write at hops 4 is stopped.
    assert table.get_item(Key={"id": "a"})["Item"]["n"] == 4
    (message,) = drain(aws("sqs"), dlq, 1)
    doc = json.loads(message["Body"])
    assert (doc["reason"], doc["hops"], doc["eventSource"]) == ("recursion-limit", 4, "aws:dynamodb")


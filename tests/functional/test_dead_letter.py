"""Dead-letter routing against real (moto) queues and topics: every target form, batching, FIFO, and no loss."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel

from eventweave.handlers import (
    BatchFailedError,
    KinesisHandler,
    KinesisRecordContext,
    PermanentError,
    Settings,
    SqsHandler,
    SqsRecordContext,
)
from tests.factories import kinesis_event, kinesis_record, sqs_event, sqs_record, trace_sqs_attributes
from tests.functional.drivers import AwsCounter, drain, queue_arn


class Order(BaseModel):
    order_id: str
    amount: int


class Charge(SqsHandler[Order]):
    """Negative amounts are poison, zero amounts fail (retryable), the rest are charged."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.charged: list[str] = []

    def handle(self, order: Order, ctx: SqsRecordContext) -> None:
        if order.amount < 0:
            raise PermanentError(f"order {order.order_id} has a negative amount")
        if order.amount == 0:
            raise RuntimeError("payment provider unavailable")
        self.charged.append(order.order_id)


def good(order_id: str, **kwargs: Any) -> dict[str, Any]:
    return sqs_record({"order_id": order_id, "amount": 5}, message_id=f"m-{order_id}", **kwargs)


def poison(order_id: str, **kwargs: Any) -> dict[str, Any]:
    return sqs_record({"order_id": order_id, "amount": -1}, message_id=f"m-{order_id}", **kwargs)


def failures(response: dict[str, Any]) -> list[str]:
    return [f["itemIdentifier"] for f in response["batchItemFailures"]]


def attrs_of(message: dict[str, Any]) -> dict[str, str]:
    return {name: value["StringValue"] for name, value in message.get("MessageAttributes", {}).items()}


# -- where poison goes -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["url", "arn", "name"])
def test_sqs_dlq_by_url_arn_or_name(aws, lambda_context, form):
    """EVENTWEAVE_DLQ as a queue URL, ARN or bare name reaches the same queue; the URL is looked up once."""
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName="orders-dlq")["QueueUrl"]
    target = {"url": url, "arn": queue_arn(sqs, url), "name": "orders-dlq"}[form]
    handler = Charge(settings=Settings(dlq=target))
    with AwsCounter("sqs") as counter:
        assert handler(sqs_event(good("a"), poison("p1")), lambda_context) == {"batchItemFailures": []}
        assert handler(sqs_event(poison("p2")), lambda_context) == {"batchItemFailures": []}
    assert handler.charged == ["a"]
    assert counter["GetQueueUrl"] == (0 if form == "url" else 1)
    assert counter["SendMessageBatch"] == 2
    docs = sorted((json.loads(m["Body"]) for m in drain(sqs, url, 2)), key=lambda d: d["recordId"])
    assert [(d["recordId"], d["reason"], d["kind"]) for d in docs] == [
        ("m-p1", "permanent-error", "eventweave.poison"),
        ("m-p2", "permanent-error", "eventweave.poison"),
    ]
    assert json.loads(docs[0]["record"]["body"]) == {"order_id": "p1", "amount": -1}
    assert docs[0]["eventSourceARN"] == "arn:aws:sqs:us-east-1:123456789012:orders"


def test_sns_topic_dlq(aws, lambda_context):
    """An SNS topic ARN as DLQ: poison is published (one PublishBatch) and reaches a queue subscribed to the topic."""
    sns, sqs = aws("sns"), aws("sqs")
    topic = sns.create_topic(Name="poison")["TopicArn"]
    url = sqs.create_queue(QueueName="poison-reader")["QueueUrl"]
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=queue_arn(sqs, url), Attributes={"RawMessageDelivery": "true"}
    )
    handler = Charge(settings=Settings(dlq=topic))
    with AwsCounter("sns") as counter:
        response = handler(
            sqs_event(poison("p1"), good("a"), sqs_record("not json", message_id="junk")), lambda_context
        )
    assert response == {"batchItemFailures": []}
    assert counter.counts() == {"PublishBatch": 1}
    messages = drain(sqs, url, 2)
    by_id = {json.loads(m["Body"])["recordId"]: m for m in messages}
    assert set(by_id) == {"m-p1", "junk"}
    assert attrs_of(by_id["junk"])["eventweave-reason"] == "validation-error"
    assert attrs_of(by_id["m-p1"])["eventweave-error-type"] == "PermanentError"


def test_fifo_dlq_keeps_the_source_group_and_deduplicates_redelivered_poison(aws, lambda_context):
    """A .fifo DLQ gets the source record's MessageGroupId and a deduplication id, so a redelivered poison record
    (the source retried its batch) is stored once; poison without a group goes to a fixed group."""
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName="ledger-dlq.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    handler = Charge(settings=Settings(dlq=url))
    batch = sqs_event(
        good("a", group_id="acct-1", queue="ledger"),
        poison("p1", group_id="acct-1", queue="ledger"),
        good("b", group_id="acct-1", queue="ledger"),
        poison("p2", group_id="acct-2", queue="ledger"),
    )
    assert handler(batch, lambda_context) == {"batchItemFailures": []}
    assert handler.charged == ["a", "b"]
    assert handler(batch, lambda_context) == {"batchItemFailures": []}  # the whole batch delivered again
    handler(sqs_event(poison("p3")), lambda_context)  # a standard-queue record: no group of its own

    messages = drain(sqs, url, 3)
    groups = {json.loads(m["Body"])["recordId"]: m["Attributes"]["MessageGroupId"] for m in messages}
    assert groups == {"m-p1": "acct-1", "m-p2": "acct-2", "m-p3": "eventweave-poison"}
    dedup_ids = [m["Attributes"]["MessageDeduplicationId"] for m in messages]
    assert len(set(dedup_ids)) == 3
    assert all(0 < len(d) <= 128 for d in dedup_ids)  # SQS's limit on a deduplication id


def test_fifteen_poison_records_take_two_batch_sends_and_all_arrive(aws, lambda_context):
    """15 poison records of one batch are sent together at the end: SendMessageBatch with 10, then 5."""
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName="orders-dlq")["QueueUrl"]
    handler = Charge(settings=Settings(dlq=url))
    records = [poison(f"p{n:02d}") for n in range(15)]
    with AwsCounter("sqs") as counter:
        assert handler(sqs_event(good("a"), *records), lambda_context) == {"batchItemFailures": []}
    assert [len(c.params["Entries"]) for c in counter.of("SendMessageBatch")] == [10, 5]
    assert all(c.status == 200 for c in counter.calls)
    received = {json.loads(m["Body"])["recordId"] for m in drain(sqs, url, 15)}
    assert received == {r["messageId"] for r in records}


# -- nothing is dropped ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["url", "arn", "name", "topic"])
def test_dlq_that_does_not_exist_leaves_poison_with_the_source(aws, moto_endpoint, lambda_context, form):
    """When the DLQ cannot take the poison, it is reported failed (the source keeps it), never dropped."""
    target = {
        "url": f"{moto_endpoint}/123456789012/missing-dlq",
        "arn": "arn:aws:sqs:us-east-1:123456789012:missing-dlq",
        "name": "missing-dlq",
        "topic": "arn:aws:sns:us-east-1:123456789012:missing-topic",
    }[form]
    aws("sqs")  # a clean moto state with no queue at all
    handler = Charge(settings=Settings(dlq=target))
    with AwsCounter("sqs") as sqs_calls, AwsCounter("sns") as sns_calls:
        response = handler(sqs_event(poison("p1"), good("a"), sqs_record("{", message_id="junk")), lambda_context)
    assert sorted(failures(response)) == ["junk", "m-p1"]
    (call,) = sqs_calls.calls + sns_calls.calls
    assert call.status in (400, 404)  # moto answered that the target is missing (no hang, no crash)
    assert handler.charged == ["a"]
    with pytest.raises(BatchFailedError):  # nothing in the batch succeeded: Lambda retries it whole
        handler(sqs_event(poison("p2")), lambda_context)


def test_fifo_poison_that_cannot_be_stored_blocks_the_rest_of_its_group(aws, moto_endpoint, lambda_context):
    """On a FIFO source an undeliverable poison record is a failure of its group: the group's later records are
    reported failed unprocessed (order is kept), other groups carry on."""
    aws("sqs")
    handler = Charge(settings=Settings(dlq=f"{moto_endpoint}/123456789012/missing-dlq.fifo"))
    batch = sqs_event(
        good("a1", group_id="a", queue="ledger"),
        poison("a2", group_id="a", queue="ledger"),
        good("b1", group_id="b", queue="ledger"),
        good("a3", group_id="a", queue="ledger"),
        good("b2", group_id="b", queue="ledger"),
    )
    assert failures(handler(batch, lambda_context)) == ["m-a2", "m-a3"]
    assert handler.charged == ["a1", "b1", "b2"]


def test_no_dlq_configured_reports_poison_failed(aws, lambda_context):
    """Without EVENTWEAVE_DLQ poison is retried by the source (its redrive policy takes over), not dropped."""
    handler = Charge(settings=Settings())
    response = handler(sqs_event(good("a"), poison("p1"), sqs_record("nope", message_id="junk")), lambda_context)
    assert failures(response) == ["m-p1", "junk"]
    assert handler.charged == ["a"]


def test_poison_too_large_for_the_dlq_stays_with_the_source(aws, lambda_context):
    """A valid 200 KB body of non-ASCII text grows past the 256 KiB message limit once escaped into the poison
    document: that record is reported failed (kept by the source), not truncated or dropped; the others go."""
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName="orders-dlq")["QueueUrl"]
    handler = Charge(settings=Settings(dlq=url))
    huge = sqs_record("é" * 100_000, message_id="huge")
    response = handler(sqs_event(huge, poison("p1"), good("a")), lambda_context)
    assert failures(response) == ["huge"]
    assert handler.charged == ["a"]
    assert [json.loads(m["Body"])["recordId"] for m in drain(sqs, url, 1)] == ["m-p1"]


def test_large_poison_records_are_split_across_batch_requests(aws, lambda_context):
    """Two 150 KB poison documents fit one message each but not one 256 KiB SendMessageBatch: two requests."""
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName="orders-dlq")["QueueUrl"]
    handler = Charge(settings=Settings(dlq=url))
    big = [sqs_record("y" * 150_000, message_id=f"big-{n}") for n in range(2)]
    with AwsCounter("sqs") as counter:
        assert handler(sqs_event(*big), lambda_context) == {"batchItemFailures": []}
    assert [len(c.params["Entries"]) for c in counter.of("SendMessageBatch")] == [1, 1]
    assert sorted(json.loads(m["Body"])["recordId"] for m in drain(sqs, url, 2)) == ["big-0", "big-1"]


# -- what a poison message carries -------------------------------------------------------------------------------------


def test_poison_message_attributes_carry_reason_error_type_and_trace(aws, lambda_context):
    """eventweave-reason / -error-type allow filtering without parsing; the trace continues the record's chain."""
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName="orders-dlq")["QueueUrl"]
    handler = Charge(settings=Settings(dlq=url))
    traced = sqs_record(
        {"order_id": "t", "amount": -3},
        message_id="m-t",
        attributes=trace_sqs_attributes("corr-42", 2, causation="m-parent"),
    )
    untraced = sqs_record({"order_id": "u"}, message_id="m-u")  # no amount: validation error
    assert handler(sqs_event(traced, untraced), lambda_context) == {"batchItemFailures": []}
    by_id = {json.loads(m["Body"])["recordId"]: m for m in drain(sqs, url, 2)}

    attrs = attrs_of(by_id["m-t"])
    assert attrs["eventweave-reason"] == "permanent-error"
    assert attrs["eventweave-error-type"] == "PermanentError"
    assert attrs["eventweave-correlation-id"] == "corr-42"
    assert attrs["eventweave-causation-id"] == "m-t"  # the poison message was caused by the record
    assert attrs["eventweave-hops"] == "2"
    doc = json.loads(by_id["m-t"]["Body"])
    assert (doc["correlationId"], doc["hops"], doc["messageId"]) == ("corr-42", 2, "m-t")
    assert "negative amount" in doc["errorMessage"]

    attrs = attrs_of(by_id["m-u"])
    assert (attrs["eventweave-reason"], attrs["eventweave-error-type"]) == ("validation-error", "ValidationError")
    assert attrs["eventweave-correlation-id"] == "m-u"  # an untraced record starts its chain at its own id


# -- streams send poison at once, in order -----------------------------------------------------------------------------


class Reading(BaseModel):
    n: int


class Track(KinesisHandler[Reading]):
    """Remembers how many DLQ sends had happened when each reading was handled; n == 5 fails (retryable)."""

    def __init__(self, counter: AwsCounter, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.counter = counter
        self.seen: list[tuple[int, int]] = []

    def handle(self, reading: Reading, ctx: KinesisRecordContext) -> None:
        self.seen.append((reading.n, self.counter["SendMessageBatch"]))
        if reading.n == 5:
            raise RuntimeError("downstream unavailable")


def test_kinesis_poison_is_sent_immediately_in_order(aws, lambda_context):
    """A stream handler stores each poison record before handling the next record (its checkpoint depends on it);
    the DLQ body holds the source record as Lambda delivered it, with the stream's ARN."""
    kinesis, sqs = aws("kinesis"), aws("sqs")
    kinesis.create_stream(StreamName="readings", ShardCount=1)
    description = kinesis.describe_stream(StreamName="readings")["StreamDescription"]
    stream_arn = description["StreamARN"]
    payloads = [b'{"n": 1}', b"not json", b'{"n": 3}', b'{"n": "four"}', b'{"n": 5}', b"also not json"]
    seqs = [kinesis.put_record(StreamName="readings", Data=p, PartitionKey="p")["SequenceNumber"] for p in payloads]
    url = sqs.create_queue(QueueName="readings-dlq")["QueueUrl"]
    records = [kinesis_record(p, sequence_number=s, stream="readings") for p, s in zip(payloads, seqs, strict=True)]
    assert all(r["eventSourceARN"] == stream_arn for r in records)

    with AwsCounter("sqs") as counter:
        handler = Track(counter, settings=Settings(dlq=url))
        response = handler(kinesis_event(*records), lambda_context)

    assert failures(response) == [seqs[4]]  # Lambda checkpoints there; the last record is never reached
    assert handler.seen == [(1, 0), (3, 1), (5, 2)]
    assert [len(c.params["Entries"]) for c in counter.of("SendMessageBatch")] == [1, 1]
    sent = [json.loads(c.params["Entries"][0]["MessageBody"]) for c in counter.of("SendMessageBatch")]
    assert [d["recordId"] for d in sent] == [seqs[1], seqs[3]]
    docs = {json.loads(m["Body"])["recordId"]: json.loads(m["Body"]) for m in drain(sqs, url, 2)}
    for index in (1, 3):
        doc = docs[seqs[index]]
        assert doc["record"] == records[index]
        assert (doc["eventSource"], doc["eventSourceARN"], doc["reason"]) == (
            "aws:kinesis",
            stream_arn,
            "validation-error",
        )

"""StreamFailureHandler.fetch_records reads a discarded batch back from a (moto) Kinesis or DynamoDB stream."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from eventweave.handlers import BatchFailedError, Settings, SqsRecordContext, StreamFailureHandler, StreamFailureRecord
from eventweave.handlers.clients import client
from tests.factories import sqs_event, sqs_record, stream_failure_record


class Replay(StreamFailureHandler):
    """Fetches every failed batch it is told about."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fetched: list[list[dict[str, Any]]] = []
        self.failures: list[StreamFailureRecord] = []

    def handle(self, failure: StreamFailureRecord, ctx: SqsRecordContext) -> None:
        self.failures.append(failure)
        self.fetched.append(self.fetch_records(failure))


def kinesis_stream(aws: Any, count: int, *, shards: int = 1) -> tuple[str, str, list[str]]:
    """A stream with ``count`` records on its first shard; returns (ARN, shard id, sequence numbers in order)."""
    kinesis = aws("kinesis")
    kinesis.create_stream(StreamName="clicks", ShardCount=shards)
    description = kinesis.describe_stream(StreamName="clicks")["StreamDescription"]
    shard = description["Shards"][0]
    seqs = [
        kinesis.put_record(StreamName="clicks", Data=json.dumps({"n": n}).encode(), PartitionKey=f"pk-{n}",
                           ExplicitHashKey=shard["HashKeyRange"]["StartingHashKey"])["SequenceNumber"]
        for n in range(count)
    ]
    return description["StreamARN"], shard["ShardId"], seqs


def failure_doc(kind: str, arn: str, shard: str, start: str, end: str, size: int) -> dict[str, Any]:
    doc = stream_failure_record(kind=kind, start=start, end=end, size=size)
    info = doc["KinesisBatchInfo" if kind == "kinesis" else "DDBStreamBatchInfo"]
    info.update(streamArn=arn, shardId=shard)
    return doc


def handler() -> Replay:
    return Replay(settings=Settings())


def empty_first_page(monkeypatch: Any, service: str) -> list[dict[str, Any]]:
    """Make eventweave's ``service`` client answer the first GetRecords with an empty page, as AWS documents it may
    ("it might take multiple calls to get to a portion of the shard that contains records"); then the real pages."""
    streams = client(service)
    real = streams.get_records
    calls: list[dict[str, Any]] = []

    def get_records(**kwargs: Any) -> dict[str, Any]:
        calls.append(kwargs)
        if len(calls) == 1:
            page: dict[str, Any] = {"Records": [], "NextShardIterator": kwargs["ShardIterator"]}
            if service == "kinesis":
                page["MillisBehindLatest"] = 60_000  # records remain ahead of the iterator
            return page
        return real(**kwargs)

    monkeypatch.setattr(streams, "get_records", get_records)
    return calls


# -- Kinesis -----------------------------------------------------------------------------------------------------------


def test_fetch_records_returns_exactly_the_failed_kinesis_range(aws):
    """From startSequenceNumber to endSequenceNumber inclusive, in order, with the original Data bytes."""
    arn, shard, seqs = kinesis_stream(aws, 8)
    failure = StreamFailureRecord.model_validate(failure_doc("kinesis", arn, shard, seqs[2], seqs[5], 4))
    records = handler().fetch_records(failure)
    assert [r["SequenceNumber"] for r in records] == seqs[2:6]
    assert [json.loads(r["Data"]) for r in records] == [{"n": n} for n in range(2, 6)]
    assert [r["PartitionKey"] for r in records] == [f"pk-{n}" for n in range(2, 6)]


@pytest.mark.parametrize(("first", "last"), [(0, 0), (0, 7), (7, 7), (3, 4)])
def test_fetch_records_kinesis_range_edges(aws, first, last):
    """Single-record batches and batches at either end of the shard come back whole and alone."""
    arn, shard, seqs = kinesis_stream(aws, 8)
    failure = StreamFailureRecord.model_validate(
        failure_doc("kinesis", arn, shard, seqs[first], seqs[last], last - first + 1))
    assert [r["SequenceNumber"] for r in handler().fetch_records(failure)] == seqs[first:last + 1]


def test_fetch_records_reads_only_the_failed_shard(aws):
    """Records on another shard of the stream are not part of the failed batch."""
    kinesis = aws("kinesis")
    arn, shard, seqs = kinesis_stream(aws, 4, shards=2)
    other = kinesis.describe_stream(StreamName="clicks")["StreamDescription"]["Shards"][1]
    kinesis.put_record(StreamName="clicks", Data=b'{"n": 99}', PartitionKey="other",
                       ExplicitHashKey=other["HashKeyRange"]["StartingHashKey"])
    failure = StreamFailureRecord.model_validate(failure_doc("kinesis", arn, shard, seqs[0], seqs[3], 4))
    records = handler().fetch_records(failure)
    assert [json.loads(r["Data"]) for r in records] == [{"n": n} for n in range(4)]


def test_fetch_records_respects_the_limit(aws):
    """``limit`` caps how many records are returned, even when one page holds more."""
    arn, shard, seqs = kinesis_stream(aws, 8)
    failure = StreamFailureRecord.model_validate(failure_doc("kinesis", arn, shard, seqs[0], seqs[7], 8))
    records = handler().fetch_records(failure, limit=3)
    assert [r["SequenceNumber"] for r in records] == seqs[:3]


def test_fetch_records_reads_past_an_empty_kinesis_page(aws, monkeypatch):
    """An empty GetRecords page with records still ahead (MillisBehindLatest > 0) does not end the batch early."""
    arn, shard, seqs = kinesis_stream(aws, 4)
    failure = StreamFailureRecord.model_validate(failure_doc("kinesis", arn, shard, seqs[0], seqs[3], 4))
    calls = empty_first_page(monkeypatch, "kinesis")
    records = handler().fetch_records(failure)
    assert len(calls) >= 2
    assert [r["SequenceNumber"] for r in records] == seqs


def test_failure_consumer_fed_by_sqs_fetches_the_batch(aws):
    """The on-failure record arriving as an SQS body is parsed to StreamFailureRecord and its batch is read back."""
    arn, shard, seqs = kinesis_stream(aws, 5)
    doc = failure_doc("kinesis", arn, shard, seqs[1], seqs[3], 3)
    replay = handler()
    assert replay(sqs_event(sqs_record(doc, message_id="f-1")), None) == {"batchItemFailures": []}
    ((failure,), (records,)) = (replay.failures, replay.fetched)
    assert failure.stream_kind == "kinesis"
    assert failure.request_context.condition == "RetryAttemptsExhausted"
    assert (failure.batch_info.batch_size, failure.batch_info.stream_arn) == (3, arn)
    assert [r["SequenceNumber"] for r in records] == seqs[1:4]


def test_a_batch_no_longer_retained_fails_the_record_for_retry(aws):
    """A stream that is gone cannot be read: the failure record is retried (reported failed), not lost."""
    doc = stream_failure_record(kind="kinesis", start="1", end="5")
    replay = handler()
    with pytest.raises(BatchFailedError):
        replay(sqs_event(sqs_record(doc, message_id="f-1")), None)


# -- DynamoDB Streams (moto supports AT_SEQUENCE_NUMBER iterators) -----------------------------------------------------


def ddb_stream(aws: Any, moto_endpoint: str, count: int) -> tuple[str, str, list[str]]:
    """A table with a stream and ``count`` inserts; returns (stream ARN, shard id, sequence numbers in order)."""
    aws("dynamodb").create_table(
        TableName="accounts",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    table = boto3.resource("dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1").Table("accounts")
    for n in range(count):
        table.put_item(Item={"id": f"a-{n}", "n": n})
    streams = aws("dynamodbstreams")
    arn = table.latest_stream_arn
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    return arn, shard, [r["dynamodb"]["SequenceNumber"] for r in records]


def test_fetch_records_returns_exactly_the_failed_dynamodb_range(aws, moto_endpoint):
    """DDBStreamBatchInfo: the stream records from start to end inclusive, images in DynamoDB JSON."""
    arn, shard, seqs = ddb_stream(aws, moto_endpoint, 6)
    assert len(seqs) == 6
    failure = StreamFailureRecord.model_validate(failure_doc("dynamodb", arn, shard, seqs[1], seqs[4], 4))
    assert failure.stream_kind == "dynamodb"
    records = handler().fetch_records(failure)
    assert [r["dynamodb"]["SequenceNumber"] for r in records] == seqs[1:5]
    assert [r["eventName"] for r in records] == ["INSERT"] * 4
    assert [r["dynamodb"]["NewImage"]["id"] for r in records] == [{"S": f"a-{n}"} for n in range(1, 5)]


def test_fetch_records_dynamodb_single_record_batch(aws, moto_endpoint):
    """A one-record batch at the end of the shard comes back alone."""
    arn, shard, seqs = ddb_stream(aws, moto_endpoint, 3)
    failure = StreamFailureRecord.model_validate(failure_doc("dynamodb", arn, shard, seqs[2], seqs[2], 1))
    assert [r["dynamodb"]["SequenceNumber"] for r in handler().fetch_records(failure)] == seqs[2:]


def test_fetch_records_reads_past_an_empty_dynamodb_page(aws, moto_endpoint, monkeypatch):
    """An empty DynamoDB Streams page before the batch's records does not end the read early."""
    arn, shard, seqs = ddb_stream(aws, moto_endpoint, 3)
    failure = StreamFailureRecord.model_validate(failure_doc("dynamodb", arn, shard, seqs[0], seqs[2], 3))
    calls = empty_first_page(monkeypatch, "dynamodbstreams")
    records = handler().fetch_records(failure)
    assert len(calls) >= 2
    assert [r["dynamodb"]["SequenceNumber"] for r in records] == seqs

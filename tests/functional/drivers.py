"""Helpers for functional tests against moto: count eventweave's AWS requests, and play Lambda's event source mappings.

* :class:`AwsCounter` counts the requests one of eventweave's shared clients makes, per operation, through botocore's
  ``before-call`` / ``after-call`` events, so a test can assert what a batch costs (1 BatchGetItem, 2 writes per
  record...).
* :func:`lambda_sqs_event` / :class:`QueueDriver` turn messages received from a moto queue into the event Lambda's SQS
  mapping delivers, invoke a handler and delete what it did not report failed.
* :func:`lambda_ddb_event` / :class:`DynamoStreamDriver` do the same for a DynamoDB stream read with the
  ``dynamodbstreams`` client, checkpointing at the first reported failure.
* :func:`atomic_dynamodb` makes moto's DynamoDB execute one request at a time, as DynamoDB's per-request atomicity
  guarantees; moto checks a condition and writes in separate Python steps (and restores a deep copy of the whole
  table when a transaction is cancelled), so concurrent clients could otherwise see writes DynamoDB never allows.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from eventweave.handlers.clients import client
from eventweave.testing.events import sqs_record_from_message

__all__ = [
    "REGION",
    "AwsCounter",
    "DynamoStreamDriver",
    "QueueDriver",
    "atomic_dynamodb",
    "drain",
    "lambda_ddb_event",
    "lambda_sqs_event",
    "lambda_sqs_record",
    "queue_arn",
]

REGION = "us-east-1"
WRITE_OPERATIONS = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")


# -- counting requests -------------------------------------------------------------------------------------------------


@dataclass
class Call:
    """One request made through the counted client: its operation, API parameters and HTTP status."""

    operation: str
    params: dict[str, Any]
    status: int | None = None


@dataclass
class AwsCounter:
    """Counts the requests eventweave's ``service`` client makes, by operation.

    It hooks the client ``eventweave.handlers.clients.client(service)`` returns now, so create it after the ``aws``
    fixture has reset the clients. Thread-safe: handlers on several threads share that client.

    Example::

        with AwsCounter("dynamodb") as ddb:
            handler(event, context)
        assert ddb["BatchGetItem"] == 1 and ddb.writes == 2 * len(event["Records"])
    """

    service: str
    calls: list[Call] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _pending: threading.local = field(default_factory=threading.local, repr=False)

    def __post_init__(self) -> None:
        self._events = client(self.service).meta.events
        self._hooks = (
            (f"before-parameter-build.{self.service}", self._params),
            (f"before-call.{self.service}", self._before),
            (f"after-call.{self.service}", self._after),
        )
        for event, hook in self._hooks:
            self._events.register(event, hook, unique_id=f"aws-counter-{event}-{id(self)}")

    def _params(self, params: dict[str, Any], **_: Any) -> None:
        # before-call sees the serialised HTTP request; the API parameters are only visible before they are built.
        self._pending.params = params

    def _before(self, model: Any, **_: Any) -> None:
        call = Call(model.name, getattr(self._pending, "params", None) or {})
        self._pending.params = None
        self._pending.call = call
        with self._lock:
            self.calls.append(call)

    def _after(self, http_response: Any, **_: Any) -> None:
        call: Call | None = getattr(self._pending, "call", None)
        if call is not None:
            call.status = getattr(http_response, "status_code", None)
            self._pending.call = None

    def __getitem__(self, operation: str) -> int:
        return self.counts()[operation]

    def counts(self) -> Counter[str]:
        with self._lock:
            return Counter(call.operation for call in self.calls)

    def of(self, operation: str) -> list[Call]:
        with self._lock:
            return [call for call in self.calls if call.operation == operation]

    @property
    def writes(self) -> int:
        counts = self.counts()
        return sum(counts[name] for name in WRITE_OPERATIONS)

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()

    def close(self) -> None:
        for event, _ in self._hooks:
            self._events.unregister(event, unique_id=f"aws-counter-{event}-{id(self)}")

    def __enter__(self) -> AwsCounter:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


# -- moto's DynamoDB, one request at a time ----------------------------------------------------------------------------

_dynamodb_lock = threading.RLock()


@contextmanager
def atomic_dynamodb() -> Iterator[None]:
    """Serialise the in-process moto server's DynamoDB requests while the block runs (see the module docstring)."""
    from moto.dynamodb.responses import DynamoHandler

    real: Callable[[Any], Any] = DynamoHandler.call_action

    def call_action(self: Any) -> Any:
        with _dynamodb_lock:
            return real(self)

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    try:
        yield
    finally:
        DynamoHandler.call_action = real  # type: ignore[method-assign]


# -- SQS: messages -> Lambda event -------------------------------------------------------------------------------------


def queue_arn(sqs: Any, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def lambda_sqs_record(message: dict[str, Any], source_arn: str) -> dict[str, Any]:
    """One message from ``ReceiveMessage`` (all attributes requested) in the shape Lambda's SQS mapping delivers."""
    return sqs_record_from_message(message, source_arn)


def lambda_sqs_event(messages: list[dict[str, Any]], source_arn: str) -> dict[str, Any]:
    return {"Records": [lambda_sqs_record(m, source_arn) for m in messages]}


def drain(sqs: Any, url: str, expected: int, *, extra_polls: int = 2) -> list[dict[str, Any]]:
    """Receive and delete messages until ``expected`` arrived, then poll ``extra_polls`` more times for surplus ones."""
    messages: list[dict[str, Any]] = []
    polls = 0
    while polls < expected + 3:
        page = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], AttributeNames=["All"]
        ).get("Messages", [])
        polls += 1
        messages.extend(page)
        for message in page:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        if len(messages) >= expected and not page:
            extra_polls -= 1
            if extra_polls <= 0:
                break
    assert len(messages) == expected, [m["Body"][:200] for m in messages]
    return messages


@dataclass
class Delivery:
    """What one invocation by a driver got and returned."""

    record_ids: list[str]
    response: Any = None
    error: BaseException | None = None
    failed: list[str] = field(default_factory=list)


class QueueDriver:
    """Lambda's SQS event source mapping in one thread: receive up to 10, invoke, delete the successes.

    A response naming records in ``batchItemFailures`` leaves exactly those on the queue; a raising handler leaves the
    whole batch (Lambda's documented behaviour with ReportBatchItemFailures on).
    """

    def __init__(self, sqs: Any, url: str, handler: Callable[[Any, Any], Any], context: Any = None) -> None:
        self.sqs = sqs
        self.url = url
        self.arn = queue_arn(sqs, url)
        self.handler = handler
        self.context = context

    def deliver_once(self) -> Delivery | None:
        """One poll and one invocation; ``None`` when the queue had nothing visible."""
        messages = self.sqs.receive_message(
            QueueUrl=self.url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            return None
        event = lambda_sqs_event(messages, self.arn)
        delivery = Delivery([m["MessageId"] for m in messages])
        try:
            delivery.response = self.handler(event, self.context)
        except Exception as error:  # the mapping retries the whole batch; the test inspects the error
            delivery.error = error
            delivery.failed = list(delivery.record_ids)
            return delivery
        reported = (delivery.response or {}).get("batchItemFailures") or []
        delivery.failed = [f["itemIdentifier"] for f in reported]
        for message in messages:
            if message["MessageId"] not in delivery.failed:
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return delivery

    def run(self, *, limit: int = 50) -> list[Delivery]:
        """Deliver until the queue is empty (or ``limit`` invocations, so a runaway loop still ends the test)."""
        deliveries: list[Delivery] = []
        for _ in range(limit):
            delivery = self.deliver_once()
            if delivery is None:
                break
            deliveries.append(delivery)
        return deliveries


# -- DynamoDB Streams: stream records -> Lambda event ------------------------------------------------------------------


def lambda_ddb_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A ``GetRecords`` record in Lambda's shape: ``eventSourceARN`` added, the creation time in epoch seconds."""
    body = dict(record["dynamodb"])
    created = body.get("ApproximateCreationDateTime")
    if created is not None and not isinstance(created, int | float):
        body["ApproximateCreationDateTime"] = int(created.timestamp())  # boto3 parsed it into a datetime
    out = {name: value for name, value in record.items() if name != "dynamodb"}
    out["dynamodb"] = body
    out["eventSourceARN"] = stream_arn
    return json.loads(json.dumps(out))  # what Lambda hands over is plain JSON: no datetimes, no shared dicts


def lambda_ddb_event(records: list[dict[str, Any]], stream_arn: str) -> dict[str, Any]:
    return {"Records": [lambda_ddb_record(r, stream_arn) for r in records]}


class DynamoStreamDriver:
    """Lambda's DynamoDB Streams mapping on a one-shard moto stream: read from TRIM_HORIZON, invoke, checkpoint.

    On a reported failure (or a raise) the next read starts again at the first failed sequence number, as Lambda
    checkpoints at the lowest reported one.
    """

    def __init__(self, streams: Any, stream_arn: str, handler: Callable[[Any, Any], Any], context: Any = None) -> None:
        self.streams = streams
        self.arn = stream_arn
        self.handler = handler
        self.context = context
        shards = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
        assert len(shards) == 1, "the driver reads one shard"
        self.shard = shards[0]["ShardId"]
        self.iterator = self._iterator("TRIM_HORIZON")

    def _iterator(self, kind: str, sequence: str | None = None) -> str:
        kwargs: dict[str, Any] = {"StreamArn": self.arn, "ShardId": self.shard, "ShardIteratorType": kind}
        if sequence is not None:
            kwargs["SequenceNumber"] = sequence
        return self.streams.get_shard_iterator(**kwargs)["ShardIterator"]

    def deliver_once(self) -> Delivery | None:
        page = self.streams.get_records(ShardIterator=self.iterator)
        records = page["Records"]
        if not records:
            return None
        event = lambda_ddb_event(records, self.arn)
        delivery = Delivery([r["dynamodb"]["SequenceNumber"] for r in records])
        try:
            delivery.response = self.handler(event, self.context)
        except Exception as error:
            delivery.error = error
            delivery.failed = list(delivery.record_ids)
        else:
            reported = (delivery.response or {}).get("batchItemFailures") or []
            delivery.failed = [f["itemIdentifier"] for f in reported]
        if delivery.failed:
            first = min(delivery.failed, key=int)
            self.iterator = self._iterator("AT_SEQUENCE_NUMBER", first)
        else:
            self.iterator = page["NextShardIterator"]
        return delivery

    def run(self, *, limit: int = 50) -> list[Delivery]:
        deliveries: list[Delivery] = []
        for _ in range(limit):
            delivery = self.deliver_once()
            if delivery is None:
                break
            deliveries.append(delivery)
        return deliveries

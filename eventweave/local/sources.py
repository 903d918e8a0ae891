"""Event source mappings, run by eventweave: SQS, Kinesis and DynamoDB Streams pollers with Lambda's semantics.

moto's own mappings fire synchronously inside ``SendMessage`` with batches of one; these pollers do what Lambda does
instead. SQS: long-poll, batch by size and window, delete only what succeeded, honour partial batch responses (an
unknown or empty ``itemIdentifier`` fails the whole batch), leave failures to reappear after the visibility timeout
so the queue's redrive policy applies; filter criteria delete non-matching messages unseen. Streams: per shard, in
order; checkpoint at the lowest reported sequence number; bisect a failing batch (halves do not use retries);
retry up to ``MaximumRetryAttempts`` / ``MaximumRecordAgeInSeconds``, then send AWS's on-failure record and go on.
Filter patterns use moto's EventBridge pattern matcher.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from eventweave.testing.events import sqs_record_from_message

from .aws import client
from .model import EventSourceMappingSpec, Invoker, InvokeResult, LogSink

__all__ = ["SqsPoller", "StreamPoller", "batch_failures"]

_WAIT_SECONDS = 1  # long-poll slice: bounds how long stop() waits
_SHARD_LIST_SECONDS = 10.0


def _client(service: str, endpoint_url: str, region: str) -> Any:
    return client(service, endpoint_url, region)


def _matcher(patterns: tuple[str, ...]) -> Callable[[dict[str, Any]], bool] | None:
    if not patterns:
        return None
    from moto.events.models import EventPattern

    compiled = [EventPattern.load(p) for p in patterns]
    return lambda record: any(p.matches_event(record) for p in compiled)  # type: ignore[arg-type]


def batch_failures(result: InvokeResult, ids: list[str], *, enabled: bool) -> list[str] | None:
    """The identifiers to retry after ``result``: ``[]`` all succeeded, ``None`` the whole batch failed.

    Follows Lambda's rules for partial batch responses: ignored unless enabled; a null or empty list (or response)
    is success; an empty, null, mis-keyed or unknown ``itemIdentifier`` fails the whole batch.
    """
    if not result.ok:
        return None
    if not enabled:
        return []
    try:
        response = json.loads(result.payload or b"null")
    except ValueError:
        return None
    if not isinstance(response, dict):
        return [] if response is None else None
    failures = response.get("batchItemFailures")
    if not failures:
        return []
    if not isinstance(failures, list):
        return None
    known = set(ids)
    out: list[str] = []
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or not identifier or identifier not in known:
            return None
        out.append(identifier)
    return out


class _PollLoop:
    """A background loop that can be stopped promptly."""

    name = "poller"

    def __init__(self, threads: int) -> None:
        self._threads_wanted = threads
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for i in range(self._threads_wanted):
            thread = threading.Thread(target=self._loop, args=(i,), name=f"{self.name}-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, *, wait: bool = True) -> None:
        """Stop polling. ``wait=False`` returns at once (a stack being destroyed): a thread inside a long poll ends
        when the poll returns, without invoking anything."""
        self._stop.set()
        if wait:
            for thread in self._threads:
                thread.join(timeout=30)
        self._threads.clear()

    def _loop(self, index: int = 0) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception as error:  # a poller must outlive a bad batch or a moto hiccup, loudly
                if self._stop.is_set():
                    return  # the stack is going away: its queue or function may be gone already
                self._log(f"{self.name}: poll failed: {type(error).__name__}: {error}")
                self._stop.wait(0.5)

    def poll_once(self) -> Any:
        raise NotImplementedError

    def _log(self, line: str) -> None:
        raise NotImplementedError


class SqsPoller(_PollLoop):
    """Runs one SQS event source mapping.

    Example::

        poller = SqsPoller(mapping, lambda_service, endpoint_url=endpoint)
        poller.start()
        ...
        poller.stop()
    """

    def __init__(
        self,
        spec: EventSourceMappingSpec,
        invoker: Invoker,
        *,
        endpoint_url: str,
        region: str = "us-east-1",
        log: LogSink | None = None,
        default_concurrency: int = 2,
    ) -> None:
        self.spec = spec
        self.name = f"sqs:{spec.source_arn.rsplit(':', 1)[-1]}->{spec.function_name}"
        self.invoker = invoker
        self.log = log
        self.region = region
        self.sqs = _client("sqs", endpoint_url, region)
        queue_name = spec.source_arn.rsplit(":", 1)[-1]
        account = spec.source_arn.split(":")[4]
        self.queue_url = self.sqs.get_queue_url(QueueName=queue_name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        self.fifo = queue_name.endswith(".fifo")
        self.match = _matcher(spec.filter_patterns)
        self._demand = threading.Event()
        super().__init__(spec.maximum_concurrency or default_concurrency)

    def _loop(self, index: int = 0) -> None:
        """Poller 0 long-polls all the time; the others join while polls return messages (a backlog) and rest
        when the queue is empty, as Lambda scales SQS pollers with the backlog. Idle, a mapping costs one poll."""
        while not self._stop.is_set():
            if index > 0 and not self._demand.is_set():
                self._demand.wait(0.5)
                continue
            try:
                got = self.poll_once()
            except Exception as error:  # a poller must outlive a bad batch or a moto hiccup, loudly
                if self._stop.is_set():
                    return
                self._log(f"{self.name}: poll failed: {type(error).__name__}: {error}")
                self._stop.wait(0.5)
                continue
            if got:
                self._demand.set()
            elif index == 0:
                self._demand.clear()

    def _log(self, line: str) -> None:
        if self.log is not None:
            self.log(line)

    def _receive(self) -> list[dict[str, Any]]:
        wanted = self.spec.batch_size
        window = self.spec.maximum_batching_window_seconds
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + window
        while len(messages) < wanted and not self._stop.is_set():
            remaining = deadline - time.monotonic()
            wait = _WAIT_SECONDS if not messages else max(0, min(_WAIT_SECONDS, int(remaining)))
            response = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, wanted - len(messages)),
                WaitTimeSeconds=wait,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                MessageSystemAttributeNames=["All"],
            )
            got = response.get("Messages", [])
            messages.extend(got)
            if messages and (not got or time.monotonic() >= deadline):
                break
        return messages

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return sqs_record_from_message(message, self.spec.source_arn, self.region)

    def _matches(self, record: dict[str, Any]) -> bool:
        if self.match is None:
            return True
        candidate = dict(record)
        # A plain-text body matches only patterns on the other fields, as in AWS.
        with contextlib.suppress(ValueError):
            candidate["body"] = json.loads(record["body"])
        return self.match(candidate)

    def _delete(self, handles: list[str]) -> None:
        for start in range(0, len(handles), 10):
            chunk = handles[start : start + 10]
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": handle} for i, handle in enumerate(chunk)],
            )

    def poll_once(self) -> int:
        """Receive one batch and deliver it; the number of messages received."""
        messages = self._receive()
        if not messages or self._stop.is_set():
            return 0  # stopping: what was received reappears after its visibility timeout, as on AWS
        records = [self._record(m) for m in messages]
        unmatched = [r["receiptHandle"] for r in records if not self._matches(r)]
        if unmatched:
            self._delete(unmatched)  # AWS drops messages that match no filter, without invoking
            records = [r for r in records if r["receiptHandle"] not in set(unmatched)]
        if not records:
            return len(messages)
        self._deliver(records)
        return len(messages)

    def _deliver(self, records: list[dict[str, Any]]) -> None:
        payload = json.dumps({"Records": records}).encode()
        result = self.invoker.invoke(self.spec.function_name, payload, source="sqs")
        failed = batch_failures(result, [r["messageId"] for r in records], enabled=self.spec.report_batch_item_failures)
        if failed is None:
            return  # the whole batch reappears after the visibility timeout
        keep = set(failed)
        done = [r["receiptHandle"] for r in records if r["messageId"] not in keep]
        if done:
            self._delete(done)


class StreamPoller(_PollLoop):
    """Runs one Kinesis or DynamoDB Streams event source mapping: shard by shard, in order, with checkpoints.

    An idle shard is polled four times a second (DynamoDB Streams' documented rate for Lambda).

    Example::

        poller = StreamPoller(mapping, lambda_service, endpoint_url=endpoint)
        poller.start()
    """

    def __init__(
        self,
        spec: EventSourceMappingSpec,
        invoker: Invoker,
        *,
        endpoint_url: str,
        region: str = "us-east-1",
        log: LogSink | None = None,
        idle_sleep: float = 0.25,
    ) -> None:
        self.spec = spec
        self.kind = spec.source
        self.name = f"{self.kind}:{spec.source_arn.split('/')[1]}->{spec.function_name}"
        self.invoker = invoker
        self.log = log
        self.region = region
        self.endpoint_url = endpoint_url
        self.idle_sleep = idle_sleep
        service = "kinesis" if self.kind == "kinesis" else "dynamodbstreams"
        self.client = _client(service, endpoint_url, region)
        self.match = _matcher(spec.filter_patterns)
        self._iterators: dict[str, str | None] = {}
        self._pending: dict[str, list[dict[str, Any]]] = {}
        self._shard_ids: list[str] = []
        self._shards_listed_at = float("-inf")
        super().__init__(1)

    def _log(self, line: str) -> None:
        if self.log is not None:
            self.log(line)

    # -- shards and records --------------------------------------------------------------------------------------

    def _shards(self) -> list[str]:
        # Shards change rarely (resharding, DynamoDB's rotation every few hours); listing them on every poll would
        # cost more than the poll itself.
        now = time.monotonic()
        if now - self._shards_listed_at < _SHARD_LIST_SECONDS:
            return self._shard_ids
        if self.kind == "kinesis":
            stream = self.spec.source_arn.split("/", 1)[1]
            shards = self.client.list_shards(StreamName=stream)["Shards"]
        else:
            shards = self.client.describe_stream(StreamArn=self.spec.source_arn)["StreamDescription"]["Shards"]
        self._shard_ids = [s["ShardId"] for s in shards]
        self._shards_listed_at = now
        return self._shard_ids

    def _iterator(self, shard: str) -> str | None:
        position = self.spec.starting_position or "TRIM_HORIZON"
        if self.kind == "kinesis":
            stream = self.spec.source_arn.split("/", 1)[1]
            return str(
                self.client.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType=position)[
                    "ShardIterator"
                ]
            )
        return str(
            self.client.get_shard_iterator(StreamArn=self.spec.source_arn, ShardId=shard, ShardIteratorType=position)[
                "ShardIterator"
            ]
        )

    def _record(self, shard: str, raw: dict[str, Any]) -> dict[str, Any]:
        if self.kind == "kinesis":
            data = raw["Data"]
            arrival = raw.get("ApproximateArrivalTimestamp")
            return {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": raw["PartitionKey"],
                    "sequenceNumber": raw["SequenceNumber"],
                    "data": base64.b64encode(data if isinstance(data, bytes) else data.encode()).decode(),
                    "approximateArrivalTimestamp": arrival.timestamp()
                    if isinstance(arrival, dt.datetime)
                    else time.time(),
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{shard}:{raw['SequenceNumber']}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": f"arn:aws:iam::{self.spec.source_arn.split(':')[4]}:role/lambda-role",
                "awsRegion": self.region,
                "eventSourceARN": self.spec.source_arn,
            }
        record: dict[str, Any] = json.loads(json.dumps(raw, default=_json_default))
        record["eventSourceARN"] = self.spec.source_arn
        record.setdefault("awsRegion", self.region)
        record.setdefault("eventSource", "aws:dynamodb")
        return record

    @staticmethod
    def _sequence(record: dict[str, Any]) -> str:
        if "kinesis" in record:
            return str(record["kinesis"]["sequenceNumber"])
        return str(record["dynamodb"]["SequenceNumber"])

    def _arrival(self, record: dict[str, Any]) -> float:
        if "kinesis" in record:
            return float(record["kinesis"]["approximateArrivalTimestamp"])
        return float(record["dynamodb"].get("ApproximateCreationDateTime") or time.time())

    def _fetch(self, shard: str) -> list[dict[str, Any]]:
        pending = self._pending.setdefault(shard, [])
        if len(pending) < self.spec.batch_size:
            iterator = self._iterators.get(shard, "")
            if iterator == "":
                iterator = self._iterators[shard] = self._iterator(shard)
            if iterator is not None:
                response = self.client.get_records(ShardIterator=iterator, Limit=self.spec.batch_size)
                self._iterators[shard] = response.get("NextShardIterator")
                for raw in response.get("Records", []):
                    record = self._record(shard, raw)
                    if self.match is None or self.match(_filterable(record)):
                        pending.append(record)
        return pending[: self.spec.batch_size]

    def poll_once(self) -> None:
        busy = False
        for shard in self._shards():
            if self._stop.is_set():
                return
            batch = self._fetch(shard)
            if not batch:
                continue
            busy = True
            done = self._process(shard, batch)
            del self._pending[shard][:done]
        if not busy:
            self._stop.wait(self.idle_sleep)

    # -- Lambda's error handling for streams ---------------------------------------------------------------------

    def _invoke(self, records: list[dict[str, Any]]) -> tuple[InvokeResult, list[str] | None]:
        payload = json.dumps({"Records": records}).encode()
        result = self.invoker.invoke(self.spec.function_name, payload, source=self.kind)
        ids = [self._sequence(r) for r in records]
        failed = batch_failures(result, ids, enabled=self.spec.report_batch_item_failures)
        return result, failed

    def _process(self, shard: str, batch: list[dict[str, Any]]) -> int:
        """Deliver ``batch`` with retries, bisecting and checkpoints; return how many records are done with."""
        retries = 0
        invokes = 0
        start = 0  # records before ``start`` are checkpointed
        segments = [(0, len(batch))]  # bisected halves still to deliver, in order
        while segments and not self._stop.is_set():
            low, high = segments[0]
            low = max(low, start)
            if low >= high:
                segments.pop(0)
                continue
            records = batch[low:high]
            result, failed = self._invoke(records)
            invokes += 1
            if failed == []:
                segments.pop(0)
                start = high
                retries = 0
                continue
            if failed:
                # Checkpoint at the lowest reported sequence number; retry from there.
                sequences = [self._sequence(r) for r in records]
                first = min(sequences.index(f) for f in failed)
                start = low + first
                segments[0] = (start, high)
            elif self.spec.bisect_batch_on_function_error and high - low > 1:
                middle = low + (high - low) // 2
                segments[0:1] = [(low, middle), (middle, high)]
                continue  # splitting does not use the retry quota
            retries += 1
            if self._exhausted(records, retries):
                condition = "RetryAttemptsExhausted" if not self._too_old(records) else "RecordAgeExceeded"
                self._give_up(shard, batch[start:high], result, invokes, condition)
                segments.pop(0)
                start = high
                retries = 0
            else:
                self._stop.wait(min(1.0, 0.1 * retries))
        return start

    def _too_old(self, records: list[dict[str, Any]]) -> bool:
        age = self.spec.maximum_record_age_seconds
        return age >= 0 and time.time() - self._arrival(records[0]) > age

    def _exhausted(self, records: list[dict[str, Any]], retries: int) -> bool:
        limit = self.spec.maximum_retry_attempts
        return (limit >= 0 and retries > limit) or self._too_old(records)

    def _give_up(
        self, shard: str, records: list[dict[str, Any]], result: InvokeResult, invokes: int, condition: str
    ) -> None:
        if not records:
            return
        info_key = "KinesisBatchInfo" if self.kind == "kinesis" else "DDBStreamBatchInfo"
        first, last = records[0], records[-1]

        def iso(seconds: float) -> str:
            return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

        document = {
            "requestContext": {
                "requestId": result.request_id or str(uuid.uuid4()),
                "functionArn": self._function_arn(),
                "condition": condition,
                "approximateInvokeCount": invokes,
            },
            "responseContext": {
                "statusCode": result.status_code,
                "executedVersion": "$LATEST",
                "functionError": result.function_error or "Unhandled",
            },
            "version": "1.0",
            "timestamp": iso(time.time()),
            info_key: {
                "shardId": shard,
                "startSequenceNumber": self._sequence(first),
                "endSequenceNumber": self._sequence(last),
                "approximateArrivalOfFirstRecord": iso(self._arrival(first)),
                "approximateArrivalOfLastRecord": iso(self._arrival(last)),
                "batchSize": len(records),
                "streamArn": self.spec.source_arn,
            },
        }
        destination = self.spec.on_failure
        if destination is None:
            self._log(
                f"{self.name}: discarded {len(records)} record(s) {self._sequence(first)}..{self._sequence(last)} "
                f"({condition}); no on-failure destination is configured"
            )
            return
        body = json.dumps(document)
        if destination.service == "sqs":
            sqs = _client("sqs", self.endpoint_url, self.region)
            name = destination.arn.rsplit(":", 1)[-1]
            url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=destination.arn.split(":")[4])["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody=body)
        elif destination.service == "sns":
            _client("sns", self.endpoint_url, self.region).publish(TopicArn=destination.arn, Message=body)
        else:
            raise ValueError(f"{self.name}: on-failure destination {destination.arn} is not an SQS queue or SNS topic")
        self._log(f"{self.name}: {len(records)} record(s) sent to {destination.arn} ({condition})")

    def _function_arn(self) -> str:
        parts = self.spec.source_arn.split(":")
        return f"arn:aws:lambda:{parts[3]}:{parts[4]}:function:{self.spec.function_name}"


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, set):
        return sorted(value)
    return str(value)


def _filterable(record: dict[str, Any]) -> dict[str, Any]:
    """The record as filter patterns see it: Kinesis ``data`` decoded as JSON when it is JSON."""
    if "kinesis" not in record:
        return record
    candidate: dict[str, Any] = json.loads(json.dumps(record))
    with contextlib.suppress(ValueError):
        candidate["data"] = json.loads(base64.b64decode(record["kinesis"]["data"]))
    return candidate

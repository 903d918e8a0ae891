"""Kinesis and DynamoDB Streams event source mappings, run by eventweave with Lambda's semantics.

Per shard, in order; checkpoint at the lowest reported sequence number; bisect a failing batch (halves do not use
retries); retry up to ``MaximumRetryAttempts`` / ``MaximumRecordAgeInSeconds``, then send AWS's on-failure record and
go on. Records are built by :mod:`eventweave.wire`; a failed poll is counted, journaled and retried with backoff
(:class:`~eventweave.local.sources.FailureCounter`).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import time
import uuid
from typing import Any, Literal

from eventweave.wire.destinations import stream_failure_record
from eventweave.wire.dynamodb import stream_record
from eventweave.wire.kinesis import kinesis_record

from .aws import client as _client
from .model import EventSourceMappingSpec, Invoker, InvokeResult, LogSink
from .sources import PollLoop, batch_failures, event_matcher, poll_step
from .trace import Journal

__all__ = ["StreamPoller", "dynamodb_stream_record"]

_SHARD_LIST_SECONDS = 10.0


class StreamPoller(PollLoop):
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
        journal: Journal | None = None,
        idle_sleep: float = 0.25,
    ) -> None:
        self.spec = spec
        if spec.source == "sqs":
            raise ValueError(f"{spec.source_arn} is an SQS queue: SqsPoller runs its mapping")
        self.kind: Literal["kinesis", "dynamodb"] = spec.source
        self.name = f"{self.kind}:{spec.source_arn.split('/')[1]}->{spec.function_name}"
        self.queue = spec.source_arn
        self.invoker = invoker
        self.log = log
        self.journal = journal
        self.region = region
        self.endpoint_url = endpoint_url
        self.idle_sleep = idle_sleep
        service = "kinesis" if self.kind == "kinesis" else "dynamodbstreams"
        self.client = _client(service, endpoint_url, region)
        self.match = event_matcher(spec.filter_patterns)
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
            with poll_step("ListShards"):
                shards = self.client.list_shards(StreamName=stream)["Shards"]
        else:
            with poll_step("DescribeStream"):
                shards = self.client.describe_stream(StreamArn=self.spec.source_arn)["StreamDescription"]["Shards"]
        self._shard_ids = [s["ShardId"] for s in shards]
        self._shards_listed_at = now
        return self._shard_ids

    def _iterator(self, shard: str) -> str | None:
        with poll_step("GetShardIterator"):
            return self._new_iterator(shard)

    def _new_iterator(self, shard: str) -> str | None:
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
        """A ``GetRecords`` record (as boto3 parses it) as Lambda delivers it, built by :mod:`eventweave.wire`."""
        if self.kind == "kinesis":
            data = raw["Data"]
            arrival = raw.get("ApproximateArrivalTimestamp")
            return kinesis_record(
                bytes(data) if isinstance(data, bytes | bytearray) else str(data).encode(),
                sequence_number=str(raw["SequenceNumber"]),
                stream_arn=self.spec.source_arn,
                partition_key=str(raw["PartitionKey"]),
                shard_id=shard,
                arrival=_epoch(arrival),
                region=self.region,
            )
        return dynamodb_stream_record(raw, stream_arn=self.spec.source_arn, region=self.region)

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
                with poll_step("GetRecords"):
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
            if result.status_code == 429:
                # Throttled before the function ran: retried until the records expire, not counted as an attempt.
                if self._too_old(records):
                    self._give_up(shard, batch[start:high], result, invokes, "RecordAgeExceeded")
                    segments.pop(0)
                    start = high
                    continue
                self._stop.wait(0.2)
                continue
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
        first, last = records[0], records[-1]
        document = stream_failure_record(
            kind=self.kind,
            stream_arn=self.spec.source_arn,
            shard_id=shard,
            start_sequence=self._sequence(first),
            end_sequence=self._sequence(last),
            first_arrival=self._arrival(first),
            last_arrival=self._arrival(last),
            batch_size=len(records),
            request_id=result.request_id or str(uuid.uuid4()),
            function_arn=self._function_arn(),
            condition=condition,
            invoke_count=invokes,
            status_code=result.status_code,
            function_error=result.function_error or "Unhandled",
        )
        destination = self.spec.on_failure
        if destination is None:
            self._log(
                f"{self.name}: discarded {len(records)} record(s) {self._sequence(first)}..{self._sequence(last)} "
                f"({condition}); no on-failure destination is configured"
            )
            return
        body = json.dumps(document, separators=(",", ":"))
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


def _epoch(value: Any) -> float | None:
    """A boto3 timestamp (datetime) or a number as epoch seconds; ``None`` when there is none."""
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value)
    return None


def _dynamodb_json(value: Any) -> Any:
    """DynamoDB JSON as boto3 parses it (``B`` / ``BS`` values as bytes) back in the wire's form (base64 text)."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, dict):
        return {name: _dynamodb_json(item) for name, item in value.items()}
    if isinstance(value, list):
        return [_dynamodb_json(item) for item in value]
    return value


def dynamodb_stream_record(raw: dict[str, Any], *, stream_arn: str, region: str) -> dict[str, Any]:
    """A DynamoDB Streams ``GetRecords`` record (as boto3 parses it) as Lambda delivers it.

    Normalised through :func:`eventweave.wire.dynamodb.stream_record`: ``eventVersion`` ``"1.1"`` (moto says
    ``"1.0"``), ``ApproximateCreationDateTime`` in whole epoch seconds (boto3 parses a datetime, moto keeps
    milliseconds), ``B`` / ``BS`` values base64 text, ``eventSourceARN`` added, images the view type does not carry
    left out; ``eventID``, ``SequenceNumber``, ``SizeBytes`` and ``userIdentity`` (TTL deletions) as the stream gave
    them.
    """
    body = raw.get("dynamodb") or {}
    new_image, old_image = body.get("NewImage"), body.get("OldImage")
    return stream_record(
        str(raw["eventName"]),
        keys=_dynamodb_json(body.get("Keys") or {}),
        sequence_number=str(body["SequenceNumber"]),
        stream_arn=stream_arn,
        new_image=_dynamodb_json(new_image) if new_image is not None else None,
        old_image=_dynamodb_json(old_image) if old_image is not None else None,
        view=str(body.get("StreamViewType") or "NEW_AND_OLD_IMAGES"),
        region=str(raw.get("awsRegion") or region),
        event_id=raw.get("eventID"),
        created=_epoch(body.get("ApproximateCreationDateTime")),
        size_bytes=int(body["SizeBytes"]) if isinstance(body.get("SizeBytes"), int) else None,
        user_identity=raw.get("userIdentity"),
    )


def _filterable(record: dict[str, Any]) -> dict[str, Any]:
    """The record as filter patterns see it: Kinesis ``data`` decoded as JSON when it is JSON."""
    if "kinesis" not in record:
        return record
    candidate: dict[str, Any] = json.loads(json.dumps(record))
    with contextlib.suppress(ValueError):
        candidate["data"] = json.loads(base64.b64decode(record["kinesis"]["data"]))
    return candidate

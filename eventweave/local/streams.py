"""Kinesis and DynamoDB Streams event source mappings, run by eventweave with Lambda's semantics.

Per shard one reader and ``ParallelizationFactor`` workers (lanes): the reader fetches records and deals them out by
partition key (Kinesis: the record's ``PartitionKey``; DynamoDB: the item's ``Keys``), so a key's records stay in order
and different keys of one shard run concurrently. A shard's checkpoint advances only past records every lane is done
with; an expired iterator is replaced by one from the checkpoint, without losing or repeating a record. A shard that
appears later (resharding, a new DynamoDB shard) gets its workers from its first record on, after its parents are read
to their end; a closed shard read to its end stops.

Per batch, Lambda's error handling: bisect a failing batch (halves do not use retries); a partial batch response
checkpoints at the lowest reported sequence number; retry up to ``MaximumRetryAttempts`` /
``MaximumRecordAgeInSeconds``, then send AWS's on-failure record and go on. Records are built by
:mod:`eventweave.wire`; a failed poll is counted, journaled and retried with backoff
(:class:`~eventweave.local.sources.FailureCounter`).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import threading
import time
import uuid
import zlib
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Literal

from eventweave.wire.destinations import stream_failure_record
from eventweave.wire.dynamodb import stream_record
from eventweave.wire.kinesis import kinesis_record

from .aws import client as _client
from .model import EventSourceMappingSpec, Invoker, InvokeResult, LogSink
from .sources import PollError, PollLoop, batch_failures, event_matcher, poll_step
from .trace import Journal

__all__ = ["StreamPoller", "dynamodb_stream_record", "lane"]

_SHARD_LIST_SECONDS = 10.0
_MAX_FACTOR = 10
_GET_RECORDS_LIMIT = {"kinesis": 10_000, "dynamodb": 1_000}
_LANE_WAIT = 1.0  # an idle lane re-checks for stop this often (stop() also wakes it)


def lane(record: dict[str, Any], factor: int) -> int:
    """Which of a shard's ``factor`` concurrent workers delivers ``record`` (a record as Lambda delivers it).

    Kinesis records go by ``partitionKey``, DynamoDB records by the item's ``Keys``: the same key always gets the
    same worker, so its records keep their order.

    Example::

        lane({"kinesis": {"partitionKey": "tenant-1", ...}, ...}, 2)   # 0 or 1, always the same for tenant-1
    """
    if factor <= 1:
        return 0
    if "kinesis" in record:
        key = str(record["kinesis"]["partitionKey"])
    else:
        key = json.dumps(record["dynamodb"].get("Keys") or {}, sort_keys=True)
    return zlib.crc32(key.encode()) % factor


@dataclass(eq=False)
class _Lane:
    queue: deque[dict[str, Any]] = field(default_factory=deque)
    """Records dealt to this lane, not yet in a batch, in stream order."""
    in_flight: int = 0
    """Records of the batch being delivered now."""


@dataclass(eq=False)
class _Shard:
    """One shard's position and in-memory records; guarded by the poller's condition."""

    id: str
    parents: tuple[str, ...]
    start_position: str
    lanes: list[_Lane]
    closed: bool = False
    """The listing gives the shard an ending sequence number: nothing more is written to it."""
    iterator: str | None = None
    positioned: bool = False
    """``iterator`` is current; ``False``: the reader gets one from the checkpoint first."""
    ever_read: bool = False
    read_to_end: bool = False
    checkpoint: str | None = None
    """The last record that it and every record before it are done with (delivered, given up on or filtered out)."""
    last_read: str | None = None
    """The last record the reader took from the stream (at or after the checkpoint)."""
    outstanding: OrderedDict[str, bool] = field(default_factory=OrderedDict)
    """Records read after the checkpoint, in stream order -> done."""
    running: bool = False

    @property
    def finished(self) -> bool:
        return self.read_to_end and not self.outstanding

    def rewind(self, factor: int) -> None:
        """Forget what is in memory: a new run (with ``factor`` lanes) reads again from the checkpoint."""
        self.lanes = [_Lane() for _ in range(factor)]
        self.outstanding.clear()
        self.last_read = self.checkpoint
        self.iterator, self.positioned, self.ever_read, self.read_to_end = None, False, False, False


class StreamPoller(PollLoop):
    """Runs one Kinesis or DynamoDB Streams event source mapping: per shard a reader and ``ParallelizationFactor``
    workers, order kept per partition key, checkpoints per shard.

    An idle shard is polled four times a second (DynamoDB Streams' documented rate for Lambda).

    Example::

        poller = StreamPoller(mapping, lambda_service, endpoint_url=endpoint)
        poller.start()
        poller.busy()          # [] once every shard is caught up
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
        journal: Journal | None = None,
        idle_sleep: float = 0.25,
    ) -> None:
        self.spec = spec
        if spec.source == "sqs":
            raise ValueError(f"{spec.source_arn} is an SQS queue: SqsPoller runs its mapping")
        if not 1 <= spec.parallelization_factor <= _MAX_FACTOR:
            raise ValueError(
                f"{spec.uuid}: ParallelizationFactor {spec.parallelization_factor} is not between 1 and {_MAX_FACTOR}"
            )
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
        self.factor = spec.parallelization_factor
        self._buffer = 2 * spec.batch_size * self.factor
        """Records a shard may hold in memory: a full batch in flight per lane and the next one read."""
        self._cond = threading.Condition()
        self._shards: dict[str, _Shard] = {}
        self._listed = False
        self._started = False
        self._relist = threading.Event()
        super().__init__(1)

    def _log(self, line: str) -> None:
        if self.log is not None:
            self.log(line)

    # -- running -------------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start reading: a thread lists the shards and starts each shard's reader and workers. A poller stopped with
        ``wait=True`` may be started again; it goes on from each shard's checkpoint."""
        with self._cond:
            if self._started:
                return
            self._started = True
            self._stop.clear()
            self._relist.clear()
            for shard in self._shards.values():
                shard.rewind(self.factor)
                shard.running = False
        self._spawn(self._supervise, f"{self.name}-shards")

    def take_over(self, previous: StreamPoller) -> None:
        """Go on where ``previous``, a stopped poller of the same stream (its mapping since updated), left off: each
        shard from its checkpoint, not from ``StartingPosition`` again, as an updated mapping does on AWS. Call before
        :meth:`start`; the ParallelizationFactor may differ.

        Example::

            old.stop()
            new = StreamPoller(updated_mapping, lambda_service, endpoint_url=endpoint)
            new.take_over(old)
            new.start()
        """
        if previous.spec.source_arn != self.spec.source_arn:
            raise ValueError(f"{self.name}: cannot take over {previous.name}, a poller of another stream")
        with previous._cond:
            if previous._started:
                raise ValueError(f"{self.name}: {previous.name} is still running; stop it first")
            shards = dict(previous._shards)
        with self._cond:
            if self._started:
                raise ValueError(f"{self.name} is running already")
            self._shards = shards

    def stop(self, *, wait: bool = True) -> None:
        """Stop polling. ``wait=False`` returns at once (a stack being destroyed): a batch in flight finishes without
        moving on, and a reader inside a poll ends when the poll returns."""
        self._stop.set()
        self._relist.set()
        with self._cond:
            self._cond.notify_all()
            threads = list(self._threads)
        if wait:
            for thread in threads:
                thread.join(timeout=30)
        with self._cond:
            self._threads.clear()
            self._started = False

    def _spawn(self, target: Any, name: str, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        with self._cond:
            self._threads[:] = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    # -- what the rest of the local cloud may ask ----------------------------------------------------------------

    def busy(self) -> list[str]:
        """Why this mapping is not caught up, one line each; ``[]`` when every shard is (nothing read and not done,
        no batch in flight, nothing in the stream past what was read). A stopped poller is never busy."""
        with self._cond:
            if not self._started or self._stop.is_set():
                return []
            if not self._listed:
                return ["shards not listed yet"]
            shards = [self._snapshot(shard) for shard in self._shards.values() if not shard.finished]
            known = set(self._shards)
        out: list[str] = []
        live: list[tuple[str, str, str | None]] = []
        for shard_id, undone, waiting, in_flight, ever_read, positioned, iterator, last_read in shards:
            if undone:
                out.append(f"shard {shard_id}: {undone} record(s) not done ({waiting} waiting, {in_flight} in a batch)")
            elif not ever_read:
                out.append(f"shard {shard_id} not read yet")
            elif not positioned or iterator is None:
                out.append(f"shard {shard_id}: getting a new iterator")
            else:
                live.append((shard_id, iterator, last_read))
        if out:
            return out
        # Everything read is done: ask the stream whether there is more (written after the last read, or to a shard
        # the last listing did not have).
        for shard_id, iterator, last_read in live:
            try:
                records = self.client.get_records(ShardIterator=iterator, Limit=1).get("Records", [])
            except Exception as error:  # an expired or superseded iterator: the reader is getting a new one
                out.append(f"shard {shard_id} position unknown ({type(error).__name__})")
                continue
            if records and (last_read is None or int(self._raw_sequence(records[0])) > int(last_read)):
                out.append(f"shard {shard_id} has records the poller has not read")
        try:
            unknown = [s["ShardId"] for s in self._list_shards() if s["ShardId"] not in known]
        except Exception as error:  # the stream is going away with its stack
            out.append(f"shards unknown ({type(error).__name__})")
        else:
            if unknown:
                self._relist.set()
                out.extend(f"shard {shard_id} not listed yet" for shard_id in unknown)
        return out

    def caught_up(self) -> bool:
        """Whether every shard is caught up: :meth:`busy` has nothing to say."""
        return not self.busy()

    def checkpoints(self) -> dict[str, str | None]:
        """Each shard's checkpoint: the sequence number of the last record that it and all before it are done with
        (``None``: nothing yet)."""
        with self._cond:
            return {shard.id: shard.checkpoint for shard in self._shards.values()}

    @staticmethod
    def _snapshot(shard: _Shard) -> tuple[str, int, int, int, bool, bool, str | None, str | None]:
        undone = sum(1 for done in shard.outstanding.values() if not done)
        waiting = sum(len(lane.queue) for lane in shard.lanes)
        in_flight = sum(lane.in_flight for lane in shard.lanes)
        return (
            shard.id,
            undone,
            waiting,
            in_flight,
            shard.ever_read,
            shard.positioned,
            shard.iterator,
            shard.last_read,
        )

    # -- shards --------------------------------------------------------------------------------------------------

    def _list_shards(self) -> list[dict[str, Any]]:
        if self.kind == "kinesis":
            stream = self.spec.source_arn.split("/", 1)[1]
            with poll_step("ListShards"):
                return list(self.client.list_shards(StreamName=stream)["Shards"])
        with poll_step("DescribeStream"):
            return list(self.client.describe_stream(StreamArn=self.spec.source_arn)["StreamDescription"]["Shards"])

    def _supervise(self) -> None:
        """List the shards now, then every ten seconds or when asked (a shard read to its end, an unknown shard
        seen): shards change rarely (resharding, DynamoDB's rotation every few hours)."""
        consecutive = 0
        while not self._stop.is_set():
            self._relist.clear()
            try:
                listing = self._list_shards()
            except Exception as error:  # a poller must outlive a moto hiccup, loudly
                if self._stop.is_set():
                    return
                consecutive += 1
                self._stop.wait(self.failures.failed(error, consecutive))
                continue
            consecutive = 0
            self._adopt(listing)
            self._relist.wait(_SHARD_LIST_SECONDS)

    def _adopt(self, listing: list[dict[str, Any]]) -> None:
        with self._cond:
            if self._stop.is_set():
                return
            # Shards there when the mapping starts begin at its starting position; a shard that appears later is read
            # from its first record, so nothing written to it before it was listed is missed.
            position = (self.spec.starting_position or "TRIM_HORIZON") if not self._listed else "TRIM_HORIZON"
            for description in listing:
                shard_id = str(description["ShardId"])
                shard = self._shards.get(shard_id)
                if shard is None:
                    parents = tuple(
                        str(description[key])
                        for key in ("ParentShardId", "AdjacentParentShardId")
                        if description.get(key)
                    )
                    shard = _Shard(shard_id, parents, position, [_Lane() for _ in range(self.factor)])
                    self._shards[shard_id] = shard
                shard.closed = "EndingSequenceNumber" in (description.get("SequenceNumberRange") or {})
                if not shard.running and not shard.finished:
                    shard.running = True
                    self._spawn(self._read, f"{self.name}:{shard_id}-reader", shard)
                    for index, worker in enumerate(shard.lanes):
                        self._spawn(self._work, f"{self.name}:{shard_id}-lane{index}", shard, worker)
            self._listed = True
            self._cond.notify_all()

    def _parents_done(self, shard: _Shard) -> bool:
        # A parent no longer listed has been trimmed: nothing of it is left to read first.
        return all(parent not in self._shards or self._shards[parent].finished for parent in shard.parents)

    # -- reading -------------------------------------------------------------------------------------------------

    def _read(self, shard: _Shard) -> None:
        """A shard's reader: fetch records, deal them to the lanes, until the shard is closed and read to its end."""
        consecutive = 0
        while not self._stop.is_set():
            try:
                if self._read_once(shard):
                    return
            except Exception as error:  # a poller must outlive a moto hiccup, loudly
                if self._stop.is_set():
                    return
                with self._cond:
                    # The iterator may be what failed (moto answers an unknown one with HTTP 500): take a new one
                    # from the checkpoint; records already read are not taken twice.
                    shard.positioned = False
                consecutive += 1
                self._stop.wait(self.failures.failed(error, consecutive))
                continue
            consecutive = 0

    def _read_once(self, shard: _Shard) -> bool:
        """One read of ``shard``; ``True`` once it is read to its end."""
        with self._cond:
            if shard.read_to_end:
                return True
            room = self._buffer - len(shard.outstanding)
            if room <= 0 or not self._parents_done(shard):
                # A full buffer waits for a lane to finish a batch; a child shard for its parents to be read to the
                # end and done with, as Lambda reads a parent shard before its children.
                self._cond.wait(self.idle_sleep)
                return False
            iterator, positioned, checkpoint = shard.iterator, shard.positioned, shard.checkpoint
        if not positioned:
            with poll_step("GetShardIterator"):
                iterator = self._new_iterator(shard, checkpoint)
            with self._cond:
                shard.iterator, shard.positioned = iterator, True
        if iterator is None:  # no position in a closed shard past its end
            with self._cond:
                shard.read_to_end = True
            return False
        try:
            with poll_step("GetRecords"):
                response = self.client.get_records(
                    ShardIterator=iterator, Limit=min(room, _GET_RECORDS_LIMIT[self.kind])
                )
        except PollError as error:
            if not _expired(error.cause):
                raise
            where = f"after {checkpoint}" if checkpoint is not None else f"at {shard.start_position}"
            self._log(f"{self.name}: shard {shard.id}: iterator expired; a new one from the checkpoint ({where})")
            with self._cond:
                shard.positioned = False
            return False
        raws = response.get("Records", [])
        fresh: list[tuple[str, dict[str, Any] | None]] = []
        last = shard.last_read  # only this thread changes it
        for raw in raws:
            sequence = self._raw_sequence(raw)
            if last is not None and int(sequence) <= int(last):
                continue  # read again after a new iterator from the checkpoint: it is in memory already
            last = sequence
            record = self._record(shard.id, raw)
            fresh.append((sequence, record if self.match is None or self.match(_filterable(record)) else None))
        following = response.get("NextShardIterator")
        with self._cond:
            shard.iterator = following
            shard.ever_read = True
            for sequence, kept in fresh:
                shard.last_read = sequence
                # A record the filters drop is done with unseen: the checkpoint goes past it.
                shard.outstanding[sequence] = kept is None
                if kept is not None:
                    shard.lanes[lane(kept, self.factor)].queue.append(kept)
            _advance(shard)
            if following is None or (shard.closed and not raws):
                shard.read_to_end = True
            end = shard.read_to_end
            self._cond.notify_all()
        if end:
            self._relist.set()  # its children may be listed now
            return True
        if not raws:
            self._stop.wait(self.idle_sleep)
        return False

    def _new_iterator(self, shard: _Shard, checkpoint: str | None) -> str | None:
        """An iterator just after ``checkpoint``, or at the shard's starting position when nothing is done yet."""
        where: dict[str, Any] = {"ShardId": shard.id}
        if self.kind == "kinesis":
            where["StreamName"] = self.spec.source_arn.split("/", 1)[1]
        else:
            where["StreamArn"] = self.spec.source_arn
        if checkpoint is None:
            where["ShardIteratorType"] = shard.start_position
        else:
            where["ShardIteratorType"] = "AFTER_SEQUENCE_NUMBER"
            where["StartingSequenceNumber" if self.kind == "kinesis" else "SequenceNumber"] = checkpoint
        iterator = self.client.get_shard_iterator(**where).get("ShardIterator")
        return None if iterator is None else str(iterator)

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

    def _raw_sequence(self, raw: dict[str, Any]) -> str:
        if self.kind == "kinesis":
            return str(raw["SequenceNumber"])
        return str(raw["dynamodb"]["SequenceNumber"])

    @staticmethod
    def _sequence(record: dict[str, Any]) -> str:
        if "kinesis" in record:
            return str(record["kinesis"]["sequenceNumber"])
        return str(record["dynamodb"]["SequenceNumber"])

    def _arrival(self, record: dict[str, Any]) -> float:
        if "kinesis" in record:
            return float(record["kinesis"]["approximateArrivalTimestamp"])
        return float(record["dynamodb"].get("ApproximateCreationDateTime") or time.time())

    # -- delivering ----------------------------------------------------------------------------------------------

    def _work(self, shard: _Shard, worker: _Lane) -> None:
        """One lane of a shard: deliver its records in order, a batch at a time, and mark them done."""
        consecutive = 0
        while True:
            with self._cond:
                while not self._stop.is_set() and not worker.queue and not shard.finished:
                    self._cond.wait(_LANE_WAIT)
                if self._stop.is_set() or not worker.queue:
                    return
                batch = [worker.queue.popleft() for _ in range(min(len(worker.queue), self.spec.batch_size))]
                worker.in_flight = len(batch)
            failure: Exception | None = None
            try:
                done = self._process(shard.id, batch)
            except Exception as error:  # the invoker or the on-failure destination failed: deliver the batch again
                failure, done = error, 0
            with self._cond:
                for record in batch[:done]:
                    shard.outstanding[self._sequence(record)] = True
                worker.queue.extendleft(reversed(batch[done:]))
                worker.in_flight = 0
                _advance(shard)
                self._cond.notify_all()
            if failure is not None:
                if self._stop.is_set():
                    return
                consecutive += 1
                self._stop.wait(self.failures.failed(failure, consecutive))
            else:
                consecutive = 0

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


def _advance(shard: _Shard) -> None:
    """Move the checkpoint past the done records at the front (a record still in a lane's batch holds it)."""
    outstanding = shard.outstanding
    while outstanding:
        sequence, done = next(iter(outstanding.items()))
        if not done:
            return
        outstanding.popitem(last=False)
        shard.checkpoint = sequence


def _expired(error: BaseException) -> bool:
    response = getattr(error, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return code == "ExpiredIteratorException"


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

"""Stream event source mappings against the embedded data plane, with a scripted invoker instead of worker processes:
shards run concurrently, ParallelizationFactor keeps order per partition key, bisect / retries / record age end in
AWS's on-failure record (Kinesis and DynamoDB Streams alike), an expired iterator is replaced without losing or
repeating a record, and a shard's checkpoint waits for its slowest lane."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from eventweave.local.aws import client
from eventweave.local.gateway import DataPlane
from eventweave.local.model import DestinationSpec, EventSourceMappingSpec, InvokeResult
from eventweave.local.streams import StreamPoller, lane
from eventweave.testing import wait_until
from eventweave.wire.records import StreamFailureRecord

REGION = "us-east-1"
ACCOUNT = "123456789012"
KINDS = ["kinesis", "dynamodb"]
WAIT = 15.0


@pytest.fixture(scope="module")
def plane() -> Iterator[DataPlane]:
    with DataPlane() as running:
        yield running


class Source:
    """A Kinesis stream or a DynamoDB table's stream (NEW_AND_OLD_IMAGES): ``put(key, label)`` writes one record with
    that partition key (Kinesis) or item key (DynamoDB) whose payload names it ``label``."""

    def __init__(self, plane: DataPlane, kind: str, *, shards: int = 1) -> None:
        self.kind = kind
        self.name = f"streams-{uuid.uuid4().hex[:8]}"
        if kind == "kinesis":
            self.kinesis = client("kinesis", plane.endpoint, REGION)
            self.kinesis.create_stream(StreamName=self.name, ShardCount=shards)
            self.arn = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{self.name}"
        else:
            assert shards == 1, "a DynamoDB table's stream has one shard in moto"
            self.ddb = client("dynamodb", plane.endpoint, REGION)
            self.arn = self.ddb.create_table(
                TableName=self.name,
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
                StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
            )["TableDescription"]["LatestStreamArn"]

    def put(self, key: str, label: str, *, hash_key: int | None = None) -> None:
        if self.kind == "kinesis":
            extra = {"ExplicitHashKey": str(hash_key)} if hash_key is not None else {}
            self.kinesis.put_record(StreamName=self.name, Data=label.encode(), PartitionKey=key, **extra)
        else:
            self.ddb.put_item(TableName=self.name, Item={"pk": {"S": key}, "label": {"S": label}})

    def lane_of(self, key: str, factor: int) -> int:
        """The lane :func:`lane` gives this source's records of ``key``."""
        if self.kind == "kinesis":
            return lane({"kinesis": {"partitionKey": key}}, factor)
        return lane({"dynamodb": {"Keys": {"pk": {"S": key}}}}, factor)

    def keys_in_two_lanes(self, factor: int = 2) -> tuple[str, str]:
        candidates = [f"key-{n}" for n in range(100)]
        first = candidates[0]
        other = next(k for k in candidates if self.lane_of(k, factor) != self.lane_of(first, factor))
        return first, other


def label_of(record: dict[str, Any]) -> str:
    if "kinesis" in record:
        return base64.b64decode(record["kinesis"]["data"]).decode()
    return str(record["dynamodb"]["NewImage"]["label"]["S"])


def sequence_of(record: dict[str, Any]) -> str:
    if "kinesis" in record:
        return str(record["kinesis"]["sequenceNumber"])
    return str(record["dynamodb"]["SequenceNumber"])


class Handler:
    """An Invoker that calls ``react(labels)`` for each batch (the labels of its records, in order); ``react`` may
    block, and returning ``False`` makes the invocation a function error."""

    def __init__(self, react: Callable[[list[str]], bool | None] | None = None) -> None:
        self.react = react or (lambda labels: None)
        self.batches: list[list[str]] = []
        self.sequences: dict[str, str] = {}
        self._cond = threading.Condition()

    def invoke(
        self, function_name: str, payload: bytes, *, source: str = "direct", request_id: str | None = None
    ) -> InvokeResult:
        records = json.loads(payload)["Records"]
        labels = [label_of(r) for r in records]
        with self._cond:
            self.batches.append(labels)
            self.sequences.update((label_of(r), sequence_of(r)) for r in records)
            self._cond.notify_all()
        if self.react(labels) is False:
            return InvokeResult(
                200, b'{"errorMessage": "boom", "errorType": "RuntimeError"}', "Unhandled", request_id=str(uuid.uuid4())
            )
        return InvokeResult(200, b"null", request_id=str(uuid.uuid4()))

    def delivered(self) -> list[str]:
        with self._cond:
            return [label for batch in self.batches for label in batch]

    def wait_for(self, *labels: str, timeout: float = WAIT) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not set(labels) <= {label for batch in self.batches for label in batch}:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out waiting for {labels}; delivered {self.batches}")
                self._cond.wait(remaining)


def poller_for(plane: DataPlane, source: Source, handler: Handler, **spec: Any) -> StreamPoller:
    options: dict[str, Any] = {"starting_position": "TRIM_HORIZON", "batch_size": 10} | spec
    mapping = EventSourceMappingSpec(uuid=str(uuid.uuid4()), function_name="streams", source_arn=source.arn, **options)
    lines: list[str] = []
    poller = StreamPoller(mapping, handler, endpoint_url=plane.endpoint, idle_sleep=0.05, log=lines.append)
    poller.lines = lines  # type: ignore[attr-defined]
    return poller


def failure_queue(plane: DataPlane) -> tuple[str, str]:
    name = f"on-failure-{uuid.uuid4().hex[:8]}"
    url = client("sqs", plane.endpoint, REGION).create_queue(QueueName=name)["QueueUrl"]
    return url, f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


def failure_records(plane: DataPlane, url: str) -> list[dict[str, Any]]:
    sqs = client("sqs", plane.endpoint, REGION)
    messages = wait_until(
        lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", []),
        timeout=WAIT,
        what="the on-failure record",
    )
    return [json.loads(m["Body"]) for m in messages]


@pytest.fixture
def running() -> Iterator[Callable[[StreamPoller], StreamPoller]]:
    """Start pollers; stop every one of them at the end of the test, whatever happened."""
    started: list[StreamPoller] = []

    def start(poller: StreamPoller) -> StreamPoller:
        started.append(poller)
        poller.start()
        return poller

    yield start
    for poller in started:
        poller.stop()


def test_a_slow_batch_on_one_shard_does_not_hold_up_another_shard(plane, running):
    source = Source(plane, "kinesis", shards=2)
    slow_started, release = threading.Event(), threading.Event()

    def react(labels: list[str]) -> None:
        if "slow" in labels:
            slow_started.set()
            release.wait(WAIT)

    handler = Handler(react)
    source.put("p", "slow", hash_key=0)  # shard 0's hash range starts at 0
    running(poller_for(plane, source, handler))
    try:
        assert slow_started.wait(WAIT)
        source.put("p", "fast", hash_key=2**127 + 1)  # shard 1
        handler.wait_for("fast")  # delivered while shard 0's batch is still running
        assert not release.is_set()
    finally:
        release.set()
    handler.wait_for("slow", "fast")
    assert sorted(handler.delivered()) == ["fast", "slow"]


@pytest.mark.parametrize("kind", KINDS)
def test_parallelization_factor_two_keeps_order_per_key_and_runs_two_keys_at_once(plane, running, kind):
    source = Source(plane, kind)
    a, b = source.keys_in_two_lanes(2)
    b_done = threading.Event()
    waited: list[bool] = []

    def react(labels: list[str]) -> None:
        if "b3" in labels:
            b_done.set()
        if "a1" in labels:
            # a's first batch finishes only once b's last record was delivered: impossible unless b's lane runs
            # while a's batch is in flight.
            waited.append(b_done.wait(WAIT))

    handler = Handler(react)
    for n in (1, 2, 3):
        source.put(a, f"a{n}")
        source.put(b, f"b{n}")
    poller = running(poller_for(plane, source, handler, batch_size=2, parallelization_factor=2))
    handler.wait_for("a1", "a2", "a3", "b1", "b2", "b3")
    wait_until(poller.caught_up, timeout=WAIT, what="the poller caught up")
    assert waited == [True]
    delivered = handler.delivered()
    assert [x for x in delivered if x.startswith("a")] == ["a1", "a2", "a3"]
    assert [x for x in delivered if x.startswith("b")] == ["b1", "b2", "b3"]
    assert all(len({label[0] for label in batch}) == 1 for batch in handler.batches), handler.batches
    assert sorted(delivered) == ["a1", "a2", "a3", "b1", "b2", "b3"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_failing_batch_is_bisected_down_to_the_failing_record(plane, running, kind):
    source = Source(plane, kind)
    handler = Handler(lambda labels: "r2" not in labels)
    for n in range(4):
        source.put(f"k{n}", f"r{n}")
    poller = running(poller_for(plane, source, handler, bisect_batch_on_function_error=True, maximum_retry_attempts=1))
    handler.wait_for("r3")
    wait_until(poller.caught_up, timeout=WAIT, what="the poller caught up")
    # Halves use no retries; alone, the failing record runs 1 + MaximumRetryAttempts times, then the shard goes on.
    assert handler.batches == [["r0", "r1", "r2", "r3"], ["r0", "r1"], ["r2", "r3"], ["r2"], ["r2"], ["r3"]]
    assert any("discarded 1 record(s)" in line and "RetryAttemptsExhausted" in line for line in poller.lines)


@pytest.mark.parametrize("kind", KINDS)
def test_exhausted_retries_send_the_on_failure_record_and_the_shard_goes_on(plane, running, kind):
    source = Source(plane, kind)
    url, arn = failure_queue(plane)
    handler = Handler(lambda labels: "bad" not in labels)
    source.put("k1", "bad")
    source.put("k2", "good")
    poller = running(poller_for(plane, source, handler, maximum_retry_attempts=2, on_failure=DestinationSpec(arn)))
    (document,) = failure_records(plane, url)
    source.put("k3", "after")
    handler.wait_for("after")
    wait_until(poller.caught_up, timeout=WAIT, what="the poller caught up")
    assert handler.batches == [["bad", "good"]] * 3 + [["after"]]
    shard = next(iter(poller.checkpoints()))
    assert poller.checkpoints() == {shard: handler.sequences["after"]}
    assert ("KinesisBatchInfo" if kind == "kinesis" else "DDBStreamBatchInfo") in document
    failure = StreamFailureRecord.model_validate(document)
    assert failure.stream_kind == kind
    info = failure.batch_info
    assert (info.shard_id, info.start_sequence_number, info.end_sequence_number, info.batch_size) == (
        shard,
        handler.sequences["bad"],
        handler.sequences["good"],
        2,
    )
    assert info.stream_arn == source.arn
    assert failure.request_context.condition == "RetryAttemptsExhausted"
    assert failure.request_context.approximate_invoke_count == 3
    assert failure.response_context is not None and failure.response_context.function_error == "Unhandled"


@pytest.mark.parametrize("kind", KINDS)
def test_a_record_older_than_the_maximum_age_goes_to_on_failure_as_record_age_exceeded(plane, running, kind):
    source = Source(plane, kind)
    url, arn = failure_queue(plane)
    handler = Handler(lambda labels: False)
    source.put("k1", "old")
    running(poller_for(plane, source, handler, maximum_record_age_seconds=1, on_failure=DestinationSpec(arn)))
    (document,) = failure_records(plane, url)
    failure = StreamFailureRecord.model_validate(document)
    assert failure.request_context.condition == "RecordAgeExceeded"
    assert failure.batch_info.start_sequence_number == handler.sequences["old"]
    # Retries are unlimited (-1): only the age ended them.
    assert failure.request_context.approximate_invoke_count == len(handler.batches) >= 1


class ExpiringClient:
    """The poller's client, but ``get_records`` raises ExpiredIteratorException once after :meth:`arm`; the
    ``get_shard_iterator`` requests are recorded."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.armed = threading.Event()
        self.raised = threading.Event()
        self.iterator_requests: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def arm(self) -> None:
        self.armed.set()

    def get_records(self, **kwargs: Any) -> Any:
        if self.armed.is_set() and not self.raised.is_set():
            self.raised.set()
            error = {"Error": {"Code": "ExpiredIteratorException", "Message": "Iterator expired at 1700000000000"}}
            raise self.real.exceptions.ExpiredIteratorException(error, "GetRecords")
        return self.real.get_records(**kwargs)

    def get_shard_iterator(self, **kwargs: Any) -> Any:
        self.iterator_requests.append(kwargs)
        return self.real.get_shard_iterator(**kwargs)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("in_flight", [False, True], ids=["all-checkpointed", "a-batch-in-flight"])
def test_an_expired_iterator_is_replaced_from_the_checkpoint_without_loss_or_duplicates(
    plane, running, kind, in_flight
):
    source = Source(plane, kind)
    release = threading.Event()

    def react(labels: list[str]) -> None:
        if in_flight and "r1" in labels:
            release.wait(WAIT)

    handler = Handler(react)
    source.put("k", "r1")
    poller = poller_for(plane, source, handler)
    expiring = poller.client = ExpiringClient(poller.client)
    running(poller)
    handler.wait_for("r1")
    source.put("k", "r2")
    if in_flight:
        # r1's batch runs, r2 is read and waits behind it (same key, same lane): the checkpoint is before r1.
        wait_until(lambda: any("2 record(s) not done" in line for line in poller.busy()), timeout=WAIT, what="r2 read")
    else:
        handler.wait_for("r2")
        wait_until(lambda: set(poller.checkpoints().values()) == {handler.sequences["r2"]}, timeout=WAIT, what="r2")
    checkpoint = next(iter(poller.checkpoints().values()))
    before = len(expiring.iterator_requests)
    expiring.arm()
    assert expiring.raised.wait(WAIT)
    source.put("k", "r3")
    release.set()
    handler.wait_for("r1", "r2", "r3")
    wait_until(poller.caught_up, timeout=WAIT, what="the poller caught up")
    assert sorted(handler.delivered()) == ["r1", "r2", "r3"]  # each once
    assert handler.delivered() == ["r1", "r2", "r3"]
    (request,) = expiring.iterator_requests[before:]
    if in_flight:
        assert checkpoint is None and request["ShardIteratorType"] == "TRIM_HORIZON"
    else:
        assert request["ShardIteratorType"] == "AFTER_SEQUENCE_NUMBER"
        number = request["StartingSequenceNumber" if kind == "kinesis" else "SequenceNumber"]
        assert number == checkpoint == handler.sequences["r2"]
    assert any("iterator expired" in line for line in poller.lines)
    assert poller.receive_failures == 0  # an expired iterator is routine, not a failed poll


@pytest.mark.parametrize("kind", KINDS)
def test_the_checkpoint_does_not_pass_a_record_an_unfinished_lane_holds(plane, running, kind):
    source = Source(plane, kind)
    a, b = source.keys_in_two_lanes(2)
    release = threading.Event()

    def react(labels: list[str]) -> None:
        if "a1" in labels:
            release.wait(WAIT)

    handler = Handler(react)
    source.put(b, "b0")
    source.put(a, "a1")
    source.put(b, "b1")
    source.put(b, "b2")
    poller = running(poller_for(plane, source, handler, parallelization_factor=2))
    try:
        handler.wait_for("a1", "b2")
        # b's lane is done with b0..b2; a1, between b0 and b1, is still in its batch.
        wait_until(lambda: any("1 record(s) not done" in line for line in poller.busy()), timeout=WAIT, what="b done")
        (shard,) = poller.checkpoints()
        assert poller.checkpoints() == {shard: handler.sequences["b0"]}
        assert not poller.caught_up()
    finally:
        release.set()
    wait_until(lambda: poller.checkpoints() == {shard: handler.sequences["b2"]}, timeout=WAIT, what="checkpoint b2")
    wait_until(poller.caught_up, timeout=WAIT, what="the poller caught up")


def test_busy_names_what_is_not_done_and_a_stopped_poller_is_quiet(plane):
    source = Source(plane, "kinesis")
    release = threading.Event()
    handler = Handler(lambda labels: release.wait(WAIT) and None)  # blocks until released, then succeeds
    poller = poller_for(plane, source, handler)
    assert poller.busy() == []  # not started: nothing will happen
    source.put("k", "r1")
    poller.start()
    try:
        handler.wait_for("r1")
        assert poller.busy() == ["shard shardId-000000000000: 1 record(s) not done (0 waiting, 1 in a batch)"]
    finally:
        release.set()
    wait_until(poller.caught_up, timeout=WAIT, what="the poller caught up")
    poller.stop()
    source.put("k", "r2")
    assert poller.busy() == []


def test_a_parallelization_factor_outside_one_to_ten_is_refused(plane):
    source = Source(plane, "kinesis")
    mapping = EventSourceMappingSpec(uuid="m", function_name="f", source_arn=source.arn, parallelization_factor=11)
    with pytest.raises(ValueError, match="ParallelizationFactor 11"):
        StreamPoller(mapping, Handler(), endpoint_url=plane.endpoint)


def _restart(first: StreamPoller, plane: DataPlane, source: Source, handler: Handler, how: str) -> StreamPoller:
    if how == "same poller":
        return first
    second = poller_for(plane, source, handler, parallelization_factor=2)
    if how == "take_over":
        second.take_over(first)
    else:  # what eventweave.local.cloud does today when a mapping is updated: hand the shard states over directly
        second._shards = dict(first._shards)
    return second


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("how", ["same poller", "take_over", "shards handed over"])
def test_a_restarted_or_replacing_poller_goes_on_from_the_checkpoints(plane, running, kind, how):
    source = Source(plane, kind)
    a, b = source.keys_in_two_lanes(2)
    handler = Handler()
    source.put(a, "r1")
    first = poller_for(plane, source, handler, starting_position="TRIM_HORIZON")
    first.start()
    handler.wait_for("r1")
    wait_until(first.caught_up, timeout=WAIT, what="the first poller caught up")
    first.stop()
    source.put(a, "r2")
    source.put(b, "r3")
    second = running(_restart(first, plane, source, handler, how))
    handler.wait_for("r2", "r3")
    wait_until(second.caught_up, timeout=WAIT, what="the second poller caught up")
    assert sorted(handler.delivered()) == ["r1", "r2", "r3"]  # r1 not again: it was checkpointed
    assert second.checkpoints() == {next(iter(second.checkpoints())): handler.sequences["r3"]}


def test_take_over_refuses_a_running_poller_or_another_stream(plane, running):
    source, other = Source(plane, "kinesis"), Source(plane, "kinesis")
    first = running(poller_for(plane, source, Handler()))
    with pytest.raises(ValueError, match="still running"):
        poller_for(plane, source, Handler()).take_over(first)
    with pytest.raises(ValueError, match="another stream"):
        poller_for(plane, other, Handler()).take_over(first)


@pytest.fixture
def kinesis_routes_to_open_shards(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Call it after resharding: moto routes a record to the first shard whose hash range holds its key, closed ones
    included (a split parent would get every later record); Kinesis writes only to open shards. Explicit hash keys
    only."""

    def enable() -> None:
        from moto.kinesis.models import Stream

        def route(stream: Any, partition_key: str, explicit_hash_key: str) -> Any:
            key = int(explicit_hash_key)
            return next(s for s in stream.shards.values() if s.is_open and s.starting_hash <= key <= s.ending_hash)

        monkeypatch.setattr(Stream, "get_shard_for_key", route)

    return enable


def test_after_a_split_the_children_are_read_once_the_parent_is_done_and_the_parent_stops(
    plane, running, monkeypatch, kinesis_routes_to_open_shards
):
    import eventweave.local.streams as streams

    monkeypatch.setattr(streams, "_SHARD_LIST_SECONDS", 0.2)  # list often: the children appear while r1 runs
    source = Source(plane, "kinesis")
    parent_done = threading.Event()
    release = threading.Event()
    order: list[tuple[str, bool]] = []

    def react(labels: list[str]) -> None:
        order.extend((label, parent_done.is_set()) for label in labels)
        if "r1" in labels:
            release.wait(WAIT)
            parent_done.set()

    handler = Handler(react)
    source.put("p", "r1", hash_key=1)
    poller = running(poller_for(plane, source, handler))
    try:
        handler.wait_for("r1")
        parent = "shardId-000000000000"
        source.kinesis.split_shard(StreamName=source.name, ShardToSplit=parent, NewStartingHashKey=str(2**127))
        kinesis_routes_to_open_shards()
        source.put("p", "r2", hash_key=2**127 + 5)  # the second child
        children = wait_until(
            lambda: [s for s in poller.checkpoints() if s != parent] or None, timeout=WAIT, what="the children"
        )
        assert len(children) == 2
        # The parent's reader ends once its closed shard is read to the end (its lane still runs r1): by then the
        # children, listed in the same listing, are waiting for it, and not read while r1 is in flight.
        reader = f"{poller.name}:{parent}-reader"
        wait_until(lambda: all(t.name != reader for t in threading.enumerate()), timeout=WAIT, what="parent read")
        assert {line for line in poller.busy() if "not read yet" in line} == {
            f"shard {child} not read yet" for child in children
        }
    finally:
        release.set()
    handler.wait_for("r1", "r2")
    wait_until(poller.caught_up, timeout=WAIT, what="the poller caught up")
    assert order == [("r1", False), ("r2", True)]
    prefix = f"{poller.name}:{parent}-"
    wait_until(
        lambda: not any(t.name.startswith(prefix) for t in threading.enumerate()),
        timeout=WAIT,
        what="the parent's reader and lane to stop",
    )
    assert any(t.name.startswith(f"{poller.name}:{children[0]}-") for t in threading.enumerate())

"""Property-based fuzzing of every handler entry point with malformed and hostile events.

Each test feeds one entry point events drawn from ``tests/fuzz/strategies.py`` (valid AWS shapes, then damaged) with
an in-memory dead-letter double that delivers, refuses some or all entries, or is not configured, and checks:

1. no unexpected crash: only BatchFailedError, RecordFailedError or InvalidEventError, each where it belongs;
2. a well-formed response: ``batchItemFailures`` items with non-empty string ids of records in the batch, at most
   one for streams;
3. accounting: each record is processed, dead-lettered, reported, implied-retried (after a stream checkpoint, or in a
   blocked FIFO group, which is reported too), or the whole invocation raised; nothing is dropped;
4. poison reaches the DLQ with a known reason and the original record; refused poison is reported instead;
5. a top-level event the source cannot read raises InvalidEventError unless the DLQ stored it.

Records still clean after generation also have their exact fate checked (processed, retried, which poison reason).
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventweave.handlers import (
    IGNORED,
    BatchFailedError,
    DestinationHandler,
    DynamoDBStreamHandler,
    EventBridgeHandler,
    InvalidEventError,
    InvokeHandler,
    KinesisHandler,
    RecordFailedError,
    Settings,
    SnsHandler,
    SqsFifoHandler,
    SqsHandler,
    StreamFailureHandler,
    on_event,
)
from eventweave.handlers.poison import REASONS, PoisonEntry
from tests.fuzz.strategies import (
    ROUTES,
    Cancel,
    Case,
    Item,
    act,
    ddb_cases,
    destination_cases,
    eventbridge_cases,
    expected_fate,
    invoke_cases,
    kinesis_cases,
    malformed_cases,
    sns_cases,
    sqs_cases,
    stream_failure_cases,
)

FUZZ = settings(
    max_examples=150,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    report_multiple_bugs=False,  # one minimal example per test: shrinking several distinct bugs costs minutes
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
SETTINGS = Settings(dlq="https://sqs.us-east-1.amazonaws.com/123456789012/fuzz-dlq", function_name="fuzz-fn")


# -- recording handlers --------------------------------------------------------------------------------------------


class Recording:
    """Mixin: remembers every record ``handle`` was called with (``ctx.record``), and how the call ended."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls: list[tuple[Any, str, Any]] = []

    def track(self, ctx: Any, action: str, key: str) -> Any:
        return self.tracked(ctx, lambda: act(action, key))

    def tracked(self, ctx: Any, call: Any) -> Any:
        try:
            result = call()
        except Exception:
            self.calls.append((ctx.record, "raised", None))
            raise
        self.calls.append((ctx.record, "ok", result))
        return result


class FuzzSqs(Recording, SqsHandler[Item]):
    def handle(self, item: Item, ctx: Any) -> Any:
        return self.track(ctx, item.action, item.key)


class FuzzSqsRouted(Recording, SqsHandler[Item]):
    """Routes only: a body that is not an EventBridge event of a routed type is unhandled-event-type poison."""

    @on_event("ItemPlaced")
    def placed(self, item: Item, ctx: Any) -> Any:
        return self.track(ctx, item.action, item.key)

    @on_event("ItemCancelled")
    def cancelled(self, item: Cancel, ctx: Any) -> Any:
        return self.track(ctx, item.action, item.key)


class FuzzSqsFifo(Recording, SqsFifoHandler[Item]):
    def handle(self, item: Item, ctx: Any) -> Any:
        return self.track(ctx, item.action, item.key)


class FuzzStreamFailures(Recording, StreamFailureHandler):
    def handle(self, failure: Any, ctx: Any) -> Any:
        request_id = failure.request_context.request_id
        return self.track(ctx, request_id.split(":", 1)[0], request_id)


class FuzzSns(Recording, SnsHandler[Item]):
    def handle(self, item: Item, ctx: Any) -> Any:
        return self.track(ctx, item.action, item.key)


class FuzzEventBridge(Recording, EventBridgeHandler[Item]):
    def handle(self, item: Item, ctx: Any) -> Any:
        return self.track(ctx, item.action, item.key)


class FuzzEventBridgeRouted(Recording, EventBridgeHandler):
    @on_event("ItemPlaced")
    def placed(self, item: Item, ctx: Any) -> Any:
        return self.track(ctx, item.action, item.key)

    @on_event("ItemCancelled")
    def cancelled(self, item: Cancel, ctx: Any) -> Any:
        return self.track(ctx, item.action, item.key)


class FuzzEventBridgeRoutedWithFallback(FuzzEventBridgeRouted, EventBridgeHandler[Item]):
    def handle(self, item: Item, ctx: Any) -> Any:
        return self.track(ctx, item.action, item.key)


class FuzzKinesis(Recording, KinesisHandler[Item]):
    def handle(self, item: Item, ctx: Any) -> Any:
        return self.track(ctx, item.action, item.key)


class FuzzDynamoDB(Recording, DynamoDBStreamHandler[Item]):
    """Keeps the base class's dispatch by event name; records every change it is given."""

    def handle(self, message: Any, ctx: Any) -> Any:
        return self.tracked(ctx, lambda: DynamoDBStreamHandler.handle(self, message, ctx))

    def on_insert(self, new: Item, ctx: Any) -> Any:
        return act(new.action, new.key)

    def on_modify(self, new: Item | None, old: Item | None, ctx: Any) -> Any:
        item = new or old
        assert item is not None
        return act(item.action, item.key)

    def on_remove(self, old: Item, ctx: Any) -> Any:
        return act(old.action, old.key)


class FuzzInvoke(Recording, InvokeHandler[Item]):
    def handle(self, item: Item, ctx: Any) -> Any:
        return self.track(ctx, item.action, item.key)


class FuzzDestination(Recording, DestinationHandler[Item]):
    def handle(self, record: Any, ctx: Any) -> Any:
        return self.track(ctx, record.request_payload.action, record.request_payload.key)


# -- running and observing -----------------------------------------------------------------------------------------


@dataclass
class Fate:
    """What happened to one record of the batch."""

    ok: int = 0
    raised: int = 0
    offers: list[tuple[PoisonEntry, bool]] = field(default_factory=list)

    @property
    def processed(self) -> bool:
        return self.ok == 1

    @property
    def delivered(self) -> bool:
        return any(ok for _, ok in self.offers)

    @property
    def touched(self) -> bool:
        return bool(self.ok or self.raised or self.offers)

    @property
    def failed(self) -> bool:
        return not self.processed and not self.delivered


@dataclass
class Run:
    """One invocation: what it returned or raised, the event as it was before, and each record's fate."""

    case: Case
    handler: Any
    result: Any
    error: BaseException | None
    snapshot: Any
    fates: list[Fate]


def run(cls: type, case: Case, allowed: tuple[type[BaseException], ...]) -> Run:
    """Invoke a fresh ``cls`` on the case; check properties 1 (crashes), 3 (structure of fates) and 4 (poison)."""
    handler = cls(settings=SETTINGS)
    handler.dead_letter = case.dlq
    snapshot = copy.deepcopy(case.event)
    try:
        result, error = handler(case.event, case.context), None
    except allowed as raised:
        result, error = None, raised
    except Exception as crash:
        raise AssertionError(f"{cls.__name__} crashed with {type(crash).__name__}: {crash}") from crash
    # The event is the source's: the DLQ must receive it as it came, so nothing may rewrite it in place.
    assert case.event == snapshot, "the handler modified the event it was given"
    if case.malformed:
        return Run(case, handler, result, error, snapshot, [])
    assert not isinstance(error, InvalidEventError), "InvalidEventError for an event of the right shape"
    fates = [Fate() for _ in case.records]
    for record, status, _ in handler.calls:
        index = _locate(case.records, record, lambda i: not fates[i].ok and not fates[i].raised)
        if status == "ok":
            fates[index].ok += 1
        else:
            fates[index].raised += 1
    batch = isinstance(case.event, dict) and case.event.get("Records") is case.records
    originals = snapshot["Records"] if batch else [snapshot]
    for entry, delivered in case.dlq.offers:
        index = _locate(case.records, entry.record, lambda i: not fates[i].offers)
        fates[index].offers.append((entry, delivered))
        assert entry.reason in REASONS, f"unknown poison reason {entry.reason!r}"
        document = json.loads(entry.body)
        assert document["reason"] == entry.reason
        assert document["record"] == originals[index], "the DLQ document does not carry the original record"
    for index, fate in enumerate(fates):
        assert fate.ok + fate.raised <= 1, f"record {index} was handled {fate.ok + fate.raised} times"
        assert len(fate.offers) <= 1, f"record {index} was offered to the DLQ {len(fate.offers)} times"
        assert not (fate.ok and fate.offers), f"record {index} was processed and dead-lettered"
    return Run(case, handler, result, error, snapshot, fates)


def _locate(records: list[Any], obj: Any, free: Any) -> int:
    """Index of ``obj`` in the batch by identity (records equal in value are distinct objects, except scalars)."""
    candidates = [i for i, record in enumerate(records) if record is obj]
    assert candidates, f"the handler reported a record that is not in the batch: {obj!r:.300}"
    return next((i for i in candidates if free(i)), candidates[0])


def _get(record: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(record, dict):
            return None
        record = record.get(key)
    return record


def _valid_id(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def sqs_id(record: Any) -> str | None:
    return _valid_id(_get(record, "messageId"))


def kinesis_id(record: Any) -> str | None:
    return _valid_id(_get(record, "kinesis", "sequenceNumber"))


def ddb_id(record: Any) -> str | None:
    return _valid_id(_get(record, "dynamodb", "SequenceNumber"))


def fifo_group(record: Any) -> str | None:
    group = _get(record, "attributes", "MessageGroupId")
    return group if isinstance(group, str) else None


def looks_fifo(records: list[Any]) -> bool:
    """A batch from a FIFO queue: any record names a ``.fifo`` queue or carries a message group."""
    return any(
        (isinstance(arn := _get(r, "eventSourceARN"), str) and arn.endswith(".fifo")) or fifo_group(r) is not None
        for r in records
    )


def reported_ids(result: Any, max_items: int | None = None) -> list[str]:
    """The ids of a partial batch response, checking its shape (property 2)."""
    assert isinstance(result, dict) and set(result) == {"batchItemFailures"}, f"malformed response {result!r:.300}"
    items = result["batchItemFailures"]
    assert isinstance(items, list)
    if max_items is not None:
        assert len(items) <= max_items, f"{len(items)} identifiers reported by a stream handler"
    ids = []
    for item in items:
        assert isinstance(item, dict) and set(item) == {"itemIdentifier"}, f"malformed item {item!r}"
        assert isinstance(item["itemIdentifier"], str) and item["itemIdentifier"], f"empty identifier {item!r}"
        ids.append(item["itemIdentifier"])
    return ids


def check_malformed(outcome: Run, success: Any) -> None:
    """Property 5: an unreadable top-level event is dead-lettered whole as malformed-event, or raises."""
    case = outcome.case
    assert outcome.handler.calls == []
    assert len(case.dlq.offers) == 1, "an unreadable event must be offered to the DLQ exactly once"
    entry, delivered = case.dlq.offers[0]
    assert entry.reason == "malformed-event"
    assert entry.record is case.event
    assert json.loads(entry.body)["record"] == outcome.snapshot
    if delivered:
        assert outcome.error is None, f"the DLQ stored the event, yet the handler raised {outcome.error!r}"
        assert outcome.result == success
    else:
        assert isinstance(outcome.error, InvalidEventError), "an unreadable, undeliverable event returned success"


def check_clean(outcome: Run, reached: list[bool], routes: tuple[str, ...] = (), has_handle: bool = True) -> None:
    """The exact fate of each clean record the handler reached."""
    for index, (spec, fate) in enumerate(zip(outcome.case.specs, outcome.fates, strict=True)):
        expected = expected_fate(spec, routes, has_handle)
        if expected is None or not reached[index]:
            continue
        where = f"record {index} ({spec}) expected {expected}"
        if expected == "processed":
            assert fate.processed, f"{where}, was not processed (fate {fate})"
        elif expected == "retry":
            assert fate.raised == 1 and not fate.offers, f"{where}, got {fate}"
        else:
            assert not fate.processed, f"{where}, but handle processed it"
            assert len(fate.offers) == 1, f"{where}, but it was not offered to the DLQ"
            if expected != "poison":
                assert fate.offers[0][0].reason == expected, f"{where}, got {fate.offers[0][0].reason}"
            if expected != "permanent-error":
                assert fate.raised == 0, f"{where}, but handle was called with it"


def check_sqs(outcome: Run, *, fifo: bool, routes: tuple[str, ...] = (), has_handle: bool = True) -> None:
    """Properties 2-4 for SQS: every record processed, dead-lettered or reported (FIFO: group order kept)."""
    if outcome.case.malformed:
        check_malformed(outcome, {"batchItemFailures": []})
        return
    records, fates = outcome.case.records, outcome.fates
    blocked: set[str] = set()
    reached = [True] * len(records)
    if fifo:
        for index, (record, fate) in enumerate(zip(records, fates, strict=True)):
            group = fifo_group(record)
            if group is not None and group in blocked:
                reached[index] = False
                assert not fate.touched, f"record {index} of group {group} was handled after the group failed"
            elif fate.failed and group is not None:
                blocked.add(group)
    for index, fate in enumerate(fates):
        if not fate.touched:
            assert not reached[index], f"record {index} was silently skipped"
        if fate.offers and not fate.delivered:
            assert fate.failed
        if fate.offers:
            assert fate.offers[0][0].record_id == sqs_id(records[index])
    failed_ids = [sqs_id(records[i]) for i, fate in enumerate(fates) if fate.failed]
    if failed_ids and (len(failed_ids) == len(records) or None in failed_ids):
        assert isinstance(outcome.error, BatchFailedError), (
            f"{len(failed_ids)}/{len(records)} records failed (ids {failed_ids}), expected BatchFailedError, "
            f"got {outcome.error!r} / {outcome.result!r:.300}"
        )
    else:
        assert outcome.error is None, f"unexpected {outcome.error!r}"
        reported = reported_ids(outcome.result)
        assert Counter(reported) == Counter(failed_ids), f"reported {reported}, failed {failed_ids}"
        processed = sum(fate.processed for fate in fates)
        dead_lettered = sum(fate.delivered for fate in fates)
        assert processed + dead_lettered + len(reported) == len(records)
    check_clean(outcome, reached, routes, has_handle)


def check_ordered(
    outcome: Run,
    *,
    single: bool,
    success: Any,
    record_id: Any = None,
    routes: tuple[str, ...] = (),
    has_handle: bool = True,
) -> None:
    """Properties 2-4 for sources that stop at the first failure (streams, SNS/EventBridge/invoke).

    ``success`` is what a successful invocation returns (a function of the run for single-record handlers).
    """
    if outcome.case.malformed:
        check_malformed(outcome, success)
        return
    records, fates = outcome.case.records, outcome.fates
    first = next((i for i, fate in enumerate(fates) if fate.failed), None)
    reached = [first is None or i <= first for i in range(len(records))]
    for index, fate in enumerate(fates):
        if reached[index]:
            assert fate.touched, f"record {index} was silently skipped"
        else:
            assert not fate.touched, f"record {index} was handled after the failure of record {first}"
        if fate.offers and record_id is not None:
            assert fate.offers[0][0].record_id == record_id(records[index])
    if single:
        if first is not None:
            assert isinstance(outcome.error, RecordFailedError), f"record {first} failed; got {outcome.error!r}"
        else:
            assert outcome.error is None, f"unexpected {outcome.error!r}"
            expected = success(outcome) if callable(success) else success
            assert outcome.result == expected, f"returned {outcome.result!r:.300}, expected {expected!r:.300}"
    elif first is None:
        assert outcome.error is None, f"unexpected {outcome.error!r}"
        assert reported_ids(outcome.result, max_items=1) == []
    elif record_id(records[first]) is None or len(records) == 1:
        assert isinstance(outcome.error, BatchFailedError), f"got {outcome.error!r} / {outcome.result!r:.300}"
    else:
        assert outcome.error is None, f"unexpected {outcome.error!r}"
        assert reported_ids(outcome.result, max_items=1) == [record_id(records[first])]
    check_clean(outcome, reached, routes, has_handle)


def _last_result(outcome: Run) -> Any:
    """What a single-record handler must return: handle's result, None when ignored or dead-lettered."""
    results = [result for _, status, result in outcome.handler.calls if status == "ok"]
    if not results or results[-1] is IGNORED:
        return None
    return results[-1]


BATCH_ERRORS = (BatchFailedError, InvalidEventError)
SINGLE_ERRORS = (RecordFailedError, InvalidEventError)


# -- the tests -----------------------------------------------------------------------------------------------------


@FUZZ
@given(sqs_cases())
def test_sqs_standard_accounts_for_every_record(case: Case) -> None:
    """Standard SQS: processed + dead-lettered + reported == records, or BatchFailedError when it must."""
    check_sqs(run(FuzzSqs, case, BATCH_ERRORS), fifo=False)


@settings(FUZZ, max_examples=100)
@given(sqs_cases())
def test_sqs_routed_handler_accounts_for_every_record(case: Case) -> None:
    """An SQS handler with only @on_event routes: unrouted bodies are unhandled-event-type poison, never dropped."""
    check_sqs(run(FuzzSqsRouted, case, BATCH_ERRORS), fifo=False, routes=ROUTES, has_handle=False)


@FUZZ
@given(sqs_cases(fifo=True))
def test_sqs_fifo_handler_keeps_group_order(case: Case) -> None:
    """SqsFifoHandler: after a failure, the rest of its group is reported unprocessed; nothing else is lost."""
    check_sqs(run(FuzzSqsFifo, case, BATCH_ERRORS), fifo=True)


@settings(FUZZ, max_examples=100)
@given(sqs_cases(fifo=True))
def test_sqs_handler_on_a_fifo_batch_keeps_group_order(case: Case) -> None:
    """A plain SqsHandler fed from a FIFO queue detects it from the batch and keeps group order too."""
    outcome = run(FuzzSqs, case, BATCH_ERRORS)
    check_sqs(outcome, fifo=looks_fifo(case.records))


@settings(FUZZ, max_examples=100)
@given(stream_failure_cases())
def test_stream_failure_handler_accounts_for_every_record(case: Case) -> None:
    """StreamFailureHandler (an SqsHandler of on-failure records) follows the SQS rules on hostile bodies."""
    check_sqs(run(FuzzStreamFailures, case, BATCH_ERRORS), fifo=False)


@FUZZ
@given(sns_cases())
def test_sns_handler_processes_or_raises(case: Case) -> None:
    """SNS: every record processed or dead-lettered, else RecordFailedError at the first failure."""
    check_ordered(run(FuzzSns, case, SINGLE_ERRORS), single=True, success=None)


@settings(FUZZ, max_examples=100)
@given(eventbridge_cases())
@pytest.mark.parametrize(
    ("cls", "routes", "has_handle"),
    [
        (FuzzEventBridge, (), True),
        (FuzzEventBridgeRouted, ROUTES, False),
        (FuzzEventBridgeRoutedWithFallback, ROUTES, True),
    ],
    ids=["handle", "routes", "routes-and-handle"],
)
def test_eventbridge_handler_processes_or_raises(
    cls: type, routes: tuple[str, ...], has_handle: bool, case: Case
) -> None:
    """EventBridge (handle, @on_event routes, both): processed, dead-lettered, or RecordFailedError."""
    outcome = run(cls, case, SINGLE_ERRORS)
    success = None if case.malformed else _last_result
    check_ordered(outcome, single=True, success=success, routes=routes, has_handle=has_handle)


@FUZZ
@given(kinesis_cases())
def test_kinesis_handler_checkpoints_at_the_first_failure(case: Case) -> None:
    """Kinesis: records before the checkpoint handled, one sequence number reported, nothing after it touched."""
    outcome = run(FuzzKinesis, case, BATCH_ERRORS)
    check_ordered(outcome, single=False, record_id=kinesis_id, success={"batchItemFailures": []})


@FUZZ
@given(ddb_cases())
def test_dynamodb_handler_checkpoints_at_the_first_failure(case: Case) -> None:
    """DynamoDB Streams: as Kinesis, with images deserialized and the old image's trace ignored."""
    outcome = run(FuzzDynamoDB, case, BATCH_ERRORS)
    check_ordered(outcome, single=False, record_id=ddb_id, success={"batchItemFailures": []})


@FUZZ
@given(invoke_cases())
def test_invoke_handler_processes_or_raises(case: Case) -> None:
    """Async invoke: any payload (even not an object) is processed, dead-lettered, or RecordFailedError."""
    outcome = run(FuzzInvoke, case, (RecordFailedError,))
    check_ordered(outcome, single=True, success=_last_result)


@settings(FUZZ, max_examples=100)
@given(destination_cases())
def test_destination_handler_processes_or_raises(case: Case) -> None:
    """Async destination records: processed, dead-lettered, or RecordFailedError; the chain's hops still count."""
    outcome = run(FuzzDestination, case, (RecordFailedError,))
    check_ordered(outcome, single=True, success=_last_result)


MALFORMED = [
    (FuzzSqs, "batch", {"batchItemFailures": []}),
    (FuzzSqsFifo, "batch", {"batchItemFailures": []}),
    (FuzzStreamFailures, "batch", {"batchItemFailures": []}),
    (FuzzKinesis, "batch", {"batchItemFailures": []}),
    (FuzzDynamoDB, "batch", {"batchItemFailures": []}),
    (FuzzSns, "sns", None),
    (FuzzEventBridge, "eventbridge", None),
    (FuzzEventBridgeRouted, "eventbridge", None),
]


@settings(FUZZ, max_examples=40)
@given(data=st.data())
@pytest.mark.parametrize(("cls", "kind", "success"), MALFORMED, ids=[c.__name__ for c, _, _ in MALFORMED])
def test_unreadable_event_with_failing_dlq_raises(cls: type, kind: Any, success: Any, data: st.DataObject) -> None:
    """Property 5: with the DLQ refusing everything, an unreadable top-level event raises InvalidEventError."""
    case = data.draw(malformed_cases(kind))
    case.dlq.fail_all()
    outcome = run(cls, case, (InvalidEventError,))
    assert isinstance(outcome.error, InvalidEventError)
    check_malformed(outcome, success)


@settings(FUZZ, max_examples=60)
@given(st.one_of(invoke_cases(), destination_cases()), st.sampled_from([FuzzInvoke, FuzzDestination]))
def test_direct_invocation_never_succeeds_with_poison_and_failing_dlq(case: Case, cls: type) -> None:
    """Invoke/destination have no unreadable event: any payload not handled, with the DLQ refusing, must raise."""
    case.dlq.fail_all()
    outcome = run(cls, case, (RecordFailedError,))
    if outcome.error is None:
        assert outcome.fates[0].processed, "the payload was neither processed nor stored, yet the invocation succeeded"
        assert not case.dlq.offers

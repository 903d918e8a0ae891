"""DynamoDBStreamHandler: typed images, INSERT/MODIFY/REMOVE dispatch, checkpoint at the first failure, trace."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from eventweave.handlers import (
    IGNORED,
    BatchFailedError,
    Change,
    DynamoDBRecordContext,
    DynamoDBStreamHandler,
    PermanentError,
    Settings,
)
from eventweave.handlers.poison import PoisonEntry, poison_body
from tests.factories import ddb_event, ddb_record

STREAM_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/accounts/stream/2026-11-23T00:00:00.000"


class MemoryDeadLetter:
    """Stands in for ``DeadLetter``: keeps what it is given; ``target=None`` or ``refuse`` make delivery fail."""

    def __init__(
        self, target: str | None = "https://sqs.us-east-1.amazonaws.com/123456789012/dlq", refuse: tuple[str, ...] = ()
    ) -> None:
        self.target = target
        self.refuse = set(refuse)
        self.offered: list[PoisonEntry] = []
        self.stored: list[PoisonEntry] = []

    @property
    def configured(self) -> bool:
        return self.target is not None

    def send(self, entries: list[PoisonEntry]) -> list[bool]:
        results = []
        for entry in entries:
            entry.body = poison_body(entry, "unit")  # the real document must serialise
            self.offered.append(entry)
            ok = self.target is not None and entry.record_id not in self.refuse
            if ok:
                self.stored.append(entry)
            results.append(ok)
        return results

    def reasons(self) -> dict[str | None, str]:
        return {entry.record_id: entry.reason for entry in self.stored}


class CountsRecorder:
    """Replaces ``handler.batch_metrics`` to capture each invocation's counts."""

    def __init__(self) -> None:
        self.counts: list[Any] = []

    def emit(self, counts: Any) -> None:
        self.counts.append(counts)


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    emails: list[str]
    limits: dict[str, int]


class Account(BaseModel):
    model_config = ConfigDict(extra="forbid")  # proves __context is stripped before validation

    id: str
    balance: int
    rate: Decimal = Decimal(0)
    active: bool = True
    tags: set[str] = set()
    scores: set[int] = set()
    history: list[int] = []
    profile: Profile | None = None
    note: str | None = None


class Ledger(DynamoDBStreamHandler[Account]):
    """Records every call; balances of -1 raise PermanentError, -2 fail retryably."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls: list[tuple[str, Any, Any, DynamoDBRecordContext]] = []

    def _check(self, account: Account | None) -> None:
        if account is not None and account.balance == -1:
            raise PermanentError(f"account {account.id} is corrupt")
        if account is not None and account.balance == -2:
            raise RuntimeError(f"ledger store unavailable for {account.id}")

    def on_insert(self, new: Account, ctx: DynamoDBRecordContext) -> None:
        self.calls.append(("insert", new, None, ctx))
        self._check(new)

    def on_modify(self, new: Account | None, old: Account | None, ctx: DynamoDBRecordContext) -> None:
        self.calls.append(("modify", new, old, ctx))
        self._check(new)

    def on_remove(self, old: Account, ctx: DynamoDBRecordContext) -> None:
        self.calls.append(("remove", None, old, ctx))
        self._check(old)

    def seqs(self) -> list[str]:
        return [ctx.sequence_number for *_, ctx in self.calls]


class InsertsOnly(DynamoDBStreamHandler[Account]):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.inserted: list[Account] = []

    def on_insert(self, new: Account, ctx: DynamoDBRecordContext) -> None:
        self.inserted.append(new)


class AllChanges(DynamoDBStreamHandler[Account]):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.changes: list[Change[Account]] = []

    def handle(self, change: Change[Account], ctx: DynamoDBRecordContext) -> None:  # type: ignore[override]
        self.changes.append(change)


def build(
    cls: type = Ledger, dlq: MemoryDeadLetter | None = None, **settings: Any
) -> tuple[Any, MemoryDeadLetter, CountsRecorder]:
    handler = cls(settings=Settings(**settings))
    handler.dead_letter = dlq if dlq is not None else MemoryDeadLetter()
    handler.batch_metrics = recorder = CountsRecorder()
    return handler, handler.dead_letter, recorder


def image(account_id: str, balance: int, **extra: Any) -> dict[str, Any]:
    """A DynamoDB-JSON image; ``extra`` values must already be DynamoDB JSON."""
    return {"id": {"S": account_id}, "balance": {"N": str(balance)}, **extra}


def keys(account_id: str) -> dict[str, Any]:
    return {"id": {"S": account_id}}


def insert(seq: str, account_id: str, balance: int = 10, **extra: Any) -> dict[str, Any]:
    return ddb_record(
        "INSERT", sequence_number=seq, keys=keys(account_id), new_image=image(account_id, balance, **extra)
    )


def modify(seq: str, account_id: str, new_balance: int, old_balance: int, **extra: Any) -> dict[str, Any]:
    return ddb_record(
        "MODIFY",
        sequence_number=seq,
        keys=keys(account_id),
        new_image=image(account_id, new_balance, **extra),
        old_image=image(account_id, old_balance),
    )


def remove(seq: str, account_id: str, balance: int = 0) -> dict[str, Any]:
    return ddb_record("REMOVE", sequence_number=seq, keys=keys(account_id), old_image=image(account_id, balance))


def trace(correlation: str | None = None, hops: int | str = 0, causation: str | None = None) -> dict[str, Any]:
    """The ``__context`` attribute as it sits in an image (hops is a DynamoDB Number)."""
    value: dict[str, Any] = {"hops": {"N": str(hops)}}
    if correlation is not None:
        value["correlationId"] = {"S": correlation}
    if causation is not None:
        value["causationId"] = {"S": causation}
    return {"__context": {"M": value}}


# -- dispatch and images -----------------------------------------------------------------------------------------------


def test_insert_modify_remove_dispatch_with_typed_images(lambda_context):
    """INSERT -> on_insert(new), MODIFY -> on_modify(new, old), REMOVE -> on_remove(old), in stream order."""
    handler, dlq, metrics = build()
    event = ddb_event(insert("1", "a", 10), modify("2", "a", 25, 10), remove("3", "a", 25))
    assert handler(event, lambda_context) == {"batchItemFailures": []}
    assert [(kind, new, old) for kind, new, old, _ in handler.calls] == [
        ("insert", Account(id="a", balance=10), None),
        ("modify", Account(id="a", balance=25), Account(id="a", balance=10)),
        ("remove", None, Account(id="a", balance=25)),
    ]
    assert handler.seqs() == ["1", "2", "3"]
    assert dlq.offered == []
    assert metrics.counts[-1].processed == 3


def test_images_are_deserialized_from_dynamodb_json(lambda_context):
    """Numbers, booleans, null, string/number sets, lists and nested maps arrive as Python values for the model."""
    handler, dlq, _ = build()
    new_image = image(
        "a",
        42,
        rate={"N": "0.125"},
        active={"BOOL": False},
        tags={"SS": ["gold", "eu"]},
        scores={"NS": ["3", "7"]},
        history={"L": [{"N": "1"}, {"N": "-2"}]},
        profile={
            "M": {
                "name": {"S": "Ada"},
                "emails": {"L": [{"S": "ada@example.com"}]},
                "limits": {"M": {"daily": {"N": "500"}}},
            }
        },
        note={"NULL": True},
    )
    record = ddb_record("INSERT", sequence_number="1", keys=keys("a"), new_image=new_image)
    handler(ddb_event(record), lambda_context)
    assert dlq.offered == []
    ((_, new, _, _),) = handler.calls
    assert new == Account(
        id="a",
        balance=42,
        rate=Decimal("0.125"),
        active=False,
        tags={"gold", "eu"},
        scores={3, 7},
        history=[1, -2],
        profile=Profile(name="Ada", emails=["ada@example.com"], limits={"daily": 500}),
        note=None,
    )
    assert isinstance(new.rate, Decimal)  # no float rounding on the way


def test_image_that_does_not_fit_the_model_is_validation_poison(lambda_context):
    """A deserialized image that fails validation is poison "validation-error"; the batch goes on."""
    handler, dlq, _ = build()
    bad = ddb_record(
        "INSERT", sequence_number="1", keys=keys("a"), new_image={"id": {"S": "a"}, "balance": {"S": "lots"}}
    )
    assert handler(ddb_event(bad, insert("2", "b")), lambda_context) == {"batchItemFailures": []}
    assert dlq.reasons() == {"1": "validation-error"}
    assert handler.seqs() == ["2"]


def test_events_without_an_override_are_ignored_not_failed(lambda_context):
    """A handler with only on_insert counts MODIFY and REMOVE as ignored and reports no failure."""
    handler, dlq, metrics = build(InsertsOnly)
    event = ddb_event(modify("1", "a", 2, 1), insert("2", "b", 5), remove("3", "a"))
    assert handler(event, lambda_context) == {"batchItemFailures": []}
    assert handler.inserted == [Account(id="b", balance=5)]
    counts = metrics.counts[-1]
    assert (counts.processed, counts.ignored, counts.failed, counts.poison) == (1, 2, 0, 0)
    assert dlq.offered == []


def test_an_all_ignored_batch_does_not_raise(lambda_context):
    """Nothing handled is not a failure: a batch where every record is ignored succeeds."""
    handler, _, metrics = build(InsertsOnly)
    assert handler(ddb_event(remove("1", "a"), remove("2", "b")), lambda_context) == {"batchItemFailures": []}
    assert metrics.counts[-1].ignored == 2


def test_returning_ignored_counts_the_record_as_ignored(lambda_context):
    """An override may return IGNORED to say it deliberately skipped the record."""

    class Picky(DynamoDBStreamHandler[Account]):
        def on_insert(self, new: Account, ctx: DynamoDBRecordContext) -> Any:
            return IGNORED if new.balance == 0 else None

    handler, _, metrics = build(Picky)
    handler(ddb_event(insert("1", "a", 0), insert("2", "b", 1)), lambda_context)
    counts = metrics.counts[-1]
    assert (counts.processed, counts.ignored) == (1, 1)


def test_handle_override_sees_change_objects(lambda_context):
    """Overriding handle() gives Change(event_name, keys, new, old) for every event, keys deserialized."""
    handler, _, _ = build(AllChanges)
    handler(ddb_event(insert("1", "a", 1), modify("2", "a", 2, 1), remove("3", "a", 2)), lambda_context)
    assert handler.changes == [
        Change("INSERT", {"id": "a"}, Account(id="a", balance=1), None),
        Change("MODIFY", {"id": "a"}, Account(id="a", balance=2), Account(id="a", balance=1)),
        Change("REMOVE", {"id": "a"}, None, Account(id="a", balance=2)),
    ]


def test_keys_only_stream(lambda_context):
    """On a KEYS_ONLY stream a handler whose on_* methods need images gets none: each record is poison with a reason
    naming the view type (never silently ignored); events without an override are still ignored; handle() gets keys."""
    records = [
        ddb_record(name, sequence_number=str(i), keys={"id": {"S": "a"}, "sk": {"N": "7"}}, view="KEYS_ONLY")
        for i, name in enumerate(("INSERT", "MODIFY", "REMOVE"))
    ]
    ledger, dlq, _ = build()
    assert ledger(ddb_event(*records), lambda_context) == {"batchItemFailures": []}
    assert ledger.calls == []
    docs = [json.loads(e.body) for e in dlq.stored]
    assert [d["reason"] for d in docs] == ["permanent-error"] * 3
    assert "NewImage" in docs[0]["errorMessage"] and "stream view type" in docs[0]["errorMessage"]
    assert "OldImage" in docs[2]["errorMessage"]
    inserts, inserts_dlq, metrics = build(InsertsOnly)
    inserts(ddb_event(*records[1:]), lambda_context)  # MODIFY and REMOVE: InsertsOnly has no method for them
    assert inserts_dlq.stored == [] and metrics.counts[-1].ignored == 2
    changes, _, _ = build(AllChanges)
    changes(ddb_event(*records), lambda_context)
    assert [(c.event_name, c.keys, c.new, c.old) for c in changes.changes] == [
        (name, {"id": "a", "sk": Decimal(7)}, None, None) for name in ("INSERT", "MODIFY", "REMOVE")
    ]


def test_context_properties(lambda_context):
    """ctx gives event name, sequence number, view type; message id is the eventID, the chain starts there."""
    handler, _, _ = build()
    record = modify("55", "a", 2, 1)
    handler(ddb_event(record), lambda_context)
    ((*_, ctx),) = handler.calls
    assert (ctx.event_name, ctx.sequence_number, ctx.record_id) == ("MODIFY", "55", "55")
    assert ctx.stream_view_type == "NEW_AND_OLD_IMAGES"
    assert ctx.message_id == record["eventID"]
    assert ctx.correlation_id == record["eventID"]
    assert (ctx.causation_id, ctx.hops, ctx.source) == (None, 0, "aws:dynamodb")


# -- checkpoint at the first failure -----------------------------------------------------------------------------------


def test_first_retryable_failure_stops_the_batch(lambda_context):
    """Only the first failing sequence number is reported; records after it are not handled."""
    handler, dlq, metrics = build()
    event = ddb_event(insert("1", "a"), modify("2", "a", -2, 10), insert("3", "b"), remove("4", "a", -2))
    assert handler(event, lambda_context) == {"batchItemFailures": [{"itemIdentifier": "2"}]}
    assert handler.seqs() == ["1", "2"]
    assert dlq.offered == []
    counts = metrics.counts[-1]
    assert (counts.processed, counts.failed) == (1, 1)


def test_poison_before_the_failure_is_stored_and_after_it_is_not(lambda_context):
    """Poison up to the checkpoint goes to the DLQ with its reason; poison past it waits for redelivery."""
    handler, dlq, _ = build()
    bad_image = ddb_record("INSERT", sequence_number="2", keys=keys("x"), new_image={"id": {"S": "x"}})
    event = ddb_event(
        insert("1", "a", -1),  # PermanentError
        bad_image,
        insert("3", "b"),
        insert("4", "c", -2),  # retryable
        insert("5", "d", -1),
        ddb_record("UPSERT", sequence_number="6", keys=keys("e")),
    )
    assert handler(event, lambda_context) == {"batchItemFailures": [{"itemIdentifier": "4"}]}
    assert dlq.reasons() == {"1": "permanent-error", "2": "validation-error"}
    assert [e.record_id for e in dlq.offered] == ["1", "2"]
    assert handler.seqs() == ["1", "3", "4"]


def test_failure_at_the_first_record_reports_it_without_raising(lambda_context):
    """A failure at the first record of several checkpoints there (the whole batch is retried), no exception."""
    handler, _, _ = build()
    event = ddb_event(insert("1", "a", -2), insert("2", "b"), insert("3", "c"))
    assert handler(event, lambda_context) == {"batchItemFailures": [{"itemIdentifier": "1"}]}
    assert handler.seqs() == ["1"]


def test_a_batch_of_one_failing_record_raises(lambda_context):
    """Every record failed: BatchFailedError, so Lambda retries the batch."""
    handler, _, _ = build()
    with pytest.raises(BatchFailedError):
        handler(ddb_event(remove("1", "a", -2)), lambda_context)


def test_poison_without_a_dlq_becomes_the_checkpoint(lambda_context):
    """Poison that cannot be stored is reported failed and stops the batch: it is never dropped."""
    handler, _, _ = build(dlq=MemoryDeadLetter(target=None))
    event = ddb_event(insert("1", "a"), insert("2", "b", -1), insert("3", "c"))
    assert handler(event, lambda_context) == {"batchItemFailures": [{"itemIdentifier": "2"}]}
    assert handler.seqs() == ["1", "2"]


def test_poison_document_describes_the_stream_record(lambda_context):
    """The DLQ document names reason, sequence number, the eventID as message id and the stream ARN."""
    handler, dlq, _ = build()
    record = insert("9", "a", -1, **trace("corr-9", 3))
    handler(ddb_event(record), lambda_context)
    (doc,) = [json.loads(e.body) for e in dlq.stored]
    assert (doc["reason"], doc["errorType"]) == ("permanent-error", "PermanentError")
    assert (doc["recordId"], doc["messageId"]) == ("9", record["eventID"])
    assert (doc["eventSource"], doc["eventSourceARN"]) == ("aws:dynamodb", STREAM_ARN)
    assert (doc["correlationId"], doc["hops"]) == ("corr-9", 3)
    assert doc["record"]["dynamodb"]["NewImage"]["balance"] == {"N": "-1"}


# -- malformed records -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("event_name", ["UPSERT", None, 3])
def test_unknown_event_name_is_malformed_poison(lambda_context, event_name):
    """eventName outside INSERT/MODIFY/REMOVE is poison "malformed-record"; the next record is still handled."""
    handler, dlq, _ = build()
    odd = insert("1", "a")
    odd["eventName"] = event_name
    assert handler(ddb_event(odd, insert("2", "b")), lambda_context) == {"batchItemFailures": []}
    assert dlq.reasons() == {"1": "malformed-record"}
    assert handler.seqs() == ["2"]


@pytest.mark.parametrize(
    "bad_image",
    [
        {"id": {"S": "a"}, "balance": {"X": "1"}},  # unknown type
        {"id": {"S": "a"}, "balance": {"N": "abc"}},  # not a number
        {"id": {"S": "a"}, "balance": "10"},  # not DynamoDB JSON at all
    ],
)
def test_images_that_are_not_dynamodb_json_are_malformed_poison(lambda_context, bad_image):
    """An image the deserializer cannot read is poison "malformed-record", not a crash of the batch."""
    handler, dlq, _ = build()
    bad = ddb_record("MODIFY", sequence_number="1", keys=keys("a"), new_image=bad_image, old_image=image("a", 1))
    assert handler(ddb_event(bad, insert("2", "b")), lambda_context) == {"batchItemFailures": []}
    assert dlq.reasons() == {"1": "malformed-record"}
    assert handler.seqs() == ["2"]


def test_record_without_dynamodb_body_is_malformed_poison(lambda_context):
    """A record with no ``dynamodb`` section cannot even be identified; it is poison without a record id."""
    handler, dlq, _ = build()
    broken = insert("1", "a")
    del broken["dynamodb"]
    assert handler(ddb_event(broken, insert("2", "b")), lambda_context) == {"batchItemFailures": []}
    assert [(e.record_id, e.reason) for e in dlq.stored] == [(None, "malformed-record")]


# -- trace metadata and the recursion guard ----------------------------------------------------------------------------


def test_context_map_in_new_image_gives_the_trace_and_is_stripped(lambda_context):
    """``__context`` (hops as a DynamoDB Number) sets the trace and never reaches the extra=forbid model."""
    handler, dlq, _ = build()
    handler(ddb_event(insert("1", "a", 5, **trace("corr-1", 3, "cause-1"))), lambda_context)
    assert dlq.offered == []
    ((_, new, _, ctx),) = handler.calls
    assert new == Account(id="a", balance=5)
    assert (ctx.correlation_id, ctx.causation_id, ctx.hops) == ("corr-1", "cause-1", 3)


def test_context_in_old_image_is_stripped_too(lambda_context):
    """A MODIFY whose old image was also stamped validates both images."""
    handler, dlq, _ = build()
    record = ddb_record(
        "MODIFY",
        sequence_number="1",
        keys=keys("a"),
        new_image=image("a", 2, **trace("corr-2", 1)),
        old_image=image("a", 1, **trace("corr-1", 0)),
    )
    handler(ddb_event(record), lambda_context)
    assert dlq.offered == []
    ((_, new, old, ctx),) = handler.calls
    assert (new, old) == (Account(id="a", balance=2), Account(id="a", balance=1))
    assert (ctx.correlation_id, ctx.hops) == ("corr-2", 1)


def test_context_without_correlation_uses_the_event_id(lambda_context):
    """Hops without a correlation id still count; the chain id falls back to the eventID."""
    handler, _, _ = build()
    record = insert("1", "a", **trace(hops=2))
    handler(ddb_event(record), lambda_context)
    ((*_, ctx),) = handler.calls
    assert (ctx.correlation_id, ctx.hops) == (record["eventID"], 2)


def test_hops_over_the_limit_are_recursion_limit_poison(lambda_context):
    """hops > max_hops: poison "recursion-limit", the handler is not called, the batch carries on."""
    handler, dlq, metrics = build(max_hops=3)
    event = ddb_event(insert("1", "a", **trace("c", 4)), modify("2", "b", 3, 2, **trace("c", 3)))
    assert handler(event, lambda_context) == {"batchItemFailures": []}
    assert dlq.reasons() == {"1": "recursion-limit"}
    assert handler.seqs() == ["2"]
    assert metrics.counts[-1].recursion_stopped == 1


def test_recursion_guard_runs_before_validation(lambda_context):
    """A looping record is stopped as a loop even when its image would not validate."""
    handler, dlq, _ = build(max_hops=1)
    looping = ddb_record("INSERT", sequence_number="1", keys=keys("a"), new_image={"id": {"S": "a"}, **trace("c", 2)})
    handler(ddb_event(looping), lambda_context)
    assert dlq.reasons() == {"1": "recursion-limit"}


@pytest.mark.parametrize("bad", [{"S": "oops"}, {"M": {"hops": {"S": "many"}}}, {"M": {"hops": {"BOOL": True}}}])
def test_unreadable_context_trips_the_guard(lambda_context, bad):
    """A ``__context`` that is not a map, or hops that are not a number, are treated as over the limit."""
    handler, dlq, _ = build()
    handler(ddb_event(insert("1", "a", __context=bad)), lambda_context)
    assert dlq.reasons() == {"1": "recursion-limit"}
    assert handler.calls == []

"""KinesisHandler: base64 JSON payloads, in-order processing, checkpoint at the first failure, poison, trace."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from eventweave.handlers import (
    BatchFailedError,
    InvalidEventError,
    KinesisHandler,
    KinesisRecordContext,
    PermanentError,
    Settings,
    current_record,
)
from eventweave.handlers.poison import PoisonEntry, poison_body
from eventweave.handlers.publish import outgoing_trace
from tests.factories import eventbridge_event, kinesis_event, kinesis_record

STREAM_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/clicks"


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


class Click(BaseModel):
    model_config = ConfigDict(extra="forbid")  # proves __context is stripped before validation

    page: str
    n: int = 0


class Track(KinesisHandler[Click]):
    """Pages starting with ``fail`` fail retryably, ``perm`` raise PermanentError."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seen: list[tuple[Click, KinesisRecordContext]] = []
        self.traces: list[tuple[str, str | None, int]] = []
        self.current: list[bool] = []

    def handle(self, click: Click, ctx: KinesisRecordContext) -> None:
        self.seen.append((click, ctx))
        self.traces.append(outgoing_trace())
        self.current.append(current_record() is ctx)
        if click.page.startswith("perm"):
            raise PermanentError(f"page {click.page} is not trackable")
        if click.page.startswith("fail"):
            raise RuntimeError(f"counter store unavailable for {click.page}")

    def seen_seqs(self) -> list[str]:
        return [ctx.sequence_number for _, ctx in self.seen]


def build(
    cls: type = Track, dlq: MemoryDeadLetter | None = None, **settings: Any
) -> tuple[Any, MemoryDeadLetter, CountsRecorder]:
    handler = cls(settings=Settings(**settings))
    handler.dead_letter = dlq if dlq is not None else MemoryDeadLetter()
    handler.batch_metrics = recorder = CountsRecorder()
    return handler, handler.dead_letter, recorder


def rec(seq: str, data: Any, **kwargs: Any) -> dict[str, Any]:
    return kinesis_record(data, sequence_number=seq, **kwargs)


def click(page: str, n: int = 0, **extra: Any) -> dict[str, Any]:
    return {"page": page, "n": n, **extra}


def with_raw_data(seq: str, data: str) -> dict[str, Any]:
    record = rec(seq, b"")
    record["kinesis"]["data"] = data
    return record


# -- decoding and order ------------------------------------------------------------------------------------------------


def test_base64_json_payloads_are_validated_and_handled_in_order(lambda_context):
    """Every record's data is base64-decoded, validated to the model and handled in batch order."""
    handler, dlq, metrics = build()
    event = kinesis_event(*(rec(f"4959{i}", click(f"p{i}", i)) for i in range(5)))
    assert handler(event, lambda_context) == {"batchItemFailures": []}
    assert [c for c, _ in handler.seen] == [Click(page=f"p{i}", n=i) for i in range(5)]
    assert handler.seen_seqs() == [f"4959{i}" for i in range(5)]
    assert dlq.offered == []
    assert metrics.counts[-1].processed == 5


def test_context_exposes_partition_key_shard_and_sequence(lambda_context):
    """ctx gives the partition key, the shard id from eventID and the sequence number; no trace means a new chain."""
    handler, _, _ = build()
    handler(kinesis_event(rec("111", click("a"), partition_key="user-7", shard="shardId-000000000003")), lambda_context)
    ((_, ctx),) = handler.seen
    assert ctx.partition_key == "user-7"
    assert ctx.shard_id == "shardId-000000000003"
    assert ctx.sequence_number == ctx.record_id == "111"
    assert ctx.source == "aws:kinesis"
    assert ctx.message_id == "111"
    assert ctx.correlation_id == "111"
    assert (ctx.causation_id, ctx.hops) == (None, 0)
    assert ctx.lambda_context is lambda_context
    assert handler.current == [True]


def test_plain_text_json_containing_the_word_detail_type_is_not_mistaken_for_an_envelope(lambda_context):
    """A payload mentioning "detail-type" but lacking the envelope's fields is validated as it is."""

    class Loose(KinesisHandler[dict]):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.seen: list[Any] = []

        def handle(self, message: Any, ctx: KinesisRecordContext) -> None:
            self.seen.append(message)

    handler, dlq, _ = build(Loose)
    payload = {"detail-type": "x", "page": "a"}
    assert handler(kinesis_event(rec("1", payload)), lambda_context) == {"batchItemFailures": []}
    assert handler.seen == [payload]
    assert dlq.offered == []


# -- checkpoint at the first failure -----------------------------------------------------------------------------------


def test_first_retryable_failure_stops_the_batch_and_reports_only_its_sequence_number(lambda_context):
    """Records before the failure are handled, the failing one is reported alone, later ones are never handled."""
    handler, dlq, metrics = build()
    event = kinesis_event(
        rec("100", click("a")),
        rec("200", click("b")),
        rec("300", click("fail-c")),
        rec("400", click("d")),
        rec("500", click("fail-e")),
    )
    assert handler(event, lambda_context) == {"batchItemFailures": [{"itemIdentifier": "300"}]}
    assert handler.seen_seqs() == ["100", "200", "300"]
    assert dlq.offered == []
    counts = metrics.counts[-1]
    assert (counts.processed, counts.failed) == (2, 1)


def test_poison_before_the_failure_goes_to_the_dlq_and_does_not_stop_the_batch(lambda_context):
    """Bad base64, bad JSON, a validation error and a PermanentError before the failure are all stored with reasons."""
    handler, dlq, metrics = build()
    event = kinesis_event(
        with_raw_data("1", "%%% not base64 %%%"),
        rec("2", b"{not json"),
        rec("3", {"n": 1}),  # no page
        rec("4", click("perm-d")),
        rec("5", click("ok")),
        rec("6", click("fail-f")),
    )
    assert handler(event, lambda_context) == {"batchItemFailures": [{"itemIdentifier": "6"}]}
    assert dlq.reasons() == {
        "1": "undecodable-payload",  # not base64
        "2": "validation-error",
        "3": "validation-error",
        "4": "permanent-error",
    }
    assert handler.seen_seqs() == ["4", "5", "6"]
    counts = metrics.counts[-1]
    assert (counts.poison, counts.processed, counts.failed) == (4, 1, 1)


def test_bad_json_carrying_the_context_key_is_poison_too(lambda_context):
    """Text that mentions "__context" but is not JSON takes the parse-first path and is still validation-error."""
    handler, dlq, _ = build()
    event = kinesis_event(rec("1", b'{"__context": {"hops": 1}, "page": '), rec("2", click("ok")))
    assert handler(event, lambda_context) == {"batchItemFailures": []}
    assert dlq.reasons() == {"1": "validation-error"}
    assert handler.seen_seqs() == ["2"]


def test_poison_after_the_failure_point_is_not_sent_to_the_dlq(lambda_context):
    """Records after the checkpoint will be redelivered, so their poison must not be stored now (no duplicates)."""
    handler, dlq, _ = build()
    event = kinesis_event(
        rec("1", b"garbage"),
        rec("2", click("fail-b")),
        rec("3", b"more garbage"),
        with_raw_data("4", "!!!"),
        rec("5", click("perm-e")),
    )
    assert handler(event, lambda_context) == {"batchItemFailures": [{"itemIdentifier": "2"}]}
    assert [e.record_id for e in dlq.offered] == ["1"]
    assert handler.seen_seqs() == ["2"]


def test_failure_at_the_first_record_reports_its_sequence_number_without_raising(lambda_context):
    """Checkpointing at the first record retries the whole batch (AWS: lowest reported number); nothing else runs."""
    handler, _, metrics = build()
    event = kinesis_event(rec("10", click("fail-a")), rec("20", click("b")), rec("30", click("c")))
    assert handler(event, lambda_context) == {"batchItemFailures": [{"itemIdentifier": "10"}]}
    assert handler.seen_seqs() == ["10"]
    assert metrics.counts[-1].failed == 1


def test_a_batch_of_one_failing_record_raises_so_lambda_retries_it(lambda_context):
    """When every record of the batch failed the handler raises BatchFailedError (complete failure, same retry)."""
    handler, _, _ = build()
    with pytest.raises(BatchFailedError):
        handler(kinesis_event(rec("10", click("fail-a"))), lambda_context)
    assert handler.seen_seqs() == ["10"]


def test_poison_without_a_dlq_becomes_the_checkpoint(lambda_context):
    """With no DLQ poison cannot be stored, so it is reported failed there and the batch stops (never dropped)."""
    handler, dlq, _ = build(dlq=MemoryDeadLetter(target=None))
    event = kinesis_event(rec("1", click("a")), rec("2", b"nope"), rec("3", click("c")))
    assert handler(event, lambda_context) == {"batchItemFailures": [{"itemIdentifier": "2"}]}
    assert handler.seen_seqs() == ["1"]
    assert dlq.stored == []


def test_poison_the_dlq_refuses_becomes_the_checkpoint(lambda_context):
    """A DLQ send that fails for one record stops the batch at that record, earlier poison stays stored."""
    handler, dlq, _ = build(dlq=MemoryDeadLetter(refuse=("3",)))
    event = kinesis_event(rec("1", b"bad"), rec("2", click("b")), rec("3", click("perm")), rec("4", click("d")))
    assert handler(event, lambda_context) == {"batchItemFailures": [{"itemIdentifier": "3"}]}
    assert dlq.reasons() == {"1": "validation-error"}
    assert handler.seen_seqs() == ["2", "3"]


def test_record_without_a_sequence_number_is_poison_and_the_batch_goes_on(lambda_context):
    """A record Lambda could not have sent (no sequenceNumber) is malformed poison, not a crash."""
    handler, dlq, _ = build()
    broken = rec("1", click("a"))
    del broken["kinesis"]["sequenceNumber"]
    assert handler(kinesis_event(broken, rec("2", click("b"))), lambda_context) == {"batchItemFailures": []}
    assert [(e.record_id, e.reason) for e in dlq.stored] == [(None, "malformed-record")]
    assert handler.seen_seqs() == ["2"]


def test_undeliverable_poison_without_a_sequence_number_fails_the_whole_batch(lambda_context):
    """No id to report and nowhere to store it: the handler raises so Lambda retries the batch."""
    handler, _, _ = build(dlq=MemoryDeadLetter(target=None))
    broken = rec("1", click("a"))
    del broken["kinesis"]["sequenceNumber"]
    with pytest.raises(BatchFailedError):
        handler(kinesis_event(rec("0", click("z")), broken, rec("2", click("b"))), lambda_context)
    assert handler.seen_seqs() == ["0"]


def test_poison_document_describes_the_kinesis_record(lambda_context):
    """The DLQ document names reason, sequence number, source ARN, trace and keeps the record as delivered."""
    handler, dlq, _ = build()
    record = rec("77", {"page": 5, "__context": {"correlationId": "c-1", "causationId": "x", "hops": 2}})
    handler(kinesis_event(record), lambda_context)
    (doc,) = [json.loads(e.body) for e in dlq.stored]
    assert doc["reason"] == "validation-error"
    assert doc["recordId"] == "77"
    assert doc["eventSource"] == "aws:kinesis"
    assert doc["eventSourceARN"] == STREAM_ARN
    assert doc["correlationId"] == "c-1"
    assert doc["hops"] == 2
    assert doc["record"]["kinesis"]["data"] == record["kinesis"]["data"]


def test_event_without_records_goes_to_the_dlq_or_raises():
    """A payload that is not a Kinesis event is malformed-event poison; with no DLQ the handler raises instead."""
    handler, dlq, _ = build()
    assert handler({"hello": "world"}, None) == {"batchItemFailures": []}
    assert [e.reason for e in dlq.stored] == ["malformed-event"]
    bare, _, _ = build(dlq=MemoryDeadLetter(target=None))
    with pytest.raises(InvalidEventError):
        bare({"hello": "world"}, None)


# -- trace metadata ----------------------------------------------------------------------------------------------------


def test_context_in_the_payload_gives_the_trace_and_is_stripped(lambda_context):
    """``__context`` sets correlation id, causation id and hops, and never reaches the (extra=forbid) model."""
    handler, dlq, _ = build()
    meta = {"correlationId": "corr-1", "causationId": "cause-1", "hops": 4}
    handler(kinesis_event(rec("9", click("a", 3, __context=meta))), lambda_context)
    assert dlq.offered == []
    ((model, ctx),) = handler.seen
    assert model == Click(page="a", n=3)
    assert (ctx.correlation_id, ctx.causation_id, ctx.hops) == ("corr-1", "cause-1", 4)
    assert ctx.message_id == "9"


def test_publishing_inside_handle_continues_the_chain(lambda_context):
    """Inside handle the outgoing trace is (same correlation, this record's id, hops + 1)."""
    handler, _, _ = build()
    meta = {"correlationId": "corr-1", "hops": 4}
    handler(kinesis_event(rec("9", click("a", __context=meta)), rec("10", click("b"))), lambda_context)
    assert handler.traces == [("corr-1", "9", 5), ("10", "10", 1)]
    assert current_record() is None


def test_context_without_a_correlation_id_falls_back_to_the_sequence_number(lambda_context):
    """A ``__context`` carrying only hops still counts hops; the chain id is the record's own id."""
    handler, _, _ = build()
    handler(kinesis_event(rec("9", click("a", __context={"hops": 2}))), lambda_context)
    ((_, ctx),) = handler.seen
    assert (ctx.correlation_id, ctx.hops) == ("9", 2)


@pytest.mark.parametrize("hops", [3, 4, 100])
def test_hops_over_the_limit_are_recursion_limit_poison(lambda_context, hops):
    """Past max_hops the record is poison "recursion-limit", its handler is not called, the batch carries on."""
    handler, dlq, metrics = build(max_hops=2)
    event = kinesis_event(rec("1", click("loop", __context={"correlationId": "c", "hops": hops})), rec("2", click("b")))
    assert handler(event, lambda_context) == {"batchItemFailures": []}
    assert dlq.reasons() == {"1": "recursion-limit"}
    assert handler.seen_seqs() == ["2"]
    assert metrics.counts[-1].recursion_stopped == 1


def test_hops_at_the_limit_are_still_handled(lambda_context):
    """The limit itself is allowed: only hops > max_hops is stopped."""
    handler, dlq, _ = build(max_hops=2)
    handler(kinesis_event(rec("1", click("a", __context={"hops": 2}))), lambda_context)
    assert handler.seen_seqs() == ["1"]
    assert dlq.offered == []


def test_class_max_hops_overrides_settings(lambda_context):
    """A handler's own max_hops wins over Settings.max_hops."""

    class Tight(Track):
        max_hops = 1

    handler, dlq, _ = build(Tight, max_hops=10)
    handler(kinesis_event(rec("1", click("a", __context={"hops": 2}))), lambda_context)
    assert dlq.reasons() == {"1": "recursion-limit"}


@pytest.mark.parametrize("meta", ["not-an-object", {"hops": "many"}, {"hops": True}])
def test_unreadable_hops_trip_the_guard(lambda_context, meta):
    """A corrupt ``__context`` must not reset a loop to zero: it is treated as over the limit."""
    handler, dlq, _ = build()
    handler(kinesis_event(rec("1", click("a", __context=meta))), lambda_context)
    assert dlq.reasons() == {"1": "recursion-limit"}
    assert handler.seen == []


def test_eventbridge_event_on_the_stream_is_unwrapped_to_its_detail(lambda_context):
    """A rule targeting the stream puts the whole event; the handler sees ``detail`` and the event's ids and trace."""
    handler, dlq, _ = build()
    traced = eventbridge_event(
        click("a", 1, __context={"correlationId": "corr-eb", "causationId": "c0", "hops": 1}),
        detail_type="PageViewed",
        event_id="evt-1",
    )
    plain = eventbridge_event(click("b", 2), detail_type="PageViewed", event_id="evt-2")
    assert handler(kinesis_event(rec("1", traced), rec("2", plain)), lambda_context) == {"batchItemFailures": []}
    assert dlq.offered == []
    (m1, c1), (m2, c2) = handler.seen
    assert (m1, m2) == (Click(page="a", n=1), Click(page="b", n=2))
    assert (c1.event_type, c1.message_id, c1.record_id) == ("PageViewed", "evt-1", "1")
    assert (c1.correlation_id, c1.causation_id, c1.hops) == ("corr-eb", "c0", 1)
    assert (c2.message_id, c2.correlation_id, c2.hops) == ("evt-2", "evt-2", 0)


def test_eventbridge_detail_failing_validation_is_poison(lambda_context):
    """An unwrapped detail is validated like any payload."""
    handler, dlq, _ = build()
    handler(kinesis_event(rec("1", eventbridge_event({"n": 1}))), lambda_context)
    assert dlq.reasons() == {"1": "validation-error"}

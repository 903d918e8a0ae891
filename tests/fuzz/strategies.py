"""Hypothesis strategies for fuzzing the handler entry points, and the in-memory dead-letter double they need.

Every strategy starts from a valid AWS-shaped event built by ``eventweave.testing.events`` and then, sometimes,
damages it: keys dropped or retyped, hostile strings, broken JSON or base64 inside bodies, envelopes with wrong
types, hostile trace metadata, duplicated records and ids, records that are not dicts, top-level events that are not
events at all.

Each generated record comes with a :class:`Spec`: what it was built as and whether it is still *clean* (only the
benign damage of duplicated ids was applied). The tests derive the exact expected fate of clean records from it and
check every other record against the structural rules only.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from hypothesis import strategies as st
from pydantic import BaseModel

from eventweave.handlers import IGNORED, PermanentError
from eventweave.handlers.poison import PoisonEntry, poison_body
from tests import factories as f

__all__ = [
    "ACTIONS",
    "DLQ_URL",
    "EVENT_TYPES",
    "ROUTES",
    "Cancel",
    "Case",
    "FuzzDeadLetter",
    "Item",
    "Spec",
    "act",
    "ddb_cases",
    "destination_cases",
    "eventbridge_cases",
    "expected_fate",
    "invoke_cases",
    "kinesis_cases",
    "malformed_cases",
    "sns_cases",
    "sqs_cases",
    "stream_failure_cases",
]

DLQ_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/fuzz-dlq"
ACTIONS = ("ok", "ignore", "retry", "retry-value", "retry-key", "permanent")
ROUTES = ("ItemPlaced", "ItemCancelled")
EVENT_TYPES = (*ROUTES, "SomethingElse")
MAX_VALID_HOPS = 10  # below the default limit of 16 even after a destination's extra hop

Action = Literal["ok", "ignore", "retry", "retry-value", "retry-key", "permanent"]


class Item(BaseModel):
    """The payload of every generated record: ``action`` tells the recording handler what to do with it."""

    key: str
    action: Action
    n: int = 0


class Cancel(BaseModel):
    """The model of the second ``@on_event`` route (same wire shape, a different class)."""

    key: str
    action: Action
    reason: str = "unspecified"


def act(action: str, key: str) -> Any:
    """What a recording handler does with a payload whose action is ``action``."""
    if action == "ignore":
        return IGNORED
    if action == "retry":
        raise RuntimeError(f"downstream unavailable for {key}")
    if action == "retry-value":
        raise ValueError(f"transient value problem for {key}")  # a ValueError must not pass for a validation error
    if action == "retry-key":
        raise KeyError(key)
    if action == "permanent":
        raise PermanentError(f"{key} can never succeed")
    return {"handled": key}


# -- the dead-letter double ------------------------------------------------------------------------------------------


class FuzzDeadLetter:
    """In-memory stand-in for :class:`eventweave.handlers.poison.DeadLetter` (assign it to ``handler.dead_letter``).

    ``target=None`` is a handler without ``EVENTWEAVE_DLQ``: nothing is ever delivered. ``refuse`` is a pattern
    cycled over every entry offered (``True`` refuses that entry), so deliveries fail on demand; :meth:`fail_all`
    refuses everything from now on. Each entry is rendered with the real :func:`poison_body`, which proves the
    handler only ever builds serialisable entries. ``offers`` keeps ``(entry, delivered)`` in offer order.
    """

    def __init__(
        self, target: str | None = DLQ_URL, *, refuse: Sequence[bool] = (False,), function_name: str = "fuzz-fn"
    ) -> None:
        self.target = target
        self.function_name = function_name
        self.refuse = tuple(refuse) or (False,)
        self.offers: list[tuple[PoisonEntry, bool]] = []
        self.calls = 0

    @property
    def configured(self) -> bool:
        return self.target is not None

    @property
    def fifo(self) -> bool:
        return self.target is not None and self.target.endswith(".fifo")

    def fail_all(self) -> FuzzDeadLetter:
        self.refuse = (True,)
        return self

    def send(self, entries: list[PoisonEntry]) -> list[bool]:
        self.calls += 1
        results: list[bool] = []
        for entry in entries:
            entry.body = poison_body(entry, self.function_name)
            ok = self.target is not None and not self.refuse[len(self.offers) % len(self.refuse)]
            self.offers.append((entry, ok))
            results.append(ok)
        return results

    @property
    def delivered(self) -> list[PoisonEntry]:
        return [entry for entry, ok in self.offers if ok]

    def __repr__(self) -> str:
        return f"FuzzDeadLetter(target={self.target!r}, refuse={self.refuse!r})"


def dead_letters() -> st.SearchStrategy[FuzzDeadLetter]:
    """A working DLQ, one refusing everything, none configured, or one refusing some entries."""
    return st.one_of(
        st.just(()).map(lambda _: FuzzDeadLetter()),
        st.just(()).map(lambda _: FuzzDeadLetter().fail_all()),
        st.just(()).map(lambda _: FuzzDeadLetter(None)),
        st.lists(st.booleans(), min_size=1, max_size=4).map(lambda pattern: FuzzDeadLetter(refuse=pattern)),
    )


# -- what a generated record is ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """How a record was built. ``clean``: nothing but benign damage, so its fate is known exactly."""

    action: str | None = None
    hostile_hops: bool = False
    event_type: str | None = None
    clean: bool = True
    poison: bool = False  # damaged so that it can never reach handle (any poison reason)
    junk: bool = False  # not a dict at all: malformed-record


def expected_fate(spec: Spec, routes: Sequence[str] = (), has_handle: bool = True) -> str | None:
    """``processed``, ``retry``, a poison reason, ``poison`` (any reason), or ``None`` when unknown."""
    if spec.junk:
        return "malformed-record"
    if spec.poison:
        return "poison"
    if not spec.clean:
        return None
    if spec.hostile_hops:
        return "recursion-limit"  # the guard runs before routing and validation
    if routes and not has_handle and spec.event_type not in routes:
        return "unhandled-event-type"
    if spec.action in ("ok", "ignore"):
        return "processed"
    if spec.action == "permanent":
        return "permanent-error"
    return "retry"


@dataclass
class Case:
    """One invocation: the event, the records the handler iterates, their specs and the dead-letter double."""

    event: Any
    records: list[Any]
    specs: list[Spec]
    dlq: FuzzDeadLetter
    malformed: bool = False
    context: Any = None
    notes: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        specs = "\n".join(f"  {i}: {spec}" for i, spec in enumerate(self.specs))
        return (
            f"Case(malformed={self.malformed}, dlq={self.dlq!r}, notes={self.notes!r},\n{specs}\n"
            f"  event={_short(self.event)})"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # how hypothesis prints a falsifying example
        printer.text(repr(self))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 4000 else text[:4000] + f"...({len(text)} chars)"


# -- junk and hostile values -------------------------------------------------------------------------------------

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
# Only what JSON can carry: Lambda parses every event from JSON before the handler sees it.
junk = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=6,
)
non_dict_junk = junk.filter(lambda value: not isinstance(value, dict))

hostile_strings = st.one_of(
    st.just(""),
    st.text(max_size=24),
    st.sampled_from(
        ["\ud800", "x\udfffy", "\x00\x01", "\u202eevil", "🦄" * 3, "null", "{", "[]", "NaN", "true", " ", "\n"]
    ),
    # Past SQS's 256 KiB message limit once described in a poison document.
    st.sampled_from([3_000, 140_000, 270_000]).flatmap(lambda n: st.sampled_from(["x" * n, "é" * n, "{" * n])),
)

bad_text = st.one_of(
    st.sampled_from(
        [
            "not json",
            "{",
            '{"key": "a", "action": ',
            "[]",
            "null",
            "42",
            '"text"',
            "{}",
            '{"key": 1, "action": []}',
            '{"key": "k", "action": "explode"}',
            '{"Type": "Notification", "TopicArn": 1, "Message": {}}',
            '{"detail-type": "X", "source": "s", "id": "i", "detail": []}',
            '{"__context": {"hops": "lots"}}',
            "QUJD",
            "!!!not base64!!!",
            "QUI",
            "=" * 8,
            "[" * 3000 + "]" * 3000,
        ]
    ),
    st.text(max_size=30),
    junk.map(json.dumps),  # JSON, but not the schema
    hostile_strings,
    st.binary(max_size=24).map(lambda raw: base64.b64encode(raw).decode()),  # base64 of bytes that are not JSON
)


def _hops_text_is_valid(text: str) -> bool:
    try:
        return 0 <= int(text) <= MAX_VALID_HOPS
    except ValueError:
        return False


# Values a producer might put where the hop counter goes. None of them is a readable count within the limit.
hostile_hops = st.one_of(
    st.integers(min_value=-(10**30), max_value=-1),
    st.integers(min_value=17, max_value=10**30),
    st.sampled_from(["abc", "", " ", "1.5", "1e3", "0x10", "NaN", "-inf", "true", "seventeen"]),
    st.text(max_size=8).filter(lambda text: not _hops_text_is_valid(text)),
    st.booleans(),
    st.lists(st.integers(0, 3), min_size=1, max_size=2),
    st.dictionaries(st.sampled_from(["hops", "n"]), st.integers(0, 3), min_size=1, max_size=2),
)
valid_hops = st.integers(min_value=0, max_value=MAX_VALID_HOPS)
safe_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=10)


@st.composite
def traces(draw: st.DrawFn) -> tuple[str, Any]:
    """``("none", None)``, ``("valid", hops)`` or ``("hostile", value)``."""
    kind = draw(st.sampled_from(["none", "none", "valid", "hostile"]))
    if kind == "none":
        return kind, None
    return kind, draw(valid_hops if kind == "valid" else hostile_hops)


def _context(hops: Any, i: int) -> dict[str, Any]:
    return {"correlationId": f"corr-{i}", "causationId": f"cause-{i}", "hops": hops}


def _attr_value(hops: Any) -> Any:
    """An int counter travels as its text (as publishers write it); other hostile values go in as they are."""
    return str(hops) if isinstance(hops, int) and not isinstance(hops, bool) else hops


def _sqs_trace_attrs(hops: Any, i: int, bare: bool) -> dict[str, Any]:
    value = _attr_value(hops)
    return {
        "eventweave-correlation-id": f.sqs_attribute(f"corr-{i}"),
        "eventweave-hops": value if bare else {**f.sqs_attribute(0, "Number"), "stringValue": value},
    }


def _sns_trace_attrs(hops: Any, i: int, bare: bool) -> dict[str, Any]:
    value = _attr_value(hops)
    return {
        "eventweave-correlation-id": f.sns_attribute(f"corr-{i}"),
        "eventweave-hops": value if bare else {"Type": "Number", "Value": value},
    }


def to_ddb(value: Any) -> dict[str, Any]:
    """A Python value in DynamoDB JSON, as a stream record carries it."""
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if value is None:
        return {"NULL": True}
    if isinstance(value, list):
        return {"L": [to_ddb(v) for v in value]}
    return {"M": {str(k): to_ddb(v) for k, v in value.items()}}


# -- mutations ---------------------------------------------------------------------------------------------------


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for key, value in items:
        path = (*prefix, key)
        out.append(path)
        out.extend(_paths(value, path))
    return out


def _parent(obj: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        obj = obj[key]
    return obj


def _decode_inner(text: str) -> tuple[str, Any] | None:
    """A string field that holds JSON (a body, an SNS Message) or base64 JSON (Kinesis data), parsed."""
    try:
        value = json.loads(text)
        if isinstance(value, dict | list):
            return "json", value
    except ValueError:
        pass
    try:
        value = json.loads(base64.b64decode(text, validate=True))
        if isinstance(value, dict | list):
            return "b64", value
    except ValueError:
        pass
    return None


def _encode_inner(kind: str, value: Any) -> str:
    text = json.dumps(value)
    return base64.b64encode(text.encode()).decode() if kind == "b64" else text


@st.composite
def mutated(draw: st.DrawFn, obj: Any, depth: int = 0) -> Any:
    """A copy of ``obj`` with one node dropped, retyped, made hostile, or damaged inside its JSON/base64 text."""
    obj = copy.deepcopy(obj)
    paths = _paths(obj)
    if not paths:
        return draw(junk)
    top = [path for path in paths if len(path) == 1]
    # Half the time a top-level key: the fields a source reads first, reached rarely among all nested paths.
    path = draw(st.sampled_from(top if top and draw(st.booleans()) else paths))
    parent, key = _parent(obj, path), path[-1]
    value = parent[key]
    op = draw(st.sampled_from(["drop", "retype", "hostile", "inner", "inner"]))
    if op == "drop":
        del parent[key]
    elif op == "retype":
        parent[key] = draw(junk)
    elif op == "hostile":
        parent[key] = draw(hostile_strings)
    else:
        inner = _decode_inner(value) if isinstance(value, str) and depth < 2 else None
        if inner is None:
            parent[key] = draw(bad_text)
        else:
            parent[key] = _encode_inner(inner[0], draw(mutated(inner[1], depth + 1)))
    return obj


@st.composite
def payloads(draw: st.DrawFn, i: int) -> dict[str, Any]:
    return {"key": f"{draw(safe_text)}-{i}", "action": draw(st.sampled_from(ACTIONS)), "n": draw(st.integers(-99, 99))}


@dataclass
class _Built:
    record: Any
    spec: Spec
    damage: list[Callable[[Any], Any]] = field(default_factory=list)  # envelope damage that makes it poison
    retypes: list[tuple[tuple[str, ...], Any]] = field(default_factory=list)  # (path, value): fate unknown


@st.composite
def _batch(
    draw: st.DrawFn,
    build: Callable[[st.DrawFn, int], _Built],
    set_id: Callable[[Any, Any], None] | None,
    get_id: Callable[[Any], Any] | None,
    *,
    min_size: int = 0,
    max_size: int = 6,
    junk_records: bool = True,
) -> tuple[list[Any], list[Spec], list[str]]:
    """Records built by ``build``; some damaged, duplicated, or replaced by junk."""
    size = draw(st.integers(min_size, max_size))
    records: list[Any] = []
    specs: list[Spec] = []
    notes: list[str] = []
    for i in range(size):
        built = build(draw, i)
        record, spec = built.record, built.spec
        damage = draw(st.sampled_from(["none", "none", "none", "mutate", "mutate", "envelope", "retype", "junk"]))
        if damage == "retype" and built.retypes:
            path, value = draw(st.sampled_from(built.retypes))
            record = copy.deepcopy(record)
            _parent(record, path)[path[-1]] = copy.deepcopy(value)
            spec = replace(spec, clean=False)
        elif damage == "mutate":
            record = draw(mutated(record))
            if draw(st.booleans()):
                record = draw(mutated(record))
            spec = replace(spec, clean=False)
        elif damage == "envelope" and built.damage:
            record = draw(st.sampled_from(built.damage))(copy.deepcopy(record))
            spec = replace(spec, clean=False, poison=True)
        elif damage == "junk" and junk_records:
            record = draw(non_dict_junk)
            spec = Spec(clean=False, junk=True)
        records.append(record)
        specs.append(spec)
    if records and draw(st.booleans()):
        # Duplicates: a record delivered twice (its own copy, so identities stay distinct), or two records sharing
        # one id. Neither changes what the runtime must do with each record.
        for _ in range(draw(st.integers(1, 2))):
            src = draw(st.integers(0, len(records) - 1))
            if draw(st.booleans()):
                dst = draw(st.integers(0, len(records)))
                records.insert(dst, copy.deepcopy(records[src]))
                specs.insert(dst, specs[src])
                notes.append(f"record {src} duplicated at {dst}")
            elif set_id is not None and get_id is not None:
                dst = draw(st.integers(0, len(records) - 1))
                try:
                    value = get_id(records[src])
                    if isinstance(value, str) and value:  # a valid id: sharing it is benign
                        set_id(records[dst], value)
                        notes.append(f"record {dst} takes the id of record {src}")
                        # ...but it may repair an id the damage had removed.
                        specs[dst] = replace(specs[dst], poison=False)
                except (KeyError, TypeError, IndexError):
                    pass
    return records, specs, notes


@st.composite
def _batch_case(
    draw: st.DrawFn,
    build: Callable[[st.DrawFn, int], _Built],
    set_id: Callable[[Any, Any], None] | None = None,
    get_id: Callable[[Any], Any] | None = None,
    **kwargs: Any,
) -> Case:
    records, specs, notes = draw(_batch(build, set_id, get_id, **kwargs))
    event: dict[str, Any] = {"Records": records}
    if draw(st.integers(0, 4)) == 0:
        event.update(draw(st.dictionaries(st.text(max_size=6).filter(lambda k: k != "Records"), junk, max_size=2)))
    return Case(event, records, specs, draw(dead_letters()), context=draw(_contexts()), notes=notes)


def _contexts() -> st.SearchStrategy[Any]:
    def fake(_: Any) -> f.FakeLambdaContext:
        ctx = f.FakeLambdaContext()
        ctx.aws_request_id = "req-fuzz"
        return ctx

    return st.one_of(st.none(), st.just(()).map(fake))


def _pin(record: dict[str, Any], i: int) -> dict[str, Any]:
    """Replace the factories' clock and uuid values, so every example is reproducible."""
    if "receiptHandle" in record:
        record["receiptHandle"] = f"rh-{i}"
        attrs = record["attributes"]
        attrs.update(SentTimestamp="1763900000000", ApproximateFirstReceiveTimestamp="1763900000001")
        if "MessageGroupId" in attrs:
            attrs.update(SequenceNumber=f"{18_000_000_000_000_000_000 + i}", MessageDeduplicationId=f"dedup-{i}")
    if "kinesis" in record:
        record["kinesis"]["approximateArrivalTimestamp"] = 1763900000.5 + i
    if "dynamodb" in record:
        record["eventID"] = f"ddb-event-{i}"
        record["dynamodb"]["ApproximateCreationDateTime"] = 1763900000 + i
    return record


# -- SQS -------------------------------------------------------------------------------------------------------------


def _eventbridge_body(detail: Any, event_type: str, i: int) -> dict[str, Any]:
    return f.eventbridge_event(detail, detail_type=event_type, event_id=f"eb-{i}")


def _sns_doc(message: Any, i: int, attributes: dict[str, Any] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(f.sns_envelope("placeholder", message_id=f"sns-{i}", attributes=attributes))
    doc["Message"] = message
    return doc


def _sqs_envelope_damage(i: int, payload: dict[str, Any]) -> list[Callable[[Any], Any]]:
    def sns_message_dict(record: dict[str, Any]) -> dict[str, Any]:
        record["body"] = json.dumps(_sns_doc(payload, i))
        return record

    def eventbridge_detail_list(record: dict[str, Any]) -> dict[str, Any]:
        record["body"] = json.dumps(_eventbridge_body([payload], "ItemPlaced", i))
        return record

    def sns_eventbridge_detail_list(record: dict[str, Any]) -> dict[str, Any]:
        inner = json.dumps(_eventbridge_body([payload], "ItemPlaced", i))
        record["body"] = json.dumps(_sns_doc(inner, i))
        return record

    def body_not_a_string(record: dict[str, Any]) -> dict[str, Any]:
        record["body"] = payload
        return record

    return [sns_message_dict, eventbridge_detail_list, sns_eventbridge_detail_list, body_not_a_string]


# Maps that are not maps. Whether such a record is poison depends on its body (an envelope brings its own trace).
_SQS_RETYPES: list[tuple[tuple[str, ...], Any]] = [
    *((("messageAttributes",), value) for value in (True, 7, 2.5, "eventweave-hops", ["eventweave-hops"], None)),
    *((("attributes",), value) for value in ("MessageGroupId", ["MessageGroupId"], 7, None)),
    (("attributes", "MessageGroupId"), 7),
    (("messageAttributes", "eventweave-hops"), {"stringValue": ["17"], "dataType": "Number"}),
]


def _sqs_builder(fifo: bool, body_for: Callable[[st.DrawFn, int], tuple[Any, Spec]] | None = None) -> Any:
    def build(draw: st.DrawFn, i: int) -> _Built:
        message_id = f"m{i}-{draw(st.sampled_from(['a', 'b', 'ü', '🦄', 'x' * 40]))}"
        group = draw(st.sampled_from(["g1", "g2", "g3"])) if fifo else None
        trace_kind, hops = draw(traces())
        bare = trace_kind == "hostile" and draw(st.integers(0, 3)) == 0
        if body_for is not None:  # StreamFailureHandler: its own body, a plain or SNS-wrapped JSON document
            body, spec = body_for(draw, i)
            envelope = draw(st.sampled_from(["plain", "sns"]))
            payload = body
        else:
            payload = draw(payloads(i))
            spec = Spec(action=payload["action"])
            envelope = draw(st.sampled_from(["plain", "sns", "eventbridge", "sns+eventbridge"]))
        attrs: dict[str, Any] | None = None
        if envelope == "plain":
            body = payload
            if trace_kind != "none":
                attrs = _sqs_trace_attrs(hops, i, bare)
        elif envelope == "sns":
            sns_attrs = _sns_trace_attrs(hops, i, bare) if trace_kind != "none" else None
            body = f.sns_envelope(payload, message_id=f"sns-{i}", attributes=sns_attrs)
        else:
            event_type = draw(st.sampled_from(EVENT_TYPES))
            detail = dict(payload)
            if trace_kind != "none":
                detail["__context"] = _context(hops, i)
            event = _eventbridge_body(detail, event_type, i)
            body = event if envelope == "eventbridge" else f.sns_envelope(event, message_id=f"sns-{i}")
            spec = replace(spec, event_type=event_type)
        spec = replace(spec, hostile_hops=trace_kind == "hostile")
        record = _pin(f.sqs_record(body, message_id=message_id, attributes=attrs, group_id=group), i)
        return _Built(record, spec, _sqs_envelope_damage(i, payload), _SQS_RETYPES)

    return build


def _set_sqs_id(record: dict[str, Any], value: Any) -> None:
    record["messageId"] = value


def sqs_cases(*, fifo: bool = False, max_size: int = 8) -> st.SearchStrategy[Case]:
    """SQS events (standard, or FIFO with three groups): plain, SNS, EventBridge and SNS+EventBridge bodies."""
    return st.one_of(
        _batch_case(_sqs_builder(fifo), _set_sqs_id, lambda r: r["messageId"], max_size=max_size),
        malformed_cases("batch"),
    )


def _stream_failure_body(draw: st.DrawFn, i: int) -> tuple[Any, Spec]:
    action = draw(st.sampled_from(ACTIONS))
    doc = f.stream_failure_record(kind=draw(st.sampled_from(["kinesis", "dynamodb"])), start=str(i), end=str(i + 5))
    doc["requestContext"]["requestId"] = f"{action}:{i}"  # the recording handler reads its action from here
    return doc, Spec(action=action)


def stream_failure_cases() -> st.SearchStrategy[Case]:
    """SQS events carrying Kinesis / DynamoDB on-failure records (directly or through SNS)."""
    return st.one_of(
        _batch_case(_sqs_builder(False, _stream_failure_body), _set_sqs_id, lambda r: r["messageId"]),
        malformed_cases("batch"),
    )


# -- SNS -------------------------------------------------------------------------------------------------------------


def _sns_build(draw: st.DrawFn, i: int) -> _Built:
    payload = draw(payloads(i))
    trace_kind, hops = draw(traces())
    bare = trace_kind == "hostile" and draw(st.integers(0, 3)) == 0
    spec = Spec(action=payload["action"], hostile_hops=trace_kind == "hostile")
    attrs = None
    if draw(st.booleans()):
        message: Any = payload
        if trace_kind != "none":
            attrs = _sns_trace_attrs(hops, i, bare)
    else:
        detail = dict(payload)
        if trace_kind != "none":
            detail["__context"] = _context(hops, i)
        message = _eventbridge_body(detail, draw(st.sampled_from(EVENT_TYPES)), i)
    record = f.sns_event(message, message_id=f"sns-{i}", attributes=attrs)["Records"][0]

    def message_dict(r: dict[str, Any]) -> dict[str, Any]:
        r["Sns"]["Message"] = payload
        return r

    def detail_list(r: dict[str, Any]) -> dict[str, Any]:
        r["Sns"]["Message"] = json.dumps(_eventbridge_body([payload], "ItemPlaced", i))
        return r

    def message_id_missing(r: dict[str, Any]) -> dict[str, Any]:
        del r["Sns"]["MessageId"]
        return r

    return _Built(record, spec, [message_dict, detail_list, message_id_missing])


def _set_sns_id(record: dict[str, Any], value: Any) -> None:
    record["Sns"]["MessageId"] = value


def sns_cases() -> st.SearchStrategy[Case]:
    """SNS -> Lambda events (normally one record; here up to three), Message plain or an EventBridge event."""
    return st.one_of(
        _batch_case(_sns_build, _set_sns_id, lambda r: r["Sns"]["MessageId"], min_size=1, max_size=3),
        malformed_cases("sns"),
    )


# -- EventBridge -----------------------------------------------------------------------------------------------------


@st.composite
def eventbridge_cases(draw: st.DrawFn) -> Case:
    """One EventBridge event (detail-type routed or not, maybe traced), sometimes damaged or not an event at all."""
    if draw(st.integers(0, 7)) == 0:
        return draw(malformed_cases("eventbridge"))
    payload = draw(payloads(0))
    trace_kind, hops = draw(traces())
    event_type = draw(st.sampled_from(EVENT_TYPES))
    detail = dict(payload)
    if trace_kind != "none":
        detail["__context"] = _context(hops, 0)
    event: Any = _eventbridge_body(detail, event_type, 0)
    spec = Spec(action=payload["action"], hostile_hops=trace_kind == "hostile", event_type=event_type)
    damage = draw(st.sampled_from(["none", "none", "mutate", "envelope"]))
    if damage == "mutate":
        event = draw(mutated(event))
        spec = replace(spec, clean=False)
    elif damage == "envelope":
        event["detail"] = draw(st.sampled_from([[payload], json.dumps(payload), None, 7]))
        spec = replace(spec, clean=False, poison=True)
    malformed = not isinstance(event, dict) or "detail" not in event or "detail-type" not in event
    return Case(event, [event], [spec], draw(dead_letters()), malformed=malformed, context=draw(_contexts()))


# -- Kinesis ---------------------------------------------------------------------------------------------------------


def _kinesis_build(draw: st.DrawFn, i: int) -> _Built:
    payload = draw(payloads(i))
    trace_kind, hops = draw(traces())
    data: Any = dict(payload)
    if trace_kind != "none":
        data["__context"] = _context(hops, i)
    if draw(st.booleans()):
        data = _eventbridge_body(data, draw(st.sampled_from(EVENT_TYPES)), i)
    seq = str(49_590_338_271_490_256_608_559_692_538_361_571_095_921_575_989_136_588_898 + i)
    record = _pin(f.kinesis_record(data, sequence_number=seq), i)
    spec = Spec(action=payload["action"], hostile_hops=trace_kind == "hostile")

    def detail_list(r: dict[str, Any]) -> dict[str, Any]:
        r["kinesis"]["data"] = base64.b64encode(json.dumps(_eventbridge_body([payload], "X", i)).encode()).decode()
        return r

    def not_base64(r: dict[str, Any]) -> dict[str, Any]:
        r["kinesis"]["data"] = "%%% " + json.dumps(payload)
        return r

    def not_json(r: dict[str, Any]) -> dict[str, Any]:
        r["kinesis"]["data"] = base64.b64encode(b"\xff\xfe not json " + json.dumps(payload).encode()).decode()
        return r

    def data_not_text(r: dict[str, Any]) -> dict[str, Any]:
        r["kinesis"]["data"] = payload
        return r

    return _Built(record, spec, [detail_list, not_base64, not_json, data_not_text])


def _set_kinesis_id(record: dict[str, Any], value: Any) -> None:
    record["kinesis"]["sequenceNumber"] = value


def kinesis_cases() -> st.SearchStrategy[Case]:
    """Kinesis events: base64 JSON payloads, optionally traced or wrapped in an EventBridge event."""
    return st.one_of(
        _batch_case(_kinesis_build, _set_kinesis_id, lambda r: r["kinesis"]["sequenceNumber"]),
        malformed_cases("batch"),
    )


# -- DynamoDB Streams ------------------------------------------------------------------------------------------------


def _ddb_build(draw: st.DrawFn, i: int) -> _Built:
    payload = draw(payloads(i))
    trace_kind, hops = draw(traces())
    event_name = draw(st.sampled_from(["INSERT", "MODIFY", "REMOVE"]))
    image = {name: to_ddb(value) for name, value in payload.items()}
    traced = dict(image)
    if trace_kind != "none":
        traced["__context"] = to_ddb(_context(hops, i))
    new = traced if event_name != "REMOVE" else None
    # The old image's context belongs to an earlier write: it is dropped and must not trip the guard.
    old = {"INSERT": None, "MODIFY": image, "REMOVE": traced}[event_name]
    seq = str(111_000_000_000_000_000_000 + i)
    keys = {"key": {"S": payload["key"]}}
    record = _pin(f.ddb_record(event_name, sequence_number=seq, keys=keys, new_image=new, old_image=old), i)
    spec = Spec(action=payload["action"], hostile_hops=trace_kind == "hostile" and new is not None)

    def bad_event_name(r: dict[str, Any]) -> dict[str, Any]:
        r["eventName"] = "UPSERT"
        return r

    def keys_not_a_map(r: dict[str, Any]) -> dict[str, Any]:
        r["dynamodb"]["Keys"] = "key=" + payload["key"]
        return r

    def unknown_type(r: dict[str, Any]) -> dict[str, Any]:
        r["dynamodb"]["NewImage"] = {**image, "key": {"Q": payload["key"]}}
        return r

    return _Built(record, spec, [bad_event_name, keys_not_a_map, unknown_type])


def _set_ddb_id(record: dict[str, Any], value: Any) -> None:
    record["dynamodb"]["SequenceNumber"] = value


def ddb_cases() -> st.SearchStrategy[Case]:
    """DynamoDB stream events (INSERT / MODIFY / REMOVE) whose images hold the payload, maybe a trace."""
    return st.one_of(
        _batch_case(_ddb_build, _set_ddb_id, lambda r: r["dynamodb"]["SequenceNumber"]),
        malformed_cases("batch"),
    )


# -- direct invocation and async destinations ---------------------------------------------------------------------


@st.composite
def invoke_cases(draw: st.DrawFn) -> Case:
    """An async-invoke payload, maybe traced, sometimes damaged or not even an object."""
    payload: Any = draw(payloads(0))
    trace_kind, hops = draw(traces())
    if trace_kind != "none":
        payload["__context"] = _context(hops, 0)
    spec = Spec(action=payload["action"], hostile_hops=trace_kind == "hostile")
    damage = draw(st.sampled_from(["none", "none", "mutate", "junk"]))
    if damage == "mutate":
        payload = draw(mutated(payload))
        spec = replace(spec, clean=False)
    elif damage == "junk":
        payload = draw(non_dict_junk)
        spec = Spec(clean=False, poison=True)
    return Case(payload, [payload], [spec], draw(dead_letters()), context=draw(_contexts()))


@st.composite
def destination_cases(draw: st.DrawFn) -> Case:
    """Lambda's async destination records around a (maybe traced) payload, sometimes damaged."""
    payload: Any = draw(payloads(0))
    trace_kind, hops = draw(traces())
    if trace_kind != "none":
        payload["__context"] = _context(hops, 0)
    condition = draw(st.sampled_from(["Success", "RetriesExhausted", "EventAgeExceeded"]))
    record: Any = f.async_destination_record(payload, condition=condition)
    record["requestContext"]["requestId"] = "req-0"
    spec = Spec(action=payload["action"], hostile_hops=trace_kind == "hostile")
    damage = draw(st.sampled_from(["none", "none", "mutate", "envelope", "junk"]))
    if damage == "mutate":
        record = draw(mutated(record))
        spec = replace(spec, clean=False)
    elif damage == "envelope":
        where = draw(st.sampled_from(["requestPayload", "requestContext", "timestamp"]))
        record[where] = draw(st.sampled_from([[payload], "text", None]))
        spec = replace(spec, clean=False, poison=True)
    elif damage == "junk":
        record = draw(non_dict_junk)
        spec = Spec(clean=False, poison=True)
    return Case(record, [record], [spec], draw(dead_letters()), context=draw(_contexts()))


# -- top-level events that are not events of the source -----------------------------------------------------------


@st.composite
def malformed_cases(draw: st.DrawFn, kind: Literal["batch", "sns", "eventbridge"]) -> Case:
    """A top-level event the source cannot read: not a dict, no ``Records`` list (SNS: or an empty one), or for
    EventBridge no ``detail`` / ``detail-type``."""
    other_keys = st.dictionaries(st.text(max_size=8), junk, max_size=3)
    if kind == "eventbridge":
        event = f.eventbridge_event({"key": "k", "action": "ok"}, event_id="eb-bad")
        missing = draw(st.sampled_from([("detail",), ("detail-type",), ("detail", "detail-type")]))
        options = [
            non_dict_junk,
            other_keys.filter(lambda d: "detail" not in d or "detail-type" not in d),
            st.just({k: v for k, v in event.items() if k not in missing}),
        ]
    else:
        options = [
            non_dict_junk,
            other_keys.filter(lambda d: not isinstance(d.get("Records"), list)),
            non_dict_junk.filter(lambda v: not isinstance(v, list)).map(lambda v: {"Records": v}),
            st.dictionaries(st.sampled_from(["records", "RECORDS", "Records "]), st.lists(junk, max_size=2)),
        ]
        if kind == "sns":
            options.append(st.just({"Records": []}))
    event = draw(st.one_of(options))
    return Case(event, [], [], draw(dead_letters()), malformed=True, context=draw(_contexts()))

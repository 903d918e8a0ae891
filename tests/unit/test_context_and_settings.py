"""Shared behaviour of every handler: record context, trace parsing, settings from the environment, idempotency
configuration checks, and a cold start that imports no AWS SDK."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from eventweave.handlers import (
    ENV,
    ConfigurationError,
    Idempotency,
    RecordContext,
    Settings,
    SqsHandler,
    SqsRecordContext,
    current_record,
)
from eventweave.wire.trace import trace_from_attributes, trace_from_payload
from tests.factories import FakeLambdaContext, sns_attribute, sqs_attribute, sqs_event, sqs_record
from tests.unit.doubles import with_dead_letter

REPO = Path(__file__).resolve().parents[2]


class Order(BaseModel):
    order_id: str
    amount: int


# -- RecordContext ----------------------------------------------------------------------------------------------------


def test_ids_fall_back_to_the_record_id():
    """Without a logical id or trace, message id and correlation id are the record id and hops is 0."""
    ctx = RecordContext({}, "rec-1")
    assert (ctx.message_id, ctx.correlation_id, ctx.causation_id, ctx.hops) == ("rec-1", "rec-1", None, 0)


def test_correlation_falls_back_to_the_logical_message_id():
    """A record with a logical id (SNS/EventBridge) starts its chain at that id, not at the SQS messageId."""
    ctx = RecordContext({}, "sqs-1", "sns-1")
    assert (ctx.record_id, ctx.message_id, ctx.correlation_id) == ("sqs-1", "sns-1", "sns-1")
    traced = RecordContext({}, "sqs-1", "sns-1", correlation_id="corr", causation_id="cause", hops=4)
    assert (traced.correlation_id, traced.causation_id, traced.hops) == ("corr", "cause", 4)
    assert "corr" in repr(traced)
    assert "sns-1" in repr(traced)


def test_attributes_are_flattened_to_strings():
    """SQS stringValue and SNS Value attributes become plain strings; binary and odd entries are skipped."""
    raw = {
        "sqs": sqs_attribute("a"),
        "number": sqs_attribute(7),
        "sns": sns_attribute("b"),
        "binary": {"binaryValue": "AAE=", "dataType": "Binary"},
        "junk": "not-a-dict",
    }
    ctx = RecordContext({}, "r", raw_attributes=raw)
    assert ctx.attributes == {"sqs": "a", "number": "7", "sns": "b"}
    assert RecordContext({}, "r").attributes == {}


def test_remaining_time_comes_from_the_lambda_context():
    """remaining_time_ms() asks Lambda's context, and is generous when there is none (unit tests, scripts)."""
    ctx = RecordContext({}, "r", lambda_context=FakeLambdaContext(remaining_ms=5_000))
    assert 4_000 < ctx.remaining_time_ms() <= 5_000
    assert RecordContext({}, "r").remaining_time_ms() == 900_000


def test_sqs_context_reads_system_attributes():
    """group_id and receive_count come from the record's attributes; an unreadable count reads as 1."""
    ctx = SqsRecordContext(sqs_record({}, group_id="g", receive_count=3), "m")
    assert (ctx.group_id, ctx.receive_count, ctx.source) == ("g", 3, "aws:sqs")
    broken = sqs_record({})
    broken["attributes"]["ApproximateReceiveCount"] = "many"
    assert SqsRecordContext(broken, "m").receive_count == 1
    assert SqsRecordContext({}, "m").group_id is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, (None, None, 0)),
        ({}, (None, None, 0)),
        ({"other": sqs_attribute("x")}, (None, None, 0)),
        ({"eventweave-correlation-id": sqs_attribute("c")}, ("c", None, 0)),
        (
            {
                "eventweave-correlation-id": sns_attribute("c"),
                "eventweave-causation-id": sns_attribute("d"),
                "eventweave-hops": sns_attribute(5),
            },
            ("c", "d", 5),
        ),
        ({"eventweave-hops": sqs_attribute("five")}, (None, None, 1 << 30)),
        ({"eventweave-hops": sqs_attribute("-1")}, (None, None, 1 << 30)),
        ({"eventweave-hops": "-1"}, (None, None, 1 << 30)),
        ({"eventweave-hops": {"dataType": "Binary", "binaryValue": b"1"}}, (None, None, 1 << 30)),
    ],
    ids=[
        "none",
        "empty",
        "unrelated",
        "correlation-only",
        "sns-full",
        "corrupt-hops",
        "negative-hops",
        "unshaped-hops",
        "binary-hops",
    ],
)
def test_trace_from_attributes(raw, expected):
    """Trace attributes parse from SQS and SNS shapes; a corrupt hop count reads as huge so the guard trips."""
    assert trace_from_attributes(raw) == expected


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        ({"correlationId": "c", "causationId": "d", "hops": 2}, ("c", "d", 2)),
        ({"hops": Decimal("3")}, (None, None, 3)),
        ({"correlationId": 5, "hops": "4"}, (None, None, 4)),
        ({}, (None, None, 0)),
        ({"hops": True}, (None, None, 1 << 30)),
        ({"hops": "x"}, (None, None, 1 << 30)),
        ({"hops": None}, (None, None, 1 << 30)),
        (["not", "a", "dict"], (None, None, 1 << 30)),
    ],
    ids=["full", "decimal", "string-hops", "empty", "bool", "text", "null", "list"],
)
def test_trace_from_payload_pops_context(meta, expected):
    """``__context`` is removed from the payload; odd hop values are treated as over any limit."""
    payload = {"a": 1, "__context": meta}
    assert trace_from_payload(payload) == expected
    assert payload == {"a": 1}


def test_trace_from_payload_without_context():
    """A payload without ``__context`` yields no trace and is left alone."""
    payload = {"a": 1}
    assert trace_from_payload(payload) is None
    assert payload == {"a": 1}


class Watch(SqsHandler[Order]):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.current: list[RecordContext | None] = []
        self.contexts: list[SqsRecordContext] = []
        self.inner: Any = None

    def handle(self, order: Order, ctx: SqsRecordContext) -> None:
        self.current.append(current_record())
        self.contexts.append(ctx)
        if self.inner is not None and order.order_id == "outer":
            self.inner(sqs_event(sqs_record({"order_id": "inner", "amount": 1}, message_id="in")), None)
            self.current.append(current_record())
        if order.amount < 0:
            raise RuntimeError("retry me")


def test_current_record_is_set_during_handle_and_cleared_after():
    """current_record() is the record being handled (what publishers stamp) and None outside, even after errors."""
    handler = Watch(settings=Settings())
    with_dead_letter(handler)
    assert current_record() is None
    event = sqs_event(sqs_record({"order_id": "a", "amount": -1}), sqs_record({"order_id": "b", "amount": 1}))
    handler(event, None)
    assert handler.current == handler.contexts
    assert [ctx.record_id for ctx in handler.contexts] == [r["messageId"] for r in event["Records"]]
    assert current_record() is None


def test_nested_handler_restores_the_outer_record():
    """A handler invoked from inside another (local fan-out) restores the outer record when it returns."""
    outer, inner = Watch(settings=Settings()), Watch(settings=Settings())
    outer.inner = inner
    outer(sqs_event(sqs_record({"order_id": "outer", "amount": 1}, message_id="out")), None)
    assert [ctx.record_id for ctx in inner.current] == ["in"]
    assert [ctx.record_id if ctx else None for ctx in outer.current] == ["out", "out"]


# -- Settings ---------------------------------------------------------------------------------------------------------


def test_settings_defaults_from_an_empty_environment():
    """With no variables set every setting has its documented default."""
    assert Settings.from_env({}) == Settings(
        dlq=None,
        idempotency_table=None,
        idempotency_ttl_seconds=3600,
        max_hops=16,
        job_table=None,
        function_name="local",
        service="eventweave",
        namespace="eventweave",
    )


def test_settings_parse_every_variable():
    """Each EVENTWEAVE_* / Lambda / Powertools variable lands in its field, numbers as ints."""
    env = {
        "EVENTWEAVE_DLQ": "arn:aws:sqs:us-east-1:123456789012:dlq",
        "EVENTWEAVE_IDEMPOTENCY_TABLE": "idem",
        "EVENTWEAVE_IDEMPOTENCY_TTL_SECONDS": "60",
        "EVENTWEAVE_MAX_HOPS": "4",
        "EVENTWEAVE_JOB_TABLE": "jobs",
        "AWS_LAMBDA_FUNCTION_NAME": "charge",
        "POWERTOOLS_SERVICE_NAME": "billing",
        "POWERTOOLS_METRICS_NAMESPACE": "shop",
        "UNRELATED": "ignored",
    }
    assert Settings.from_env(env) == Settings(
        dlq="arn:aws:sqs:us-east-1:123456789012:dlq",
        idempotency_table="idem",
        idempotency_ttl_seconds=60,
        max_hops=4,
        job_table="jobs",
        function_name="charge",
        service="billing",
        namespace="shop",
    )
    assert ENV.MAX_HOPS == "EVENTWEAVE_MAX_HOPS"


def test_empty_variables_mean_unset():
    """An empty variable (how CloudFormation renders an absent value) falls back to the default."""
    env = dict.fromkeys(("EVENTWEAVE_DLQ", "EVENTWEAVE_MAX_HOPS", "EVENTWEAVE_IDEMPOTENCY_TABLE"), "")
    settings = Settings.from_env(env)
    assert (settings.dlq, settings.max_hops, settings.idempotency_table) == (None, 16, None)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("EVENTWEAVE_MAX_HOPS", "sixteen", "EVENTWEAVE_MAX_HOPS='sixteen' is not an integer"),
        ("EVENTWEAVE_MAX_HOPS", "2.5", "EVENTWEAVE_MAX_HOPS='2.5' is not an integer"),
        ("EVENTWEAVE_MAX_HOPS", "0", "EVENTWEAVE_MAX_HOPS=0 is below 1"),
        ("EVENTWEAVE_MAX_HOPS", "-3", "EVENTWEAVE_MAX_HOPS=-3 is below 1"),
        ("EVENTWEAVE_IDEMPOTENCY_TTL_SECONDS", "0", "EVENTWEAVE_IDEMPOTENCY_TTL_SECONDS=0 is below 1"),
    ],
)
def test_bad_numbers_raise_configuration_error(name, value, message):
    """A bad number names the variable, the value and what to set instead."""
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_env({name: value})
    assert message in str(raised.value)
    assert "whole number >= 1" in str(raised.value)


def test_settings_read_os_environ_by_default(monkeypatch):
    """A handler built without settings reads the process environment (what lambda_handler() does)."""
    monkeypatch.setenv("EVENTWEAVE_MAX_HOPS", "2")
    monkeypatch.setenv("EVENTWEAVE_DLQ", "https://sqs.us-east-1.amazonaws.com/123456789012/env-dlq")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "from-env")
    handler = Watch()
    assert handler.settings.function_name == "from-env"
    assert handler.hop_limit == 2
    assert handler.dead_letter.target == "https://sqs.us-east-1.amazonaws.com/123456789012/env-dlq"
    dlq = with_dead_letter(handler)
    attrs = {"eventweave-correlation-id": sqs_attribute("c"), "eventweave-hops": sqs_attribute(3)}
    handler(sqs_event(sqs_record({"order_id": "o", "amount": 1}, message_id="m", attributes=attrs)), None)
    assert dlq.reasons() == {"m": "recursion-limit"}
    assert dlq.documents()[0]["functionName"] == "from-env"


def test_bad_environment_fails_at_construction(monkeypatch):
    """A misconfigured function fails when it starts, before reading any record."""
    monkeypatch.setenv("EVENTWEAVE_MAX_HOPS", "lots")
    with pytest.raises(ConfigurationError, match="EVENTWEAVE_MAX_HOPS"):
        Watch()


def test_with_returns_a_changed_copy():
    """with_() changes fields on a copy; Settings themselves are immutable."""
    base = Settings()
    changed = base.with_(max_hops=3, dlq="q")
    assert (changed.max_hops, changed.dlq, base.max_hops, base.dlq) == (3, "q", 16, None)
    with pytest.raises(AttributeError):
        base.max_hops = 1  # type: ignore[misc]


def test_dlq_arn_of_another_service_is_rejected():
    """A DLQ ARN that is neither SQS nor SNS is a configuration error at construction."""
    with pytest.raises(ConfigurationError, match="neither an SQS queue nor an SNS topic"):
        Watch(settings=Settings(dlq="arn:aws:s3:::bucket"))


# -- idempotency configuration ----------------------------------------------------------------------------------------


class Charge(SqsHandler[Order]):
    idempotency = Idempotency(key="order_id")

    def handle(self, order: Order, ctx: SqsRecordContext) -> None:
        return None


def test_idempotency_without_table_is_a_configuration_error():
    """Declaring idempotency without EVENTWEAVE_IDEMPOTENCY_TABLE fails at construction and says what to set."""
    with pytest.raises(ConfigurationError) as raised:
        Charge(settings=Settings.from_env({}))
    message = str(raised.value)
    assert "Charge" in message
    assert "EVENTWEAVE_IDEMPOTENCY_TABLE" in message


def test_idempotency_with_table_builds_a_scoped_store():
    """With a table the store is built without calling AWS, scoped to function and class by default."""
    handler = Charge(settings=Settings(idempotency_table="idem", function_name="fn", idempotency_ttl_seconds=90))
    assert handler.store is not None
    assert (handler.store.table, handler.store.scope, handler.store.ttl_seconds) == ("idem", "fn.Charge", 90)
    contract = Charge.contract()
    assert (contract.idempotent, contract.idempotency_key) == (True, ("order_id",))


@pytest.mark.parametrize("key", ["orderid", ("order_id", "amount_cents")], ids=["single", "tuple"])
def test_idempotency_key_must_be_a_model_field(key):
    """A key naming a field the model lacks fails when the class is defined, naming the field and the choices."""
    with pytest.raises(ConfigurationError) as raised:

        class Typo(SqsHandler[Order]):
            idempotency = Idempotency(key=key)

            def handle(self, order: Order, ctx: SqsRecordContext) -> None:
                return None

    message = str(raised.value)
    assert "Typo.idempotency" in message
    assert "is not a field of Order" in message
    assert "['amount', 'order_id']" in message


@pytest.mark.parametrize("key", [None, ("order_id", "amount"), lambda order, ctx: order.order_id])
def test_valid_idempotency_keys_are_accepted(key):
    """Model fields, the default message id and key functions are all accepted at class definition."""

    class Fine(SqsHandler[Order]):
        idempotency = Idempotency(key=key)

        def handle(self, order: Order, ctx: SqsRecordContext) -> None:
            return None

    assert Fine.contract().idempotent is True


# -- cold start -------------------------------------------------------------------------------------------------------

_COLD_START = """
import json, sys

heavy = ("boto3", "botocore.client", "botocore.session", "aws_cdk", "moto")
def loaded():
    return sorted(m for m in sys.modules if m in heavy or m.startswith(tuple(h + "." for h in heavy)))

import eventweave.handlers
bare = {"heavy": loaded(), "submodules": sorted(m for m in sys.modules if m.startswith("eventweave.handlers."))}

from pydantic import BaseModel
from eventweave.handlers import Settings, SqsHandler

class Order(BaseModel):
    order_id: str

class Charge(SqsHandler[Order]):
    def handle(self, order, ctx):
        self.logger.info("charged %s", order.order_id)

handler = Charge.lambda_handler(settings=Settings(dlq="https://sqs.us-east-1.amazonaws.com/123456789012/dlq"))
result = handler({"Records": [{"messageId": "m1", "body": '{"order_id": "o"}', "attributes": {},
                                "messageAttributes": {}, "eventSourceARN": "arn:aws:sqs:us-east-1:1:q"}]}, None)
print(json.dumps({"bare": bare, "used": loaded(), "result": result}))
"""


def test_cold_start_imports_no_aws_sdk_cdk_or_moto():
    """Importing the runtime and handling a clean batch loads neither boto3, botocore clients, aws_cdk nor moto."""
    proc = subprocess.run(
        [sys.executable, "-c", _COLD_START], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["bare"] == {"heavy": [], "submodules": []}  # PEP 562: the package imports nothing up front
    assert report["used"] == []
    assert report["result"] == {"batchItemFailures": []}

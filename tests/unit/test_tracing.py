"""``tracing = True`` wraps the entry point with Powertools Tracer without changing what the handler returns."""

import json

from pydantic import BaseModel

from eventweave.handlers import Settings, SqsHandler, SqsRecordContext
from tests.factories import FakeLambdaContext, sqs_event, sqs_record


class Ping(BaseModel):
    n: int


class Traced(SqsHandler[Ping]):
    tracing = True

    def handle(self, message: Ping, ctx: SqsRecordContext) -> None:
        if message.n < 0:
            raise RuntimeError("negative")


def test_traced_handler_keeps_its_partial_batch_response(monkeypatch):
    # No X-Ray daemon here: Powertools' documented switch keeps the SDK from sending segments.
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    entry = Traced.lambda_handler(settings=Settings())
    assert isinstance(entry.instance, Traced)
    assert getattr(entry._call, "__wrapped__", None) is not None  # the Tracer decorator wrapped the instance
    event = sqs_event(sqs_record(json.dumps({"n": 1}), message_id="ok"), sqs_record({"n": -1}, message_id="bad"))
    assert entry(event, FakeLambdaContext()) == {"batchItemFailures": [{"itemIdentifier": "bad"}]}


def test_entry_defers_building_outside_lambda(monkeypatch):
    """A CDK app importing a handler module must not need the function's environment (idempotency table...)."""
    from eventweave.handlers import ConfigurationError, Idempotency

    class NeedsTable(SqsHandler[Ping]):
        idempotency = Idempotency(key="n")

        def handle(self, message: Ping, ctx: SqsRecordContext) -> None: ...

    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    monkeypatch.delenv("EVENTWEAVE_IDEMPOTENCY_TABLE", raising=False)
    entry = NeedsTable.lambda_handler()  # no error at import time
    assert entry.handler_class is NeedsTable
    try:
        entry({"Records": []}, FakeLambdaContext())
    except ConfigurationError as error:
        assert "EVENTWEAVE_IDEMPOTENCY_TABLE" in str(error)
    else:
        raise AssertionError("the first call must build the instance and report the missing table")
    # Inside Lambda a module may hold several functions' entries: an unconfigured one must not break the others.
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "fn")
    other = NeedsTable.lambda_handler()
    assert other._call is None
    monkeypatch.setenv("EVENTWEAVE_IDEMPOTENCY_TABLE", "table")
    configured = NeedsTable.lambda_handler()
    assert configured._call is not None, "inside Lambda a configured entry is built during init"

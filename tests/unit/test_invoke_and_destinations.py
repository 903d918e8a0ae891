"""InvokeHandler, DestinationHandler and the typed failure records (async destinations, stream failures, poison)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from eventweave.handlers import (
    IGNORED,
    AsyncInvocationRecord,
    ConfigurationError,
    DestinationHandler,
    Idempotency,
    InvokeHandler,
    PermanentError,
    PoisonRecord,
    RecordContext,
    RecordFailedError,
    Settings,
    SqsHandler,
    SqsRecordContext,
    StreamFailureHandler,
    StreamFailureRecord,
)
from eventweave.handlers.poison import PoisonEntry, poison_body
from tests.factories import (
    async_destination_record,
    eventbridge_event,
    kinesis_record,
    sns_envelope,
    sns_event,
    sqs_event,
    sqs_record,
    stream_failure_record,
)
from tests.unit.doubles import RecordingDeadLetter, with_dead_letter


class ResizeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str
    width: int


class Resize(InvokeHandler[ResizeRequest]):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seen: list[tuple[ResizeRequest, RecordContext]] = []

    def handle(self, request: ResizeRequest, ctx: RecordContext) -> dict[str, str]:
        self.seen.append((request, ctx))
        if request.width == 0:
            raise OSError("image store unavailable")
        if request.width < 0:
            raise PermanentError("negative width")
        return {"thumbnail": f"{request.key}@{request.width}"}


def build(cls: type, dlq: RecordingDeadLetter | None = None, **settings: Any) -> tuple[Any, RecordingDeadLetter]:
    handler = cls(settings=Settings(**settings))
    return handler, with_dead_letter(handler, dlq)


# -- InvokeHandler ----------------------------------------------------------------------------------------------------


def test_invoke_returns_the_result_of_handle(lambda_context):
    """handle's return value is the invocation result (what an on-success destination receives)."""
    handler, dlq = build(Resize)
    assert handler({"key": "cat.png", "width": 64}, lambda_context) == {"thumbnail": "cat.png@64"}
    [(request, ctx)] = handler.seen
    assert request == ResizeRequest(key="cat.png", width=64)
    assert ctx.record_id == ctx.message_id == ctx.correlation_id == lambda_context.aws_request_id
    assert ctx.hops == 0
    assert dlq.offered == []


def test_invoke_ignored_result_is_json_serialisable(lambda_context):
    """Returning IGNORED must leave a result the Lambda runtime can serialise (else the invocation errors)."""

    class Skip(InvokeHandler[ResizeRequest]):
        def handle(self, request: ResizeRequest, ctx: RecordContext) -> Any:
            return IGNORED

    handler, _ = build(Skip)
    result = handler({"key": "k", "width": 1}, lambda_context)
    assert json.loads(json.dumps(result)) is None


def test_invoke_pops_context_without_touching_the_callers_payload(lambda_context):
    """``__context`` gives the trace and is removed before an extra="forbid" model validates."""
    handler, _ = build(Resize)
    payload = {"key": "k", "width": 8, "__context": {"correlationId": "corr", "causationId": "cause", "hops": 2}}
    assert handler(payload, lambda_context) == {"thumbnail": "k@8"}
    ctx = handler.seen[0][1]
    assert (ctx.correlation_id, ctx.causation_id, ctx.hops) == ("corr", "cause", 2)
    assert "__context" in payload


def test_invoke_context_without_correlation_falls_back_to_request_id(lambda_context):
    """A ``__context`` without correlationId still starts the chain at the request id."""
    handler, _ = build(Resize)
    handler({"key": "k", "width": 8, "__context": {"hops": 1}}, lambda_context)
    ctx = handler.seen[0][1]
    assert (ctx.correlation_id, ctx.hops) == (lambda_context.aws_request_id, 1)


def test_invoke_without_lambda_context_uses_a_fixed_record_id():
    """Outside Lambda (no context object) the record still has an id for logs and poison documents."""
    handler, _ = build(Resize)
    handler({"key": "k", "width": 1}, None)
    assert handler.seen[0][1].record_id == "invoke"


def test_invoke_retryable_failure_raises(lambda_context):
    """A retryable failure raises RecordFailedError so Lambda's async retries apply."""
    handler, dlq = build(Resize)
    with pytest.raises(RecordFailedError):
        handler({"key": "k", "width": 0}, lambda_context)
    assert dlq.offered == []


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"key": "k", "width": -1}, "permanent-error"),
        ({"key": "k"}, "validation-error"),
        ({"key": "k", "width": 1, "extra": True}, "validation-error"),
        ({"key": "k", "width": 1, "__context": {"hops": 17}}, "recursion-limit"),
    ],
    ids=["permanent", "missing-field", "extra-field", "recursion"],
)
def test_invoke_poison_goes_to_the_dlq(lambda_context, payload, reason):
    """Poison is delivered with its reason, stored as sent, and the invocation returns None."""
    handler, dlq = build(Resize)
    assert handler(payload, lambda_context) is None
    assert [(e.reason, e.record_id, e.record) for e in dlq.delivered] == [
        (reason, lambda_context.aws_request_id, payload)
    ]


def test_invoke_poison_without_dlq_raises(lambda_context):
    """With no DLQ, poison raises so the function's on-failure destination keeps it."""
    handler, _ = build(Resize, RecordingDeadLetter(target=None))
    with pytest.raises(RecordFailedError):
        handler({"key": "k"}, lambda_context)


def test_invoke_accepts_non_object_payloads(lambda_context):
    """An InvokeHandler typed with a non-model type validates a bare JSON value."""

    class Double(InvokeHandler[list[int]]):
        def handle(self, numbers: list[int], ctx: RecordContext) -> list[int]:
            return [n * 2 for n in numbers]

    handler, _ = build(Double)
    assert handler([1, 2, 3], lambda_context) == [2, 4, 6]


# -- async destination records ----------------------------------------------------------------------------------------


class ChargeFailed(DestinationHandler[ResizeRequest]):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.records: list[AsyncInvocationRecord[ResizeRequest]] = []

    def handle(self, record: AsyncInvocationRecord[ResizeRequest], ctx: RecordContext) -> str | None:
        self.records.append(record)
        return record.error_message


def test_destination_handler_parses_a_failure_record(lambda_context):
    """An on-failure record becomes AsyncInvocationRecord[Model] with a typed request payload and the error."""
    handler, dlq = build(ChargeFailed)
    event = async_destination_record({"key": "k", "width": 3}, error_message="out of memory", invoke_count=3)
    assert handler(event, lambda_context) == "out of memory"
    [record] = handler.records
    assert isinstance(record, AsyncInvocationRecord)
    assert record.request_payload == ResizeRequest(key="k", width=3)
    assert (record.succeeded, record.error_message, record.error_type) == (False, "out of memory", "RuntimeError")
    assert record.request_context.condition == "RetriesExhausted"
    assert record.request_context.approximate_invoke_count == 3
    assert record.request_context.function_arn.endswith(":function:charge:$LATEST")
    assert record.response_context is not None
    assert record.response_context.function_error == "Unhandled"
    assert dlq.offered == []


def test_destination_handler_parses_a_success_record(lambda_context):
    """An on-success record has succeeded=True and no error."""
    handler, _ = build(ChargeFailed)
    handler(async_destination_record({"key": "k", "width": 3}, condition="Success"), lambda_context)
    [record] = handler.records
    assert record.succeeded is True
    assert (record.error_message, record.error_type) == (None, None)
    assert record.request_payload.width == 3
    assert record.response_context is not None
    assert record.response_context.function_error is None


def test_destination_handler_contract_and_model():
    """DestinationHandler[Model] validates against AsyncInvocationRecord[Model] and says it is a destination."""
    contract = ChargeFailed.contract()
    assert contract.source == "lambda-destination"
    assert contract.model == AsyncInvocationRecord[ResizeRequest]


TRACED_PAYLOAD = {"key": "k", "width": 3, "__context": {"correlationId": "corr-1", "causationId": "m-0", "hops": 1}}


def test_destination_record_of_a_traced_invocation_validates(lambda_context):
    """invoke_async stamps ``__context`` into the payload, which Lambda copies into requestPayload: the destination
    handler must validate it against the same model the InvokeHandler accepted (``__context`` removed)."""
    invoked, _ = build(Resize)
    assert invoked(dict(TRACED_PAYLOAD), lambda_context) == {"thumbnail": "k@3"}  # the model accepts the invocation

    handler, dlq = build(ChargeFailed)
    handler(async_destination_record(dict(TRACED_PAYLOAD)), lambda_context)
    assert dlq.offered == []
    [record] = handler.records
    assert record.request_payload == ResizeRequest(key="k", width=3)


def test_destination_record_continues_the_invocations_correlation_id(lambda_context):
    """The failure consumer logs under the failed invocation's correlation id, so the chain stays traceable."""

    class Traced(DestinationHandler[dict[str, Any]]):
        def handle(self, record: AsyncInvocationRecord[dict[str, Any]], ctx: RecordContext) -> str:
            return ctx.correlation_id

    handler, _ = build(Traced)
    assert handler(async_destination_record(dict(TRACED_PAYLOAD)), lambda_context) == "corr-1"


def test_destination_with_invalid_request_payload_is_poison(lambda_context):
    """A destination record whose original payload does not fit the model is validation-error poison."""
    handler, dlq = build(ChargeFailed)
    assert handler(async_destination_record({"key": "k"}), lambda_context) is None
    assert handler.records == []
    assert [e.reason for e in dlq.delivered] == ["validation-error"]


def test_destination_idempotency_key_is_checked_against_the_record_handle_receives():
    """Key fields are read from what handle receives (AsyncInvocationRecord[P]), so they are checked against it.

    A field of P alone is not an attribute of the record: accepting it would poison every record at run time.
    """
    with pytest.raises(ConfigurationError, match="is not a field of AsyncInvocationRecord"):

        class Once(DestinationHandler[ResizeRequest]):
            idempotency = Idempotency(key="key")

            def handle(self, record: AsyncInvocationRecord[ResizeRequest], ctx: RecordContext) -> None:
                return None


class FailureQueueConsumer(SqsHandler[AsyncInvocationRecord[ResizeRequest]]):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.records: list[AsyncInvocationRecord[ResizeRequest]] = []

    def handle(self, record: AsyncInvocationRecord[ResizeRequest], ctx: SqsRecordContext) -> None:
        self.records.append(record)


@pytest.mark.parametrize("via_sns", [False, True], ids=["sqs-destination", "sns-destination-to-sqs"])
def test_sqs_handler_consumes_destination_records(lambda_context, via_sns):
    """A destination record delivered to a queue (directly or through SNS) is read by an ordinary SqsHandler."""
    handler, dlq = build(FailureQueueConsumer)
    record = async_destination_record({"key": "k", "width": 9}, error_message="timeout")
    body = sns_envelope(record) if via_sns else json.dumps(record)
    assert handler(sqs_event(sqs_record(body)), lambda_context) == {"batchItemFailures": []}
    [parsed] = handler.records
    assert parsed.request_payload == ResizeRequest(key="k", width=9)
    assert (parsed.error_message, parsed.succeeded) == ("timeout", False)
    assert dlq.offered == []


# -- stream failure records -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "arn_part"), [("kinesis", ":kinesis:"), ("dynamodb", ":dynamodb:")], ids=["kinesis", "dynamodb"]
)
def test_stream_failure_record_parses_both_shapes(kind, arn_part):
    """Kinesis and DynamoDB on-failure records both expose batch_info and say which stream kind they are."""
    record = StreamFailureRecord.model_validate(stream_failure_record(kind=kind, start="10", end="42", size=7))
    assert record.stream_kind == kind
    info = record.batch_info
    assert (info.shard_id, info.start_sequence_number, info.end_sequence_number, info.batch_size) == (
        "shardId-000000000000",
        "10",
        "42",
        7,
    )
    assert arn_part in info.stream_arn
    assert info.approximate_arrival_of_first_record is not None
    assert record.request_context.condition == "RetryAttemptsExhausted"


def test_stream_failure_record_without_batch_info_says_so():
    """A record with neither KinesisBatchInfo nor DDBStreamBatchInfo raises a clear error when asked."""
    doc = stream_failure_record()
    del doc["KinesisBatchInfo"]
    record = StreamFailureRecord.model_validate(doc)
    with pytest.raises(ValueError, match="neither KinesisBatchInfo nor DDBStreamBatchInfo"):
        _ = record.batch_info


def test_stream_failure_handler_consumes_the_failure_queue(lambda_context):
    """StreamFailureHandler reads on-failure records from SQS without calling AWS."""

    class Collect(StreamFailureHandler):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.failures: list[StreamFailureRecord] = []

        def handle(self, failure: StreamFailureRecord, ctx: SqsRecordContext) -> None:
            self.failures.append(failure)

    handler, _ = build(Collect)
    event = sqs_event(sqs_record(stream_failure_record(kind="dynamodb", end="9")))
    assert handler(event, lambda_context) == {"batchItemFailures": []}
    [failure] = handler.failures
    assert (failure.stream_kind, failure.batch_info.end_sequence_number) == ("dynamodb", "9")


# -- poison records ---------------------------------------------------------------------------------------------------


class PoisonAudit(SqsHandler[PoisonRecord]):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.records: list[PoisonRecord] = []

    def handle(self, poison: PoisonRecord, ctx: SqsRecordContext) -> None:
        self.records.append(poison)


class Strict(BaseModel):
    order_id: str


class StrictSqs(SqsHandler[Strict]):
    def handle(self, order: Strict, ctx: SqsRecordContext) -> None:
        return None


def test_poison_record_round_trips_from_a_handlers_dlq(lambda_context):
    """What a handler sends to its DLQ is read back by SqsHandler[PoisonRecord]; original_payload is the body."""
    producer, dlq = build(StrictSqs, function_name="orders-fn")
    bad_body = '{"order_id": 42}'
    producer(sqs_event(sqs_record(bad_body, message_id="m-bad", queue="orders"), sqs_record({"order_id": "x"})), None)
    [body] = [entry.body for entry in dlq.delivered]

    audit, _ = build(PoisonAudit)
    assert audit(sqs_event(sqs_record(body)), lambda_context) == {"batchItemFailures": []}
    [poison] = audit.records
    assert (poison.kind, poison.reason) == ("eventweave.poison", "validation-error")
    assert poison.error_type == "ValidationError"
    assert (poison.record_id, poison.message_id, poison.function_name) == ("m-bad", "m-bad", "orders-fn")
    assert poison.event_source == "aws:sqs"
    assert poison.event_source_arn == "arn:aws:sqs:us-east-1:123456789012:orders"
    assert poison.correlation_id == "m-bad"
    assert poison.original_payload() == bad_body


def _entry(record: Any, source: str, **kwargs: Any) -> PoisonEntry:
    return PoisonEntry(
        reason="permanent-error",
        error=PermanentError("nope"),
        record=record,
        record_id="r-1",
        message_id="m-1",
        event_source=source,
        event_source_arn=None,
        **kwargs,
    )


@pytest.mark.parametrize(
    ("record", "source", "payload"),
    [
        (sqs_record("raw body"), "aws:sqs", "raw body"),
        (sns_event({"a": 1})["Records"][0], "aws:sns", '{"a": 1}'),
        (eventbridge_event({"a": 1}), "aws:events", {"a": 1}),
        (kinesis_record({"a": 1}, sequence_number="1"), "aws:kinesis", b'{"a": 1}'),
        ({"eventID": "1", "dynamodb": {"Keys": {"pk": {"S": "a"}}}}, "aws:dynamodb", {"Keys": {"pk": {"S": "a"}}}),
        ("not a record", "aws:lambda", "not a record"),
    ],
    ids=["sqs", "sns", "eventbridge", "kinesis", "dynamodb", "scalar"],
)
def test_poison_record_parses_poison_body(record, source, payload):
    """PoisonRecord reads poison_document's output and original_payload() recovers the producer's payload."""
    poison = PoisonRecord.model_validate_json(poison_body(_entry(record, source, hops=3), "fn"))
    assert (poison.reason, poison.error_type, poison.error_message) == ("permanent-error", "PermanentError", "nope")
    assert (poison.record_id, poison.message_id, poison.hops, poison.function_name) == ("r-1", "m-1", 3, "fn")
    assert poison.original_payload() == payload


def test_poison_document_truncates_huge_error_messages():
    """A very long error message is cut so the document stays within message limits."""
    entry = _entry({"body": "x"}, "aws:sqs")
    entry.error = PermanentError("e" * 10_000)
    poison = PoisonRecord.model_validate_json(poison_body(entry, "fn"))
    assert poison.error_message.endswith("...(truncated)")
    assert len(poison.error_message) < 5_000


def test_poison_record_decodes_binary_kinesis_data():
    """original_payload() of a Kinesis poison record is the raw bytes, even when they are not text."""
    record = kinesis_record(b"\x00\xff", sequence_number="7")
    poison = PoisonRecord.model_validate_json(poison_body(_entry(record, "aws:kinesis"), "fn"))
    assert poison.original_payload() == b"\x00\xff"

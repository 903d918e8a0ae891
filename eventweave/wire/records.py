"""The typed models of Lambda's failure-path records and of eventweave's poison record, for the handlers and tools
that consume them (their builders are :mod:`.destinations` and :mod:`.poison`).

Kept apart from the builders because defining pydantic models costs milliseconds at import, and every function
builds poison records while only failure consumers read them.

Example::

    record = AsyncInvocationRecord[OrderPlaced].model_validate(message)
    record.succeeded, record.request_payload.order_id, record.error_message
    PoisonRecord.model_validate_json(body).original_payload()
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .trace import CONTEXT_KEY

__all__ = [
    "AsyncInvocationRecord",
    "DestinationRequestContext",
    "DestinationResponseContext",
    "PoisonRecord",
    "StreamBatchInfo",
    "StreamFailureRecord",
]

P = TypeVar("P")


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")


class DestinationRequestContext(_Model):
    request_id: str = Field(alias="requestId")
    function_arn: str = Field(alias="functionArn")
    condition: str
    """``Success``, ``RetriesExhausted``, ``EventAgeExceeded`` (async) or ``RetryAttemptsExhausted`` (streams)."""
    approximate_invoke_count: int = Field(alias="approximateInvokeCount")


class DestinationResponseContext(_Model):
    status_code: int | None = Field(default=None, alias="statusCode")
    executed_version: str | None = Field(default=None, alias="executedVersion")
    function_error: str | None = Field(default=None, alias="functionError")
    """``Handled`` or ``Unhandled`` on failure; absent on success."""


def _strip_trace(data: Any) -> Any:
    """Drop eventweave's ``__context`` from the original payload so the user's model sees what the producer meant."""
    if isinstance(data, dict):
        payload = data.get("requestPayload")
        if isinstance(payload, dict) and CONTEXT_KEY in payload:
            data = {**data, "requestPayload": {k: v for k, v in payload.items() if k != CONTEXT_KEY}}
    return data


class AsyncInvocationRecord(_Model, Generic[P]):
    """Lambda's destination record for an asynchronous invocation, with the original payload typed as ``P``.

    Example::

        record = AsyncInvocationRecord[OrderPlaced].model_validate(message)
        record.succeeded, record.request_payload.order_id, record.error_message
    """

    version: str
    timestamp: datetime
    request_context: DestinationRequestContext = Field(alias="requestContext")
    request_payload: P = Field(alias="requestPayload")
    response_context: DestinationResponseContext | None = Field(default=None, alias="responseContext")
    response_payload: Any = Field(default=None, alias="responsePayload")

    _strip = model_validator(mode="before")(_strip_trace)

    @property
    def succeeded(self) -> bool:
        return self.request_context.condition == "Success"

    @property
    def error_message(self) -> str | None:
        payload = self.response_payload
        if isinstance(payload, dict) and isinstance(payload.get("errorMessage"), str):
            return str(payload["errorMessage"])
        return None

    @property
    def error_type(self) -> str | None:
        payload = self.response_payload
        if isinstance(payload, dict) and isinstance(payload.get("errorType"), str):
            return str(payload["errorType"])
        return None


class StreamBatchInfo(_Model):
    shard_id: str = Field(alias="shardId")
    start_sequence_number: str = Field(alias="startSequenceNumber")
    end_sequence_number: str = Field(alias="endSequenceNumber")
    approximate_arrival_of_first_record: datetime | None = Field(default=None, alias="approximateArrivalOfFirstRecord")
    approximate_arrival_of_last_record: datetime | None = Field(default=None, alias="approximateArrivalOfLastRecord")
    batch_size: int = Field(alias="batchSize")
    stream_arn: str = Field(alias="streamArn")


class StreamFailureRecord(_Model):
    """On-failure record of a Kinesis (``KinesisBatchInfo``) or DynamoDB (``DDBStreamBatchInfo``) mapping."""

    version: str
    timestamp: datetime
    request_context: DestinationRequestContext = Field(alias="requestContext")
    response_context: DestinationResponseContext | None = Field(default=None, alias="responseContext")
    kinesis_batch_info: StreamBatchInfo | None = Field(default=None, alias="KinesisBatchInfo")
    ddb_stream_batch_info: StreamBatchInfo | None = Field(default=None, alias="DDBStreamBatchInfo")

    @property
    def batch_info(self) -> StreamBatchInfo:
        info = self.kinesis_batch_info or self.ddb_stream_batch_info
        if info is None:
            raise ValueError("the record has neither KinesisBatchInfo nor DDBStreamBatchInfo")
        return info

    @property
    def stream_kind(self) -> Literal["kinesis", "dynamodb"]:
        return "kinesis" if self.kinesis_batch_info is not None else "dynamodb"


class PoisonRecord(BaseModel):
    """A record an eventweave handler sent to its dead-letter destination, with why.

    Example::

        class PoisonAudit(SqsHandler[PoisonRecord]):
            def handle(self, poison: PoisonRecord, ctx: SqsRecordContext) -> None:
                audit.store(poison.reason, poison.error_message, poison.original_payload())
    """

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    kind: Literal["eventweave.poison"] = "eventweave.poison"
    version: str = "1.0"
    reason: str
    error_type: str = Field(alias="errorType")
    error_message: str = Field(alias="errorMessage")
    record_id: str | None = Field(default=None, alias="recordId")
    message_id: str | None = Field(default=None, alias="messageId")
    event_source: str = Field(alias="eventSource")
    event_source_arn: str | None = Field(default=None, alias="eventSourceARN")
    function_name: str = Field(alias="functionName")
    correlation_id: str | None = Field(default=None, alias="correlationId")
    hops: int = 0
    timestamp: datetime
    record: Any

    def original_payload(self) -> Any:
        """The payload as the producer sent it (SQS body, SNS Message, decoded Kinesis data, EventBridge detail)."""
        record = self.record
        if not isinstance(record, dict):
            return record
        if self.event_source == "aws:sqs":
            return record.get("body")
        if self.event_source == "aws:sns":
            return (record.get("Sns") or {}).get("Message")
        if self.event_source == "aws:kinesis":
            data = (record.get("kinesis") or {}).get("data")
            return base64.b64decode(data) if isinstance(data, str) else data
        if self.event_source == "aws:events":
            return record.get("detail")
        if self.event_source == "aws:dynamodb":
            return record.get("dynamodb")
        return record

"""Lambda's failure-path records: what an asynchronously invoked function sends its destinations and DLQ, and what a
stream event source mapping sends its on-failure destination. Built here for the local cloud and the test factories,
parsed here (as models) for the handlers that consume them.

* async destination record (on success and on failure): the SQS body, SNS ``Message``, Lambda payload or EventBridge
  ``detail`` (with ``source: "aws.lambda"``) of every destination type;
* the async DLQ message (the function's legacy ``DeadLetterConfig``): the event as it was, with the attributes
  ``RequestID``, ``ErrorCode`` and ``ErrorMessage``;
* the stream on-failure record: metadata of the discarded batch (``KinesisBatchInfo`` or ``DDBStreamBatchInfo``).

Example::

    record = async_record(b'{"order_id": "o-1"}', request_id=rid, function_arn=arn, condition="RetriesExhausted",
                          invoke_count=3, status_code=200, function_error="Unhandled",
                          response=b'{"errorMessage": "boom", "errorType": "RuntimeError"}')
    AsyncInvocationRecord[OrderPlaced].model_validate(record).request_payload.order_id   # 'o-1' (wire.records)
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any, Literal

from .eventbridge import DESTINATION_DETAIL_TYPES, DESTINATION_SOURCE

__all__ = [
    "async_dlq_message",
    "async_record",
    "destination_event_entry",
    "iso_millis",
    "stream_failure_record",
]


def iso_millis(seconds: float | None = None) -> str:
    """A UTC time as Lambda writes it in these records: ``2019-11-14T18:16:05.568Z``."""
    moment = dt.datetime.now(dt.UTC) if seconds is None else dt.datetime.fromtimestamp(seconds, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _json_or_text(payload: bytes | None) -> Any:
    """A payload as it appears in a record: its JSON value, or its text when it is not JSON."""
    if payload is None:
        return None
    try:
        return json.loads(payload or b"null")
    except ValueError:
        return payload.decode("utf-8", errors="backslashreplace")


# -- building ----------------------------------------------------------------------------------------------------


def async_record(
    request_payload: bytes,
    *,
    request_id: str,
    function_arn: str,
    condition: str,
    invoke_count: int,
    status_code: int = 200,
    function_error: str | None = None,
    response: bytes | None = None,
    executed_version: str = "$LATEST",
    timestamp: str | None = None,
) -> dict[str, Any]:
    """The destination record of one asynchronous invocation (``condition`` ``Success`` or a failure condition).

    ``function_arn`` is the function's ARN as invoked; Lambda adds the qualifier (``:$LATEST``) when there is none.
    ``response`` is the function's response or error document; leaving it ``None`` leaves ``responsePayload`` out,
    as for an invocation that never ran.
    """
    arn = function_arn if function_arn.count(":") >= 7 else f"{function_arn}:{executed_version}"
    response_context: dict[str, Any] = {"statusCode": status_code, "executedVersion": executed_version}
    if function_error:
        response_context["functionError"] = function_error
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": timestamp or iso_millis(),
        "requestContext": {
            "requestId": request_id,
            "functionArn": arn,
            "condition": condition,
            "approximateInvokeCount": max(1, invoke_count),
        },
        "requestPayload": _json_or_text(request_payload),
        "responseContext": response_context,
    }
    if response is not None:
        record["responsePayload"] = _json_or_text(response)
    return record


def destination_event_entry(record: Mapping[str, Any], *, destination_arn: str) -> dict[str, Any]:
    """The ``PutEvents`` entry Lambda sends an EventBridge destination for ``record``."""
    bus = destination_arn.split("/", 1)[1] if "/" in destination_arn else "default"
    success = record.get("requestContext", {}).get("condition") == "Success"
    return {
        "Source": DESTINATION_SOURCE,
        "DetailType": DESTINATION_DETAIL_TYPES[success],
        "Detail": json.dumps(record, separators=(",", ":")),
        "Resources": [record["requestContext"]["functionArn"], destination_arn],
        "EventBusName": bus,
    }


def async_dlq_message(
    payload: bytes, *, request_id: str, status_code: int, error_message: str
) -> tuple[str, dict[str, dict[str, str]]]:
    """``(body, MessageAttributes)`` Lambda sends a function's dead-letter queue or topic: the event unchanged, and
    ``RequestID``, ``ErrorCode`` (the status) and ``ErrorMessage`` (its first 1 KB)."""
    body = payload.decode("utf-8", errors="backslashreplace")
    return body, {
        "RequestID": {"DataType": "String", "StringValue": request_id},
        "ErrorCode": {"DataType": "Number", "StringValue": str(status_code)},
        "ErrorMessage": {"DataType": "String", "StringValue": error_message[:1024] or "error"},
    }


def stream_failure_record(
    *,
    kind: Literal["kinesis", "dynamodb"],
    stream_arn: str,
    shard_id: str,
    start_sequence: str,
    end_sequence: str,
    first_arrival: float,
    last_arrival: float,
    batch_size: int,
    request_id: str,
    function_arn: str,
    condition: str,
    invoke_count: int,
    status_code: int = 200,
    function_error: str | None = "Unhandled",
    executed_version: str = "$LATEST",
    timestamp: str | None = None,
) -> dict[str, Any]:
    """The on-failure record of a Kinesis or DynamoDB Streams mapping for a discarded batch (metadata only)."""
    response_context: dict[str, Any] = {"statusCode": status_code, "executedVersion": executed_version}
    if function_error:
        response_context["functionError"] = function_error
    return {
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": max(1, invoke_count),
        },
        "responseContext": response_context,
        "version": "1.0",
        "timestamp": timestamp or iso_millis(),
        ("KinesisBatchInfo" if kind == "kinesis" else "DDBStreamBatchInfo"): {
            "shardId": shard_id,
            "startSequenceNumber": start_sequence,
            "endSequenceNumber": end_sequence,
            "approximateArrivalOfFirstRecord": iso_millis(first_arrival),
            "approximateArrivalOfLastRecord": iso_millis(last_arrival),
            "batchSize": batch_size,
            "streamArn": stream_arn,
        },
    }

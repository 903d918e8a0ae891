"""eventweave's poison record: the self-describing document a handler sends its dead-letter destination.

::

    {"kind": "eventweave.poison", "version": "1.0", "reason": "validation-error",
     "errorType": "ValidationError", "errorMessage": "...", "recordId": "...", "messageId": "...",
     "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:...", "functionName": "...",
     "correlationId": "...", "hops": 0, "timestamp": "2026-11-23T19:00:00.000Z", "record": {...source record...}}

with the message attributes ``eventweave-reason`` / ``eventweave-error-type`` for filters and alarms. ``record`` is
the source record exactly as Lambda delivered it, so the original payload can always be recovered
(:meth:`PoisonRecord.original_payload`).

Example::

    body = poison_document(reason="validation-error", error_type="ValidationError", error_message="...",
                           record=record, record_id="m-1", event_source="aws:sqs", function_name="charge")
    PoisonRecord.model_validate_json(body).reason    # 'validation-error' (the model: eventweave.wire.records)
"""

from __future__ import annotations

import json
from typing import Any

from .destinations import iso_millis

__all__ = [
    "ATTR_ERROR_TYPE",
    "ATTR_REASON",
    "KIND",
    "MAX_ERROR_MESSAGE",
    "REASONS",
    "is_poison_document",
    "poison_document",
]

KIND = "eventweave.poison"
ATTR_REASON = "eventweave-reason"
ATTR_ERROR_TYPE = "eventweave-error-type"
REASONS = (
    "validation-error",
    "undecodable-payload",
    "permanent-error",
    "recursion-limit",
    "malformed-record",
    "malformed-event",
    "unhandled-event-type",
)
"""Why a record is poison: its payload fails the model; its payload cannot be decoded as the model needs (not UTF-8
text, not base64, not gzip); ``handle`` raised ``PermanentError``; the recursion guard stopped it; the record or the
whole event is not of the source's shape; no ``@on_event`` method takes its event type."""
MAX_ERROR_MESSAGE = 4_096


def poison_document(
    *,
    reason: str,
    error_type: str,
    error_message: str,
    record: Any,
    record_id: str | None,
    event_source: str,
    function_name: str,
    message_id: str | None = None,
    event_source_arn: str | None = None,
    correlation_id: str | None = None,
    hops: int = 0,
    timestamp: str | None = None,
) -> str:
    """The JSON body of one poison record (the error message cut to 4 KiB)."""
    if len(error_message) > MAX_ERROR_MESSAGE:
        error_message = error_message[:MAX_ERROR_MESSAGE] + "...(truncated)"
    return json.dumps(
        {
            "kind": KIND,
            "version": "1.0",
            "reason": reason,
            "errorType": error_type,
            "errorMessage": error_message,
            "recordId": record_id,
            "messageId": message_id,
            "eventSource": event_source,
            "eventSourceARN": event_source_arn,
            "functionName": function_name,
            "correlationId": correlation_id,
            "hops": hops,
            "timestamp": timestamp or iso_millis(),
            "record": record,
        },
        default=str,
        separators=(",", ":"),
    )


def is_poison_document(obj: object) -> bool:
    """Whether a parsed JSON value is an eventweave poison record."""
    return isinstance(obj, dict) and obj.get("kind") == KIND and "record" in obj

"""SQS records of a Lambda event (standard and FIFO), built from a ``ReceiveMessage`` result or from scratch.

A body is text and reaches Lambda byte for byte as it was sent; message attributes are in Lambda's SQS record form
(see :mod:`eventweave.wire.attributes`). FIFO records carry ``SequenceNumber``, ``MessageGroupId`` and
``MessageDeduplicationId`` in ``attributes``; all system attribute values are strings.

Example::

    record = sqs_record("hello world", queue_arn="arn:aws:sqs:us-east-1:123456789012:greetings")
    event = records_event([record])
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Mapping
from typing import Any

from .attributes import AttributeValue, lambda_sqs_attribute, lambda_sqs_attributes

__all__ = [
    "LAMBDA_SYSTEM_ATTRIBUTES",
    "is_fifo_arn",
    "records_event",
    "sqs_record",
    "sqs_record_from_message",
]

LAMBDA_SYSTEM_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
)
"""The system attributes an SQS record of a Lambda event may carry, in AWS's order."""

_SENDER = "AIDAIENQZJOLO23YVJ4VO"


def is_fifo_arn(arn: object) -> bool:
    """Whether a queue ARN, URL or name names a FIFO queue."""
    return isinstance(arn, str) and arn.endswith(".fifo")


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - SQS's own digest of the body, not security


def _sequence_number(sent_ms: int | None = None, message_id: str | None = None) -> str:
    """A FIFO sequence number: decimal digits that grow with the send time. Derived from the message's send time and
    id when both are known, so a redelivered message keeps its number, as on AWS."""
    if sent_ms is None or message_id is None:
        return str(time.time_ns() * 1000 + uuid.uuid4().int % 1000).rjust(20, "0")
    tail = int(hashlib.sha256(message_id.encode()).hexdigest()[:12], 16) % 10**7
    return f"{sent_ms:013d}{tail:07d}"


def sqs_record(
    body: str,
    *,
    queue_arn: str,
    message_id: str | None = None,
    receipt_handle: str | None = None,
    attributes: Mapping[str, AttributeValue] | None = None,
    raw_attributes: Mapping[str, Mapping[str, Any]] | None = None,
    group_id: str | None = None,
    deduplication_id: str | None = None,
    sequence_number: str | None = None,
    receive_count: int = 1,
    sent_ms: int | None = None,
    sender_id: str = _SENDER,
) -> dict[str, Any]:
    """One SQS record as Lambda delivers it.

    ``attributes`` are plain values (``bytes`` become Binary attributes), ``raw_attributes`` entries already in
    Lambda's form. On a FIFO queue (``queue_arn`` ending in ``.fifo``) ``group_id`` is required and the record gets
    a deduplication id and a sequence number unless given.
    """
    if not isinstance(body, str):
        raise TypeError(f"an SQS body is text; encode {type(body).__name__} first (JSON, or base64 for bytes)")
    now = str(sent_ms if sent_ms is not None else int(time.time() * 1000))
    system: dict[str, str] = {
        "ApproximateReceiveCount": str(receive_count),
        "SentTimestamp": now,
        "SenderId": sender_id,
        "ApproximateFirstReceiveTimestamp": now,
    }
    if is_fifo_arn(queue_arn):
        if not group_id:
            raise ValueError(f"{queue_arn} is a FIFO queue: a record needs a group_id (MessageGroupId)")
        system["SequenceNumber"] = sequence_number or _sequence_number()
        system["MessageGroupId"] = group_id
        system["MessageDeduplicationId"] = deduplication_id or hashlib.sha256(body.encode()).hexdigest()
    elif group_id is not None:
        raise ValueError(f"{queue_arn} is a standard queue; a group_id needs a queue whose name ends in .fifo")
    message_attributes: dict[str, Any] = {
        name: lambda_sqs_attribute(value) for name, value in (attributes or {}).items()
    }
    message_attributes.update({name: dict(value) for name, value in (raw_attributes or {}).items()})
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": receipt_handle or "AQEB" + uuid.uuid4().hex + uuid.uuid4().hex,
        "body": body,
        "attributes": system,
        "messageAttributes": message_attributes,
        "md5OfBody": _md5(body),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }


def sqs_record_from_message(message: Mapping[str, Any], queue_arn: str, region: str | None = None) -> dict[str, Any]:
    """A ``ReceiveMessage`` result (all attributes requested) as Lambda's SQS event source mapping delivers it.

    The body is passed through unchanged; binary attributes are base64-encoded as Lambda does. A FIFO message whose
    receive result lacks a ``SequenceNumber`` gets one, since every FIFO record Lambda delivers has it.
    """
    system = message.get("Attributes", {})
    attributes = {name: str(system[name]) for name in LAMBDA_SYSTEM_ATTRIBUTES if name in system}
    if is_fifo_arn(queue_arn) and "SequenceNumber" not in attributes:
        sent = attributes.get("SentTimestamp")
        attributes["SequenceNumber"] = _sequence_number(
            int(sent) if sent and sent.isdigit() else None, str(message.get("MessageId", ""))
        )
    body = message.get("Body", "")
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": body,
        "attributes": attributes,
        "messageAttributes": lambda_sqs_attributes(message.get("MessageAttributes")),
        "md5OfBody": message.get("MD5OfBody") or _md5(body),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region or queue_arn.split(":")[3],
    }


def records_event(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The event of one invocation of a batch source: ``{"Records": [...]}``."""
    return {"Records": list(records)}

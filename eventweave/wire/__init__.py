"""Every Lambda event shape eventweave builds or reads, one codec per shape.

The local cloud builds what it delivers with these functions, ``eventweave.testing``'s factories build test events
with them, and the handler engine reads records with them, so the three cannot drift apart. Each module is one shape:

* :mod:`.attributes`: SQS / SNS message attributes in their three wire forms, text and binary kept apart;
* :mod:`.sqs`: SQS records (standard and FIFO); :mod:`.sns`: the SNS notification and the SNS -> Lambda record;
* :mod:`.eventbridge`: the EventBridge envelope; :mod:`.kinesis`: Kinesis records;
* :mod:`.dynamodb`: DynamoDB JSON (``B`` / ``BS`` as bytes) and stream records; :mod:`.s3`: S3 notifications;
* :mod:`.logs`: CloudWatch Logs subscription data; :mod:`.destinations`: async destination records, the async DLQ
  message and stream on-failure records; :mod:`.poison`: eventweave's poison record; :mod:`.records`: the models
  consumers read those records with;
* :mod:`.envelopes`: unwrapping SNS and EventBridge envelopes around a payload; :mod:`.trace`: eventweave's trace
  metadata; :mod:`.payloads`: raw text and bytes payloads; :mod:`.inspect`: the trace of any event, for tools.

It depends on pydantic and the standard library only (it ships inside every function; no boto3), and importing this
package imports nothing: names load from their module on first use.

Example::

    from eventweave.wire import deserialize_image, read_attributes, sqs_record

    record = sqs_record("hello", queue_arn="arn:aws:sqs:us-east-1:123456789012:q", attributes={"blob": b"\\x00"})
    read_attributes(record["messageAttributes"])     # ({}, {'blob': b'\\x00'})
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "AsyncInvocationRecord",
    "LogEvent",
    "LogsData",
    "PoisonRecord",
    "StreamFailureRecord",
    "UndecodablePayload",
    "api_attributes",
    "async_dlq_message",
    "async_record",
    "awslogs_event",
    "correlation_ids",
    "decode_data",
    "describe_event",
    "deserialize",
    "deserialize_image",
    "destination_event_entry",
    "event",
    "event_from_entry",
    "kinesis_record",
    "lambda_record",
    "notification",
    "notification_json",
    "object_created",
    "object_key",
    "poison_document",
    "read_attributes",
    "records_event",
    "serialize",
    "serialize_image",
    "sqs_record",
    "sqs_record_from_message",
    "stream_failure_record",
    "stream_record",
    "unwrap_text",
]

_WHERE = {
    "read_attributes": "attributes",
    "api_attributes": "attributes",
    "sqs_record": "sqs",
    "sqs_record_from_message": "sqs",
    "records_event": "sqs",
    "notification": "sns",
    "notification_json": "sns",
    "lambda_record": "sns",
    "event": "eventbridge",
    "event_from_entry": "eventbridge",
    "kinesis_record": "kinesis",
    "decode_data": "kinesis",
    "deserialize": "dynamodb",
    "deserialize_image": "dynamodb",
    "serialize": "dynamodb",
    "serialize_image": "dynamodb",
    "stream_record": "dynamodb",
    "object_created": "s3",
    "object_key": "s3",
    "LogEvent": "logs",
    "LogsData": "logs",
    "awslogs_event": "logs",
    "AsyncInvocationRecord": "records",
    "StreamFailureRecord": "records",
    "async_record": "destinations",
    "async_dlq_message": "destinations",
    "destination_event_entry": "destinations",
    "stream_failure_record": "destinations",
    "PoisonRecord": "records",
    "poison_document": "poison",
    "unwrap_text": "envelopes",
    "UndecodablePayload": "payloads",
    "correlation_ids": "inspect",
    "describe_event": "inspect",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'eventweave.wire' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from .attributes import api_attributes, read_attributes
    from .destinations import (
        async_dlq_message,
        async_record,
        destination_event_entry,
        stream_failure_record,
    )
    from .dynamodb import deserialize, deserialize_image, serialize, serialize_image, stream_record
    from .envelopes import unwrap_text
    from .eventbridge import event, event_from_entry
    from .inspect import correlation_ids, describe_event
    from .kinesis import decode_data, kinesis_record
    from .logs import LogEvent, LogsData, awslogs_event
    from .payloads import UndecodablePayload
    from .poison import poison_document
    from .records import AsyncInvocationRecord, PoisonRecord, StreamFailureRecord
    from .s3 import object_created, object_key
    from .sns import lambda_record, notification, notification_json
    from .sqs import records_event, sqs_record, sqs_record_from_message

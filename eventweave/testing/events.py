"""Lambda events for handler unit tests, in the shapes AWS documents for each source, and a Lambda context.

Every factory returns plain dicts exactly as Lambda delivers them, built by :mod:`eventweave.wire` (the codecs the
local cloud delivers with and the handlers read with), so a handler test exercises the real parsing paths
(envelopes, text and binary attributes, base64, DynamoDB JSON with binaries, gzip log data) without AWS.

Example::

    from eventweave.testing.events import FakeLambdaContext, sqs_event, sqs_record

    response = handler(sqs_event(sqs_record({"order_id": "o-1", "amount": 5})), FakeLambdaContext())
    assert response == {"batchItemFailures": []}

    sqs_record("plain text, not JSON", attributes={"thumbnail": b"\\x89PNG", "tenant": "acme"})
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

from eventweave.wire import attributes as _attributes
from eventweave.wire import destinations as _destinations
from eventweave.wire import dynamodb as _dynamodb
from eventweave.wire import eventbridge as _eventbridge
from eventweave.wire import kinesis as _kinesis
from eventweave.wire import logs as _logs
from eventweave.wire import s3 as _s3
from eventweave.wire import sns as _sns
from eventweave.wire import sqs as _sqs
from eventweave.wire.sqs import sqs_record_from_message
from eventweave.wire.trace import ATTR_CAUSATION, ATTR_CORRELATION, ATTR_HOPS

__all__ = [
    "ACCOUNT",
    "REGION",
    "FakeLambdaContext",
    "async_destination_record",
    "awslogs_event",
    "ddb_event",
    "ddb_image",
    "ddb_record",
    "eventbridge_event",
    "kinesis_event",
    "kinesis_record",
    "logs_data",
    "s3_event",
    "sns_attribute",
    "sns_envelope",
    "sns_event",
    "sqs_attribute",
    "sqs_event",
    "sqs_record",
    "sqs_record_from_message",
    "stream_failure_record",
    "trace_sqs_attributes",
]

REGION = "us-east-1"
ACCOUNT = "123456789012"

AttributeInput = Mapping[str, Any]
"""Attributes for a factory: plain values (``str``, ``int``, ``float``; ``bytes`` become Binary) or entries already
in the wire form (``sqs_attribute(...)``, ``sns_attribute(...)``)."""


def _text(payload: Any) -> str:
    """A payload as message text: text unchanged, bytes as UTF-8, anything else as JSON."""
    if isinstance(payload, str):
        return payload
    if isinstance(payload, bytes | bytearray):
        return bytes(payload).decode("utf-8")
    return json.dumps(payload)


def _data(payload: Any) -> bytes:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    return _text(payload).encode()


def sqs_attribute(value: str | int | float | bytes, data_type: str | None = None) -> dict[str, Any]:
    """An SQS message attribute as Lambda delivers it (``stringValue`` or base64 ``binaryValue``, ``dataType``)."""
    return _attributes.lambda_sqs_attribute(value, data_type)


def sns_attribute(value: str | int | float | bytes, data_type: str | None = None) -> dict[str, str]:
    """An SNS message attribute as in a notification (``Type``/``Value``; Binary values base64)."""
    return _attributes.sns_attribute(value, data_type)


def _split(values: AttributeInput | None) -> tuple[dict[str, Any], dict[str, Any]]:
    plain: dict[str, Any] = {}
    raw: dict[str, Any] = {}
    for name, value in (values or {}).items():
        (raw if isinstance(value, Mapping) else plain)[name] = value
    return plain, raw


def trace_sqs_attributes(correlation: str, hops: int, causation: str | None = None) -> dict[str, Any]:
    """eventweave's trace metadata as SQS message attributes (what its publishers attach)."""
    attrs = {ATTR_CORRELATION: sqs_attribute(correlation), ATTR_HOPS: sqs_attribute(hops)}
    if causation:
        attrs[ATTR_CAUSATION] = sqs_attribute(causation)
    return attrs


def sqs_record(
    body: Any,
    *,
    message_id: str | None = None,
    queue: str = "orders",
    attributes: AttributeInput | None = None,
    group_id: str | None = None,
    receive_count: int = 1,
) -> dict[str, Any]:
    """One SQS record: ``body`` text as it is (``str``), or JSON of anything else; FIFO when ``group_id`` is given
    (the queue then ends in ``.fifo``)."""
    if group_id is not None and not queue.endswith(".fifo"):
        queue = f"{queue}.fifo"
    plain, raw = _split(attributes)
    return _sqs.sqs_record(
        _text(body),
        queue_arn=f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}",
        message_id=message_id,
        attributes=plain,
        raw_attributes=raw,
        group_id=group_id,
        deduplication_id=str(uuid.uuid4()) if group_id is not None else None,
        receive_count=receive_count,
    )


def sqs_event(*records: dict[str, Any]) -> dict[str, Any]:
    """The event of one invocation: ``{"Records": [...]}``."""
    return _sqs.records_event(list(records))


def _notification(
    message: Any, message_id: str | None, topic: str, attributes: AttributeInput | None, subject: str | None
) -> dict[str, Any]:
    plain, raw = _split(attributes)
    return _sns.notification(
        _text(message),
        topic_arn=f"arn:aws:sns:{REGION}:{ACCOUNT}:{topic}",
        message_id=message_id,
        subject=subject,
        attributes=plain,
        raw_attributes=raw,
        timestamp="2026-11-23T12:00:00.000Z",
    )


def sns_envelope(
    message: Any,
    *,
    message_id: str | None = None,
    topic: str = "orders",
    attributes: AttributeInput | None = None,
    subject: str | None = None,
) -> str:
    """The JSON body SNS puts on an SQS queue when raw delivery is off (``…URL`` casing)."""
    return _sns.notification_json(_notification(message, message_id, topic, attributes, subject))


def sns_event(
    message: Any,
    *,
    message_id: str | None = None,
    topic: str = "orders",
    attributes: AttributeInput | None = None,
    subject: str | None = None,
) -> dict[str, Any]:
    """SNS -> Lambda event (one record, ``…Url`` casing, ``Subject`` null when absent)."""
    doc = _notification(message, message_id, topic, attributes, subject)
    record = _sns.lambda_record(doc, subscription_arn=f"{doc['TopicArn']}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55")
    return _sqs.records_event([record])


def eventbridge_event(
    detail: Any,
    *,
    detail_type: str = "OrderPlaced",
    source: str = "orders",
    event_id: str | None = None,
    bus: str = "default",
) -> dict[str, Any]:
    """An EventBridge event as delivered to a target."""
    return _eventbridge.event(
        detail,
        detail_type=detail_type,
        source=source,
        account=ACCOUNT,
        region=REGION,
        resources=[f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{bus}/orders-rule"],
        event_id=event_id,
        time="2026-11-23T12:00:00Z",
    )


def kinesis_record(
    data: Any,
    *,
    sequence_number: str,
    partition_key: str = "pk-1",
    stream: str = "clicks",
    shard: str = "shardId-000000000000",
) -> dict[str, Any]:
    """One Kinesis record; ``data`` (bytes as they are, text as UTF-8, anything else as JSON) base64-encoded."""
    return _kinesis.kinesis_record(
        _data(data),
        sequence_number=sequence_number,
        stream_arn=f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{stream}",
        partition_key=partition_key,
        shard_id=shard,
        arrival=time.time(),
    )


def kinesis_event(*records: dict[str, Any]) -> dict[str, Any]:
    """The event of one Kinesis invocation."""
    return _sqs.records_event(list(records))


def ddb_image(values: Mapping[str, Any]) -> dict[str, Any]:
    """An item in DynamoDB JSON from plain values (``bytes`` -> ``B``, ``set[bytes]`` -> ``BS``, numbers -> ``N``)."""
    return _dynamodb.serialize_image(values)


def ddb_record(
    event_name: str,
    *,
    sequence_number: str,
    keys: dict[str, Any],
    new_image: dict[str, Any] | None = None,
    old_image: dict[str, Any] | None = None,
    table: str = "accounts",
    view: str = "NEW_AND_OLD_IMAGES",
) -> dict[str, Any]:
    """One DynamoDB stream record; keys and images in DynamoDB JSON (``{"S": ...}``; :func:`ddb_image` builds it)."""
    return _dynamodb.stream_record(
        event_name,
        keys=keys,
        sequence_number=sequence_number,
        stream_arn=f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}/stream/2026-11-23T00:00:00.000",
        new_image=new_image,
        old_image=old_image,
        view=view,
        size_bytes=26,
    )


def ddb_event(*records: dict[str, Any]) -> dict[str, Any]:
    """The event of one DynamoDB Streams invocation."""
    return _sqs.records_event(list(records))


def s3_event(bucket: str, *keys: str, event_name: str = "ObjectCreated:Put", size: int = 1024) -> dict[str, Any]:
    """An S3 event notification with one record per key (keys URL-encoded as S3 sends them)."""
    return _s3.notification_event(
        [_s3.object_record(event_name, bucket, key, region=REGION, size=size, etag=uuid.uuid4().hex) for key in keys]
    )


def logs_data(
    *messages: str, log_group: str = "/aws/lambda/orders", log_stream: str = "2026/11/23/[$LATEST]a"
) -> bytes:
    """CloudWatch Logs subscription data as a Kinesis record carries it (gzip of the JSON document)."""
    return _logs.encode_logs_data(_logs_document(messages, log_group, log_stream))


def awslogs_event(
    *messages: str, log_group: str = "/aws/lambda/orders", log_stream: str = "2026/11/23/[$LATEST]a"
) -> dict[str, Any]:
    """The ``awslogs`` event a CloudWatch Logs subscription filter sends Lambda."""
    return _logs.awslogs_event(_logs_document(messages, log_group, log_stream))


def _logs_document(messages: tuple[str, ...], log_group: str, log_stream: str) -> dict[str, Any]:
    now = int(time.time() * 1000)
    return {
        "messageType": "DATA_MESSAGE",
        "owner": ACCOUNT,
        "logGroup": log_group,
        "logStream": log_stream,
        "subscriptionFilters": ["eventweave-test"],
        "logEvents": [{"id": f"{now}{i:040d}", "timestamp": now + i, "message": m} for i, m in enumerate(messages)],
    }


def async_destination_record(
    payload: Any,
    *,
    condition: str = "RetriesExhausted",
    function: str = "charge",
    error_message: str = "boom",
    invoke_count: int = 3,
) -> dict[str, Any]:
    """Lambda's async destination record (failure unless ``condition="Success"``)."""
    success = condition == "Success"
    response = (
        b"null"
        if success
        else json.dumps({"errorMessage": error_message, "errorType": "RuntimeError", "stackTrace": []}).encode()
    )
    return _destinations.async_record(
        json.dumps(payload).encode(),
        request_id=str(uuid.uuid4()),
        function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}",
        condition=condition,
        invoke_count=1 if success else invoke_count,
        function_error=None if success else "Unhandled",
        response=response,
        timestamp="2026-11-23T18:16:05.568Z",
    )


def stream_failure_record(*, kind: str = "kinesis", start: str = "1", end: str = "5", size: int = 5) -> dict[str, Any]:
    """On-failure record of a Kinesis / DynamoDB stream mapping (metadata only)."""
    arn = (
        f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/clicks"
        if kind == "kinesis"
        else f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/accounts/stream/2026-11-23T00:00:00.000"
    )
    return _destinations.stream_failure_record(
        kind="kinesis" if kind == "kinesis" else "dynamodb",
        stream_arn=arn,
        shard_id="shardId-000000000000",
        start_sequence=start,
        end_sequence=end,
        first_arrival=1763858284.835,
        last_arrival=1763858285.580,
        batch_size=size,
        request_id=str(uuid.uuid4()),
        function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:projector",
        condition="RetryAttemptsExhausted",
        invoke_count=1,
        timestamp="2026-11-23T00:38:06.021Z",
    )


class FakeLambdaContext:
    """The attributes of Lambda's context object that handlers read, with a real remaining-time clock.

    Example::

        ctx = FakeLambdaContext(remaining_ms=3_000, function_name="billing")
        ctx.get_remaining_time_in_millis()   # counts down from 3000
    """

    def __init__(self, remaining_ms: int = 30_000, function_name: str = "test-fn") -> None:
        self._deadline = time.monotonic() + remaining_ms / 1000
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name}"
        self.memory_limit_in_mb = 256
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "2026/11/23/[$LATEST]abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))

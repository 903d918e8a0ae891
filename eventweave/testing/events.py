"""Lambda events for handler unit tests, in the shapes AWS documents for each source, and a Lambda context.

Every factory returns plain dicts exactly as Lambda delivers them, so a handler test exercises the real parsing
paths (envelopes, attributes, base64, DynamoDB JSON) without AWS or the local cloud.

Example::

    from eventweave.testing.events import FakeLambdaContext, sqs_event, sqs_record

    response = handler(sqs_event(sqs_record({"order_id": "o-1", "amount": 5})), FakeLambdaContext())
    assert response == {"batchItemFailures": []}
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from typing import Any

__all__ = [
    "ACCOUNT",
    "REGION",
    "FakeLambdaContext",
    "async_destination_record",
    "ddb_event",
    "ddb_record",
    "eventbridge_event",
    "kinesis_event",
    "kinesis_record",
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


def _json(payload: Any) -> str:
    return payload if isinstance(payload, str) else json.dumps(payload)


def sqs_attribute(value: str | int, data_type: str | None = None) -> dict[str, Any]:
    """An SQS message attribute as Lambda delivers it (``stringValue``/``dataType``)."""
    kind = data_type or ("Number" if isinstance(value, int) else "String")
    return {"stringValue": str(value), "stringListValues": [], "binaryListValues": [], "dataType": kind}


def sns_attribute(value: str | int, data_type: str | None = None) -> dict[str, str]:
    """An SNS message attribute as in a notification (``Type``/``Value``)."""
    kind = data_type or ("Number" if isinstance(value, int) else "String")
    return {"Type": kind, "Value": str(value)}


def trace_sqs_attributes(correlation: str, hops: int, causation: str | None = None) -> dict[str, Any]:
    """eventweave's trace metadata as SQS message attributes (what its publishers attach)."""
    attrs = {"eventweave-correlation-id": sqs_attribute(correlation), "eventweave-hops": sqs_attribute(hops)}
    if causation:
        attrs["eventweave-causation-id"] = sqs_attribute(causation)
    return attrs


def sqs_record(
    body: Any,
    *,
    message_id: str | None = None,
    queue: str = "orders",
    attributes: dict[str, Any] | None = None,
    group_id: str | None = None,
    receive_count: int = 1,
) -> dict[str, Any]:
    """One SQS record (standard, or FIFO when ``group_id`` is given; the queue then ends in ``.fifo``)."""
    now = str(int(time.time() * 1000))
    sys_attrs: dict[str, str] = {
        "ApproximateReceiveCount": str(receive_count),
        "SentTimestamp": now,
        "SenderId": "AIDAIENQZJOLO23YVJ4VO",
        "ApproximateFirstReceiveTimestamp": now,
    }
    if group_id is not None:
        queue = queue if queue.endswith(".fifo") else f"{queue}.fifo"
        sys_attrs.update(
            SequenceNumber=str(uuid.uuid4().int)[:20], MessageGroupId=group_id, MessageDeduplicationId=str(uuid.uuid4())
        )
    text = _json(body)
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a" + uuid.uuid4().hex,
        "body": text,
        "attributes": sys_attrs,
        "messageAttributes": attributes or {},
        "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}",
        "awsRegion": REGION,
    }


_LAMBDA_SQS_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "AWSTraceHeader",
)


def sqs_record_from_message(message: dict[str, Any], source_arn: str, region: str = REGION) -> dict[str, Any]:
    """A ``ReceiveMessage`` result (all attributes requested) in the shape Lambda's SQS event source mapping delivers.

    The local cloud's SQS poller builds its events with this; tests that deliver by hand can too.
    """
    system = message.get("Attributes", {})
    attributes: dict[str, dict[str, Any]] = {}
    for name, value in message.get("MessageAttributes", {}).items():
        entry: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": value["DataType"]}
        if "StringValue" in value:
            entry["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            raw = value["BinaryValue"]
            entry["binaryValue"] = base64.b64encode(raw if isinstance(raw, bytes) else raw.encode()).decode()
        attributes[name] = entry
    body = message.get("Body", "")
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": body,
        "attributes": {name: system[name] for name in _LAMBDA_SQS_ATTRIBUTES if name in system},
        "messageAttributes": attributes,
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 - SQS's digest
        "eventSource": "aws:sqs",
        "eventSourceARN": source_arn,
        "awsRegion": region,
    }


def sqs_event(*records: dict[str, Any]) -> dict[str, Any]:
    """The event of one invocation: ``{"Records": [...]}``."""
    return {"Records": list(records)}


def sns_envelope(
    message: Any,
    *,
    message_id: str | None = None,
    topic: str = "orders",
    attributes: dict[str, dict[str, str]] | None = None,
    subject: str | None = None,
) -> str:
    """The JSON body SNS puts on an SQS queue when raw delivery is off (``…URL`` casing)."""
    doc: dict[str, Any] = {
        "Type": "Notification",
        "MessageId": message_id or str(uuid.uuid4()),
        "TopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:{topic}",
        "Message": _json(message),
        "Timestamp": "2026-11-23T12:00:00.000Z",
        "SignatureVersion": "1",
        "Signature": (
            "EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0QHVCkhRS7"
            "fUQvi2egU3N858fiTDN6bkkOxYDVrY0Ad8L10Hs3zH81mtnPk5uvvolIC1CXGu43obcgFxeL3khZl8IKvO61GWB6jI9b5+gLPoBc1Q="
        ),
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem",
        "UnsubscribeURL": f"https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:{REGION}:{ACCOUNT}:{topic}:1",
    }
    if subject is not None:
        doc["Subject"] = subject
    if attributes:
        doc["MessageAttributes"] = attributes
    return json.dumps(doc, indent=2)  # SNS pretty-prints its envelope


def sns_event(
    message: Any,
    *,
    message_id: str | None = None,
    topic: str = "orders",
    attributes: dict[str, dict[str, str]] | None = None,
    subject: str | None = None,
) -> dict[str, Any]:
    """SNS -> Lambda event (one record, ``…Url`` casing, ``Subject`` null when absent)."""
    topic_arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:{topic}"
    return {
        "Records": [
            {
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{topic_arn}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55",
                "EventSource": "aws:sns",
                "Sns": {
                    "SignatureVersion": "1",
                    "Timestamp": "2026-11-23T12:00:00.000Z",
                    "Signature": "tcc6faL2yUC6dgZdmrwh1Y4cGa/ebXEkAi6RibDsvpi+tE/1+82j...65r==",
                    "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000.pem",
                    "MessageId": message_id or str(uuid.uuid4()),
                    "Message": _json(message),
                    "MessageAttributes": attributes or {},
                    "Type": "Notification",
                    "UnsubscribeUrl": f"https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={topic_arn}:1",
                    "TopicArn": topic_arn,
                    "Subject": subject,
                },
            }
        ]
    }


def eventbridge_event(
    detail: Any,
    *,
    detail_type: str = "OrderPlaced",
    source: str = "orders",
    event_id: str | None = None,
    bus: str = "default",
) -> dict[str, Any]:
    """An EventBridge event as delivered to a target."""
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": ACCOUNT,
        "time": "2026-11-23T12:00:00Z",
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{bus}/orders-rule"],
        "detail": detail,
    }


def kinesis_record(
    data: Any,
    *,
    sequence_number: str,
    partition_key: str = "pk-1",
    stream: str = "clicks",
    shard: str = "shardId-000000000000",
) -> dict[str, Any]:
    """One Kinesis record; ``data`` (bytes, str or JSON-able) is base64-encoded as Lambda does."""
    raw = data if isinstance(data, bytes) else _json(data).encode()
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": partition_key,
            "sequenceNumber": sequence_number,
            "data": base64.b64encode(raw).decode(),
            "approximateArrivalTimestamp": time.time(),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard}:{sequence_number}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": f"arn:aws:iam::{ACCOUNT}:role/lambda-role",
        "awsRegion": REGION,
        "eventSourceARN": f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{stream}",
    }


def kinesis_event(*records: dict[str, Any]) -> dict[str, Any]:
    """The event of one Kinesis invocation."""
    return {"Records": list(records)}


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
    """One DynamoDB stream record; keys and images are given in DynamoDB JSON (``{"S": ...}``)."""
    body: dict[str, Any] = {
        "ApproximateCreationDateTime": int(time.time()),
        "Keys": keys,
        "SequenceNumber": sequence_number,
        "SizeBytes": 26,
        "StreamViewType": view,
    }
    if new_image is not None:
        body["NewImage"] = new_image
    if old_image is not None:
        body["OldImage"] = old_image
    return {
        "eventID": uuid.uuid4().hex,
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": body,
        "eventSourceARN": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}/stream/2026-11-23T00:00:00.000",
    }


def ddb_event(*records: dict[str, Any]) -> dict[str, Any]:
    """The event of one DynamoDB Streams invocation."""
    return {"Records": list(records)}


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
    response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
    if not success:
        response_context["functionError"] = "Unhandled"
    return {
        "version": "1.0",
        "timestamp": "2026-11-23T18:16:05.568Z",
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}:$LATEST",
            "condition": condition,
            "approximateInvokeCount": 1 if success else invoke_count,
        },
        "requestPayload": payload,
        "responseContext": response_context,
        "responsePayload": None
        if success
        else {"errorMessage": error_message, "errorType": "RuntimeError", "stackTrace": []},
    }


def stream_failure_record(*, kind: str = "kinesis", start: str = "1", end: str = "5", size: int = 5) -> dict[str, Any]:
    """On-failure record of a Kinesis / DynamoDB stream mapping (metadata only)."""
    arn = (
        f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/clicks"
        if kind == "kinesis"
        else f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/accounts/stream/2026-11-23T00:00:00.000"
    )
    info = {
        "shardId": "shardId-000000000000",
        "startSequenceNumber": start,
        "endSequenceNumber": end,
        "approximateArrivalOfFirstRecord": "2026-11-23T00:38:04.835Z",
        "approximateArrivalOfLastRecord": "2026-11-23T00:38:05.580Z",
        "batchSize": size,
        "streamArn": arn,
    }
    return {
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:projector",
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": 1,
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": "2026-11-23T00:38:06.021Z",
        ("KinesisBatchInfo" if kind == "kinesis" else "DDBStreamBatchInfo"): info,
    }


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

"""S3 event notifications (to Lambda, SQS and SNS), built and read.

``s3.object.key`` is URL-encoded on the wire (``red flower.jpg`` arrives as ``red+flower.jpg``): :func:`object_key`
gives the real key back. An SQS queue or SNS topic also receives a test event, without ``Records``, when a
notification configuration is saved; :func:`is_test_event` recognises it.

Example::

    event = notification_event([object_created("photos", "red flower.jpg", size=1024, etag="abc")])
    object_key(event["Records"][0])   # 'red flower.jpg'
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
import uuid
from collections.abc import Mapping
from typing import Any

__all__ = ["EVENT_VERSION", "is_test_event", "notification_event", "object_created", "object_key", "object_record"]

EVENT_VERSION = "2.1"


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def object_record(
    event_name: str,
    bucket: str,
    key: str,
    *,
    region: str = "us-east-1",
    size: int | None = None,
    etag: str | None = None,
    version_id: str | None = None,
    sequencer: str | None = None,
    configuration_id: str = "eventweave",
    principal_id: str = "EXAMPLE",
    source_ip: str = "127.0.0.1",
    event_time: str | None = None,
) -> dict[str, Any]:
    """One record of an S3 notification (``event_name`` like ``ObjectCreated:Put`` or ``ObjectRemoved:Delete``)."""
    obj: dict[str, Any] = {"key": urllib.parse.quote_plus(key, safe="/")}
    if size is not None:
        obj["size"] = size
    if etag is not None:
        obj["eTag"] = etag
    if version_id is not None:
        obj["versionId"] = version_id
    obj["sequencer"] = sequencer or f"{int(dt.datetime.now(dt.UTC).timestamp() * 1e6):016X}"
    return {
        "eventVersion": EVENT_VERSION,
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": event_time or _now(),
        "eventName": event_name,
        "userIdentity": {"principalId": principal_id},
        "requestParameters": {"sourceIPAddress": source_ip},
        "responseElements": {"x-amz-request-id": uuid.uuid4().hex[:16].upper(), "x-amz-id-2": uuid.uuid4().hex},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration_id,
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": principal_id}, "arn": f"arn:aws:s3:::{bucket}"},
            "object": obj,
        },
    }


def object_created(bucket: str, key: str, **kwargs: Any) -> dict[str, Any]:
    """An ``ObjectCreated:Put`` record."""
    return object_record("ObjectCreated:Put", bucket, key, **kwargs)


def notification_event(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The notification document: ``{"Records": [...]}`` (the Lambda event, the SQS body, the SNS message)."""
    return {"Records": list(records)}


def object_key(record: Mapping[str, Any]) -> str:
    """The object's real key (the notification carries it URL-encoded, spaces as ``+``)."""
    return urllib.parse.unquote_plus(str(record["s3"]["object"]["key"]))


def is_test_event(doc: object) -> bool:
    """Whether ``doc`` is the ``s3:TestEvent`` S3 sends when a notification configuration is saved."""
    return isinstance(doc, dict) and doc.get("Event") == "s3:TestEvent" and "Records" not in doc

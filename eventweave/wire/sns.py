"""SNS on the wire: the notification JSON (what SNS puts on a queue without raw delivery, and POSTs to HTTP
endpoints) and the record of an SNS -> Lambda event.

The two differ in casing: the notification says ``SigningCertURL`` / ``UnsubscribeURL``, the Lambda record
``SigningCertUrl`` / ``UnsubscribeUrl``; the notification leaves ``Subject`` out when there is none, the Lambda record
has ``"Subject": null``. ``MessageAttributes`` are in SNS's ``{"Type", "Value"}`` form, binary values base64 text.

Example::

    doc = notification("hello", topic_arn="arn:aws:sns:us-east-1:123456789012:greetings")
    body = notification_json(doc)            # an SQS body, as SNS writes it
    event = {"Records": [lambda_record(doc, subscription_arn=doc["TopicArn"] + ":1")]}
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping
from typing import Any

from .attributes import AttributeValue, sns_attribute

__all__ = ["is_notification", "lambda_record", "notification", "notification_json", "parse_notification"]

_SIGNATURE = (
    "EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0QHVCkhRS7fUQvi2egU3N858fiTDN6bkkOxYDVrY0Ad8L10Hs3z"
    "H81mtnPk5uvvolIC1CXGu43obcgFxeL3khZl8IKvO61GWB6jI9b5+gLPoBc1Q="
)


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def notification(
    message: str,
    *,
    topic_arn: str,
    message_id: str | None = None,
    subject: str | None = None,
    attributes: Mapping[str, AttributeValue] | None = None,
    raw_attributes: Mapping[str, Mapping[str, str]] | None = None,
    timestamp: str | None = None,
    subscription_arn: str | None = None,
    endpoint: str = "https://sns.{region}.amazonaws.com",
) -> dict[str, Any]:
    """The notification document SNS delivers for one published message (``Message`` is the text as published)."""
    if not isinstance(message, str):
        raise TypeError(f"an SNS message is text; encode {type(message).__name__} first")
    region = topic_arn.split(":")[3]
    base = endpoint.format(region=region)
    doc: dict[str, Any] = {
        "Type": "Notification",
        "MessageId": message_id or str(uuid.uuid4()),
        "TopicArn": topic_arn,
    }
    if subject is not None:
        doc["Subject"] = subject
    doc["Message"] = message
    doc["Timestamp"] = timestamp or _now_iso()
    doc["SignatureVersion"] = "1"
    doc["Signature"] = _SIGNATURE
    doc["SigningCertURL"] = f"{base}/SimpleNotificationService-0000000000000000000000000000000.pem"
    doc["UnsubscribeURL"] = (
        f"{base}/?Action=Unsubscribe&SubscriptionArn={subscription_arn or topic_arn + ':' + str(uuid.uuid4())}"
    )
    attrs: dict[str, Any] = {name: sns_attribute(value) for name, value in (attributes or {}).items()}
    attrs.update({name: dict(value) for name, value in (raw_attributes or {}).items()})
    if attrs:
        doc["MessageAttributes"] = attrs
    return doc


def notification_json(doc: Mapping[str, Any]) -> str:
    """The notification as the text SNS writes to an SQS queue (pretty-printed, as SNS does)."""
    return json.dumps(doc, indent=2, ensure_ascii=False)


def is_notification(obj: object) -> bool:
    """Whether a parsed JSON value is an SNS notification document."""
    return (
        isinstance(obj, dict)
        and obj.get("Type") == "Notification"
        and "TopicArn" in obj
        and isinstance(obj.get("Message"), str)
    )


def parse_notification(text: str) -> dict[str, Any] | None:
    """The notification document in an SQS body, or ``None`` when the body is not one (checked cheaply first)."""
    if '"TopicArn"' not in text:
        return None
    try:
        obj = json.loads(text)
    except ValueError:
        return None
    return obj if is_notification(obj) else None


def lambda_record(doc: Mapping[str, Any], *, subscription_arn: str) -> dict[str, Any]:
    """The SNS -> Lambda event record for a notification document (``...Url`` casing, ``Subject`` null if none)."""
    return {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": subscription_arn,
        "Sns": {
            "Type": doc.get("Type", "Notification"),
            "MessageId": doc["MessageId"],
            "TopicArn": doc["TopicArn"],
            "Subject": doc.get("Subject"),
            "Message": doc["Message"],
            "Timestamp": doc.get("Timestamp") or _now_iso(),
            "SignatureVersion": doc.get("SignatureVersion", "1"),
            "Signature": doc.get("Signature", _SIGNATURE),
            "SigningCertUrl": doc.get("SigningCertURL", doc.get("SigningCertUrl", "")),
            "UnsubscribeUrl": doc.get("UnsubscribeURL", doc.get("UnsubscribeUrl", "")),
            "MessageAttributes": dict(doc.get("MessageAttributes") or {}),
        },
    }

"""Recognise and unwrap the envelopes other services put around a message.

An SQS body may be the producer's JSON as sent, an SNS notification (subscription without raw delivery), an
EventBridge event (rule target), or an SNS notification whose ``Message`` is an EventBridge event. An SNS ``Message``
may itself be an EventBridge event. Handlers see the inner payload in every case, so one handler class works behind
any of these wirings.

The check is a substring test first (two C-speed scans), so a plain body pays almost nothing; only a body that
mentions ``"TopicArn"`` or ``"detail-type"`` is parsed, and then its structure decides, not the substrings.
"""

from __future__ import annotations

import json
from typing import Any

from .eventbridge import is_event
from .sns import is_notification
from .trace import CONTEXT_KEY, Trace, trace_from_attributes, trace_from_payload

__all__ = ["Unwrapped", "unwrap_eventbridge", "unwrap_text"]


class Unwrapped:
    """The payload found inside one or more envelopes, with what the envelopes said about it."""

    __slots__ = ("attributes", "envelope", "event_type", "message_id", "payload", "trace")

    def __init__(
        self,
        payload: str | dict[str, Any] | Any,
        envelope: str,
        message_id: str | None,
        event_type: str | None = None,
        attributes: dict[str, Any] | None = None,
        trace: Trace | None = None,
    ) -> None:
        self.payload = payload
        self.envelope = envelope
        self.message_id = message_id
        self.event_type = event_type
        self.attributes = attributes
        self.trace = trace


def unwrap_eventbridge(obj: dict[str, Any], envelope: str = "eventbridge") -> Unwrapped:
    """Unwrap a parsed EventBridge event: the ``detail`` (minus eventweave's ``__context``) is the payload."""
    detail = obj.get("detail")
    trace = None
    if isinstance(detail, dict) and CONTEXT_KEY in detail:
        detail = dict(detail)  # leave the caller's event intact: a poison record must be stored as it came
        trace = trace_from_payload(detail)
    event_id = obj.get("id")
    detail_type = obj.get("detail-type")
    return Unwrapped(
        detail,
        envelope,
        event_id if isinstance(event_id, str) else None,
        event_type=detail_type if isinstance(detail_type, str) else None,
        trace=trace,
    )


def unwrap_text(text: str) -> Unwrapped | None:
    """Unwrap SNS / EventBridge envelopes around ``text``; ``None`` when ``text`` is not enveloped (the fast path)."""
    if '"TopicArn"' not in text and '"detail-type"' not in text:
        return None
    try:
        obj = json.loads(text)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    if is_notification(obj):
        attributes = obj.get("MessageAttributes")
        attributes = attributes if isinstance(attributes, dict) else None
        message: str = obj["Message"]
        message_id = obj.get("MessageId")
        inner = unwrap_text(message)
        if inner is not None and inner.envelope == "eventbridge":
            inner.envelope = "sns+eventbridge"
            if inner.trace is None and attributes:
                inner.trace = trace_from_attributes(attributes)
            inner.attributes = attributes
            return inner
        return Unwrapped(
            message,
            "sns",
            message_id if isinstance(message_id, str) else None,
            attributes=attributes,
            trace=trace_from_attributes(attributes) if attributes else None,
        )
    if is_event(obj):
        return unwrap_eventbridge(obj)
    return None

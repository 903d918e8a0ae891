"""Reading eventweave's trace out of any Lambda event, whatever its source: for journals and tools, not handlers.

A handler reads its own source's records (:mod:`eventweave.handlers`); a tool that sees every invocation (the local
cloud's journal, a DLQ inspector) needs the correlation ids of any of them: SQS records (attributes, and SNS or
EventBridge envelopes in the body), SNS records, Kinesis data, DynamoDB images, EventBridge events, asynchronous
invoke payloads and destination records. Text attributes only: a Binary attribute is never a correlation id.

Example::

    size, ids = describe_event(json.loads(payload))   # (10, ['5f0c...'])
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from .dynamodb import DynamoDBJsonError, deserialize_image
from .envelopes import unwrap_eventbridge, unwrap_text
from .eventbridge import is_event
from .kinesis import KinesisDataError, decode_data
from .trace import CONTEXT_KEY, Trace, trace_from_attributes, trace_from_payload

__all__ = ["correlation_ids", "describe_event"]


class _Found:
    def __init__(self) -> None:
        self.ids: dict[str, None] = {}

    def add(self, trace: Trace | None) -> None:
        if trace is not None and trace[0]:
            self.ids.setdefault(trace[0], None)

    def attributes(self, raw: object) -> None:
        if isinstance(raw, Mapping):
            self.add(trace_from_attributes(raw))

    def text(self, text: object) -> None:
        """An SQS body, an SNS message or a serialised payload."""
        if not isinstance(text, str):
            return
        unwrapped = unwrap_text(text)
        if unwrapped is not None:
            self.add(unwrapped.trace)
            self.attributes(unwrapped.attributes)
            return
        if not text.lstrip().startswith("{"):
            return
        try:
            obj = json.loads(text)
        except ValueError:
            return
        self.json(obj)

    def json(self, obj: object) -> None:
        """A JSON payload: an EventBridge event, an object carrying ``__context``, a destination record."""
        if not isinstance(obj, dict):
            return
        if is_event(obj):
            self.add(unwrap_eventbridge(obj).trace)
        elif CONTEXT_KEY in obj:
            self.add(trace_from_payload(dict(obj)))
        detail = obj.get("detail")
        if isinstance(detail, dict) and CONTEXT_KEY in detail:
            self.add(trace_from_payload(dict(detail)))
        payload = obj.get("requestPayload")
        if isinstance(payload, str):
            self.text(payload)
        elif isinstance(payload, dict):
            self.json(payload)

    def record(self, record: object) -> None:
        if not isinstance(record, dict):
            return
        if "body" in record:
            self.attributes(record.get("messageAttributes"))
            self.text(record["body"])
        elif isinstance(record.get("Sns"), dict):
            sns = record["Sns"]
            self.attributes(sns.get("MessageAttributes"))
            self.text(sns.get("Message"))
        elif isinstance(record.get("kinesis"), dict):
            try:
                data = decode_data(record)
            except KinesisDataError:
                return
            self.text(data.decode("utf-8", errors="replace"))
        elif isinstance(record.get("dynamodb"), dict):
            image = record["dynamodb"].get("NewImage")
            if isinstance(image, dict) and CONTEXT_KEY in image:
                try:
                    self.add(trace_from_payload(deserialize_image({CONTEXT_KEY: image[CONTEXT_KEY]})))
                except DynamoDBJsonError:
                    return
        else:
            self.json(record)


def describe_event(event: object) -> tuple[int, list[str]]:
    """``(batch size, correlation ids in first-seen order)`` of an invocation's event; an event without ``Records``
    is a batch of one."""
    found = _Found()
    records = event.get("Records") if isinstance(event, dict) else None
    if isinstance(records, list):
        for record in records:
            found.record(record)
        return len(records), list(found.ids)
    found.json(event)
    return 1, list(found.ids)


def correlation_ids(event: object) -> list[str]:
    """The correlation ids an event carries, in first-seen order."""
    return describe_event(event)[1]

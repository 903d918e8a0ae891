"""What a handler knows about the record it is processing: ids, trace metadata, attributes, remaining time.

Trace metadata travels with every message eventweave publishes (see :mod:`eventweave.handlers.publish`):

* SNS and SQS: message attributes ``eventweave-correlation-id``, ``eventweave-causation-id``, ``eventweave-hops``;
* EventBridge ``detail``, Kinesis and DynamoDB payloads, async-invoke payloads: a ``__context`` object
  ``{"correlationId": ..., "causationId": ..., "hops": n}``.

A record without metadata starts a new chain: its correlation id is its own message id and its hop count is 0.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar, Self

__all__ = [
    "ATTR_CAUSATION",
    "ATTR_CORRELATION",
    "ATTR_HOPS",
    "CONTEXT_KEY",
    "RecordContext",
    "current_record",
]

ATTR_CORRELATION = "eventweave-correlation-id"
ATTR_CAUSATION = "eventweave-causation-id"
ATTR_HOPS = "eventweave-hops"
CONTEXT_KEY = "__context"


class _Local(threading.local):
    record: RecordContext | None = None


# A thread-local slot rather than a ContextVar: setting it per record costs a third as much, and a handler's records
# are handled one after another on one thread. Each thread (a test running handlers concurrently) has its own.
_local = _Local()


def current_record() -> RecordContext | None:
    """The record being handled on this thread, or ``None`` outside a handler (publishers and the logger read it)."""
    return _local.record


class RecordContext:
    """Per-record context passed to ``handle``.

    ``message_id`` is the *logical* id: for an SNS notification or an EventBridge event delivered through SQS it is
    the SNS ``MessageId`` / event ``id``, so it is the same in every subscriber and across redeliveries. ``record_id``
    is what the event source wants back in ``batchItemFailures`` (SQS ``messageId``, stream sequence number).
    ``correlation_id`` is the id of the whole chain (the first message's id unless a producer said otherwise),
    ``causation_id`` the message that caused this one, ``hops`` how many eventweave handlers it has passed.

    Example::

        def handle(self, order: OrderPlaced, ctx: RecordContext) -> None:
            log.info("charging", extra={"order": order.order_id, "hops": ctx.hops})
            if ctx.remaining_time_ms() < 5_000:
                raise TimeoutError("not enough time left; let the source retry")
    """

    __slots__ = (
        "_attributes",
        "_correlation_id",
        "_message_id",
        "causation_id",
        "event_type",
        "hops",
        "lambda_context",
        "raw_attributes",
        "record",
        "record_id",
        "source",
    )

    default_source: ClassVar[str] = "unknown"

    def __init__(
        self,
        record: dict[str, Any],
        record_id: str,
        message_id: str | None = None,
        source: str | None = None,
        lambda_context: Any = None,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        hops: int = 0,
        event_type: str | None = None,
        raw_attributes: dict[str, Any] | None = None,
    ) -> None:
        self.record = record
        self.record_id = record_id
        self.lambda_context = lambda_context
        self._message_id = message_id if message_id != record_id else None
        self.source = source or self.default_source
        self._correlation_id = correlation_id or None
        self.causation_id = causation_id or None
        self.hops = hops
        self.event_type = event_type
        self.raw_attributes = raw_attributes or None
        self._attributes: dict[str, str] | None = None

    @classmethod
    def _fast(cls, record: dict[str, Any], record_id: str, lambda_context: Any) -> Self:
        """A context with defaults everywhere else, without the cost of ``__init__`` (the per-record hot path)."""
        ctx = _new(cls)
        ctx.record = record
        ctx.record_id = record_id
        ctx.lambda_context = lambda_context
        ctx._message_id = ctx._correlation_id = ctx.causation_id = ctx.event_type = ctx.raw_attributes = None
        ctx._attributes = None
        ctx.hops = 0
        ctx.source = cls.default_source
        return ctx

    @property
    def message_id(self) -> str:
        return self._message_id or self.record_id

    @message_id.setter
    def message_id(self, value: str) -> None:
        self._message_id = value

    @property
    def correlation_id(self) -> str:
        return self._correlation_id or self._message_id or self.record_id

    @correlation_id.setter
    def correlation_id(self, value: str | None) -> None:
        self._correlation_id = value

    @property
    def attributes(self) -> dict[str, str]:
        """Message attributes as plain strings (SQS ``stringValue`` or SNS ``Value``); binary ones are skipped."""
        if self._attributes is None:
            self._attributes = _flatten_attributes(self.raw_attributes)
        return self._attributes

    def remaining_time_ms(self) -> int:
        """Milliseconds left in this invocation (a large number when there is no Lambda context, as in unit tests)."""
        getter = getattr(self.lambda_context, "get_remaining_time_in_millis", None)
        if getter is None:
            return 900_000
        return int(getter())

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(source={self.source!r}, record_id={self.record_id!r}, "
            f"message_id={self.message_id!r}, correlation_id={self.correlation_id!r}, hops={self.hops})"
        )


_new = object.__new__


class SqsRecordContext(RecordContext):
    """Context of an SQS record; adds FIFO group and receive count."""

    __slots__ = ()
    default_source = "aws:sqs"

    @property
    def group_id(self) -> str | None:
        attrs = self.record.get("attributes")
        return attrs.get("MessageGroupId") if isinstance(attrs, dict) else None

    @property
    def receive_count(self) -> int:
        attrs = self.record.get("attributes")
        try:
            return int(attrs.get("ApproximateReceiveCount", 1)) if isinstance(attrs, dict) else 1
        except (TypeError, ValueError):
            return 1


def _flatten_attributes(raw: dict[str, Any] | None) -> dict[str, str]:
    if not raw or not isinstance(raw, dict):
        return {}
    out: dict[str, str] = {}
    for name, value in raw.items():
        if not isinstance(value, dict):
            continue
        text = value.get("stringValue", value.get("StringValue", value.get("Value")))
        if isinstance(text, str):
            out[name] = text
    return out


def attribute_value(raw: dict[str, Any], name: str) -> str | None:
    """One attribute's string value from SQS (``stringValue``) or SNS (``Value``) attribute maps."""
    value = raw.get(name)
    if not isinstance(value, dict):
        return None
    text = value.get("stringValue", value.get("StringValue", value.get("Value")))
    return text if isinstance(text, str) else None


def trace_from_attributes(raw: dict[str, Any] | None) -> tuple[str | None, str | None, int]:
    """``(correlation id, causation id, hops)`` from a message-attribute map.

    Hops are 0 when no counter is present, and maximal (so the recursion guard trips) when a counter is present but
    unreadable or negative: a corrupt counter must never reset a loop to zero.
    """
    if not raw or (ATTR_HOPS not in raw and ATTR_CORRELATION not in raw):
        return None, None, 0
    hops_text = attribute_value(raw, ATTR_HOPS)
    if hops_text is None:
        # A counter that is present but not a string attribute is as corrupt as an unparsable one.
        hops = 1 << 30 if ATTR_HOPS in raw else 0
    else:
        try:
            hops = int(hops_text)
        except ValueError:
            # A corrupt counter must not reset a loop to zero: treat it as maximal so the guard trips.
            hops = 1 << 30
    if hops < 0:
        hops = 1 << 30
    return attribute_value(raw, ATTR_CORRELATION), attribute_value(raw, ATTR_CAUSATION), hops


def trace_from_payload(payload: dict[str, Any]) -> tuple[str | None, str | None, int] | None:
    """Pop ``__context`` from a JSON payload; ``None`` when the payload carries none."""
    meta = payload.pop(CONTEXT_KEY, None)
    if meta is None:
        return None
    if not isinstance(meta, dict):
        return None, None, 1 << 30
    raw_hops = meta.get("hops", 0)
    try:
        # DynamoDB images deserialize numbers as Decimal, JSON as int: int() takes both.
        hops = 1 << 30 if isinstance(raw_hops, bool) else int(raw_hops)
    except (TypeError, ValueError, ArithmeticError):
        hops = 1 << 30
    if hops < 0:
        hops = 1 << 30
    corr, cause = meta.get("correlationId"), meta.get("causationId")
    return (corr if isinstance(corr, str) else None, cause if isinstance(cause, str) else None, hops)

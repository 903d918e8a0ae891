"""What a handler knows about the record it is processing: ids, trace metadata, attributes, remaining time.

Trace metadata travels with every message eventweave publishes (its wire form: :mod:`eventweave.wire.trace`). A
record without metadata starts a new chain: its correlation id is its own message id and its hop count is 0.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar, Self

from eventweave.wire.attributes import read_attributes

__all__ = [
    "RecordContext",
    "current_record",
    "handling",
    "record_slot",
]


class RecordSlot:
    """Where the record being handled on one thread is kept (``.record``)."""

    __slots__ = ("record",)

    def __init__(self) -> None:
        self.record: RecordContext | None = None


class _Local(threading.local):
    def __init__(self) -> None:
        self.slot = RecordSlot()


# One slot per thread (a test running handlers concurrently has one per thread), found once per batch: then setting
# the record is a plain attribute store, a tenth of what a thread-local or ContextVar store costs per record.
_local = _Local()


def current_record() -> RecordContext | None:
    """The record being handled on this thread, or ``None`` outside a handler (publishers and the logger read it)."""
    return _local.slot.record


def record_slot() -> RecordSlot:
    """This thread's current-record slot, for an engine that sets ``.record`` per record in a tight loop, where a
    context manager per record would cost more than the record's own bookkeeping. Look it up per batch, not once per
    process: each thread has its own."""
    return _local.slot


@contextlib.contextmanager
def handling(ctx: RecordContext | None) -> Iterator[RecordContext | None]:
    """Make ``ctx`` the current record for the block, so what it publishes carries its trace; restores the previous.

    Example::

        with handling(ctx):
            send_sqs(queue_url, {"order_id": "o-1"})   # correlation id and hops continue ctx's chain
    """
    slot = _local.slot
    previous = slot.record
    slot.record = ctx
    try:
        yield ctx
    finally:
        slot.record = previous


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
        "_binary_attributes",
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
        self._binary_attributes: dict[str, bytes] | None = None

    @classmethod
    def _fast(cls, record: dict[str, Any], record_id: str, lambda_context: Any) -> Self:
        """A context with defaults everywhere else, without the cost of ``__init__`` (the per-record hot path)."""
        ctx = _new(cls)
        ctx.record = record
        ctx.record_id = record_id
        ctx.lambda_context = lambda_context
        ctx._message_id = ctx._correlation_id = ctx.causation_id = ctx.event_type = ctx.raw_attributes = None
        ctx._attributes = ctx._binary_attributes = None
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
        """The message's String, Number and String.Array attributes as the text AWS sends; Binary ones are in
        :attr:`binary_attributes`.

        For an SNS notification delivered through SQS these are the attributes the publisher set on the SNS message,
        over the SQS message's own where both name one (the queue's own stay in ``queue_attributes``).
        """
        if self._attributes is None:
            self._attributes, self._binary_attributes = read_attributes(self.raw_attributes)
        return self._attributes

    @property
    def binary_attributes(self) -> Mapping[str, bytes]:
        """The message's Binary attributes, decoded (SQS ``binaryValue``, SNS ``Value`` of type ``Binary``)."""
        if self._binary_attributes is None:
            self._attributes, self._binary_attributes = read_attributes(self.raw_attributes)
        return self._binary_attributes

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
    """Context of an SQS record; adds FIFO group, receive count and the SQS message's own attributes.

    Example::

        def handle(self, line: str, ctx: SqsRecordContext) -> None:
            if ctx.receive_count > 3:
                log.warning("slow line", extra={"group": ctx.group_id, "tenant": ctx.attributes.get("tenant")})
    """

    __slots__ = ()
    default_source = "aws:sqs"

    @property
    def queue_attributes(self) -> dict[str, str]:
        """The SQS message's own text attributes (differs from :attr:`attributes` only behind an SNS envelope)."""
        return read_attributes(self.record.get("messageAttributes"))[0]

    @property
    def queue_binary_attributes(self) -> dict[str, bytes]:
        """The SQS message's own Binary attributes, decoded."""
        return read_attributes(self.record.get("messageAttributes"))[1]

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

"""DynamoDB Streams handler: typed images, dispatch by event name, checkpoint at the first failure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Literal, TypeVar

from eventweave.wire.dynamodb import DynamoDBJsonError, deserialize_image
from eventweave.wire.trace import CONTEXT_KEY, trace_from_payload

from .base import IGNORED, BaseHandler, Poison
from .context import RecordContext
from .errors import PermanentError

__all__ = ["Change", "DynamoDBRecordContext", "DynamoDBStreamHandler"]

M = TypeVar("M")
EventName = Literal["INSERT", "MODIFY", "REMOVE"]


@dataclass(frozen=True, slots=True)
class Change(Generic[M]):
    """One item change: ``new`` for INSERT/MODIFY, ``old`` for MODIFY/REMOVE (when the stream view has images)."""

    event_name: EventName
    keys: dict[str, Any]
    new: M | None
    old: M | None


class DynamoDBRecordContext(RecordContext):
    """Context of a DynamoDB stream record; ``record_id`` is its sequence number, ``event_type`` its event name."""

    __slots__ = ()
    default_source = "aws:dynamodb"

    @property
    def event_name(self) -> str | None:
        return self.event_type

    @property
    def sequence_number(self) -> str:
        return self.record_id

    @property
    def stream_view_type(self) -> str | None:
        dynamodb = self.record.get("dynamodb")
        view = dynamodb.get("StreamViewType") if isinstance(dynamodb, dict) else None
        return view if isinstance(view, str) else None


def _missing_image(handled: bool, event: str, image: str) -> Any:
    """A record without the image its ``on_*`` method needs: the stream's view type cannot deliver it, so retrying
    cannot help; the record goes to the DLQ with this reason instead of being dropped as if there were nothing to do."""
    if not handled:
        return IGNORED
    raise PermanentError(
        f"{event} record without {image}: the table's stream view type must include it (NEW_AND_OLD_IMAGES, or "
        f"{'NEW_IMAGE' if image == 'NewImage' else 'OLD_IMAGE'}); with KEYS_ONLY override handle() and read the keys"
    )


class DynamoDBStreamHandler(BaseHandler[Change[M], DynamoDBRecordContext]):
    """Handler for a DynamoDB stream. Images are deserialized (``B`` as ``bytes``, ``BS`` as ``set[bytes]``, numbers
    as ``Decimal``) and validated against the model.

    Override ``on_insert(new, ctx)``, ``on_modify(new, old, ctx)`` and/or ``on_remove(old, ctx)``; events without a
    method are counted as ignored. Or override ``handle(change, ctx)`` to see every :class:`Change`. Order and
    checkpointing are as for Kinesis. Items written with :func:`eventweave.handlers.publish.stamp` carry the trace,
    so a function that writes back to the table it consumes is stopped by the recursion guard.

    Example::

        class Project(DynamoDBStreamHandler[AccountEvent]):
            def on_insert(self, event: AccountEvent, ctx: DynamoDBRecordContext) -> None:
                balances.apply(event)

        handler = Project.lambda_handler()
    """

    source: ClassVar[str] = "dynamodb"
    event_source_name: ClassVar[str] = "aws:dynamodb"
    mode = "stream"
    partial_batch_response: ClassVar[bool] = True

    def handle(self, message: Change[M], ctx: DynamoDBRecordContext) -> Any:
        cls = type(self)
        if message.event_name == "INSERT":
            if message.new is None:
                return _missing_image(cls.on_insert is not DynamoDBStreamHandler.on_insert, "INSERT", "NewImage")
            return self.on_insert(message.new, ctx)
        if message.event_name == "MODIFY":
            if message.new is None and message.old is None:
                return _missing_image(cls.on_modify is not DynamoDBStreamHandler.on_modify, "MODIFY", "NewImage")
            return self.on_modify(message.new, message.old, ctx)
        if message.old is None:
            return _missing_image(cls.on_remove is not DynamoDBStreamHandler.on_remove, "REMOVE", "OldImage")
        return self.on_remove(message.old, ctx)

    def on_insert(self, new: M, ctx: DynamoDBRecordContext) -> Any:
        return IGNORED

    def on_modify(self, new: M | None, old: M | None, ctx: DynamoDBRecordContext) -> Any:
        return IGNORED

    def on_remove(self, old: M, ctx: DynamoDBRecordContext) -> Any:
        return IGNORED

    def __call__(self, event: Any, context: Any) -> dict[str, list[dict[str, str]]]:
        records = event.get("Records") if isinstance(event, dict) else None
        if not isinstance(records, list):
            self._malformed_event(event, "no 'Records' list")
            return {"batchItemFailures": []}
        failures, counts, _ = self._run(records, context)
        self._finish(counts, failures[:1], len(records))
        return {"batchItemFailures": [{"itemIdentifier": f} for f in failures[:1] if f is not None]}

    def _record_id(self, raw: Any) -> str | None:
        seq = raw["dynamodb"]["SequenceNumber"]
        return seq if isinstance(seq, str) and seq else None

    def _decode(self, raw: Any, lambda_context: Any) -> tuple[DynamoDBRecordContext, Any, str]:
        body = raw["dynamodb"]
        seq = body["SequenceNumber"]
        event_name = raw["eventName"]
        if not isinstance(seq, str) or not seq:
            raise TypeError("the record has no dynamodb.SequenceNumber")
        event_id = raw.get("eventID")
        ctx = DynamoDBRecordContext(
            raw,
            seq,
            event_id if isinstance(event_id, str) else seq,
            "aws:dynamodb",
            lambda_context,
            event_type=event_name if isinstance(event_name, str) else None,
        )
        if event_name not in ("INSERT", "MODIFY", "REMOVE"):
            raise Poison(
                "malformed-record",
                ValueError(f"eventName {event_name!r} of {seq} is not INSERT, MODIFY or REMOVE"),
                ctx,
            )
        try:
            keys = deserialize_image(body.get("Keys") or {}, "Keys")
            new_raw = body.get("NewImage")
            old_raw = body.get("OldImage")
            new_image = deserialize_image(new_raw, "NewImage") if new_raw is not None else None
            old_image = deserialize_image(old_raw, "OldImage") if old_raw is not None else None
        except DynamoDBJsonError as error:
            raise Poison(
                "malformed-record", DynamoDBJsonError(f"record {seq} is not DynamoDB JSON: {error}"), ctx
            ) from None
        if new_image is not None:
            trace = trace_from_payload(new_image)
            if trace is not None:
                ctx.correlation_id = trace[0] or ctx.message_id
                ctx.causation_id, ctx.hops = trace[1], trace[2]
        if old_image is not None:
            old_image.pop(CONTEXT_KEY, None)
        self._guard(ctx)
        validate = self._validator_.from_python
        from pydantic import ValidationError

        try:
            change: Change[Any] = Change(
                event_name=event_name,
                keys=keys,
                new=validate(new_image) if new_image is not None else None,
                old=validate(old_image) if old_image is not None else None,
            )
        except ValidationError as error:
            raise Poison("validation-error", error, ctx) from None
        return ctx, change, "handle"

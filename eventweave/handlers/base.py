"""The record engine shared by every handler base class.

A source class (``SqsHandler``, ``KinesisHandler``...) says how to find records in an event, how to read one record
(envelopes, trace metadata, payload) and what Lambda expects back. This module does the rest, the same way for every
source:

1. decode each record: recursion guard, then validation against the handler's model; a record that fails either is
   *poison*;
2. with idempotency on, one ``BatchGetItem`` for the whole batch, then a lock per new record;
3. call ``handle`` in order, applying the source's ordering rule on the first retryable failure: independent records
   (SQS standard), skip the rest of the message group (SQS FIFO), stop the batch (Kinesis, DynamoDB Streams), or
   raise (single-record sources, so Lambda's async retries apply);
4. deliver poison to the dead-letter destination; a poison record that cannot be delivered is reported failed, so
   the source keeps it: nothing is dropped.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar, get_args, get_origin, get_type_hints

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import SchemaValidator

from eventweave.wire.payloads import PayloadKind, UndecodablePayload, as_bytes, as_text, payload_kind

from .context import RecordContext, record_slot
from .errors import BatchFailedError, ConfigurationError, PermanentError, RecordFailedError
from .idempotency import Idempotency, IdempotencyStore, KeyState
from .observability import BatchCounts, BatchMetrics, flush_user_metrics, make_logger, make_metrics
from .poison import DeadLetter, PoisonEntry
from .settings import Settings

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.metrics import Metrics

__all__ = [
    "IGNORED",
    "BaseHandler",
    "HandlerContract",
    "LambdaEntry",
    "PayloadValidator",
    "Poison",
    "on_event",
    "payload_validator",
]

M = TypeVar("M")
C = TypeVar("C", bound=RecordContext)
Mode = Literal["independent", "fifo", "stream", "single"]

_internal_log = logging.getLogger("eventweave")

IGNORED: Any = type("Ignored", (), {"__repr__": lambda self: "IGNORED", "__slots__": ()})()
"""Return this from ``handle`` to count a record as deliberately ignored rather than processed."""


class Poison(Exception):  # noqa: N818 - it is a verdict, not an error of eventweave's
    """Raised while decoding a record that must go to the dead-letter destination instead of ``handle``."""

    def __init__(self, reason: str, error: BaseException, ctx: RecordContext | None = None) -> None:
        super().__init__(f"{reason}: {error}")
        self.reason = reason
        self.error = error
        self.ctx = ctx


def on_event(*event_types: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Route events of the given EventBridge ``detail-type`` (s) to the decorated method.

    The method's first parameter annotation is the model its ``detail`` is validated against.

    Example::

        class Orders(EventBridgeHandler):
            @on_event("OrderPlaced")
            def placed(self, order: OrderPlaced, ctx: RecordContext) -> None: ...

            @on_event("OrderCancelled")
            def cancelled(self, order: OrderCancelled, ctx: RecordContext) -> None: ...
    """
    if not event_types:
        raise TypeError("on_event() needs at least one detail-type")

    def mark(method: Callable[..., Any]) -> Callable[..., Any]:
        method.__eventweave_routes__ = event_types  # type: ignore[attr-defined]
        return method

    return mark


@dataclass(frozen=True, slots=True)
class PayloadValidator:
    """How records become the handler's model: ``from_json`` takes a payload as it came (text or bytes),
    ``from_python`` one already parsed (an EventBridge ``detail``, a DynamoDB image). ``kind`` says what the model
    asks for (see :mod:`eventweave.wire.payloads`): JSON, the text unchanged, the bytes, or a model decoding bytes.

    Example::

        payload_validator(str).from_json("hello world")        # 'hello world' (no JSON parsing)
        payload_validator(Order).from_json('{"order_id": "o-1"}')  # Order(order_id='o-1')
    """

    type_: Any
    from_json: Callable[[str | bytes], Any]
    from_python: Callable[[Any], Any]
    kind: PayloadKind = "json"


def payload_validator(type_: Any) -> PayloadValidator:
    """The validator for a handler declared with ``type_`` (a pydantic model, ``str``, ``bytes`` or any type)."""
    kind = payload_kind(type_)
    if kind == "text":
        return PayloadValidator(str, as_text, as_text, kind)
    if kind == "bytes":
        return PayloadValidator(bytes, as_bytes, as_bytes, kind)
    if kind == "model-bytes":
        decode = type_.__eventweave_decode__
        validate = _json_validator(type_).from_python
        return PayloadValidator(
            type_, lambda data: validate(decode(as_bytes(data))), lambda v: validate(decode(v)), kind
        )
    return _json_validator(type_)


def _json_validator(type_: Any) -> PayloadValidator:
    if isinstance(type_, type) and issubclass(type_, BaseModel):
        # The model's compiled validator is the fast path: model_validate_json() is a Python wrapper around exactly
        # this call, and its frame costs as much per record as the rest of eventweave's bookkeeping.
        core = type_.__pydantic_validator__
        if isinstance(core, SchemaValidator):
            return PayloadValidator(type_, core.validate_json, core.validate_python)
        return PayloadValidator(type_, type_.model_validate_json, type_.model_validate)  # defer_build: not compiled yet
    if type_ is Any or type_ is None:
        return PayloadValidator(Any, json.loads, lambda value: value)
    adapter: TypeAdapter[Any] = TypeAdapter(type_)
    return PayloadValidator(type_, adapter.validate_json, adapter.validate_python)


def _key_part(value: Any) -> str:
    """One field of a composite idempotency key, escaped so ("a|b", "c") and ("a", "b|c") stay apart.

    Values without ``\\`` or ``|`` come out unchanged, so keys stored before this escaping still match.
    """
    if value is None:
        return "\\0"
    return str(value).replace("\\", "\\\\").replace("|", "\\|")


class LambdaEntry:
    """The callable a handler module exposes to Lambda; knows its handler class (the CDK side reads it).

    Example::

        handler = Charge.lambda_handler()
        handler.handler_class      # Charge
        handler(event, context)    # what Lambda does
    """

    __slots__ = ("_call", "handler_class", "kwargs")

    def __init__(self, handler_class: type[BaseHandler[Any, Any]], kwargs: dict[str, Any]) -> None:
        self.handler_class = handler_class
        self.kwargs = kwargs
        self._call: Callable[[Any, Any], Any] | None = None
        if "settings" in kwargs:
            self._build()
        elif os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
            try:
                self._build()  # during Lambda's init phase, where the work belongs
            except ConfigurationError:
                # A module may hold the entries of several functions; only the one Lambda calls needs its
                # environment. Building again on the first call raises the same error for the right function.
                self._call = None

    @property
    def instance(self) -> BaseHandler[Any, Any]:
        """The handler instance (built now if it was deferred)."""
        call = self._call or self._build()
        target: Any = getattr(call, "__wrapped__", call)
        instance: BaseHandler[Any, Any] = target.__self__
        return instance

    def _build(self) -> Callable[[Any, Any], Any]:
        cls = self.handler_class
        instance = cls(**self.kwargs)
        call: Callable[[Any, Any], Any] = instance.__call__
        if cls.tracing:
            from aws_lambda_powertools import Tracer

            call = Tracer(service=instance.settings.service).capture_lambda_handler(call)
        self._call = call
        return call

    def __call__(self, event: Any, context: Any) -> Any:
        call = self._call or self._build()
        return call(event, context)


class _Batch:
    """What the engine tracks while it goes through one invocation's records."""

    __slots__ = (
        "blocked_groups",
        "completed_here",
        "counts",
        "deferred",
        "failures",
        "keys",
        "mode",
        "result",
        "slot",
        "states",
    )

    def __init__(self, mode: Mode) -> None:
        self.mode: Mode = mode
        self.counts = BatchCounts()
        self.failures: list[str | None] = []
        self.deferred: list[PoisonEntry] = []
        self.blocked_groups: set[str] = set()
        self.completed_here: set[str] = set()
        self.keys: list[str | None] | None = None
        self.states: dict[str, KeyState] = {}
        self.result: Any = None
        self.slot = record_slot()


@dataclass(frozen=True, slots=True)
class HandlerContract:
    """What a handler class promises, read by the CDK patterns so infrastructure matches code.

    Example::

        Charge.contract()
        # HandlerContract(source='sqs', model=OrderPlaced, idempotent=True, fifo=False, ...)
    """

    source: str
    model: Any
    idempotent: bool
    idempotency_key: tuple[str, ...]
    fifo: bool
    partial_batch_response: bool
    event_types: tuple[str, ...]
    max_hops: int | None


class BaseHandler(Generic[M, C]):
    """Base of every handler: decoding, poison routing, idempotency, recursion guard, logging and metrics.

    Subclass a source class, not this one (``SqsHandler[Model]``, ``KinesisHandler[Model]``, ...).
    """

    source: ClassVar[str] = "unknown"
    event_source_name: ClassVar[str] = "unknown"
    mode: ClassVar[Mode] = "independent"
    partial_batch_response: ClassVar[bool] = False
    fifo: ClassVar[bool] = False
    idempotency: ClassVar[Idempotency | None] = None
    """Set to :class:`Idempotency` to process each business key once. Default: off."""
    max_hops: ClassVar[int | None] = None
    """Recursion limit of this handler. Default: ``EVENTWEAVE_MAX_HOPS`` (16)."""
    tracing: ClassVar[bool] = False
    """Wrap invocations with Powertools Tracer (needs ``aws-lambda-powertools[tracer]``). Default: off."""

    _validator_: ClassVar[PayloadValidator] = PayloadValidator(Any, json.loads, lambda value: value)
    _routes_: ClassVar[dict[str, tuple[str, PayloadValidator]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for base in getattr(cls, "__orig_bases__", ()):
            origin = get_origin(base)
            if isinstance(origin, type) and issubclass(origin, BaseHandler):
                args = get_args(base)
                # A parameter still generic (SqsHandler[M], Change[M]) is not a model yet: a subclass will bind it.
                if args and not isinstance(args[0], TypeVar) and not getattr(args[0], "__parameters__", ()):
                    cls._validator_ = payload_validator(cls._payload_type(args[0]))
        routes = dict(cls._routes_)
        for name, member in vars(cls).items():
            event_types = getattr(member, "__eventweave_routes__", None)
            if not event_types:
                continue
            hints = get_type_hints(member)
            params = [p for p in hints if p != "return"]
            if not params:
                raise TypeError(f"{cls.__name__}.{name}: annotate its first parameter with the event's model")
            validator = payload_validator(hints[params[0]])
            for event_type in event_types:
                routes[event_type] = (name, validator)
        cls._routes_ = routes
        idem = cls.__dict__.get("idempotency")
        if idem is not None and idem.fields() and cls._validator_.kind in ("text", "bytes"):
            raise ConfigurationError(
                f"{cls.__name__}.idempotency names fields {list(idem.fields())}, but its payload is raw "
                f"{cls._validator_.type_.__name__} with no fields; leave key unset (the record's message id is "
                "the key) or pass a function of (payload, ctx)"
            )
        if idem is not None:
            model = cls._validator_.type_
            model_fields = getattr(model, "model_fields", None)
            for field in idem.fields():
                if model_fields is not None and field not in model_fields:
                    raise ConfigurationError(
                        f"{cls.__name__}.idempotency key field {field!r} is not a field of {model.__name__}; "
                        f"use one of {sorted(model_fields)} or a function of (model, ctx)"
                    )

    @classmethod
    def _payload_type(cls, declared: Any) -> Any:
        """The type records are validated against, given the one the subclass declared (destinations wrap it)."""
        return declared

    def __init__(self, *, settings: Settings | None = None) -> None:
        self.settings = settings if settings is not None else Settings.from_env()
        self.logger: Logger = make_logger(self.settings.service)
        self.metrics: Metrics = make_metrics(self.settings.namespace, self.settings.service)
        self.batch_metrics = BatchMetrics(self.settings.namespace, self.settings.service)
        self.dead_letter = DeadLetter(self.settings.dlq, function_name=self.settings.function_name)
        self.hop_limit = self.max_hops if self.max_hops is not None else self.settings.max_hops
        self.store: IdempotencyStore | None = None
        idem = self.idempotency
        if idem is not None:
            if not self.settings.idempotency_table:
                raise ConfigurationError(
                    f"{type(self).__name__} declares idempotency but EVENTWEAVE_IDEMPOTENCY_TABLE is not set; "
                    "deploy it with an eventweave pattern (which creates the table) or set the variable to a "
                    "DynamoDB table with partition key 'id' (string)"
                )
            self.store = IdempotencyStore(
                self.settings.idempotency_table,
                scope=idem.scope or f"{self.settings.function_name}.{type(self).__qualname__}",
                ttl_seconds=idem.ttl_seconds or self.settings.idempotency_ttl_seconds,
            )
        self._has_handle = not getattr(type(self).handle, "__eventweave_placeholder__", False)
        if not self._has_handle and not self._routes_:
            raise TypeError(f"{type(self).__name__} must define handle() or at least one @on_event method")

    # -- what users write ------------------------------------------------------------------------------------------

    def handle(self, message: M, ctx: C) -> Any:
        """Process one record. Raise :class:`PermanentError` for poison, anything else to have it retried."""
        raise NotImplementedError

    handle.__eventweave_placeholder__ = True  # type: ignore[attr-defined]

    @classmethod
    def lambda_handler(cls, **kwargs: Any) -> LambdaEntry:
        """The function Lambda calls: ``handler = Charge.lambda_handler()`` in the module Lambda loads.

        Inside Lambda (``AWS_LAMBDA_FUNCTION_NAME`` set), or when settings are passed, the instance is built at once,
        during the init phase (unless its environment is incomplete: a module can hold the entries of several
        functions, and only the called one must be configured). Anywhere else (a CDK app importing the module to read
        the handler's contract) it is built on the first call, so a synth never needs the function's environment.
        """
        return LambdaEntry(cls, kwargs)

    @classmethod
    def contract(cls) -> HandlerContract:
        idem = cls.idempotency
        return HandlerContract(
            source=cls.source,
            model=cls._validator_.type_,
            idempotent=idem is not None,
            idempotency_key=idem.fields() if idem is not None else (),
            fifo=cls.fifo,
            partial_batch_response=cls.partial_batch_response,
            event_types=tuple(cls._routes_),
            max_hops=cls.max_hops,
        )

    # -- what source classes provide -------------------------------------------------------------------------------

    def __call__(self, event: Any, context: Any) -> Any:
        raise NotImplementedError

    def _decode(self, raw: Any, lambda_context: Any) -> tuple[RecordContext, Any, str]:
        """Return the record's context, its validated payload and the method to call; raise :class:`Poison`."""
        raise NotImplementedError

    def _record_id(self, raw: Any) -> str | None:
        raise NotImplementedError

    def _group(self, raw: Any) -> str | None:
        return None

    def _source_arn(self, raw: Any) -> str | None:
        if isinstance(raw, dict):
            arn = raw.get("eventSourceARN", raw.get("EventSubscriptionArn"))
            return arn if isinstance(arn, str) else None
        return None

    # -- shared machinery ------------------------------------------------------------------------------------------

    def _guard(self, ctx: RecordContext) -> None:
        """Divert a record that has travelled more hops than the limit: a loop must not run forever."""
        if ctx.hops > self.hop_limit:
            raise Poison(
                "recursion-limit",
                PermanentError(
                    f"record {ctx.record_id} has passed through {ctx.hops} eventweave hops, over the limit of "
                    f"{self.hop_limit} (EVENTWEAVE_MAX_HOPS); a topology is probably feeding its own input"
                ),
                ctx,
            )

    def _validate(self, ctx: RecordContext, payload: Any, is_text: bool) -> tuple[RecordContext, Any, str]:
        """Recursion guard, route choice and validation of one record's payload."""
        self._guard(ctx)
        method = "handle"
        validator = self._validator_
        if self._routes_:
            route = self._routes_.get(ctx.event_type) if ctx.event_type is not None else None
            if route is not None:
                method, validator = route
            elif not self._has_handle:
                raise Poison(
                    "unhandled-event-type",
                    PermanentError(
                        f"{type(self).__name__} has no @on_event method for event type {ctx.event_type!r}; "
                        f"it handles {sorted(self._routes_)}. Narrow the rule's event pattern or add a method"
                    ),
                    ctx,
                )
        try:
            value = validator.from_json(payload) if is_text else validator.from_python(payload)
        except UndecodablePayload as error:
            raise Poison("undecodable-payload", error, ctx) from None
        except ValidationError as error:
            raise Poison("validation-error", error, ctx) from None
        except ValueError as error:  # json.loads on a non-JSON payload
            raise Poison("validation-error", error, ctx) from None
        return ctx, value, method

    def _key(self, value: Any, ctx: RecordContext) -> str:
        idem = self.idempotency
        assert idem is not None
        key = idem.key
        if key is None:
            return ctx.message_id
        if callable(key):
            result = key(value, ctx)
        elif isinstance(key, str):
            result = getattr(value, key)
        else:
            result = "|".join(_key_part(getattr(value, name)) for name in key)
        if result is None or result == "":
            raise PermanentError(
                f"record {ctx.record_id}: idempotency key {idem.fields() or 'function'} is empty; "
                "the producer must set it"
            )
        return str(result)

    def _poison_entry(self, raw: Any, index: int, poison: Poison) -> PoisonEntry:
        ctx = poison.ctx
        return PoisonEntry(
            reason=poison.reason,
            error=poison.error,
            record=raw,
            record_id=ctx.record_id if ctx is not None else self._safe_record_id(raw),
            message_id=ctx.message_id if ctx is not None else None,
            event_source=self.event_source_name,
            event_source_arn=self._source_arn(raw),
            correlation_id=ctx.correlation_id if ctx is not None else None,
            hops=ctx.hops if ctx is not None else 0,
            group_id=self._group(raw) if isinstance(raw, dict) else None,
        )

    def _decode_or_poison(self, raw: Any, lambda_context: Any) -> tuple[RecordContext, Any, str] | Poison:
        try:
            return self._decode(raw, lambda_context)
        except Poison as poison:
            return poison
        except Exception as error:  # a shape we cannot read at all is poison too, never a crash
            return Poison("malformed-record", error)

    def _safe_record_id(self, raw: Any) -> str | None:
        try:
            return self._record_id(raw)
        except Exception:
            return None

    def _run(
        self, records: list[Any], lambda_context: Any, mode: Mode | None = None
    ) -> tuple[list[str | None], BatchCounts, Any]:
        """Process ``records``; return the ids the source must retry (batch order), the counts and the last result."""
        batch = _Batch(mode or self.mode)
        store = self.store
        items: list[tuple[RecordContext, Any, str] | Poison] | None = None
        if store is not None:
            # Idempotency needs every key up front for the single BatchGetItem pre-check. Without it records are
            # decoded while handled: holding 10,000 validated models at once costs more in GC than validating them.
            items = [self._decode_or_poison(raw, lambda_context) for raw in records]
            keys: list[str | None] = [None] * len(items)
            batch.keys = keys
            for i, decoded in enumerate(items):
                if isinstance(decoded, Poison):
                    continue
                try:
                    keys[i] = self._key(decoded[1], decoded[0])
                except Exception as error:
                    items[i] = Poison("permanent-error", error, decoded[0])
            try:
                batch.states = store.precheck(k for k in keys if k is not None)
            except Exception:  # the pre-check only saves writes; the per-record lock still protects
                _internal_log.warning(
                    "idempotency pre-check on %s failed; locking record by record", store.table, exc_info=True
                )
        slot = batch.slot
        previous = slot.record
        try:
            for i, raw in enumerate(records):
                item = items[i] if items is not None else self._decode_or_poison(raw, lambda_context)
                if self._process(batch, i, raw, item):
                    break
        finally:
            slot.record = previous
        self._flush_deferred(batch)
        return batch.failures, batch.counts, batch.result

    def _process(self, batch: _Batch, i: int, raw: Any, item: tuple[RecordContext, Any, str] | Poison) -> bool:
        """Apply the engine's rules to one decoded record; ``True`` when the batch must stop here."""
        mode = batch.mode
        group: str | None = None
        if mode == "fifo":
            group = self._group(raw)
            if group is not None and group in batch.blocked_groups:
                batch.failures.append(self._safe_record_id(raw))
                batch.counts.failed += 1
                return False
        if isinstance(item, Poison):
            if item.reason == "recursion-limit":
                batch.counts.recursion_stopped += 1
            return self._poison(batch, i, raw, item, group)

        ctx, value, method = item
        key = batch.keys[i] if batch.keys is not None else None
        store = self.store
        if key is not None:
            assert store is not None
            state = "completed" if key in batch.completed_here else batch.states.get(key, "new")
            if state == "new":
                try:
                    state = store.acquire(key, remaining_ms=ctx.remaining_time_ms())
                except Exception:
                    self.logger.exception(
                        "record %s: could not lock idempotency key %s in %s; it will be retried",
                        ctx.record_id,
                        key,
                        store.table,
                    )
                    state = "in-progress"
            if state == "completed":
                batch.counts.duplicate += 1
                batch.completed_here.add(key)
                return False
            if state == "in-progress":
                _internal_log.info(
                    "record %s: key %s is being processed by another invocation; it will be retried",
                    ctx.record_id,
                    key,
                )
                return self._failed(batch, ctx.record_id, group)

        # Stays set while a failure is logged, so those lines carry the correlation id too.
        batch.slot.record = ctx
        try:
            result = getattr(self, method)(value, ctx)
        except Exception as error:
            if key is not None:
                self._release(key)
            return self._handle_error(batch, i, raw, ctx, error, group)
        if result is IGNORED:
            batch.counts.ignored += 1
            batch.result = None  # Lambda must be able to serialise what a single-record handler returns
        else:
            batch.counts.processed += 1
            batch.result = result
        if key is not None:
            batch.completed_here.add(key)
            try:
                store.complete(key)  # type: ignore[union-attr]
            except Exception:
                # The side effect happened: retrying would repeat it. The lock expires with the invocation.
                self.logger.exception(
                    "record %s processed but its idempotency key %s could not be marked COMPLETED; "
                    "a redelivery after the lock expires would run again",
                    ctx.record_id,
                    key,
                )
        return False

    def _handle_error(
        self, batch: _Batch, i: int, raw: Any, ctx: RecordContext, error: Exception, group: str | None
    ) -> bool:
        """A record's ``handle`` raised: poison for :class:`PermanentError`, a retryable failure otherwise."""
        if isinstance(error, PermanentError):
            return self._poison(batch, i, raw, Poison("permanent-error", error, ctx), group)
        self.logger.exception("record %s failed; the source will retry it", ctx.record_id, exc_info=error)
        return self._failed(batch, ctx.record_id, group)

    def _poison(self, batch: _Batch, i: int, raw: Any, poison: Poison, group: str | None) -> bool:
        entry = self._poison_entry(raw, i, poison)
        self._log_poison(entry)
        if batch.mode == "independent":
            batch.deferred.append(entry)  # sent together at the end: one SendMessageBatch per 10
            return False
        # Ordering rules (FIFO groups, stream checkpoints) must know now whether the poison is safely stored.
        if self.dead_letter.send([entry])[0]:
            batch.counts.poison += 1
            return False
        return self._failed(batch, entry.record_id, group)

    @staticmethod
    def _failed(batch: _Batch, record_id: str | None, group: str | None) -> bool:
        """Record a retryable failure; ``True`` when the batch must stop here (streams, single records)."""
        batch.failures.append(record_id)
        batch.counts.failed += 1
        if batch.mode == "fifo" and group is not None:
            batch.blocked_groups.add(group)
        return batch.mode in ("stream", "single")

    def _flush_deferred(self, batch: _Batch) -> None:
        if not batch.deferred:
            return
        delivered = self.dead_letter.send(batch.deferred)
        for entry, ok in zip(batch.deferred, delivered, strict=True):
            if ok:
                batch.counts.poison += 1
            else:
                batch.failures.append(entry.record_id)
                batch.counts.failed += 1

    def _release(self, key: str) -> None:
        assert self.store is not None
        try:
            self.store.release(key)
        except Exception:
            self.logger.exception("could not release idempotency key %s; it frees itself when the lock expires", key)

    def _log_poison(self, entry: PoisonEntry) -> None:
        where = self.dead_letter.target or "nowhere (EVENTWEAVE_DLQ is not set, so the source will retry it)"
        self.logger.error(
            "record %s from %s is poison (%s: %s): %s; sending it to %s",
            entry.record_id,
            entry.event_source_arn or entry.event_source,
            entry.reason,
            type(entry.error).__name__,
            str(entry.error)[:1000],
            where,
            extra={
                "poison_reason": entry.reason,
                "record_id": entry.record_id,
                "correlation_id": entry.correlation_id,
                "message_id": entry.message_id,
                "hops": entry.hops,
            },
        )

    def _finish(self, counts: BatchCounts, failures: list[str | None], size: int) -> None:
        """Emit metrics; raise when nothing in the batch succeeded and Lambda must retry it whole."""
        try:
            self.batch_metrics.emit(counts)
            flush_user_metrics(self.metrics)
        except Exception:
            _internal_log.warning("could not emit metrics", exc_info=True)
        if failures and (len(failures) >= size or None in failures):
            message = (
                f"all {size} records of the batch failed"
                if len(failures) >= size
                else "a failed record has no id to report, so the whole batch must be retried"
            )
            raise BatchFailedError(message, [(str(f), RuntimeError("failed")) for f in failures])

    def _malformed_event(self, event: Any, problem: str) -> None:
        """Send an invocation payload that is not an event of this source to the DLQ, or raise if there is none."""
        from .errors import InvalidEventError

        error = InvalidEventError(
            f"{type(self).__name__} ({self.event_source_name}) got an event it cannot read: {problem}"
        )
        entry = PoisonEntry(
            reason="malformed-event",
            error=error,
            record=event,
            record_id=None,
            message_id=None,
            event_source=self.event_source_name,
            event_source_arn=None,
        )
        self._log_poison(entry)
        delivered = self.dead_letter.send([entry])[0]
        try:
            self.batch_metrics.emit(BatchCounts(poison=int(delivered), failed=int(not delivered)))
        except Exception:
            _internal_log.warning("could not emit metrics", exc_info=True)
        if not delivered:
            raise error

    def _raise_single(self, failures: list[str | None]) -> None:
        if failures:
            raise RecordFailedError(
                f"record {failures[0]} failed; Lambda's asynchronous retries and failure destination take over"
            )

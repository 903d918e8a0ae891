"""Handler for direct asynchronous invocation (``Invoke`` with ``InvocationType="Event"``) and its payloads."""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from eventweave.wire.trace import CONTEXT_KEY, trace_from_payload

from .base import BaseHandler
from .context import RecordContext

__all__ = ["InvokeHandler"]

M = TypeVar("M")


class InvokeHandler(BaseHandler[M, RecordContext]):
    """Handler for a function invoked asynchronously with a JSON payload (for instance by
    :func:`eventweave.handlers.publish.invoke_async`).

    The payload (minus eventweave's ``__context``) is validated against the model. ``handle``'s return value is
    the invocation's result, which Lambda hands to an on-success destination. A retryable failure raises, so
    Lambda's retries (0-2) and on-failure destination apply; poison goes to ``EVENTWEAVE_DLQ`` at once.

    Example::

        class Resize(InvokeHandler[ResizeRequest]):
            def handle(self, request: ResizeRequest, ctx: RecordContext) -> dict[str, str]:
                key = images.resize(request.key, request.width)
                return {"thumbnail": key}

        handler = Resize.lambda_handler()
    """

    source: ClassVar[str] = "lambda"
    event_source_name: ClassVar[str] = "aws:lambda"
    mode = "single"

    def __call__(self, event: Any, context: Any) -> Any:
        failures, counts, result = self._run([event], context)
        self._finish(counts, [], 1)
        self._raise_single(failures)
        return result

    def _record_id(self, raw: Any) -> str | None:
        return None

    def _decode(self, raw: Any, lambda_context: Any) -> tuple[RecordContext, Any, str]:
        request_id = getattr(lambda_context, "aws_request_id", None)
        record_id = request_id if isinstance(request_id, str) and request_id else "invoke"
        ctx = RecordContext(
            raw if isinstance(raw, dict) else {"payload": raw}, record_id, record_id, "aws:lambda", lambda_context
        )
        payload = raw
        if isinstance(raw, dict) and CONTEXT_KEY in raw:
            payload = dict(raw)
            trace = trace_from_payload(payload)
            if trace is not None:
                ctx.correlation_id = trace[0] or record_id
                ctx.causation_id, ctx.hops = trace[1], trace[2]
        return self._validate(ctx, payload, False)

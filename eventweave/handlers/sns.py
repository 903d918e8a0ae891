"""SNS handler: a Lambda function subscribed directly to a topic (asynchronous invocation, one record)."""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from eventweave.wire.envelopes import unwrap_text
from eventweave.wire.trace import trace_from_attributes

from .base import BaseHandler
from .context import RecordContext

__all__ = ["SnsHandler", "SnsRecordContext"]

M = TypeVar("M")


class SnsRecordContext(RecordContext):
    """Context of an SNS notification; adds subject, topic ARN and timestamp."""

    __slots__ = ()
    default_source = "aws:sns"

    @property
    def sns(self) -> dict[str, Any]:
        sns = self.record.get("Sns")
        return sns if isinstance(sns, dict) else {}

    @property
    def subject(self) -> str | None:
        subject = self.sns.get("Subject")
        return subject if isinstance(subject, str) else None

    @property
    def topic_arn(self) -> str | None:
        arn = self.sns.get("TopicArn")
        return arn if isinstance(arn, str) else None


class SnsHandler(BaseHandler[M, SnsRecordContext]):
    """Handler for SNS -> Lambda. ``Message`` is validated against the model; attributes are on ``ctx``.

    A retryable failure raises, so Lambda's asynchronous retries and the on-failure destination apply; poison goes
    to ``EVENTWEAVE_DLQ`` at once and the invocation succeeds. An ``Message`` that is itself an EventBridge event (a
    rule targeting the topic) is unwrapped to its ``detail``.

    Example::

        class Notify(SnsHandler[OrderShipped]):
            def handle(self, event: OrderShipped, ctx: SnsRecordContext) -> None:
                mailer.send(event.customer_email, subject=ctx.subject or "Your order shipped")

        handler = Notify.lambda_handler()
    """

    source: ClassVar[str] = "sns"
    event_source_name: ClassVar[str] = "aws:sns"
    mode = "single"

    def __call__(self, event: Any, context: Any) -> None:
        records = event.get("Records") if isinstance(event, dict) else None
        if not isinstance(records, list) or not records:
            self._malformed_event(event, "no 'Records' list with an SNS notification")
            return
        failures, counts, _ = self._run(records, context)
        self._finish(counts, [], len(records))
        self._raise_single(failures)

    def _record_id(self, raw: Any) -> str | None:
        message_id = raw["Sns"]["MessageId"]
        return message_id if isinstance(message_id, str) else None

    def _decode(self, raw: Any, lambda_context: Any) -> tuple[SnsRecordContext, Any, str]:
        sns = raw["Sns"]
        message_id = sns["MessageId"]
        message = sns["Message"]
        if not isinstance(message_id, str) or not isinstance(message, str):
            raise TypeError("Sns.MessageId and Sns.Message must be strings")
        attrs = sns.get("MessageAttributes")
        attrs = attrs if isinstance(attrs, dict) else None
        unwrapped = unwrap_text(message)
        if unwrapped is not None and unwrapped.envelope != "eventbridge":
            unwrapped = None  # only a rule targeting the topic wraps a message; a message that reads as SNS is text
        if unwrapped is None:
            corr, cause, hops = trace_from_attributes(attrs)
            ctx = SnsRecordContext(
                raw, message_id, message_id, "aws:sns", lambda_context, corr, cause, hops, None, attrs
            )
            return self._validate(ctx, message, True)  # type: ignore[return-value]
        trace = unwrapped.trace or trace_from_attributes(attrs)
        ctx = SnsRecordContext(
            raw,
            message_id,
            unwrapped.message_id or message_id,
            "aws:sns",
            lambda_context,
            trace[0],
            trace[1],
            trace[2],
            unwrapped.event_type,
            attrs,
        )
        payload = unwrapped.payload
        return self._validate(ctx, payload, isinstance(payload, str))  # type: ignore[return-value]

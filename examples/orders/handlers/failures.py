"""The failure log: reads billing's poison queue and records what failed and why in the ``failures`` table."""

from __future__ import annotations

import json
from typing import Any

from eventweave.handlers import PoisonRecord, SqsHandler, SqsRecordContext
from eventweave.handlers.clients import client

from . import table_name

__all__ = ["RecordFailure", "handler", "order_id_of"]


def order_id_of(poison: PoisonRecord) -> str:
    """The ``order_id`` of the event the poison record carries, or ``"?"`` when the event is unreadable."""
    payload = poison.original_payload()
    try:
        event = json.loads(payload) if isinstance(payload, str | bytes) else payload
        detail = event.get("detail", event) if isinstance(event, dict) else {}
        return str(detail.get("order_id") or "?")
    except (ValueError, AttributeError):
        return "?"


class RecordFailure(SqsHandler[PoisonRecord]):
    """One item per poison record (partition key ``failure_id``, the poisoned message's id): order, reason, error.

    Writing the same record again overwrites the same item, so a redelivered poison record is recorded once.

    Example::

        RecordFailure(failures_table="failures").handle(poison, ctx)
    """

    def __init__(self, *, failures_table: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.table = table_name("failures", failures_table)
        self.dynamodb = client("dynamodb")  # in the init phase, not within the first invocation's timeout

    def handle(self, poison: PoisonRecord, ctx: SqsRecordContext) -> None:
        self.dynamodb.put_item(
            TableName=self.table,
            Item={
                "failure_id": {"S": poison.record_id or ctx.message_id},
                "order_id": {"S": order_id_of(poison)},
                "reason": {"S": poison.reason},
                "error_type": {"S": poison.error_type},
                "error_message": {"S": poison.error_message},
                "function": {"S": poison.function_name},
                "source": {"S": poison.event_source_arn or poison.event_source},
                "dead_letter_queue": {"S": str(ctx.record.get("eventSourceARN", ""))},
                "failed_at": {"S": poison.timestamp.isoformat()},
            },
        )
        self.logger.error("order failed", extra={"reason": poison.reason, "error": poison.error_message})


handler = RecordFailure.lambda_handler()

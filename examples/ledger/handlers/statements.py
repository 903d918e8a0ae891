"""RecordStatement: ``BalanceChanged`` events (bus -> queue) -> one statement line per account version."""

from __future__ import annotations

from typing import Any

from eventweave.handlers import SqsHandler, SqsRecordContext, on_event
from eventweave.handlers.clients import client

from ..models import BalanceChanged
from . import STATEMENTS_TABLE, setting


class RecordStatement(SqsHandler[BalanceChanged]):
    """Writes the account statement: one line per ledger version, keyed ``(account_id, version)``.

    The put is its own idempotency: a duplicate event rewrites the same line with the same values.

    Example::

        handler = RecordStatement(statements_table="ledger-statements")
        handler({"Records": [sqs_record_with_an_eventbridge_event]}, context)
    """

    def __init__(self, *, statements_table: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.statements_table = setting(statements_table, STATEMENTS_TABLE)

    @on_event("BalanceChanged")
    def record(self, change: BalanceChanged, ctx: SqsRecordContext) -> None:
        client("dynamodb").put_item(
            TableName=self.statements_table,
            Item={
                "account_id": {"S": change.account_id},
                "version": {"N": str(change.version)},
                "kind": {"S": change.kind},
                "delta": {"N": str(change.delta)},
                "balance": {"N": str(change.balance)},
                "correlation_id": {"S": ctx.correlation_id},
            },
        )


handler = RecordStatement.lambda_handler()

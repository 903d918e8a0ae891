"""Exceptions that decide what happens to a record.

* :class:`PermanentError` (and any validation failure) marks a record as *poison*: it is not retried, it goes
  straight to the dead-letter destination with its reason, and the batch carries on.
* Any other exception is *retryable*: the record is reported as a batch item failure and the source retries it.
"""

from __future__ import annotations

__all__ = [
    "BatchFailedError",
    "ConfigurationError",
    "InvalidEventError",
    "PermanentError",
    "RecordFailedError",
]


class PermanentError(Exception):
    """Raise from ``handle`` when retrying cannot help (bad data, business rule violated).

    The record is sent to the dead-letter destination at once with ``reason="permanent-error"``, the error type and
    message, and reported to the event source as handled.

    Example::

        class Charge(SqsHandler[OrderPlaced]):
            def handle(self, order: OrderPlaced, ctx: SqsRecordContext) -> None:
                if order.amount <= 0:
                    raise PermanentError(f"order {order.order_id} has a non-positive amount")
    """


class ConfigurationError(RuntimeError):
    """The handler's environment does not match its contract (a missing table name, an unknown DLQ form)."""


class InvalidEventError(ValueError):
    """The invocation payload is not an event of the handler's source and there is nowhere safe to put it."""


class RecordFailedError(RuntimeError):
    """Raised by single-record sources (SNS, EventBridge, async invoke) so Lambda's async retries take over."""


class BatchFailedError(RuntimeError):
    """Every record of the batch failed: raised so Lambda retries the whole batch (and backs off), as it expects.

    ``failures`` holds ``(record id, exception)`` pairs for the log.
    """

    def __init__(self, message: str, failures: list[tuple[str, BaseException]]) -> None:
        super().__init__(message)
        self.failures = failures

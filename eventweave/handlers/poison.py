"""Send poison records to the dead-letter destination named by ``EVENTWEAVE_DLQ``.

The message body is a self-describing JSON document (read it back with
:class:`eventweave.wire.poison.PoisonRecord`)::

    {"kind": "eventweave.poison", "version": "1.0", "reason": "validation-error",
     "errorType": "ValidationError", "errorMessage": "...", "recordId": "...", "messageId": "...",
     "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:...", "functionName": "...",
     "correlationId": "...", "hops": 0, "timestamp": "2026-11-23T19:00:00.000Z", "record": {...source record...}}

and the message attributes ``eventweave-reason`` / ``eventweave-error-type`` allow filtering and alarms without
parsing. A record that cannot be delivered (no DLQ configured, the send failed, the document is too large) is never
dropped: the caller reports it as failed so the source retries it, and the source's own redrive policy or failure
destination takes over.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

from eventweave.wire.poison import ATTR_ERROR_TYPE, ATTR_REASON, REASONS, poison_document
from eventweave.wire.trace import ATTR_CAUSATION, ATTR_CORRELATION, ATTR_HOPS

from .clients import client
from .errors import ConfigurationError

__all__ = ["REASONS", "DeadLetter", "PoisonEntry", "poison_body"]

log = logging.getLogger("eventweave.poison")

MAX_MESSAGE_BYTES = 262_144  # SQS and SNS default maximum message size


@dataclass(slots=True)
class PoisonEntry:
    """One record on its way to the dead-letter destination."""

    reason: str
    error: BaseException
    record: Any
    record_id: str | None
    message_id: str | None
    event_source: str
    event_source_arn: str | None
    correlation_id: str | None = None
    hops: int = 0
    group_id: str | None = None
    body: str = field(default="", init=False)


def poison_body(entry: PoisonEntry, function_name: str) -> str:
    """The JSON body sent for ``entry`` (the wire shape is :func:`eventweave.wire.poison.poison_document`)."""
    return poison_document(
        reason=entry.reason,
        error_type=type(entry.error).__name__,
        error_message=str(entry.error),
        record=entry.record,
        record_id=entry.record_id,
        event_source=entry.event_source,
        function_name=function_name,
        message_id=entry.message_id,
        event_source_arn=entry.event_source_arn,
        correlation_id=entry.correlation_id,
        hops=entry.hops,
    )


class DeadLetter:
    """The dead-letter destination of one handler: an SQS queue (URL, ARN or name) or an SNS topic (ARN).

    Example::

        dlq = DeadLetter("https://sqs.eu-west-1.amazonaws.com/123456789012/orders-dlq", function_name="charge")
        delivered = dlq.send([entry])      # [True]
    """

    def __init__(self, target: str | None, *, function_name: str) -> None:
        self.target = target
        self.function_name = function_name
        self._queue_url: str | None = None
        self.kind: str | None = None
        if target is None:
            return
        if target.startswith(("https://", "http://")):
            self.kind, self._queue_url = "sqs", target
        elif target.startswith("arn:") and ":sqs:" in target:
            self.kind = "sqs"
        elif target.startswith("arn:") and ":sns:" in target:
            self.kind = "sns"
        elif target.startswith("arn:"):
            raise ConfigurationError(
                f"EVENTWEAVE_DLQ={target!r} is neither an SQS queue nor an SNS topic ARN; "
                "set it to a queue URL, a queue ARN or a topic ARN"
            )
        else:
            self.kind = "sqs"  # a bare queue name

    @property
    def configured(self) -> bool:
        return self.target is not None

    @property
    def fifo(self) -> bool:
        return self.target is not None and self.target.endswith(".fifo")

    def _resolve_queue_url(self) -> str:
        if self._queue_url is None:
            assert self.target is not None
            if self.target.startswith("arn:"):
                parts = self.target.split(":")
                if len(parts) != 6:
                    raise ConfigurationError(f"EVENTWEAVE_DLQ={self.target!r} is not a valid SQS queue ARN")
                response = client("sqs").get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])
            else:
                response = client("sqs").get_queue_url(QueueName=self.target)
            self._queue_url = response["QueueUrl"]
        return self._queue_url

    def send(self, entries: list[PoisonEntry]) -> list[bool]:
        """Deliver ``entries``; element *i* of the result says whether entry *i* is safely stored."""
        if not entries:
            return []
        delivered = [False] * len(entries)
        if self.target is None:
            return delivered
        sendable: list[int] = []
        for index, entry in enumerate(entries):
            entry.body = poison_body(entry, self.function_name)
            if len(entry.body.encode()) > MAX_MESSAGE_BYTES - 2048:  # attributes count towards the limit
                log.error(
                    "poison record %s from %s is %d bytes with its description, over the %d-byte message limit of %s; "
                    "it stays with the source, whose redrive policy or failure destination will take it",
                    entry.record_id,
                    entry.event_source_arn,
                    len(entry.body),
                    MAX_MESSAGE_BYTES,
                    self.target,
                )
                continue
            sendable.append(index)
        try:
            for chunk in _chunks(sendable, entries):
                ok = self._send_sqs(chunk, entries) if self.kind == "sqs" else self._send_sns(chunk, entries)
                for index in ok:
                    delivered[index] = True
        except Exception:  # the record stays with the source and is retried: nothing is lost
            log.exception("could not deliver poison records to %s; they will be retried by the source", self.target)
        return delivered

    def _attributes(self, entry: PoisonEntry, sqs: bool) -> dict[str, Any]:
        key = "StringValue"
        attrs = {
            ATTR_REASON: {"DataType": "String", key: entry.reason},
            ATTR_ERROR_TYPE: {"DataType": "String", key: type(entry.error).__name__},
        }
        if entry.correlation_id:
            attrs[ATTR_CORRELATION] = {"DataType": "String", key: entry.correlation_id}
        if entry.message_id:
            attrs[ATTR_CAUSATION] = {"DataType": "String", key: entry.message_id}
        attrs[ATTR_HOPS] = {"DataType": "Number", key: str(entry.hops)}
        return attrs

    def _fifo_fields(self, entry: PoisonEntry) -> dict[str, str]:
        if not self.fifo:
            return {}
        dedup = hashlib.sha256(f"{entry.record_id}|{entry.message_id}|{entry.reason}".encode()).hexdigest()
        return {"MessageGroupId": entry.group_id or "eventweave-poison", "MessageDeduplicationId": dedup}

    def _send_sqs(self, chunk: list[int], entries: list[PoisonEntry]) -> list[int]:
        url = self._resolve_queue_url()
        batch = [
            {
                "Id": str(n),
                "MessageBody": entries[index].body,
                "MessageAttributes": self._attributes(entries[index], True),
                **self._fifo_fields(entries[index]),
            }
            for n, index in enumerate(chunk)
        ]
        response = client("sqs").send_message_batch(QueueUrl=url, Entries=batch)  # type: ignore[arg-type]
        for failed in response.get("Failed", []):
            log.error(
                "DLQ %s refused poison record %s: %s",
                url,
                entries[chunk[int(failed["Id"])]].record_id,
                failed.get("Message", failed.get("Code")),
            )
        return [chunk[int(ok["Id"])] for ok in response.get("Successful", [])]

    def _send_sns(self, chunk: list[int], entries: list[PoisonEntry]) -> list[int]:
        assert self.target is not None
        batch = [
            {
                "Id": str(n),
                "Message": entries[index].body,
                "MessageAttributes": self._attributes(entries[index], False),
                **self._fifo_fields(entries[index]),
            }
            for n, index in enumerate(chunk)
        ]
        response = client("sns").publish_batch(TopicArn=self.target, PublishBatchRequestEntries=batch)  # type: ignore[arg-type]
        for failed in response.get("Failed", []):
            log.error(
                "DLQ topic %s refused poison record %s: %s",
                self.target,
                entries[chunk[int(failed["Id"])]].record_id,
                failed.get("Message", failed.get("Code")),
            )
        return [chunk[int(ok["Id"])] for ok in response.get("Successful", [])]


def _chunks(indexes: list[int], entries: list[PoisonEntry]) -> list[list[int]]:
    """Batches of at most 10 entries and 256 KiB, the SendMessageBatch / PublishBatch limits."""
    chunks: list[list[int]] = []
    current: list[int] = []
    size = 0
    for index in indexes:
        body_size = len(entries[index].body.encode()) + 1024  # attributes and framing
        if current and (len(current) == 10 or size + body_size > MAX_MESSAGE_BYTES):
            chunks.append(current)
            current, size = [], 0
        current.append(index)
        size += body_size
    if current:
        chunks.append(current)
    return chunks

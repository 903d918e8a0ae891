"""One record per invocation, and following one correlation id through the whole topology.

Every invocation the local Lambda service runs (from a poller, a push relay, an async invoke, a Function URL or a
direct ``Invoke``) becomes an :class:`Invocation`: function, source, batch size, outcome, duration, cold or warm, and
the eventweave correlation ids its records carry (message attributes on SNS/SQS, ``__context`` in EventBridge detail,
Kinesis data and DynamoDB images, and the request payload inside destination records). :class:`Journal` keeps the
recent ones in memory and, optionally, appends them as JSON lines to a file, which ``eventweave local trace ID``
reads from another process.

Example::

    cloud = LocalCloud(journal_path=".eventweave/invocations.jsonl")
    ...
    for hop in cloud.journal.follow(correlation_id):
        print(hop.line())
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["Invocation", "Journal", "describe_payload", "read_journal"]

# Quotes may be escaped once or more: an SNS envelope inside an SQS body, a payload inside a destination record.
_Q = r'\\*"'
_PATTERNS = (
    # SQS / SNS message attributes: "eventweave-correlation-id": {"stringValue"|"StringValue"|"Value": "..."}
    re.compile(
        rf"eventweave-correlation-id{_Q}\s*:\s*\{{[^{{}}]*?{_Q}(?:stringValue|StringValue|Value){_Q}\s*:\s*{_Q}([^\"\\]+)"
    ),
    # __context in EventBridge detail / Kinesis data (plain JSON) and in DynamoDB images ({"S": "..."}).
    re.compile(rf"{_Q}correlationId{_Q}\s*:\s*(?:\{{\s*{_Q}S{_Q}\s*:\s*)?{_Q}([^\"\\]+)"),
)


def _correlations(text: str) -> list[str]:
    found: dict[str, None] = {}
    for pattern in _PATTERNS:
        for match in pattern.finditer(text):
            found.setdefault(match.group(1), None)
    return list(found)


def describe_payload(payload: bytes) -> tuple[int, list[str]]:
    """``(batch size, correlation ids)`` of an invocation payload; a payload without ``Records`` is a batch of one."""
    text = payload.decode(errors="replace")
    size = 1
    decoded: list[str] = []
    if text.startswith("{") and '"Records"' in text:
        try:
            document = json.loads(text)
        except ValueError:
            document = None
        records = document.get("Records") if isinstance(document, dict) else None
        if isinstance(records, list):
            size = len(records)
            for record in records:
                data = record.get("kinesis", {}).get("data") if isinstance(record, dict) else None
                if isinstance(data, str):
                    try:
                        decoded.append(base64.b64decode(data).decode(errors="replace"))
                    except (binascii.Error, ValueError):
                        continue
    return size, _correlations(text + "".join(decoded))


@dataclass(frozen=True)
class Invocation:
    """One invocation as the local Lambda service ran it."""

    at: float
    """Wall-clock start (epoch seconds)."""
    function: str
    source: str
    """What invoked it: ``sqs``, ``kinesis``, ``dynamodb``, ``sns``, ``events``, ``invoke-event`` (async),
    ``destination``, ``url``, ``invoke`` (RequestResponse)."""
    batch_size: int
    outcome: str
    """``ok``, ``partial`` (a batch response listed failures), an error type, or ``throttled``."""
    duration_ms: float
    cold: bool
    request_id: str
    correlation_ids: tuple[str, ...] = ()

    def line(self) -> str:
        """The one log line of this invocation."""
        stamp = time.strftime("%H:%M:%S", time.localtime(self.at)) + f".{int(self.at * 1000) % 1000:03d}"
        ids = ",".join(self.correlation_ids[:3]) + ("..." if len(self.correlation_ids) > 3 else "")
        return (
            f"{stamp} invoke {self.function} source={self.source} batch={self.batch_size} outcome={self.outcome} "
            f"duration={self.duration_ms:.0f}ms {'cold' if self.cold else 'warm'}"
            + (f" correlation={ids}" if ids else "")
        )


class Journal:
    """The recent invocations (bounded, in memory), optionally appended to a JSON-lines file as they happen.

    Example::

        journal = Journal(path=Path(".eventweave/invocations.jsonl"))
        journal.follow("c0ffee...")      # every invocation that carried this correlation id, in order
    """

    def __init__(self, *, path: Path | None = None, keep: int = 10_000) -> None:
        self.path = path
        self._recent: deque[Invocation] = deque(maxlen=keep)
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("")

    def record(self, invocation: Invocation) -> None:
        with self._lock:
            self._recent.append(invocation)
            if self.path is not None:
                with self.path.open("a") as file:
                    file.write(json.dumps(asdict(invocation)) + "\n")

    def all(self) -> list[Invocation]:
        with self._lock:
            return list(self._recent)

    def follow(self, correlation_id: str) -> list[Invocation]:
        """Every remembered invocation whose records carried ``correlation_id``, oldest first."""
        return _matching(self.all(), correlation_id)


def _matching(invocations: Iterable[Invocation], correlation_id: str) -> list[Invocation]:
    return sorted((i for i in invocations if correlation_id in i.correlation_ids), key=lambda i: i.at)


def read_journal(path: Path, correlation_id: str | None = None) -> list[Invocation]:
    """The invocations a running local cloud wrote to ``path`` (all, or those carrying ``correlation_id``)."""
    out: list[Invocation] = []
    for line in path.read_text().splitlines():
        if line.strip():
            fields: dict[str, Any] = json.loads(line)
            fields["correlation_ids"] = tuple(fields.get("correlation_ids", ()))
            out.append(Invocation(**fields))
    return _matching(out, correlation_id) if correlation_id else out

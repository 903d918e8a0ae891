"""One record per invocation, and following one correlation id through the whole topology.

Every invocation the local Lambda service runs (from a poller, a push relay, an async invoke, a Function URL or a
direct ``Invoke``) becomes an :class:`Invocation`: function, source, batch size, outcome, duration, cold or warm, and
the eventweave correlation ids its records carry (message attributes on SNS/SQS, ``__context`` in EventBridge detail,
Kinesis data and DynamoDB images, and the request payload inside destination records). :class:`Journal` keeps the
recent ones in memory and, optionally, appends them as JSON lines to a file, which ``eventweave local trace ID``
reads from another process.

A poll that fails (an event source mapping's or push relay's ``ReceiveMessage`` / ``GetRecords``, or what follows it)
is journaled too, as a :class:`PollFailure` naming the mapping, the queue or stream and the error; the poller retries
with backoff, and :meth:`Journal.failures` / :func:`read_failures` list them.

Example::

    cloud = LocalCloud(journal_path=".eventweave/invocations.jsonl")
    ...
    for hop in cloud.journal.follow(correlation_id):
        print(hop.line())
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from eventweave.wire.inspect import describe_event

__all__ = ["Invocation", "Journal", "PollFailure", "describe_payload", "read_failures", "read_journal"]


def describe_payload(payload: bytes) -> tuple[int, list[str]]:
    """``(batch size, correlation ids)`` of an invocation payload (read by :mod:`eventweave.wire.inspect`); a payload
    that is not JSON is a batch of one without correlation."""
    try:
        event = json.loads(payload)
    except ValueError:
        return 1, []
    return describe_event(event)


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
        stamp = _stamp(self.at)
        ids = ",".join(self.correlation_ids[:3]) + ("..." if len(self.correlation_ids) > 3 else "")
        return (
            f"{stamp} invoke {self.function} source={self.source} batch={self.batch_size} outcome={self.outcome} "
            f"duration={self.duration_ms:.0f}ms {'cold' if self.cold else 'warm'}"
            + (f" correlation={ids}" if ids else "")
        )


def _stamp(at: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at)) + f".{int(at * 1000) % 1000:03d}"


@dataclass(frozen=True)
class PollFailure:
    """A poll of an event source mapping or push relay that failed; the poller retries it after ``retry_in_s``."""

    at: float
    """Wall-clock time of the failure (epoch seconds)."""
    mapping: str
    """The poller's name: ``sqs:<queue>-><function>``, ``dynamodb:<table>-><function>``, ``relay:<rule>-><target>``."""
    queue: str
    """The queue URL or stream ARN polled."""
    operation: str
    """``ReceiveMessage`` / ``GetRecords`` (the receive itself), or what failed after it (``DeleteMessageBatch``...)."""
    error: str
    """``<type>: <message>``."""
    failures: int
    """How many polls of this mapping (or relay target) have failed so far, this one included."""
    retry_in_s: float
    kind: str = "poll-failure"

    @property
    def receive(self) -> bool:
        """Whether the receive itself failed (nothing was delivered, the messages are still in the source)."""
        return self.operation in _RECEIVE_OPERATIONS

    def line(self) -> str:
        """The one log line of this failure."""
        return (
            f"{_stamp(self.at)} poll-failed {self.mapping} queue={self.queue} operation={self.operation} "
            f"failures={self.failures} retry_in={self.retry_in_s:.1f}s error={self.error}"
        )


_RECEIVE_OPERATIONS = frozenset({"ReceiveMessage", "GetRecords", "GetShardIterator", "ListShards", "DescribeStream"})


class Journal:
    """The recent invocations and poll failures (bounded, in memory), optionally appended to a JSON-lines file as
    they happen (a failure's line has ``"kind": "poll-failure"``; an invocation's has no ``kind``).

    Example::

        journal = Journal(path=Path(".eventweave/invocations.jsonl"))
        journal.follow("c0ffee...")      # every invocation that carried this correlation id, in order
        journal.failures()               # polls that failed, oldest first
    """

    def __init__(self, *, path: Path | None = None, keep: int = 10_000) -> None:
        self.path = path
        self._recent: deque[Invocation] = deque(maxlen=keep)
        self._failures: deque[PollFailure] = deque(maxlen=keep)
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("")

    def record(self, entry: Invocation | PollFailure) -> None:
        with self._lock:
            if isinstance(entry, PollFailure):
                self._failures.append(entry)
            else:
                self._recent.append(entry)
            if self.path is not None:
                with self.path.open("a") as file:
                    file.write(json.dumps(asdict(entry)) + "\n")

    def all(self) -> list[Invocation]:
        """The remembered invocations, in the order they ended."""
        with self._lock:
            return list(self._recent)

    def failures(self) -> list[PollFailure]:
        """The remembered poll failures, oldest first."""
        with self._lock:
            return list(self._failures)

    def follow(self, correlation_id: str) -> list[Invocation]:
        """Every remembered invocation whose records carried ``correlation_id``, oldest first."""
        return _matching(self.all(), correlation_id)


def _matching(invocations: Iterable[Invocation], correlation_id: str) -> list[Invocation]:
    return sorted((i for i in invocations if correlation_id in i.correlation_ids), key=lambda i: i.at)


def read_journal(path: Path, correlation_id: str | None = None) -> list[Invocation]:
    """The invocations a running local cloud wrote to ``path`` (all, or those carrying ``correlation_id``)."""
    out: list[Invocation] = []
    for fields in _lines(path):
        if "kind" not in fields:
            fields["correlation_ids"] = tuple(fields.get("correlation_ids", ()))
            out.append(Invocation(**fields))
    return _matching(out, correlation_id) if correlation_id else out


def read_failures(path: Path) -> list[PollFailure]:
    """The poll failures a running local cloud wrote to ``path``, oldest first."""
    return [PollFailure(**fields) for fields in _lines(path) if fields.get("kind") == "poll-failure"]


def _lines(path: Path) -> Iterable[dict[str, Any]]:
    for line in path.read_text().splitlines():
        if line.strip():
            fields: dict[str, Any] = json.loads(line)
            yield fields

"""SQS event source mappings, run by eventweave with Lambda's semantics, and the poll machinery every poller and relay
shares (:class:`PollLoop`, :class:`FailureCounter`, :func:`relay_loop`, :func:`batch_failures`).

moto's own mappings fire synchronously inside ``SendMessage`` with batches of one; :class:`SqsPoller` does what
Lambda does instead: long-poll, batch by size and window, delete only what succeeded, honour partial batch responses
(an unknown or empty ``itemIdentifier`` fails the whole batch), leave failures to reappear after the visibility
timeout so the queue's redrive policy applies; filter criteria delete non-matching messages unseen. Filter patterns
use moto's EventBridge pattern matcher. Streams are :mod:`eventweave.local.streams`.

Every record is built by :mod:`eventweave.wire`, so what a handler receives locally is the shape the handler engine
and the test factories use. A poll that fails is never silent: it is counted on the poller (:meth:`status`), logged,
journaled as a :class:`~eventweave.local.trace.PollFailure` naming the mapping, the queue and the error, and retried
with backoff.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from eventweave.wire.sqs import sqs_record_from_message

from .aws import client
from .model import EventSourceMappingSpec, Invoker, InvokeResult, LogSink
from .trace import Journal, PollFailure

__all__ = [
    "FailureCounter",
    "PollError",
    "PollLoop",
    "RelayThreads",
    "SqsPoller",
    "backoff",
    "batch_failures",
    "event_matcher",
    "poll_step",
    "relay_loop",
]

_WAIT_SECONDS = 1  # long-poll slice: bounds how long stop() waits
_MAX_BATCH_BYTES = 6 * 1024 * 1024  # Lambda's synchronous payload limit closes a batch
_SHORT_RECEIVE_PAUSE = 0.05
_BACKOFF_START = 0.2
_BACKOFF_MAX = 5.0


def _client(service: str, endpoint_url: str, region: str) -> Any:
    return client(service, endpoint_url, region)


def backoff(consecutive: int) -> float:
    """Seconds to wait after the ``consecutive``-th failed poll in a row: 0.2, 0.4, 0.8... up to 5."""
    return float(min(_BACKOFF_MAX, _BACKOFF_START * 2 ** max(0, consecutive - 1)))


class PollError(Exception):
    """One step of a poll failed; ``operation`` names it (``ReceiveMessage``, ``GetRecords``, ...)."""

    def __init__(self, operation: str, cause: BaseException) -> None:
        super().__init__(f"{operation}: {type(cause).__name__}: {cause}")
        self.operation = operation
        self.cause = cause


@contextlib.contextmanager
def poll_step(operation: str) -> Iterator[None]:
    try:
        yield
    except PollError:
        raise
    except Exception as error:
        raise PollError(operation, error) from error


class FailureCounter:
    """The failed polls of one mapping or relay target: counted, logged and journaled; :meth:`failed` returns the
    backoff before the next try.

    Example::

        counter = FailureCounter("sqs:orders->Charge", queue_url, log=print, journal=journal)
        delay = counter.failed(error, consecutive=1)     # 0.2 s; counter.receive_failures == 1
    """

    def __init__(self, name: str, queue: str, *, log: LogSink | None = None, journal: Journal | None = None) -> None:
        self.name = name
        self.queue = queue
        self.log = log
        self.journal = journal
        self.receive_failures = 0
        """Polls whose receive (``ReceiveMessage``, ``GetRecords``...) failed: nothing was delivered."""
        self.poll_failures = 0
        """Every failed poll, the receive failures included."""
        self.last_error: str | None = None
        self._lock = threading.Lock()

    def failed(self, error: BaseException, consecutive: int) -> float:
        """Count, log and journal one failed poll (the ``consecutive``-th in a row); the seconds to back off."""
        operation, cause = (error.operation, error.cause) if isinstance(error, PollError) else ("poll", error)
        text = f"{type(cause).__name__}: {cause}"
        delay = backoff(consecutive)
        with self._lock:
            self.poll_failures += 1
            failure = PollFailure(time.time(), self.name, self.queue, operation, text, self.poll_failures, delay)
            if failure.receive:
                self.receive_failures += 1
            self.last_error = f"{operation}: {text}"
        if self.log is not None:
            self.log(failure.line())
        if self.journal is not None:
            self.journal.record(failure)
        return delay

    def status(self) -> dict[str, Any]:
        """``{"name", "queue", "receive_failures", "poll_failures", "last_error"}``."""
        with self._lock:
            return {
                "name": self.name,
                "queue": self.queue,
                "receive_failures": self.receive_failures,
                "poll_failures": self.poll_failures,
                "last_error": self.last_error,
            }


def relay_loop(
    stop: threading.Event,
    sqs: Any,
    queue_url: str,
    counter: FailureCounter,
    handle: Callable[[dict[str, Any]], None],
    *,
    attribute_names: tuple[str, ...] = ("All",),
) -> None:
    """Receive from an internal relay queue until ``stop``, handing each message to ``handle``; a failed poll is
    counted, journaled and retried with backoff (a relay must outlive a data-plane hiccup, loudly)."""
    consecutive = 0
    while not stop.is_set():
        try:
            try:
                response = sqs.receive_message(
                    QueueUrl=queue_url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=1,
                    MessageSystemAttributeNames=list(attribute_names),
                )
            except Exception as error:
                raise PollError("ReceiveMessage", error) from error
            if stop.is_set():
                return
            for message in response.get("Messages", []):
                handle(message)
        except Exception as error:
            if stop.is_set():
                return
            consecutive += 1
            stop.wait(counter.failed(error, consecutive))
            continue
        consecutive = 0


class RelayThreads:
    """One thread per internal relay queue, each running :func:`relay_loop`: start, stop and counters shared by the
    push relay and the S3 notification relay. Subclasses set ``failures``, ``_stop`` and ``_threads`` and say which
    items they relay (:meth:`_relay_items`) and how one is drained (:meth:`_loop`)."""

    failures: dict[str, FailureCounter]
    _stop: threading.Event
    _threads: list[threading.Thread]

    def _relay_items(self) -> list[tuple[Any, str]]:
        """``(item, thread name)`` per relay queue."""
        raise NotImplementedError

    def _loop(self, item: Any) -> None:
        raise NotImplementedError

    @property
    def receive_failures(self) -> int:
        """How many receives from the relay queues failed, all of them together."""
        return sum(counter.receive_failures for counter in self.failures.values())

    def status(self) -> list[dict[str, Any]]:
        """One entry per relay queue: its counters, as :meth:`eventweave.local.cloud.LocalCloud.status` reports."""
        return [counter.status() for counter in self.failures.values()]

    def start(self) -> None:
        self._stop.clear()
        for item, name in self._relay_items():
            thread = threading.Thread(target=self._loop, args=(item,), name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, *, wait: bool = True) -> None:
        """Stop relaying; ``wait=False`` returns at once (a long poll in flight ends without delivering)."""
        self._stop.set()
        if wait:
            for thread in self._threads:
                thread.join(timeout=30)
        self._threads.clear()


def event_matcher(patterns: tuple[str, ...]) -> Callable[[dict[str, Any]], bool] | None:
    if not patterns:
        return None
    from moto.events.models import EventPattern

    compiled = [EventPattern.load(p) for p in patterns]
    return lambda record: any(p.matches_event(record) for p in compiled)  # type: ignore[arg-type]


def batch_failures(result: InvokeResult, ids: list[str], *, enabled: bool) -> list[str] | None:
    """The identifiers to retry after ``result``: ``[]`` all succeeded, ``None`` the whole batch failed.

    Follows Lambda's rules for partial batch responses: ignored unless enabled; a null or empty list (or response)
    is success; an empty, null, mis-keyed or unknown ``itemIdentifier`` fails the whole batch.
    """
    if not result.ok:
        return None
    if not enabled:
        return []
    try:
        response = json.loads(result.payload or b"null")
    except ValueError:
        return None
    if not isinstance(response, dict):
        return [] if response is None else None
    failures = response.get("batchItemFailures")
    if not failures:
        return []
    if not isinstance(failures, list):
        return None
    known = set(ids)
    out: list[str] = []
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or not identifier or identifier not in known:
            return None
        out.append(identifier)
    return out


class PollLoop:
    """A background loop that can be stopped promptly."""

    name = "poller"
    queue = ""
    log: LogSink | None = None
    journal: Journal | None = None

    def __init__(self, threads: int) -> None:
        self._threads_wanted = threads
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.failures = FailureCounter(self.name, self.queue, log=self.log, journal=self.journal)

    @property
    def receive_failures(self) -> int:
        """How many polls failed to receive (counted since the mapping started)."""
        return self.failures.receive_failures

    def status(self) -> list[dict[str, Any]]:
        """This mapping's counters, as :meth:`eventweave.local.cloud.LocalCloud.status` reports them."""
        return [self.failures.status()]

    def start(self) -> None:
        for i in range(self._threads_wanted):
            thread = threading.Thread(target=self._loop, args=(i,), name=f"{self.name}-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, *, wait: bool = True) -> None:
        """Stop polling. ``wait=False`` returns at once (a stack being destroyed): a thread inside a long poll ends
        when the poll returns, without invoking anything."""
        self._stop.set()
        if wait:
            for thread in self._threads:
                thread.join(timeout=30)
        self._threads.clear()

    def _loop(self, index: int = 0) -> None:
        consecutive = 0
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception as error:  # a poller must outlive a bad batch or a moto hiccup, loudly
                if self._stop.is_set():
                    return  # the stack is going away: its queue or function may be gone already
                consecutive += 1
                self._stop.wait(self.failures.failed(error, consecutive))
                continue
            consecutive = 0

    def poll_once(self) -> Any:
        raise NotImplementedError

    def _log(self, line: str) -> None:
        raise NotImplementedError


class SqsPoller(PollLoop):
    """Runs one SQS event source mapping.

    Example::

        poller = SqsPoller(mapping, lambda_service, endpoint_url=endpoint)
        poller.start()
        ...
        poller.stop()
    """

    def __init__(
        self,
        spec: EventSourceMappingSpec,
        invoker: Invoker,
        *,
        endpoint_url: str,
        region: str = "us-east-1",
        log: LogSink | None = None,
        journal: Journal | None = None,
        default_concurrency: int = 2,
    ) -> None:
        self.spec = spec
        self.name = f"sqs:{spec.source_arn.rsplit(':', 1)[-1]}->{spec.function_name}"
        self.invoker = invoker
        self.log = log
        self.journal = journal
        self.region = region
        self.sqs = _client("sqs", endpoint_url, region)
        queue_name = spec.source_arn.rsplit(":", 1)[-1]
        account = spec.source_arn.split(":")[4]
        self.queue_url = self.sqs.get_queue_url(QueueName=queue_name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        self.queue = self.queue_url
        self.fifo = queue_name.endswith(".fifo")
        self.match = event_matcher(spec.filter_patterns)
        self._demand = threading.Event()
        self._carry: list[dict[str, Any]] = []
        """Messages received beyond the 6 MB a batch may hold: the first of the next batch."""
        self._carry_lock = threading.Lock()
        self._turn = threading.Condition()
        self._receiving = 0
        """Pollers inside a receive right now."""
        self._receiving_here = threading.local()
        super().__init__(spec.maximum_concurrency or default_concurrency)

    def _loop(self, index: int = 0) -> None:
        """One poller receives at a time while batches come back partial (a trickle is collected by one batching
        window, not split across several); while it delivers, another takes over receiving, so a slow batch never
        holds up the next and FIFO groups run in parallel; while receives return full batches (a backlog) every
        poller receives, as Lambda scales SQS pollers with the backlog. Idle, a mapping costs one long poll."""
        consecutive = 0
        while not self._stop.is_set():
            with self._turn:
                while not self._stop.is_set() and self._receiving > 0 and not self._demand.is_set():
                    self._turn.wait(0.5)
                if self._stop.is_set():
                    return
                self._receiving += 1
                self._receiving_here.active = True
            try:
                got = self.poll_once()
            except Exception as error:  # a poller must outlive a bad batch or a moto hiccup, loudly
                self._done_receiving()
                if self._stop.is_set():
                    return
                consecutive += 1
                self._stop.wait(self.failures.failed(error, consecutive))
                continue
            consecutive = 0
            if got >= min(self.spec.batch_size, 10):
                self._demand.set()  # a full batch: a backlog, more pollers join
            else:
                self._demand.clear()  # a partial batch is a trickle: one poller (one window) takes it

    def _done_receiving(self) -> None:
        """This poller's receive is over (it delivers now, or it failed): another may take over receiving."""
        with self._turn:
            if getattr(self._receiving_here, "active", False):
                self._receiving_here.active = False
                self._receiving -= 1
                self._turn.notify()

    def _log(self, line: str) -> None:
        if self.log is not None:
            self.log(line)

    def _receive(self) -> list[dict[str, Any]]:
        """One batch as Lambda's SQS poller assembles it: a long poll until the first message arrives, then, with a
        batching window, more receives until ``BatchSize`` messages, the window (counted from the first message) or
        6 MB of payload; without a window, what the first receive returns."""
        wanted = self.spec.batch_size
        window = float(self.spec.maximum_batching_window_seconds)
        with self._carry_lock:
            messages, self._carry = self._carry[:wanted], self._carry[wanted:]
        payload = sum(len(m.get("Body", "")) for m in messages)
        deadline: float | None = time.monotonic() + window if messages and window > 0 and not self.fifo else None
        if messages and deadline is None:
            return messages
        while len(messages) < wanted and not self._stop.is_set() and payload < _MAX_BATCH_BYTES:
            if deadline is None:
                wait = _WAIT_SECONDS
            else:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                # ReceiveMessage waits whole seconds; under a second, short receives keep the window's end exact.
                wait = min(_WAIT_SECONDS, int(remaining))
            got = self._receive_some(min(10, wanted - len(messages)), wait, len(messages))
            for message in got:
                size = len(message.get("Body", ""))
                if messages and payload + size > _MAX_BATCH_BYTES:
                    with self._carry_lock:  # over Lambda's payload limit: the next batch's, still in flight
                        self._carry.append(message)
                    continue
                messages.append(message)
                payload += size
            if messages and deadline is None:
                if window <= 0 or self.fifo:
                    break  # no window (FIFO queues have none): the batch is what arrived
                deadline = time.monotonic() + window
            if self._carry:
                break
            if not got and deadline is not None and wait == 0:
                self._stop.wait(min(_SHORT_RECEIVE_PAUSE, max(0.0, deadline - time.monotonic())))
        return messages

    def _receive_some(self, count: int, wait: int, held: int) -> list[dict[str, Any]]:
        try:
            response = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=count,
                WaitTimeSeconds=wait,
                # All system attributes: FIFO records carry MessageGroupId, MessageDeduplicationId and
                # SequenceNumber, every record its receive count and timestamps, as Lambda's poller asks for.
                AttributeNames=["All"],  # the older name of the same list, for endpoints that predate it
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
        except Exception as error:
            if held:
                # What was received stays in flight and reappears after its visibility timeout.
                self._log(f"{self.name}: ReceiveMessage failed with {held} message(s) received")
            raise PollError("ReceiveMessage", error) from error
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return sqs_record_from_message(message, self.spec.source_arn, self.region)

    def _matches(self, record: dict[str, Any]) -> bool:
        if self.match is None:
            return True
        candidate = dict(record)
        # A plain-text body matches only patterns on the other fields, as in AWS.
        with contextlib.suppress(ValueError):
            candidate["body"] = json.loads(record["body"])
        return self.match(candidate)

    def _delete(self, handles: list[str]) -> None:
        for start in range(0, len(handles), 10):
            chunk = handles[start : start + 10]
            with poll_step("DeleteMessageBatch"):
                self.sqs.delete_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": handle} for i, handle in enumerate(chunk)],
                )

    def poll_once(self) -> int:
        """Receive one batch and deliver it; the number of messages received."""
        try:
            messages = self._receive()
        finally:
            self._done_receiving()
        if not messages or self._stop.is_set():
            return 0  # stopping: what was received reappears after its visibility timeout, as on AWS
        records = [self._record(m) for m in messages]
        unmatched = [r["receiptHandle"] for r in records if not self._matches(r)]
        if unmatched:
            self._delete(unmatched)  # AWS drops messages that match no filter, without invoking
            records = [r for r in records if r["receiptHandle"] not in set(unmatched)]
        if not records:
            return len(messages)
        self._deliver(records)
        return len(messages)

    def _deliver(self, records: list[dict[str, Any]]) -> None:
        payload = json.dumps({"Records": records}).encode()
        result = self.invoker.invoke(self.spec.function_name, payload, source="sqs")
        failed = batch_failures(result, [r["messageId"] for r in records], enabled=self.spec.report_batch_item_failures)
        if failed is None:
            return  # the whole batch reappears after the visibility timeout
        keep = set(failed)
        done = [r["receiptHandle"] for r in records if r["messageId"] not in keep]
        if done:
            self._delete(done)

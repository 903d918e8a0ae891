"""How the SQS poller assembles a batch, against a scripted queue: Lambda's batching window, batch sizes above 10,
FIFO queues (no window), the 6 MB payload limit.

Source: docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html and the archived with-sqs.md ("Batch flush
triggers"), summarised in shared/notes/aws-semantics.md section 1.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

import pytest

from eventweave.local import sources
from eventweave.local.model import EventSourceMappingSpec, InvokeResult


class ScriptedQueue:
    """An SQS client stand-in: messages become receivable at given offsets from ``start()``; receive long-polls."""

    def __init__(self, arrivals: list[tuple[float, str]]) -> None:
        self.arrivals = sorted(arrivals)
        self.taken: list[str] = []
        self.deleted: list[str] = []
        self.receives: list[tuple[int, int]] = []
        self._lock = threading.Lock()
        self._t0 = 0.0

    def start(self) -> None:
        self._t0 = time.monotonic()

    def get_queue_url(self, **_: Any) -> dict[str, str]:
        return {"QueueUrl": "http://local/000000000000/q"}

    def _available(self, count: int) -> list[dict[str, Any]]:
        now = time.monotonic() - self._t0
        out = []
        with self._lock:
            for at, body in self.arrivals:
                if at <= now and body not in self.taken and len(out) < count:
                    self.taken.append(body)
                    out.append(body)
        return [
            {
                "MessageId": body,
                "ReceiptHandle": f"rh-{body}",
                "Body": body,
                "Attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1", "MessageGroupId": "g"},
            }
            for body in out
        ]

    def receive_message(self, **kwargs: Any) -> dict[str, Any]:
        count, wait = kwargs["MaxNumberOfMessages"], kwargs["WaitTimeSeconds"]
        assert 1 <= count <= 10 and isinstance(wait, int) and 0 <= wait <= 20
        self.receives.append((count, wait))
        deadline = time.monotonic() + wait
        while True:
            got = self._available(count)
            if got or time.monotonic() >= deadline:
                return {"Messages": got} if got else {}
            time.sleep(0.01)

    def delete_message_batch(self, **kwargs: Any) -> dict[str, Any]:
        self.deleted.extend(e["ReceiptHandle"] for e in kwargs["Entries"])
        return {"Successful": [{"Id": e["Id"]} for e in kwargs["Entries"]]}


class Recorder:
    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def invoke(self, function_name: str, payload: bytes, *, source: str = "direct") -> InvokeResult:
        self.batches.append([r["body"] for r in json.loads(payload)["Records"]])
        return InvokeResult(200, b"null")


def _poller(monkeypatch: pytest.MonkeyPatch, queue: ScriptedQueue, *, fifo: bool = False, **spec: Any) -> Any:
    monkeypatch.setattr(sources, "_client", lambda *a, **k: queue)
    name = "q.fifo" if fifo else "q"
    mapping = EventSourceMappingSpec(
        uuid=str(uuid.uuid4()), function_name="fn", source_arn=f"arn:aws:sqs:us-east-1:000000000000:{name}", **spec
    )
    recorder = Recorder()
    poller = sources.SqsPoller(mapping, recorder, endpoint_url="http://local")
    return poller, recorder


def _bodies(n: int, every: float = 0.0, start: float = 0.0) -> list[tuple[float, str]]:
    return [(start + i * every, f"m{i}") for i in range(n)]


def test_a_trickle_within_the_window_arrives_as_one_batch(monkeypatch):
    """Three messages 0.3 s apart, window 2 s: one batch of 3 (the window counts from the first message)."""
    queue = ScriptedQueue(_bodies(3, every=0.3, start=0.5))
    poller, recorder = _poller(monkeypatch, queue, batch_size=10, maximum_batching_window_seconds=2)
    queue.start()
    assert poller.poll_once() == 3
    assert recorder.batches == [["m0", "m1", "m2"]]


def test_the_window_starts_at_the_first_message_not_at_an_idle_poll(monkeypatch):
    """After an idle spell (the first long poll returns nothing), the window still collects the trickle."""
    queue = ScriptedQueue(_bodies(2, every=0.4, start=1.3))
    poller, recorder = _poller(monkeypatch, queue, batch_size=10, maximum_batching_window_seconds=1)
    queue.start()
    assert poller.poll_once() == 2
    assert recorder.batches == [["m0", "m1"]]
    assert queue.receives[0] == (10, 1)  # an idle long poll came back empty before the first message


def test_without_a_window_a_batch_is_what_one_receive_returns(monkeypatch):
    queue = ScriptedQueue(_bodies(3, every=0.3))
    poller, recorder = _poller(monkeypatch, queue, batch_size=10)
    queue.start()
    poller.poll_once()
    assert recorder.batches == [["m0"]]
    assert len(queue.receives) == 1


def test_a_batch_size_above_ten_fills_from_several_receives(monkeypatch):
    queue = ScriptedQueue(_bodies(30))
    poller, recorder = _poller(monkeypatch, queue, batch_size=25, maximum_batching_window_seconds=1)
    queue.start()
    poller.poll_once()
    poller.poll_once()
    assert [len(b) for b in recorder.batches] == [25, 5]
    assert [count for count, _ in queue.receives[:3]] == [10, 10, 5]  # never more than SQS's 10 per receive


def test_a_full_batch_closes_before_the_window(monkeypatch):
    queue = ScriptedQueue(_bodies(10))
    poller, recorder = _poller(monkeypatch, queue, batch_size=10, maximum_batching_window_seconds=20)
    queue.start()
    started = time.monotonic()
    poller.poll_once()
    assert recorder.batches == [[f"m{i}" for i in range(10)]]
    assert time.monotonic() - started < 5  # BatchSize reached: no waiting for the 20 s window


def test_six_megabytes_of_payload_close_the_batch(monkeypatch):
    big = "x" * (1024 * 1024)
    queue = ScriptedQueue([(0.0, f"{i}{big}") for i in range(8)])
    poller, recorder = _poller(monkeypatch, queue, batch_size=100, maximum_batching_window_seconds=1)
    queue.start()
    poller.poll_once()
    poller.poll_once()
    # Bodies of 1 MiB + 1 byte: five fit in Lambda's 6 MiB synchronous payload, the sixth would not; what one receive
    # brought beyond the limit opens the next batch (its window then collects what else arrives).
    assert [len(b) for b in recorder.batches] == [5, 3]
    assert sorted(queue.deleted) == sorted(f"rh-{i}{big}" for i in range(8))


def test_a_fifo_queue_takes_no_window(monkeypatch):
    """Batching windows are not supported on FIFO queues; a FIFO batch is one receive."""
    queue = ScriptedQueue(_bodies(3, every=0.3))
    poller, recorder = _poller(monkeypatch, queue, fifo=True, batch_size=10, maximum_batching_window_seconds=2)
    queue.start()
    poller.poll_once()
    assert recorder.batches == [["m0"]]


class Throttled(Recorder):
    def invoke(self, function_name: str, payload: bytes, *, source: str = "direct") -> InvokeResult:
        super().invoke(function_name, payload, source=source)
        return InvokeResult(429, b'{"Reason": "ReservedFunctionConcurrentInvocationLimitExceeded"}')


def test_a_throttled_batch_stays_in_flight_for_the_visibility_timeout(monkeypatch):
    """A throttled invoke deletes nothing: the messages reappear after the visibility timeout and the receive counts
    toward maxReceiveCount (repost.aws/knowledge-center/lambda-sqs-scaling; aws-semantics.md section 10)."""
    queue = ScriptedQueue(_bodies(3))
    poller, _ = _poller(monkeypatch, queue, batch_size=10, report_batch_item_failures=True)
    poller.invoker = Throttled()
    queue.start()
    poller.poll_once()
    assert poller.invoker.batches == [["m0", "m1", "m2"]]
    assert queue.deleted == []

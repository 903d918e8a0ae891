"""The quiescence signal's own rules, without a local cloud: what counts as busy, the settle period, timeouts."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest

from eventweave.local.quiescence import busy, wait_quiet
from eventweave.local.streams import StreamPoller
from eventweave.local.trace import Journal
from eventweave.testing import EphemeralStack


class _Invoker:
    def __init__(self) -> None:
        self.idle = True

    def wait_idle(self, timeout: float) -> bool:
        return self.idle


def _cloud(**overrides: Any) -> Any:
    values: dict[str, Any] = {"lambdas": None, "async_invoker": _Invoker(), "stacks": {}, "journal": Journal()}
    values.update(overrides)
    return SimpleNamespace(**values)


def test_an_empty_cloud_is_quiet_after_the_settle_period():
    started = time.monotonic()
    assert wait_quiet(_cloud(), timeout=5, settle=0.2) == []
    assert 0.2 <= time.monotonic() - started < 2


def test_queued_async_work_is_busy_and_a_timeout_names_it():
    cloud = _cloud()
    cloud.async_invoker.idle = False
    assert busy(cloud) == ["asynchronous invocations are queued or running"]
    assert wait_quiet(cloud, timeout=0.2, settle=0.1) == ["asynchronous invocations are queued or running"]


def test_a_running_function_is_busy():
    pools = {"fn": SimpleNamespace(busy=1), "other": SimpleNamespace(busy=0)}
    assert busy(_cloud(lambdas=SimpleNamespace(_pools=pools))) == ["function fn is running (1)"]


class _Stream(StreamPoller):
    """A stream poller reduced to what quiescence asks of it: what it is still busy with."""

    def __init__(self, reasons: list[str]) -> None:  # no clients, no threads
        self.name = "kinesis:s->fn"
        self.reasons = reasons

    def busy(self) -> list[str]:
        return list(self.reasons)


def test_a_stream_poller_that_is_not_caught_up_is_busy():
    poller = _Stream(["records pending {'shard-0': 1}"])
    stack = SimpleNamespace(name="S", runners=[poller])
    assert busy(_cloud(stacks={"S": stack})) == ["S: kinesis:s->fn: records pending {'shard-0': 1}"]
    poller.reasons = []
    assert busy(_cloud(stacks={"S": stack})) == []


def test_an_invocation_during_the_settle_period_restarts_it():
    cloud = _cloud()

    def record_later() -> None:
        time.sleep(0.15)
        cloud.journal.record(SimpleNamespace())  # type: ignore[arg-type]

    thread = threading.Thread(target=record_later)
    started = time.monotonic()
    thread.start()
    assert wait_quiet(cloud, timeout=5, settle=0.3) == []
    thread.join()
    assert time.monotonic() - started >= 0.45


def test_wait_idle_without_a_quiescence_signal_is_not_implemented():
    stack = EphemeralStack(name="S", endpoint=None, region="us-east-1", outputs={})
    with pytest.raises(NotImplementedError, match="quiescence"):
        stack.wait_idle(timeout=1)


def test_wait_idle_fails_the_test_naming_what_is_busy():
    stack = EphemeralStack(
        name="S", endpoint=None, region="us-east-1", outputs={}, quiescence=lambda timeout, settle: ["queue q: 1"]
    )
    with pytest.raises(AssertionError, match="still busy: queue q: 1"):
        stack.wait_idle(timeout=1)

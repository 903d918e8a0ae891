"""Quiescence: whether the local cloud has nothing left to do, so a test can assert that something did NOT happen
(no retry, no second delivery) without sleeping for a guessed time.

The cloud is quiet when, at the same moment:

* no function is running (every execution environment pool is idle);
* the asynchronous invocation queue is empty (no event waiting for a retry either);
* every SQS event source mapping's queue and every relay queue holds no message, visible, in flight or delayed
  (a failed message waiting for its visibility timeout counts: it will be delivered again). Dead-letter queues and
  queues no mapping reads are not looked at: what sits there stays there;
* every stream poller has caught up: nothing pending in its hands, and the shard has nothing after its iterator;

and it stays so for ``settle`` seconds with no invocation recorded in the journal meanwhile.

Example::

    cloud.wait_quiet(timeout=30)   # [] once quiet; otherwise what was still busy when the time ran out
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .invocations import PushRelay
from .notifications import BucketNotificationRelay
from .sources import SqsPoller
from .streams import StreamPoller

if TYPE_CHECKING:
    from .cloud import LocalCloud

__all__ = ["busy", "wait_quiet"]


def busy(cloud: LocalCloud) -> list[str]:
    """What is going on in ``cloud`` right now, one line each; empty when it is quiet."""
    out: list[str] = []
    out.extend(_running(cloud))
    invoker = cloud.async_invoker
    if invoker is not None and not invoker.wait_idle(0):
        out.append("asynchronous invocations are queued or running")
    sqs: Any = None
    for stack in list(cloud.stacks.values()):
        for runner in list(stack.runners):
            if isinstance(runner, SqsPoller):
                sqs = sqs or _sqs(cloud)
                out.extend(_queue_busy(sqs, runner.queue_url, f"{stack.name}: {runner.name}"))
            elif isinstance(runner, PushRelay):
                sqs = sqs or _sqs(cloud)
                for target in runner.targets:
                    label = f"{stack.name}: relay {target.source_arn} -> {target.target_arn}"
                    out.extend(_queue_busy(sqs, target.relay_queue_url, label))
            elif isinstance(runner, BucketNotificationRelay):
                sqs = sqs or _sqs(cloud)
                for url in runner.relay_queue_urls:
                    out.extend(_queue_busy(sqs, url, f"{stack.name}: S3 notification relay"))
            elif isinstance(runner, StreamPoller):
                out.extend(_stream_busy(runner, f"{stack.name}: {runner.name}"))
    return out


def wait_quiet(cloud: LocalCloud, *, timeout: float = 30.0, settle: float = 0.3, interval: float = 0.05) -> list[str]:
    """Wait until ``cloud`` has been quiet for ``settle`` seconds; return ``[]``, or on timeout what was still busy."""
    deadline = time.monotonic() + timeout
    quiet_since: float | None = None
    mark = _journal_mark(cloud)
    while True:
        now = time.monotonic()
        reasons = busy(cloud)
        current = _journal_mark(cloud)
        if reasons or current != mark:
            quiet_since = None
            mark = current
        elif quiet_since is None:
            quiet_since = now
        elif now - quiet_since >= settle:
            return []
        if now >= deadline:
            return reasons or ["the journal kept growing (invocations or failed polls) within every settle period"]
        time.sleep(interval)


# -- the parts ----------------------------------------------------------------------------------------------------


def _running(cloud: LocalCloud) -> list[str]:
    # LambdaService has no public "running" count; its pools do (busy = environments serving an invocation).
    lambdas = cloud.lambdas
    pools: dict[str, Any] = dict(getattr(lambdas, "_pools", {}) or {}) if lambdas is not None else {}
    return [f"function {name} is running ({pool.busy})" for name, pool in pools.items() if getattr(pool, "busy", 0)]


def _journal_mark(cloud: LocalCloud) -> tuple[int, int]:
    recent = cloud.journal.all()
    return len(recent), id(recent[-1]) if recent else 0


def _sqs(cloud: LocalCloud) -> Any:
    from .aws import client

    return client("sqs", cloud.endpoint, cloud.region)


_DEPTH = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed")


def _queue_busy(sqs: Any, url: str, label: str) -> list[str]:
    try:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(_DEPTH))["Attributes"]
    except Exception as error:  # a queue being deleted with its stack: nothing more will come from it
        if "NonExistentQueue" in str(error) or "does not exist" in str(error):
            return []
        raise
    visible, in_flight, delayed = (int(attributes.get(name, 0)) for name in _DEPTH)
    if visible or in_flight or delayed:
        return [f"{label}: {visible} visible, {in_flight} in flight, {delayed} delayed message(s)"]
    return []


def _stream_busy(poller: StreamPoller, label: str) -> list[str]:
    return [f"{label}: {reason}" for reason in poller.busy()]

"""How an SQS mapping's pollers share the work, against the embedded data plane with a blocking invoker: a slow batch
does not hold up the next message, FIFO groups run in parallel while each group keeps one batch in flight, and a
trickle is still collected by one batching window.

Sources: docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html (pollers scale with the backlog and invoke
concurrently up to the mapping's maximum concurrency) and with-sqs.md "FIFO queues" (one batch in flight per message
group; groups in parallel), summarised in shared/notes/aws-semantics.md section 1.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from eventweave.local.aws import client
from eventweave.local.gateway import DataPlane
from eventweave.local.model import EventSourceMappingSpec, InvokeResult
from eventweave.local.sources import SqsPoller

REGION = "us-east-1"
ACCOUNT = "123456789012"
PATIENCE = 15.0


class Gate:
    """An invoker that records each batch's bodies and holds batches holding a body in ``hold`` until released."""

    def __init__(self, *hold: str) -> None:
        self.hold = set(hold)
        self.released = threading.Event()
        self.batches: list[list[str]] = []
        self._changed = threading.Condition()

    def invoke(self, function_name: str, payload: bytes, *, source: str = "direct") -> InvokeResult:
        bodies = [record["body"] for record in json.loads(payload)["Records"]]
        with self._changed:
            self.batches.append(bodies)
            self._changed.notify_all()
        if self.hold & set(bodies):
            assert self.released.wait(PATIENCE), "the held batch was never released"
        return InvokeResult(200, b"null")

    def delivered(self) -> list[str]:
        with self._changed:
            return [body for batch in self.batches for body in batch]

    def wait_for(self, body: str) -> list[str]:
        """Every body delivered up to the moment ``body`` was (in delivery order)."""
        with self._changed:
            if not self._changed.wait_for(lambda: body in self.delivered(), PATIENCE):
                raise AssertionError(f"{body} was not delivered within {PATIENCE} s; batches {self.batches}")
            return self.delivered()


@pytest.fixture(scope="module")
def plane() -> Iterator[DataPlane]:
    with DataPlane() as running:
        yield running


def _mapping(plane: DataPlane, fifo: bool, **spec: Any) -> tuple[Any, str, EventSourceMappingSpec]:
    name = f"work-{uuid.uuid4().hex[:8]}" + (".fifo" if fifo else "")
    attributes = {"VisibilityTimeout": "30"}
    if fifo:
        attributes.update(FifoQueue="true", ContentBasedDeduplication="true")
    sqs = client("sqs", plane.endpoint, REGION)
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    mapping = EventSourceMappingSpec(
        uuid=str(uuid.uuid4()), function_name="fn", source_arn=f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}", **spec
    )
    return sqs, url, mapping


def test_a_slow_batch_does_not_hold_up_the_next_message(plane):
    sqs, url, mapping = _mapping(plane, fifo=False, batch_size=10)
    gate = Gate("slow")
    poller = SqsPoller(mapping, gate, endpoint_url=plane.endpoint, default_concurrency=2)
    poller.start()
    try:
        sqs.send_message(QueueUrl=url, MessageBody="slow")
        gate.wait_for("slow")
        sqs.send_message(QueueUrl=url, MessageBody="next")
        assert gate.wait_for("next") == ["slow", "next"]  # delivered while "slow" is still running
    finally:
        gate.released.set()
        poller.stop()


def test_fifo_groups_run_in_parallel_and_each_keeps_one_batch_in_flight(plane):
    sqs, url, mapping = _mapping(plane, fifo=True, batch_size=10)
    gate = Gate("a1")
    poller = SqsPoller(mapping, gate, endpoint_url=plane.endpoint, default_concurrency=2)
    poller.start()
    try:
        sqs.send_message(QueueUrl=url, MessageBody="a1", MessageGroupId="A")
        gate.wait_for("a1")
        sqs.send_message(QueueUrl=url, MessageBody="a2", MessageGroupId="A")
        sqs.send_message(QueueUrl=url, MessageBody="b1", MessageGroupId="B")
        # b1 (sent after a2) gets through while a1's batch runs; a2 waits for it: its group has a batch in flight.
        assert gate.wait_for("b1") == ["a1", "b1"]
        gate.released.set()
        assert gate.wait_for("a2") == ["a1", "b1", "a2"]
    finally:
        gate.released.set()
        poller.stop()


def test_a_trickle_is_still_one_window_with_several_pollers(plane):
    sqs, url, mapping = _mapping(plane, fifo=False, batch_size=50, maximum_batching_window_seconds=2)
    gate = Gate()
    poller = SqsPoller(mapping, gate, endpoint_url=plane.endpoint, default_concurrency=3)
    poller.start()
    try:
        for i in range(4):
            sqs.send_message(QueueUrl=url, MessageBody=f"t{i}")
        gate.wait_for("t3")
        assert gate.batches == [["t0", "t1", "t2", "t3"]]
    finally:
        poller.stop()

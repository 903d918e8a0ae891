"""Shared by the delivery-rule tests: a scripted fake :class:`~eventweave.local.model.Invoker` (no worker processes)
and small helpers to read what landed in the embedded data plane, waiting for a signal instead of sleeping."""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from eventweave.local.aws import client
from eventweave.local.gateway import DataPlane
from eventweave.local.model import InvokeResult

__all__ = [
    "ACCOUNT",
    "FAILED",
    "OK",
    "REGION",
    "THROTTLED",
    "Call",
    "FakeInvoker",
    "depth",
    "new_queue",
    "new_topic_into_queue",
    "receive",
]

REGION, ACCOUNT = "us-east-1", "123456789012"
OK = InvokeResult(200, b'{"done": true}')
FAILED = InvokeResult(200, json.dumps({"errorMessage": "boom", "errorType": "RuntimeError"}).encode(), "Unhandled")
THROTTLED = InvokeResult(
    429, b'{"Reason": "ReservedFunctionConcurrentInvocationLimitExceeded", "Type": "User", "message": "Rate Exceeded."}'
)


@dataclass(frozen=True)
class Call:
    """One invocation the fake saw."""

    function: str
    payload: bytes
    source: str
    request_id: str | None
    at: float


class FakeInvoker:
    """An Invoker that answers each function from its own script of outcomes (then ``default``), records every call
    and lets a test wait for the n-th one.

    Example::

        invoker = FakeInvoker({"fn": [FAILED, OK]})
        invoker.invoke("fn", b"{}")            # FAILED
        invoker.wait_calls(1, "fn")[0].source  # "direct"
    """

    def __init__(self, scripts: dict[str, list[InvokeResult]] | None = None, default: InvokeResult = OK) -> None:
        self.scripts = {name: list(outcomes) for name, outcomes in (scripts or {}).items()}
        self.default = default
        self.calls: list[Call] = []
        self._cond = threading.Condition()

    def invoke(
        self, function_name: str, payload: bytes, *, source: str = "direct", request_id: str | None = None
    ) -> InvokeResult:
        with self._cond:
            self.calls.append(Call(function_name, payload, source, request_id, time.monotonic()))
            script = self.scripts.get(function_name)
            outcome = script.pop(0) if script else self.default
            self._cond.notify_all()
        return outcome

    def of(self, function: str) -> list[Call]:
        with self._cond:
            return [call for call in self.calls if call.function == function]

    def wait_calls(self, count: int, function: str | None = None, timeout: float = 15.0) -> list[Call]:
        """The calls (of ``function``) once there are at least ``count``; ``AssertionError`` on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                seen = [c for c in self.calls if function is None or c.function == function]
                if len(seen) >= count:
                    return seen
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out waiting for {count} call(s) of {function}; got {seen}")
                self._cond.wait(remaining)


def new_queue(plane: DataPlane, prefix: str, **attributes: str) -> tuple[str, str]:
    """A fresh SQS queue: ``(url, arn)``."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    url = client("sqs", plane.endpoint, REGION).create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url, f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


def new_topic_into_queue(plane: DataPlane, prefix: str, *, raw: bool) -> tuple[str, str]:
    """A fresh SNS topic with an SQS subscription: ``(topic arn, queue url)``."""
    sns = client("sns", plane.endpoint, REGION)
    topic = sns.create_topic(Name=f"{prefix}-{uuid.uuid4().hex[:8]}")["TopicArn"]
    url, arn = new_queue(plane, f"{prefix}-sub")
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true" if raw else "false"}
    )
    return topic, url


def receive(plane: DataPlane, url: str, count: int = 1, timeout: float = 15.0) -> list[dict[str, Any]]:
    """Long-poll ``url`` until ``count`` messages arrived (each deleted); ``AssertionError`` on timeout."""
    sqs = client("sqs", plane.endpoint, REGION)
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(got) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {count} message(s) on {url}; got {got}")
        for message in sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"]
        ).get("Messages", []):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            got.append(message)
    return got


def depth(plane: DataPlane, url: str) -> int:
    """Messages in ``url``, visible, in flight or delayed."""
    attributes = client("sqs", plane.endpoint, REGION).get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
    values = attributes["Attributes"]
    return sum(
        int(values.get(name, 0))
        for name in (
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        )
    )

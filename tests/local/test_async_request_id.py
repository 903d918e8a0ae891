"""An asynchronous event keeps its request id across Lambda's retries (the id the 202 returned), and a throttle is
retried without using a retry attempt (docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html;
shared/notes/aws-semantics.md sections 3 and 10)."""

from __future__ import annotations

import json

from eventweave.local.invocations import AsyncInvoker
from eventweave.local.model import AsyncConfig, InvokeResult


class Script:
    """Answers each invoke from a script of outcomes, recording the request id it was given."""

    def __init__(self, outcomes: list[InvokeResult]) -> None:
        self.outcomes = outcomes
        self.request_ids: list[str | None] = []

    def invoke(
        self, function_name: str, payload: bytes, *, source: str = "direct", request_id: str | None = None
    ) -> InvokeResult:
        self.request_ids.append(request_id)
        return self.outcomes.pop(0) if self.outcomes else InvokeResult(200, b"null")


FAILED = InvokeResult(200, json.dumps({"errorType": "RuntimeError", "errorMessage": "boom"}).encode(), "Unhandled")
THROTTLED = InvokeResult(429, b'{"Reason": "ReservedFunctionConcurrentInvocationLimitExceeded"}')


def _queue(script: Script) -> AsyncInvoker:
    queue = AsyncInvoker(script, endpoint_url="http://127.0.0.1:1", retry_delays=(0.0,), workers=1)
    arn = "arn:aws:lambda:us-east-1:123456789012:function:fn"
    queue.configure("fn", AsyncConfig(maximum_retry_attempts=2), function_arn=arn)
    return queue


def test_retries_run_under_the_request_id_the_202_returned():
    script = Script([FAILED, FAILED, InvokeResult(200, b"null")])
    queue = _queue(script)
    queue.start()
    try:
        request_id = queue.submit("fn", b"{}")
        assert queue.wait_idle(10)
    finally:
        queue.stop()
    assert script.request_ids == [request_id] * 3


def test_a_throttle_is_retried_without_using_an_attempt():
    # Two throttles, then two function errors: with MaximumRetryAttempts 2 the third real attempt still runs.
    script = Script([THROTTLED, THROTTLED, FAILED, FAILED, InvokeResult(200, b"null")])
    queue = _queue(script)
    queue.start()
    try:
        queue.submit("fn", b"{}")
        assert queue.wait_idle(20)
    finally:
        queue.stop()
    assert len(script.request_ids) == 5

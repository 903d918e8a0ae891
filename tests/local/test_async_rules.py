"""Lambda's asynchronous invocation rules, as :class:`eventweave.local.invocations.AsyncInvoker` applies them: a
scripted fake function, real SQS / SNS / EventBridge destinations in the embedded data plane.

Sources (shared/notes/aws-semantics.md section 3 "Asynchronous invocation" and section 10 "Async throttles"):
invocation-async-error-handling.html (retries on function error, 2 by default, 1 then 2 minutes apart;
MaximumRetryAttempts 0-2, MaximumEventAgeInSeconds; throttles and 5xx requeued for up to 6 h without using a retry),
invocation-async-retain-records.html (destinations and their record shape; the function's DLQ with ``RequestID``,
``ErrorCode``, ``ErrorMessage``; destinations "in addition to or instead of" a DLQ; reserved concurrency 0 sends
events straight to the DLQ or on-failure destination).
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eventweave.local.aws import client
from eventweave.local.gateway import DataPlane
from eventweave.local.invocations import AsyncInvoker
from eventweave.local.model import AsyncConfig, DestinationSpec, FunctionSpec, InvokeResult

from ._delivery_fakes import ACCOUNT, FAILED, OK, REGION, THROTTLED, FakeInvoker, depth, new_queue, receive

FN = "orders"
FN_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FN}"
EVENT = {"order_id": "o-1", "note": 'quoted "text"'}
HANDLED = InvokeResult(200, b'{"errorMessage": "bad input", "errorType": "ValueError"}', "Handled")
SERVICE_ERROR = InvokeResult(500, b'{"Type": "Service", "message": "ServiceException"}')
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture(scope="module")
def plane() -> Iterator[DataPlane]:
    with DataPlane() as running:
        yield running


class Run:
    """An AsyncInvoker over a fake function, started, with its log kept; stopped by the fixture."""

    def __init__(self, plane: DataPlane) -> None:
        self.plane = plane
        self.lines: list[str] = []
        self.invoker = FakeInvoker()
        self.queue: AsyncInvoker | None = None

    def start(
        self,
        scripts: dict[str, list[InvokeResult]],
        config: AsyncConfig | None = None,
        *,
        dead_letter: str | None = None,
        retry_delays: tuple[float, ...] = (0.0,),
        workers: int = 2,
    ) -> AsyncInvoker:
        self.invoker.scripts = {name: list(outcomes) for name, outcomes in scripts.items()}
        self.queue = AsyncInvoker(
            self.invoker,
            endpoint_url=self.plane.endpoint,
            account_id=ACCOUNT,
            log=self.lines.append,
            retry_delays=retry_delays,
            workers=workers,
        )
        if config is not None or dead_letter is not None:
            self.queue.configure(FN, config or AsyncConfig(), function_arn=FN_ARN, dead_letter_arn=dead_letter)
        self.queue.start()
        return self.queue

    def submit(self, payload: Any = EVENT, function: str = FN) -> str:
        assert self.queue is not None
        return self.queue.submit(function, json.dumps(payload).encode())

    def idle(self) -> None:
        assert self.queue is not None
        assert self.queue.wait_idle(30), "the async queue did not drain"


@pytest.fixture
def run(plane: DataPlane) -> Iterator[Run]:
    running = Run(plane)
    yield running
    if running.queue is not None:
        running.queue.stop()


def queue_destination(plane: DataPlane, prefix: str) -> tuple[str, DestinationSpec]:
    url, arn = new_queue(plane, prefix)
    return url, DestinationSpec(arn)


def check_record(
    record: dict[str, Any],
    *,
    request_id: str,
    condition: str,
    count: int,
    response: Any,
    function_error: str | None,
) -> None:
    """AWS's invocation record (invocation-async-retain-records.html; wire/destinations.py ``async_record``)."""
    assert record["version"] == "1.0"
    assert TIMESTAMP.match(record["timestamp"]), record["timestamp"]
    assert record["requestContext"] == {
        "requestId": request_id,
        "functionArn": f"{FN_ARN}:$LATEST",
        "condition": condition,
        "approximateInvokeCount": count,
    }
    assert record["requestPayload"] == EVENT
    expected_context: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
    if function_error:
        expected_context["functionError"] = function_error
    assert record["responseContext"] == expected_context
    assert record["responsePayload"] == response


# -- retries ---------------------------------------------------------------------------------------------------------

RETRIES = [
    ("0 retries, fails", 0, [FAILED], 1, "RetriesExhausted"),
    ("1 retry, fails twice", 1, [FAILED, FAILED], 2, "RetriesExhausted"),
    ("2 retries (default), fails three times", 2, [FAILED, FAILED, FAILED], 3, "RetriesExhausted"),
    ("2 retries, a handled error counts too", 2, [HANDLED, HANDLED, HANDLED], 3, "RetriesExhausted"),
    ("1 retry, succeeds on the retry", 1, [FAILED, OK], 2, "Success"),
    ("2 retries, succeeds on the last", 2, [FAILED, HANDLED, OK], 3, "Success"),
    ("0 retries, succeeds at once", 0, [OK], 1, "Success"),
]


@pytest.mark.parametrize(
    ("retries", "outcomes", "attempts", "condition"), [c[1:] for c in RETRIES], ids=[c[0] for c in RETRIES]
)
def test_function_errors_are_retried_up_to_maximum_retry_attempts(
    plane: DataPlane, run: Run, retries: int, outcomes: list[InvokeResult], attempts: int, condition: str
) -> None:
    """MaximumRetryAttempts 0-2: a function error (handled or not) is retried that many times; then the record goes
    to the on-failure destination, or on success to the on-success one, with approximateInvokeCount = attempts."""
    success_url, on_success = queue_destination(plane, "ok")
    failure_url, on_failure = queue_destination(plane, "failed")
    run.start({FN: outcomes}, AsyncConfig(maximum_retry_attempts=retries, on_success=on_success, on_failure=on_failure))
    request_id = run.submit()
    (message,) = receive(plane, success_url if condition == "Success" else failure_url)
    run.idle()
    calls = run.invoker.of(FN)
    assert len(calls) == attempts
    assert {call.request_id for call in calls} == {request_id}  # one request id across the retries
    last = outcomes[attempts - 1]
    check_record(
        json.loads(message["Body"]),
        request_id=request_id,
        condition=condition,
        count=attempts,
        response=json.loads(last.payload),
        function_error=last.function_error,
    )
    assert depth(plane, failure_url if condition == "Success" else success_url) == 0  # decided: nothing else comes


DELAYS = [
    ("one delay per retry", (0.3, 0.6), [0.3, 0.6]),
    ("the last delay repeats", (0.25,), [0.25, 0.25]),
]


@pytest.mark.parametrize(("delays", "gaps"), [c[1:] for c in DELAYS], ids=[c[0] for c in DELAYS])
def test_retries_wait_the_retry_delays(run: Run, delays: tuple[float, ...], gaps: list[float]) -> None:
    """AWS waits about 1 minute before the 2nd attempt and 2 minutes before the 3rd; locally ``retry_delays``."""
    run.start({FN: [FAILED, FAILED, FAILED]}, AsyncConfig(maximum_retry_attempts=2), retry_delays=delays)
    run.submit()
    calls = run.invoker.wait_calls(3, FN)
    run.idle()
    for (before, after), gap in zip(itertools.pairwise(calls), gaps, strict=True):
        assert after.at - before.at >= gap - 0.01


# -- age and throttles ----------------------------------------------------------------------------------------------

AGE = [
    ("aged while waiting for a retry", [FAILED], (0.6,), 1),
    ("aged while throttled", [THROTTLED], (0.0,), 1),
]


@pytest.mark.parametrize(("outcomes", "delays", "runs"), [c[1:] for c in AGE], ids=[c[0] for c in AGE])
def test_an_event_older_than_maximum_event_age_goes_to_failure_as_event_age_exceeded(
    plane: DataPlane, run: Run, outcomes: list[InvokeResult], delays: tuple[float, ...], runs: int
) -> None:
    """MaximumEventAgeInSeconds: an event older than that is not run again; the on-failure record's condition is
    ``EventAgeExceeded`` (UNCONFIRMED in the notes: third-party code only), and no response (it never ran again).
    The throttle requeue waits 1 s, longer than the 0.3 s age allowed here."""
    failure_url, on_failure = queue_destination(plane, "aged")
    config = AsyncConfig(maximum_retry_attempts=2, maximum_event_age_seconds=0.3, on_failure=on_failure)
    run.start({FN: outcomes}, config, retry_delays=delays)
    request_id = run.submit()
    (message,) = receive(plane, failure_url)
    run.idle()
    assert len(run.invoker.of(FN)) == runs
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestPayload"] == EVENT
    assert "responsePayload" not in record and "functionError" not in record["responseContext"]


THROTTLES = [
    ("two throttles, then success with no retries allowed", 0, [THROTTLED, THROTTLED, OK], 3, "Success", 1),
    ("throttles between errors use no attempt", 1, [THROTTLED, FAILED, THROTTLED, FAILED], 4, "RetriesExhausted", 2),
]


@pytest.mark.parametrize(
    ("retries", "outcomes", "calls", "condition", "count"), [c[1:] for c in THROTTLES], ids=[c[0] for c in THROTTLES]
)
def test_throttles_are_retried_without_using_a_retry_attempt(
    plane: DataPlane,
    run: Run,
    retries: int,
    outcomes: list[InvokeResult],
    calls: int,
    condition: str,
    count: int,
) -> None:
    """A 429 goes back to the queue (retried for up to 6 h, 1 s to 5 min apart); it is not a function error, so it
    does not count against MaximumRetryAttempts, nor in approximateInvokeCount."""
    success_url, on_success = queue_destination(plane, "ok")
    failure_url, on_failure = queue_destination(plane, "failed")
    config = AsyncConfig(maximum_retry_attempts=retries, on_success=on_success, on_failure=on_failure)
    run.start({FN: outcomes}, config)
    run.submit()
    (message,) = receive(plane, success_url if condition == "Success" else failure_url)
    run.idle()
    assert len(run.invoker.of(FN)) == calls
    context = json.loads(message["Body"])["requestContext"]
    assert (context["condition"], context["approximateInvokeCount"]) == (condition, count)


def test_a_service_error_is_retried_like_a_throttle(plane: DataPlane, run: Run) -> None:
    success_url, on_success = queue_destination(plane, "ok")
    failure_url, on_failure = queue_destination(plane, "failed")
    config = AsyncConfig(maximum_retry_attempts=0, on_success=on_success, on_failure=on_failure)
    run.start({FN: [SERVICE_ERROR, OK]}, config)
    run.submit()
    run.invoker.wait_calls(1, FN)
    run.idle()
    assert depth(plane, success_url) == 1 and depth(plane, failure_url) == 0


# -- destinations ---------------------------------------------------------------------------------------------------


def _bus_into_queue(plane: DataPlane) -> tuple[str, str]:
    """A custom event bus whose rule forwards Lambda's destination events to a queue: ``(bus arn, queue url)``."""
    events = client("events", plane.endpoint, REGION)
    name = f"dest-{uuid.uuid4().hex[:8]}"
    bus_arn = events.create_event_bus(Name=name)["EventBusArn"]
    url, queue_arn = new_queue(plane, "bus")
    events.put_rule(Name=name, EventBusName=name, EventPattern=json.dumps({"source": ["aws.lambda"]}))
    events.put_targets(Rule=name, EventBusName=name, Targets=[{"Id": "q", "Arn": queue_arn}])
    return bus_arn, url


@pytest.mark.parametrize("kind", ["sqs", "sns", "events", "lambda"])
@pytest.mark.parametrize("condition", ["Success", "RetriesExhausted"])
def test_the_record_reaches_every_destination_type_in_its_documented_place(
    plane: DataPlane, run: Run, kind: str, condition: str
) -> None:
    """SQS: the record is the message body; SNS: the ``Message``; EventBridge: the ``detail`` of an event from
    ``aws.lambda`` with detail-type "Lambda Function Invocation Result - Success|Failure" and ``resources`` the
    function and destination ARNs; Lambda: the payload of an asynchronous invocation of the destination function."""
    outcome = OK if condition == "Success" else FAILED
    if kind == "sqs":
        url, arn = new_queue(plane, "dest")
    elif kind == "sns":
        sns = client("sns", plane.endpoint, REGION)
        arn = sns.create_topic(Name=f"dest-{uuid.uuid4().hex[:8]}")["TopicArn"]
        url, queue_arn = new_queue(plane, "dest-sub")
        sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)
    elif kind == "events":
        arn, url = _bus_into_queue(plane)
    else:
        arn, url = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:audit", ""
    destination = DestinationSpec(arn)
    config = AsyncConfig(
        maximum_retry_attempts=0,
        on_success=destination if condition == "Success" else None,
        on_failure=destination if condition != "Success" else None,
    )
    run.start({FN: [outcome]}, config)
    request_id = run.submit()
    if kind == "lambda":
        (call,) = run.invoker.wait_calls(1, "audit")
        assert call.source == "destination"
        record = json.loads(call.payload)
    else:
        (message,) = receive(plane, url)
        body = json.loads(message["Body"])
        if kind == "sqs":
            record = body
        elif kind == "sns":
            assert body["Type"] == "Notification" and body["TopicArn"] == arn
            record = json.loads(body["Message"])
        else:
            assert body["source"] == "aws.lambda"
            result = "Success" if condition == "Success" else "Failure"
            assert body["detail-type"] == f"Lambda Function Invocation Result - {result}"
            assert body["resources"] == [f"{FN_ARN}:$LATEST", arn]
            assert body["account"] == ACCOUNT
            record = body["detail"]
    run.idle()
    check_record(
        record,
        request_id=request_id,
        condition=condition,
        count=1,
        response=json.loads(outcome.payload),
        function_error=outcome.function_error,
    )


def test_an_unreachable_destination_is_logged_with_the_record(run: Run) -> None:
    """A destination that cannot be reached loses the record (AWS emits ``DestinationDeliveryFailures``); locally the
    log says so and carries the record."""
    missing = DestinationSpec(f"arn:aws:sqs:{REGION}:{ACCOUNT}:no-such-queue-{uuid.uuid4().hex[:6]}")
    run.start({FN: [FAILED]}, AsyncConfig(maximum_retry_attempts=0, on_failure=missing))
    request_id = run.submit()
    run.invoker.wait_calls(1, FN)
    run.idle()
    (line,) = [line for line in run.lines if "could not be reached" in line]
    assert missing.arn in line and request_id in line and '"RetriesExhausted"' in line


# -- the function's dead-letter queue -------------------------------------------------------------------------------

DLQ = [
    ("retries exhausted, to a queue", "sqs", [FAILED], 0, "boom"),
    ("retries exhausted, to a topic", "sns", [FAILED, FAILED], 1, "boom"),
    ("event too old, to a queue", "sqs", [THROTTLED], -1, "EventAgeExceeded"),
]


@pytest.mark.parametrize(
    ("kind", "outcomes", "retries", "error_message"), [c[1:] for c in DLQ], ids=[c[0] for c in DLQ]
)
def test_the_dead_letter_queue_gets_the_event_unchanged_with_lambdas_attributes(
    plane: DataPlane, run: Run, kind: str, outcomes: list[InvokeResult], retries: int, error_message: str
) -> None:
    """With no on-failure destination, the function's DeadLetterConfig (a standard queue or topic) gets the event as
    it was, with ``RequestID`` (String), ``ErrorCode`` (Number, the status) and ``ErrorMessage`` (first 1 KB).
    (``retries`` -1 in this table: the event is given no age, so it expires at its first run after a throttle.)"""
    if kind == "sqs":
        url, arn = new_queue(plane, "dlq")
    else:
        sns = client("sns", plane.endpoint, REGION)
        arn = sns.create_topic(Name=f"dlq-{uuid.uuid4().hex[:8]}")["TopicArn"]
        url, queue_arn = new_queue(plane, "dlq-sub")
        sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    config = (
        AsyncConfig(maximum_retry_attempts=retries)
        if retries >= 0
        else AsyncConfig(maximum_retry_attempts=0, maximum_event_age_seconds=0.3)
    )
    run.start({FN: outcomes}, config, dead_letter=arn)
    request_id = run.submit()
    (message,) = receive(plane, url)
    run.idle()
    assert json.loads(message["Body"]) == EVENT
    attributes = message["MessageAttributes"]
    assert attributes["RequestID"] == {"DataType": "String", "StringValue": request_id}
    assert attributes["ErrorCode"] == {"DataType": "Number", "StringValue": "200"}
    assert attributes["ErrorMessage"] == {"DataType": "String", "StringValue": error_message}
    assert any("sent to DLQ" in line and request_id in line for line in run.lines)


def test_without_destination_or_dlq_the_event_is_discarded_and_the_log_says_so(run: Run) -> None:
    """AWS discards an event that failed every attempt when nothing retains it."""
    run.start({FN: [FAILED]}, AsyncConfig(maximum_retry_attempts=0))
    request_id = run.submit()
    run.invoker.wait_calls(1, FN)
    run.idle()
    (line,) = [line for line in run.lines if request_id in line]
    assert "RetriesExhausted after 1 attempt(s)" in line and "DISCARDED" in line


def test_an_on_failure_destination_and_a_dlq_both_get_the_failed_event(plane: DataPlane, run: Run) -> None:
    destination_url, on_failure = queue_destination(plane, "failed")
    dlq_url, dlq_arn = new_queue(plane, "dlq")
    run.start({FN: [FAILED]}, AsyncConfig(maximum_retry_attempts=0, on_failure=on_failure), dead_letter=dlq_arn)
    run.submit()
    receive(plane, destination_url)
    run.idle()
    assert depth(plane, dlq_url) == 1


# -- per function ---------------------------------------------------------------------------------------------------


def test_each_function_has_its_own_settings_and_unconfigured_ones_get_aws_defaults(plane: DataPlane, run: Run) -> None:
    """EventInvokeConfig is per function; a function without one gets 2 retries and no destination (discarded)."""
    failure_url, on_failure = queue_destination(plane, "failed")
    queue = run.start(
        {FN: [FAILED], "other": [FAILED] * 3}, AsyncConfig(maximum_retry_attempts=0, on_failure=on_failure)
    )
    mine = run.submit()
    other = run.submit(function="other")
    (message,) = receive(plane, failure_url)
    run.idle()
    assert json.loads(message["Body"])["requestContext"]["requestId"] == mine
    assert len(run.invoker.of(FN)) == 1
    assert len(run.invoker.of("other")) == 3
    assert any(other in line and "after 3 attempt(s)" in line and "DISCARDED" in line for line in run.lines)
    assert queue.wait_idle(0)


def test_a_slow_function_does_not_hold_up_another_functions_events(plane: DataPlane) -> None:
    """The workers are shared, not one queue per function in line: while one function's invocation runs, another
    function's event is invoked (Lambda scales each function separately)."""
    release = threading.Event()

    class Blocking(FakeInvoker):
        def invoke(self, function_name: str, payload: bytes, **kwargs: Any) -> InvokeResult:
            outcome = super().invoke(function_name, payload, **kwargs)
            if function_name == "slow":
                assert release.wait(15), "never released"
            return outcome

    invoker = Blocking()
    queue = AsyncInvoker(invoker, endpoint_url=plane.endpoint, workers=2)
    queue.start()
    try:
        queue.submit("slow", b"{}")
        invoker.wait_calls(1, "slow")
        queue.submit("fast", b"{}")
        invoker.wait_calls(1, "fast")  # runs while "slow" is still in flight
        release.set()
        assert queue.wait_idle(10)
    finally:
        release.set()
        queue.stop()


def test_reserved_concurrency_zero_sends_events_straight_to_failure(plane: DataPlane, tmp_path: Path) -> None:
    from eventweave.local.functions import LambdaService

    failure_url, on_failure = queue_destination(plane, "zero")
    service = LambdaService(endpoint_url=plane.endpoint, account_id=ACCOUNT)
    service.register(FunctionSpec(name=FN, arn=FN_ARN, handler="fn.echo", code_dir=tmp_path, reserved_concurrency=0))
    queue = AsyncInvoker(service, endpoint_url=plane.endpoint, account_id=ACCOUNT)
    queue.configure(FN, AsyncConfig(on_failure=on_failure), function_arn=FN_ARN)
    queue.start()
    try:
        queue.submit(FN, b"{}")
        receive(plane, failure_url, timeout=5)
    finally:
        queue.stop()
        service.close()

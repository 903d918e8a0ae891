"""The local Lambda service: real worker processes, warm reuse, timeouts, crashes, concurrency, the Invoke API."""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from eventweave.local.functions import LambdaService
from eventweave.local.gateway import DataPlane
from eventweave.local.model import FunctionSpec, InvokeResult, UnknownFunctionError
from eventweave.testing import wait_until

CODE = Path(__file__).parent / "fixtures"


def spec(name: str, handler: str, **kwargs: object) -> FunctionSpec:
    return FunctionSpec(
        name=name,
        arn=f"arn:aws:lambda:us-east-1:000000000000:function:{name}",
        handler=f"fn.{handler}",
        code_dir=CODE,
        **kwargs,
    )  # type: ignore[arg-type]


class Api:
    """The gateway's Lambda side: synchronous calls to the service, Event calls recorded."""

    def __init__(self, service: LambdaService) -> None:
        self.service = service
        self.queued: list[tuple[str, bytes]] = []

    def invoke_sync(self, function_name: str, payload: bytes) -> InvokeResult:
        return self.service.invoke(function_name, payload, source="invoke")

    def invoke_async(self, function_name: str, payload: bytes) -> None:
        self.service.get(function_name)
        self.queued.append((function_name, payload))


@pytest.fixture(scope="module")
def lines() -> list[str]:
    return []


@pytest.fixture(scope="module")
def plane_and_service(lines: list[str]) -> Iterator[tuple[DataPlane, LambdaService, Api]]:
    plane = DataPlane()
    service = LambdaService(endpoint_url="http://127.0.0.1:1", log=lines.append)
    api = Api(service)
    plane.lambda_api = api
    plane.function_exists = service.exists
    plane.start()
    service.endpoint_url = plane.endpoint
    for name, handler, extra in [
        ("echo", "echo", {}),
        ("boom", "boom", {}),
        ("noisy", "noisy", {}),
        ("slow", "sleep", {"timeout_seconds": 1}),
        ("crash", "crash", {}),
        ("pair", "sleep", {"reserved_concurrency": 2, "timeout_seconds": 30}),
        ("throttled", "echo", {"reserved_concurrency": 0}),
        ("missing", "nothing_here", {}),
        ("unmarshalable", "unmarshalable", {}),
        ("hog", "hog", {"memory_mb": 128, "timeout_seconds": 20}),
        ("spawner", "spawn_and_sleep", {"timeout_seconds": 2}),
    ]:
        service.register(spec(name, handler, **extra))
    service.register(
        FunctionSpec(
            name="badmodule",
            arn="arn:aws:lambda:us-east-1:000000000000:function:badmodule",
            handler="no_such_module.handler",
            code_dir=CODE,
        )
    )
    try:
        yield plane, service, api
    finally:
        service.close()
        plane.stop()


def test_echo_round_trip_with_a_real_context(plane_and_service):
    _, service, _ = plane_and_service
    first = service.invoke("echo", b'{"a": 1}')
    second = service.invoke("echo", b'{"a": 2}')
    assert first.ok and second.ok
    one, two = json.loads(first.payload), json.loads(second.payload)
    assert one["event"] == {"a": 1} and two["event"] == {"a": 2}
    assert one["function"] == "echo"
    assert 0 < one["remaining"] <= 3000
    assert (first.cold_start, second.cold_start) == (True, False)
    assert one["pid"] == two["pid"]  # the warm worker was reused
    assert one["request_id"] == first.request_id


def test_a_handler_error_is_lambdas_unhandled_error(plane_and_service):
    _, service, _ = plane_and_service
    result = service.invoke("boom", b'{"x": 1}')
    assert result.function_error == "Unhandled"
    error = json.loads(result.payload)
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == 'boom: {"x": 1}'
    assert any("raise ValueError" in line for line in error["stackTrace"])


def test_import_errors_are_reported_like_lambda(plane_and_service):
    _, service, _ = plane_and_service
    assert json.loads(service.invoke("badmodule", b"{}").payload)["errorType"] == "Runtime.ImportModuleError"
    assert json.loads(service.invoke("missing", b"{}").payload)["errorType"] == "Runtime.HandlerNotFound"


def test_timeout_kills_the_worker_and_the_next_call_cold_starts(plane_and_service):
    _, service, _ = plane_and_service
    result = service.invoke("slow", b'{"seconds": 5}')
    assert result.function_error == "Unhandled"
    error = json.loads(result.payload)
    assert error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in error["errorMessage"]
    again = service.invoke("slow", b'{"seconds": 0}')
    assert again.ok and again.cold_start


def test_a_crashed_worker_is_an_exit_error_and_is_replaced(plane_and_service):
    _, service, _ = plane_and_service
    result = service.invoke("crash", b"{}")
    assert json.loads(result.payload)["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in json.loads(result.payload)["errorMessage"]


def test_function_output_goes_to_the_log_with_its_name(plane_and_service, lines):
    _, service, _ = plane_and_service
    assert service.invoke("noisy", b"{}").ok
    # The worker's stdout and stderr are forwarded by their own threads, as CloudWatch receives them: soon, not
    # necessarily before the invoke answers.
    wait_until(lambda: "[noisy] to stderr" in lines and "[noisy] hello from the handler" in lines, timeout=10)
    assert "[noisy] hello from the handler" in lines
    assert "[noisy] to stderr" in lines
    assert any(" invoke noisy source=direct batch=1 outcome=ok " in line for line in lines)


def test_reserved_concurrency_throttles_what_it_cannot_run(plane_and_service):
    """At its reserved concurrency a function throttles (429 TooManyRequestsException), it does not queue the call
    (docs.aws.amazon.com/lambda/latest/api/API_Invoke.html; shared/notes/aws-semantics.md section 10)."""
    _, service, _ = plane_and_service
    results: list[InvokeResult] = []
    started = threading.Barrier(4)

    def call() -> None:
        started.wait()
        results.append(service.invoke("pair", b'{"seconds": 2}'))

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.status_code for r in results) == [200, 200, 429, 429], [r.payload for r in results]
    throttled = [json.loads(r.payload) for r in results if r.status_code == 429]
    assert throttled[0]["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert all(r.ok for r in results if r.status_code == 200), [r.payload for r in results]
    assert len({json.loads(r.payload)["pid"] for r in results if r.status_code == 200}) <= 2


def test_a_dead_idle_environment_is_replaced_not_handed_work(plane_and_service):
    """An environment whose process died while idle is discarded: the next invoke cold-starts a new one instead of
    failing with Runtime.ExitError (Lambda never sends work to a dead environment)."""
    _, service, _ = plane_and_service
    first = service.invoke("echo", b'{"n": 1}')
    assert first.ok
    pid = json.loads(first.payload)["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not _alive(pid), timeout=10, what="the idle environment to die")
    second = service.invoke("echo", b'{"n": 2}')
    assert second.ok, second.payload
    assert second.cold_start and json.loads(second.payload)["pid"] != pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie still answers kill(0) until its parent reaps it
        return stat.read().split()[2] != "Z"


def test_zero_reserved_concurrency_throttles(plane_and_service):
    _, service, _ = plane_and_service
    assert service.invoke("throttled", b"{}").status_code == 429


def test_unknown_functions_are_named_in_the_error(plane_and_service):
    _, service, _ = plane_and_service
    with pytest.raises(UnknownFunctionError, match="nope"):
        service.invoke("nope", b"{}")
    assert service.get("arn:aws:lambda:us-east-1:000000000000:function:echo:$LATEST").name == "echo"


def test_boto3_invoke_against_the_data_plane(plane_and_service):
    plane, _, api = plane_and_service
    lam = boto3.client(
        "lambda",
        endpoint_url=plane.endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    response = lam.invoke(FunctionName="echo", Payload=b'{"via": "boto3"}')
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    assert json.loads(response["Payload"].read())["event"] == {"via": "boto3"}
    failed = lam.invoke(FunctionName="boom", Payload=b"{}")
    assert failed["FunctionError"] == "Unhandled"
    queued = lam.invoke(FunctionName="echo", InvocationType="Event", Payload=b'{"later": true}')
    assert queued["StatusCode"] == 202
    assert api.queued[-1] == ("echo", b'{"later": true}')
    assert lam.invoke(FunctionName="echo", InvocationType="DryRun")["StatusCode"] == 204
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName="nope", Payload=b"{}")
    sqs = boto3.client(
        "sqs",
        endpoint_url=plane.endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    assert "QueueUrl" in sqs.create_queue(QueueName="gateway-passes-other-calls")


def test_an_init_failure_discards_the_environment_and_init_runs_again(plane_and_service, tmp_path):
    """Lambda retries init on the next invoke after an init failure; once its cause is gone the function works
    (docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html; aws-semantics.md section 8)."""
    _, service, _ = plane_and_service
    marker = tmp_path / "config-ready"
    service.register(
        FunctionSpec(
            name="flaky",
            arn="arn:aws:lambda:us-east-1:000000000000:function:flaky",
            handler="flaky_init.handler",
            code_dir=CODE,
            environment={"FLAKY_INIT_MARKER": str(marker)},
        )
    )
    first = service.invoke("flaky", b"{}")
    # Lambda's Python runtime reports an exception raised at import under its own type (ImportError alone becomes
    # Runtime.ImportModuleError), with an empty requestId: no invocation had started.
    assert first.function_error == "Unhandled"
    assert json.loads(first.payload)["errorType"] == "RuntimeError"
    assert json.loads(first.payload)["errorMessage"] == "configuration not there yet"
    assert json.loads(first.payload)["requestId"] == ""
    marker.write_text("ok")
    second = service.invoke("flaky", b"{}")
    assert second.ok and json.loads(second.payload)["initialised"] is True
    assert second.cold_start


def test_an_unserialisable_result_is_a_marshal_error(plane_and_service):
    _, service, _ = plane_and_service
    result = service.invoke("unmarshalable", b"{}")
    error = json.loads(result.payload)
    assert result.function_error == "Unhandled"
    assert error["errorType"] == "Runtime.MarshalError"
    assert error["errorMessage"].startswith("Unable to marshal response: Object of type set is not JSON serializable")


def test_a_payload_that_is_not_utf8_is_refused_not_corrupted(plane_and_service):
    _, service, _ = plane_and_service
    result = service.invoke("echo", b'{"text": "\xff\xfe"}')
    assert result.status_code == 400
    assert "Could not parse request body into json" in json.loads(result.payload)["message"]


def test_a_function_over_its_memory_size_fails_with_out_of_memory(plane_and_service):
    """Lambda stops an environment that exceeds the function's memory (Runtime.OutOfMemory, aws-semantics.md 8)."""
    _, service, _ = plane_and_service
    result = service.invoke("hog", b'{"mb": 400}')
    error = json.loads(result.payload)
    assert result.function_error == "Unhandled"
    assert error["errorType"] == "Runtime.OutOfMemory"
    assert "signal: killed" in error["errorMessage"]
    assert service.invoke("echo", b"{}").ok  # the other functions are unaffected


def test_a_timeout_kills_the_handlers_children_too(plane_and_service, lines):
    _, service, _ = plane_and_service
    result = service.invoke("spawner", b"{}")
    assert json.loads(result.payload)["errorType"] == "Sandbox.Timedout"
    found = wait_until(
        lambda: next((line for line in lines if "[spawner] child pid" in line), None), timeout=10, what="the child"
    )
    child = int(found.rsplit(" ", 1)[1])
    wait_until(lambda: not _alive(child), timeout=10, what="the handler's child process to be killed with it")


def test_idle_environments_are_shut_down_after_the_ttl(tmp_path):
    plane = DataPlane()
    plane.start()
    service = LambdaService(endpoint_url=plane.endpoint, idle_ttl_seconds=0.3)
    try:
        service.register(spec("echo", "echo"))
        pid = json.loads(service.invoke("echo", b"{}").payload)["pid"]
        wait_until(lambda: not _alive(pid), timeout=10, what="the idle environment to be reaped")
        again = service.invoke("echo", b"{}")
        assert again.ok and again.cold_start
    finally:
        service.close()
        plane.stop()


def test_a_layers_python_folder_is_importable_after_the_functions_own_code(plane_and_service):
    """A Python layer's packages live in python/ (docs.aws.amazon.com/lambda/latest/dg/packaging-layers.html)."""
    _, service, _ = plane_and_service
    service.register(spec("layered", "uses_layer", layer_dirs=(CODE / "layer",)))
    result = service.invoke("layered", b'{"name": "ada"}')
    assert result.ok, result.payload
    assert json.loads(result.payload) == "hello ada from the layer"
    service.register(spec("unlayered", "uses_layer"))
    assert json.loads(service.invoke("unlayered", b"{}").payload)["errorType"] == "ModuleNotFoundError"

"""The local Lambda service speaks Lambda's Runtime API to each execution environment, and the Python environments
run AWS's runtime interface client (awslambdaric) against it: the context object, the error documents and the
limits are the ones Lambda's Python runtime produces.

Source: docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html, .../python-context.html, .../python-exceptions.html.
"""

from __future__ import annotations

import http.client
import json
import threading
from pathlib import Path

import pytest

from eventweave.local.functions import LambdaService
from eventweave.local.model import FunctionSpec
from eventweave.local.runtime_api import RuntimeApi, RuntimeInvocation, deadline_ms

CODE = Path(__file__).parent / "fixtures"
ARN = "arn:aws:lambda:us-east-1:000000000000:function:{}"


@pytest.fixture(scope="module")
def service():
    lambdas = LambdaService(endpoint_url="http://127.0.0.1:1")
    for name, handler in [("context", "fn.context_view"), ("boom", "fn.boom"), ("large", "fn.too_large")]:
        lambdas.register(FunctionSpec(name=name, arn=ARN.format(name), handler=handler, code_dir=CODE, memory_mb=256))
    yield lambdas
    lambdas.close()


def test_the_handler_gets_awslambdarics_context(service):
    result = service.invoke("context", b"{}")
    assert result.ok, result.payload
    seen = json.loads(result.payload)
    assert seen["module"].startswith("awslambdaric")
    assert seen["arn"] == ARN.format("context")
    assert (seen["memory"], seen["version"], seen["log_group"]) == ("256", "$LATEST", "/aws/lambda/context")
    assert seen["trace"].startswith("Root=1-")


def test_a_handler_error_is_lambdas_error_document(service):
    result = service.invoke("boom", b'{"n": 1}')
    error = json.loads(result.payload)
    assert result.function_error == "Unhandled"
    assert error["errorType"] == "ValueError" and error["errorMessage"] == 'boom: {"n": 1}'
    assert error["requestId"] == result.request_id
    assert any("fn.py" in line for line in error["stackTrace"])


def test_a_response_over_six_megabytes_fails_the_invocation(service):
    result = service.invoke("large", b"{}")
    error = json.loads(result.payload)
    assert result.function_error == "Unhandled"
    assert error["errorType"] == "Function.ResponseSizeTooLarge"
    assert service.invoke("context", b"{}").ok  # the service is fine afterwards


def _request(address: str, method: str, path: str, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection(address, timeout=10)
    connection.request(method, path, body)
    response = connection.getresponse()
    return response.status, dict(response.getheaders()), response.read()


def test_the_runtime_api_hands_over_one_invocation_and_takes_its_response():
    api = RuntimeApi()
    api.start()
    try:
        got: list[tuple[int, dict[str, str], bytes]] = []
        poll = threading.Thread(
            target=lambda: got.append(_request(api.address, "GET", "/2018-06-01/runtime/invocation/next"))
        )
        poll.start()
        assert api.wait_ready(timeout=10) is None  # the runtime asked for work: init is over
        api.submit(RuntimeInvocation("req-1", b'{"n": 1}', deadline_ms(3), ARN.format("f"), "Root=1-x"))
        poll.join(10)
        status, headers, body = got[0]
        assert (status, body) == (200, b'{"n": 1}')
        assert headers["Lambda-Runtime-Aws-Request-Id"] == "req-1"
        assert headers["Lambda-Runtime-Invoked-Function-Arn"] == ARN.format("f")
        assert int(headers["Lambda-Runtime-Deadline-Ms"]) > 0
        wrong = _request(api.address, "POST", "/2018-06-01/runtime/invocation/other/response", b"1")
        assert wrong[0] == 400 and json.loads(wrong[2])["errorType"] == "InvalidRequestID"
        assert _request(api.address, "POST", "/2018-06-01/runtime/invocation/req-1/response", b"42")[0] == 202
        outcome = api.wait_result(timeout=5)
        assert outcome is not None and (outcome.kind, outcome.body) == ("response", b"42")
    finally:
        api.close()


def test_an_init_error_posted_to_the_runtime_api_ends_init():
    api = RuntimeApi()
    api.start()
    try:
        document = {"errorMessage": "Unable to import module 'x'", "errorType": "Runtime.ImportModuleError"}
        status, _, _ = _request(api.address, "POST", "/2018-06-01/runtime/init/error", json.dumps(document).encode())
        assert status == 202
        outcome = api.wait_ready(timeout=5)
        assert outcome is not None and outcome.kind == "init_error"
        assert outcome.error_document()["errorType"] == "Runtime.ImportModuleError"
    finally:
        api.close()


@pytest.mark.parametrize(
    ("requirements", "imports"),
    [
        (None, False),  # a plain function: its asset and the runtime's packages only
        (("boto3",), False),  # an eventweave function whose requirements do not name it
        (("pydantic==2",), True),  # named: it and its dependencies come from the host, as a bundle would hold them
        (("aws-lambda-powertools", "pydantic>=2"), True),
    ],
    ids=["plain function", "not in requirements", "in requirements", "in requirements with others"],
)
def test_a_function_imports_only_what_lambda_would_give_it(requirements, imports):
    lambdas = LambdaService(endpoint_url="http://127.0.0.1:1")
    try:
        lambdas.register(
            FunctionSpec(
                name="needs",
                arn=ARN.format("needs"),
                handler="needs_pydantic.handler",
                code_dir=CODE,
                requirements=requirements,
            )
        )
        result = lambdas.invoke("needs", b"{}")
        if imports:
            assert result.ok, result.payload
            return
        error = json.loads(result.payload)
        assert error["errorType"] == "Runtime.ImportModuleError"
        assert error["errorMessage"] == "Unable to import module 'needs_pydantic': No module named 'pydantic'"
    finally:
        lambdas.close()


def test_the_switch_lets_a_function_import_the_hosts_packages():
    lambdas = LambdaService(endpoint_url="http://127.0.0.1:1", lambda_imports=False)
    try:
        lambdas.register(
            FunctionSpec(name="needs", arn=ARN.format("needs"), handler="needs_pydantic.handler", code_dir=CODE)
        )
        assert lambdas.invoke("needs", b"{}").ok
    finally:
        lambdas.close()

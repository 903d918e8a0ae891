"""The data plane: moto's server on 127.0.0.1, with Lambda's API answered by eventweave instead.

moto stores SQS, SNS, EventBridge, Kinesis, DynamoDB (+ Streams), IAM, KMS and Logs state faithfully, but its Lambda
``Invoke`` needs Docker, and its Lambda backend knows nothing of the functions and mappings eventweave runs. A small
WSGI layer in front of moto's application sends ``POST /2015-03-31/functions/{name}/invocations`` to eventweave's
Lambda service (synchronous) or async queue (``Event``), and the rest of Lambda's API (``/2015-03-31/...``,
``/2017-10-31/...``, ``/2019-09-25/...``, ...) to :class:`~eventweave.local.lambda_control.LambdaControlPlane`
(functions, event source mappings, concurrency, async settings), so any boto3 client pointed at the endpoint
invokes and manages the app's functions as it would in AWS; every other request reaches moto unchanged.
"""

from __future__ import annotations

import io
import json
import logging
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote

from .aws import register_in_process, unregister_in_process
from .lambda_control import LambdaControlPlane, LambdaRuntime, Response, status_line
from .model import InvokeResult, UnknownFunctionError

__all__ = ["DataPlane", "LambdaApi", "UnknownFunctionError"]

_INVOKE = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")

StartResponse = Callable[..., Any]


class LambdaApi(LambdaRuntime, Protocol):
    """What the gateway needs from the Lambda side: invocations, and what the control plane reads and changes
    (:class:`~eventweave.local.lambda_control.LambdaRuntime`); :class:`eventweave.local.cloud.LocalCloud` provides
    it."""

    def invoke_sync(self, function_name: str, payload: bytes) -> InvokeResult: ...

    def invoke_async(self, function_name: str, payload: bytes) -> None: ...


class _Gateway:
    def __init__(self, moto_app: Any, plane: DataPlane) -> None:
        self.moto_app = moto_app
        self.plane = plane
        self._dynamodb = plane.dynamodb_lock

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        match = _INVOKE.match(path)
        api = self.plane.lambda_api
        control = self.plane.control
        invoke = match is not None and environ.get("REQUEST_METHOD") == "POST"
        if not invoke and control is not None and LambdaControlPlane.recognises(path):
            return self._control(control, environ, start_response)
        if match is None or not invoke or api is None:
            if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):  # and DynamoDBStreams_
                with self._dynamodb:
                    return list(self.moto_app(environ, start_response))
            result: Iterable[bytes] = self.moto_app(environ, start_response)
            return result
        name = unquote(match.group("name"))
        length = int(environ.get("CONTENT_LENGTH") or 0)
        payload = environ["wsgi.input"].read(length) if length else b""
        kind = environ.get("HTTP_X_AMZ_INVOCATION_TYPE", "RequestResponse")
        try:
            if kind == "DryRun":
                self.plane.check_function(name)
                start_response("204 No Content", [("Content-Length", "0")])
                return [b""]
            if kind == "Event":
                api.invoke_async(name, payload)
                start_response("202 Accepted", [("Content-Length", "0")])
                return [b""]
            outcome = api.invoke_sync(name, payload)
        except UnknownFunctionError as error:
            body = json.dumps({"Type": "User", "Message": str(error)}).encode()
            start_response(
                "404 Not Found",
                [
                    ("Content-Type", "application/json"),
                    ("X-Amzn-ErrorType", "ResourceNotFoundException"),
                    ("Content-Length", str(len(body))),
                ],
            )
            return [body]
        headers = [
            ("Content-Type", "application/json"),
            ("X-Amz-Executed-Version", "$LATEST"),
            ("Content-Length", str(len(outcome.payload))),
        ]
        if outcome.function_error:
            headers.append(("X-Amz-Function-Error", outcome.function_error))
        if outcome.status_code == 429:
            headers.append(("X-Amzn-ErrorType", "TooManyRequestsException"))
            start_response("429 Too Many Requests", headers)
            return [outcome.payload]
        if outcome.status_code == 400:
            headers.append(("X-Amzn-ErrorType", "InvalidRequestContentException"))
            start_response("400 Bad Request", headers)
            return [outcome.payload]
        start_response(f"{outcome.status_code} OK", headers)
        return [outcome.payload]

    def _control(
        self, control: LambdaControlPlane, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))

        def moto() -> Response:
            # The body was read: moto gets it again from a fresh stream.
            captured: dict[str, Any] = {}

            def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
                captured["status"], captured["headers"] = status, headers
                return lambda _: None

            replay = dict(environ, **{"wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))})
            chunks = b"".join(self.moto_app(replay, capture))
            return int(str(captured["status"]).split(" ", 1)[0]), list(captured["headers"]), chunks

        status, headers, answer = control.handle(
            environ.get("REQUEST_METHOD", "GET"), unquote(environ.get("PATH_INFO", "")), query, body, moto
        )
        start_response(status_line(status), headers)
        return [answer]


class DataPlane:
    """moto's server on ``127.0.0.1`` (a free port by default), with Lambda invokes routed to ``lambda_api``.

    Example::

        plane = DataPlane(lambda_api=cloud)
        endpoint = plane.start()          # "http://127.0.0.1:50311"
        boto3.client("sqs", endpoint_url=endpoint).create_queue(QueueName="q")
        plane.stop()
    """

    def __init__(
        self,
        *,
        port: int = 0,
        lambda_api: LambdaApi | None = None,
        function_exists: Callable[[str], bool] | None = None,
    ) -> None:
        self.port = port
        self.lambda_api = lambda_api
        self.control = LambdaControlPlane(lambda_api) if lambda_api is not None else None
        """Lambda's control plane for what ``lambda_api`` runs (``None`` without one: moto answers)."""
        self.function_exists = function_exists
        self.endpoint = ""
        self.dynamodb_lock = threading.Lock()
        """DynamoDB applies each write atomically (conditions, ADD counters, transactions); moto's backend does not
        lock, and the server is threaded, so concurrent handlers could lose updates. Held around every DynamoDB
        request (HTTP or in-process): one at a time keeps DynamoDB's per-request atomicity; other services stay
        concurrent."""
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def check_function(self, name: str) -> None:
        """Raise :class:`UnknownFunctionError` unless ``name`` is deployed (when a checker was given)."""
        if self.function_exists is not None and not self.function_exists(name):
            raise UnknownFunctionError(f"Function not found: {name}")

    def start(self) -> str:
        """Serve on 127.0.0.1 and return the endpoint URL."""
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        from . import _moto_clock, _moto_fixes

        _moto_clock.install()  # same time values, ~100x cheaper: moto's SQS reads the clock per message on a receive
        _moto_fixes.install()  # Binary attributes on SNS raw delivery; the whole EventBridge envelope to SQS targets
        # moto's request handler logs every request at INFO; the local cloud logs invocations instead.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        app = _Gateway(DomainDispatcherApplication(create_backend_app), self)
        self._server = make_server("127.0.0.1", self.port, app, True, request_handler=MotoRequestHandler)
        host, port = self._server.server_address[:2]
        self.endpoint = f"http://{host}:{port}"
        register_in_process(self.endpoint, self.dynamodb_lock)
        self._thread = threading.Thread(target=self._server.serve_forever, name="eventweave-data-plane", daemon=True)
        self._thread.start()
        return self.endpoint

    def stop(self) -> None:
        """Stop serving (moto's in-memory state stays with the process)."""
        if self.endpoint:
            unregister_in_process(self.endpoint)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def environ(self) -> dict[str, str]:
        """Environment for a process that should talk to this data plane with boto3."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
        }

    def __enter__(self) -> DataPlane:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""The Lambda Runtime API, served by the local Lambda service to each execution environment.

Lambda's contract with a runtime is an HTTP API on ``AWS_LAMBDA_RUNTIME_API``: the runtime asks for the next
invocation (``GET /2018-06-01/runtime/invocation/next``, which blocks until there is one), then posts the result
(``/invocation/{id}/response``) or the error (``/invocation/{id}/error``); an init failure is posted to
``/runtime/init/error``. Locally each environment gets its own :class:`RuntimeApi` on a free port of 127.0.0.1, and the
Python environments run AWS's own runtime interface client (``awslambdaric``) against it, so the context object, the
error shapes (``errorType``, ``errorMessage``, ``requestId``, ``stackTrace``), ``Runtime.ImportModuleError`` and
``Runtime.MarshalError`` are the ones Lambda's Python runtime produces.

Source: docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html.

Example::

    api = RuntimeApi()
    api.start()                      # environ: AWS_LAMBDA_RUNTIME_API=api.address
    api.submit(RuntimeInvocation("req-1", b'{"n": 1}', deadline_ms, function_arn))
    outcome = api.wait_result(timeout=3.0)   # RuntimeOutcome(kind="response", body=b'...')
    api.close()
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

__all__ = ["MAX_RESPONSE_BYTES", "RuntimeApi", "RuntimeInvocation", "RuntimeOutcome", "deadline_ms"]

MAX_RESPONSE_BYTES = 6 * 1024 * 1024
"""Lambda's limit on a synchronous response payload."""

_PREFIX = "/2018-06-01/runtime"
_ERROR_TYPE = "Lambda-Runtime-Function-Error-Type"


@dataclass(frozen=True)
class RuntimeInvocation:
    """One invocation handed to the runtime by ``/invocation/next``."""

    request_id: str
    payload: bytes
    deadline_ms: int
    function_arn: str
    trace_id: str = ""
    client_context: str | None = None


@dataclass(frozen=True)
class RuntimeOutcome:
    """What the runtime posted: ``response`` (the body is the result), ``error`` (the body is the error document;
    ``error_type`` its header), or ``init_error`` (init failed; no invocation ran)."""

    kind: Literal["response", "error", "init_error"]
    body: bytes
    error_type: str = ""

    def error_document(self) -> dict[str, Any]:
        """The error as Lambda returns it to the caller (``errorType``, ``errorMessage``...), whatever was posted."""
        try:
            document = json.loads(self.body or b"{}")
        except ValueError:
            document = None
        if not isinstance(document, dict):
            document = {"errorMessage": self.body.decode(errors="replace")}
        if self.error_type and not document.get("errorType"):
            document["errorType"] = self.error_type
        return document


class RuntimeApi:
    """The Runtime API of one execution environment, on ``127.0.0.1`` (a free port): :attr:`address` is what the
    environment gets as ``AWS_LAMBDA_RUNTIME_API``.

    The service side hands over one invocation at a time (:meth:`submit`) and waits for what the runtime posts
    (:meth:`wait_result`); :meth:`wait_ready` waits for the end of init (the first ``next``) or its failure.

    Example::

        api = RuntimeApi()
        api.start()
        if api.wait_ready(timeout=10.0) is None:   # the runtime is waiting for work
            api.submit(RuntimeInvocation("r-1", b"{}", deadline_ms, arn))
            outcome = api.wait_result(timeout=3.0)
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._pending: RuntimeInvocation | None = None
        self._current: str | None = None
        self._outcome: RuntimeOutcome | None = None
        self._init_error: RuntimeOutcome | None = None
        self._waiting = False
        self._closed = False
        self._server = _Server(("127.0.0.1", 0), _Handler, self)
        self.address = "{}:{}".format(*self._server.server_address[:2])
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.5,), daemon=True, name="runtime-api")
        self._thread.start()

    def close(self) -> None:
        """Stop serving; a runtime blocked in ``next`` gets its connection closed."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        self._server.shutdown()
        self._server.server_close()

    # -- the service's side -------------------------------------------------------------------------------------

    def wait_ready(self, timeout: float) -> RuntimeOutcome | None:
        """Wait until init is over: ``None`` once the runtime asks for its first invocation, the init error if it
        posted one; raises :class:`TimeoutError` after ``timeout`` seconds."""
        with self._changed:
            done = self._changed.wait_for(lambda: self._waiting or self._init_error is not None, max(0.0, timeout))
            if not done:
                raise TimeoutError
            return self._init_error

    def submit(self, invocation: RuntimeInvocation) -> None:
        """Hand ``invocation`` to the runtime's next ``next`` (or the one in progress)."""
        with self._changed:
            self._pending = invocation
            self._current = invocation.request_id
            self._outcome = None
            self._changed.notify_all()

    def wait_result(self, timeout: float) -> RuntimeOutcome | None:
        """What the runtime posted for the submitted invocation (an init error counts), or ``None`` if nothing came
        within ``timeout`` seconds."""
        with self._changed:
            self._changed.wait_for(lambda: self._outcome is not None or self._init_error is not None, timeout)
            return self._outcome or self._init_error

    # -- the runtime's side (called from the HTTP handler's threads) ----------------------------------------------

    def _next(self) -> RuntimeInvocation | None:
        with self._changed:
            self._waiting = True
            self._changed.notify_all()
            self._changed.wait_for(lambda: self._pending is not None or self._closed)
            invocation, self._pending = self._pending, None
            return invocation

    def _post(self, request_id: str | None, outcome: RuntimeOutcome) -> bool:
        with self._changed:
            if outcome.kind == "init_error":
                self._init_error = outcome
            elif request_id != self._current or self._outcome is not None:
                return False
            else:
                self._outcome = outcome
            self._changed.notify_all()
            return True


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """An environment killed mid-request (a timeout, OOM, the service stopping) resets its connection: expected."""

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], api: RuntimeApi) -> None:
        self.api = api
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # the runtime client keeps its connection open between invocations
    # Headers and body go out in separate writes: with Nagle's algorithm and the client's delayed ACK each answer
    # would wait ~40 ms.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """The environment's own output is its log; the API's requests are not."""

    def do_GET(self) -> None:
        if self.path != f"{_PREFIX}/invocation/next":
            self._answer(404, {"errorType": "NotFound", "errorMessage": f"unknown path {self.path}"})
            return
        invocation = self.server.api._next()
        if invocation is None:
            self.close_connection = True
            return
        self.send_response(200)
        headers = {
            "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
            "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": invocation.function_arn,
            "Lambda-Runtime-Trace-Id": invocation.trace_id,
            "Content-Type": "application/json",
            "Content-Length": str(len(invocation.payload)),
        }
        if invocation.client_context:
            headers["Lambda-Runtime-Client-Context"] = invocation.client_context
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(invocation.payload)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        error_type = self.headers.get(_ERROR_TYPE, "")
        api = self.server.api
        if self.path == f"{_PREFIX}/init/error":
            api._post(None, RuntimeOutcome("init_error", body, error_type))
            self._answer(202, {"status": "OK"})
            return
        parts = self.path.removeprefix(f"{_PREFIX}/invocation/").split("/")
        if (
            not self.path.startswith(f"{_PREFIX}/invocation/")
            or len(parts) != 2
            or parts[1] not in ("response", "error")
        ):
            self._answer(404, {"errorType": "NotFound", "errorMessage": f"unknown path {self.path}"})
            return
        request_id, what = parts
        if what == "response" and len(body) > MAX_RESPONSE_BYTES:
            # Lambda refuses the response and the invocation fails with this error instead.
            too_large = {
                "errorMessage": f"Response payload size ({len(body)} bytes) exceeded maximum allowed payload size "
                f"({MAX_RESPONSE_BYTES} bytes).",
                "errorType": "Function.ResponseSizeTooLarge",
            }
            api._post(request_id, RuntimeOutcome("error", json.dumps(too_large).encode()))
            self._answer(413, {"errorType": "RequestEntityTooLarge", "errorMessage": too_large["errorMessage"]})
            return
        outcome = RuntimeOutcome("response", body) if what == "response" else RuntimeOutcome("error", body, error_type)
        if not api._post(request_id, outcome):
            self._answer(400, {"errorType": "InvalidRequestID", "errorMessage": "Invalid request ID"})
            return
        self._answer(202, {"status": "OK"})

    def _answer(self, status: int, document: dict[str, Any]) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def deadline_ms(seconds_from_now: float) -> int:
    """Epoch milliseconds ``seconds_from_now`` seconds from now, as ``Lambda-Runtime-Deadline-Ms`` carries."""
    return int((time.time() + max(0.0, seconds_from_now)) * 1000)

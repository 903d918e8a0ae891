"""Function URLs served on localhost: each URL of a deployed app gets its own port, so the decoupled-invocation
pattern (and any function behind a URL) works with curl.

A request becomes Lambda's payload format 2.0 event; the function's answer is read as a Function URL reads it
(a dict with ``statusCode`` is a full response; any other JSON is a 200 ``application/json`` body; a function error
is a 502). ``AWS_IAM`` auth cannot be checked without AWS credentials, so locally every request is let through and the
log line says so: the local front is for a developer's machine, never for a network.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Mapping
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .model import FunctionUrlSpec, Invoker, LogSink

__all__ = ["FunctionUrlServer", "http_event", "http_response"]

_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript", "application/x-www-form")


def http_event(
    method: str,
    target: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    source_ip: str = "127.0.0.1",
    account_id: str = "000000000000",
    url_id: str = "local",
    region: str = "us-east-1",
) -> dict[str, Any]:
    """Lambda's payload format 2.0 event for one HTTP request (the shape Function URLs and HTTP APIs send).

    Example::

        http_event("POST", "/requests?x=1", {"content-type": "application/json"}, b'{"n": 1}')["rawPath"]  # "/requests"
    """
    parts = urlsplit(target)
    lowered: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers.items():
        key = name.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        lowered[key] = f"{lowered[key]},{value}" if key in lowered else value
    query: dict[str, str] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    content_type = lowered.get("content-type", "")
    is_text = not body or content_type.startswith(_TEXT_TYPES)
    try:
        text = body.decode() if is_text else None
    except UnicodeDecodeError:
        text = None
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parts.path or "/",
        "rawQueryString": parts.query,
        "headers": lowered,
        "requestContext": {
            "accountId": account_id,
            "apiId": url_id,
            "domainName": f"{url_id}.lambda-url.{region}.on.aws",
            "domainPrefix": url_id,
            "http": {
                "method": method.upper(),
                "path": parts.path or "/",
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": text is None,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if body:
        event["body"] = text if text is not None else base64.b64encode(body).decode()
    return event


def http_response(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """``(status, headers, body)`` from a function's return value, read as Function URLs read it.

    Example::

        http_response({"statusCode": 202, "headers": {"Location": "/r/1"}, "body": "{}"})  # (202, [...], b"{}")
    """
    if isinstance(result, dict) and "statusCode" in result:
        status = int(result["statusCode"])
        headers = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
        headers += [("Set-Cookie", str(c)) for c in result.get("cookies") or ()]
        raw = result.get("body")
        if raw is None:
            data = b""
        elif result.get("isBase64Encoded"):
            data = base64.b64decode(str(raw))
        else:
            data = (raw if isinstance(raw, str) else json.dumps(raw)).encode()
        if not any(k.lower() == "content-type" for k, _ in headers):
            headers.append(("Content-Type", "application/json"))
        return status, headers, data
    return 200, [("Content-Type", "application/json")], json.dumps(result).encode()


class FunctionUrlServer:
    """Serves one Function URL on ``http://127.0.0.1:<port>/``, invoking the function synchronously per request.

    Example::

        server = FunctionUrlServer(FunctionUrlSpec(function_name="App-Front-1"), lambda_service)
        url = server.start()            # "http://127.0.0.1:49731/"
        ...
        server.stop()
    """

    def __init__(
        self,
        spec: FunctionUrlSpec,
        invoker: Invoker,
        *,
        port: int = 0,
        log: LogSink | None = None,
        account_id: str = "000000000000",
        region: str = "us-east-1",
    ) -> None:
        self.spec = spec
        self.invoker = invoker
        self.port = port
        self.log = log
        self.account_id = account_id
        self.region = region
        self.url = ""
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        """Listen and return the local URL (ends with ``/`` like a Function URL)."""
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                front._serve(self)

            # http.server dispatches on do_<METHOD>; every method goes to the function, as with a Function URL.
            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                return  # one line per invocation comes from _serve instead

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        host, port = self._server.server_address[:2]
        self.url = f"http://{host!s}:{port}/"
        # A short poll interval: shutdown() waits for the serving loop's next poll (0.5 s by default).
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name=f"url-{self.spec.function_name}"
        )
        self._thread.daemon = True
        self._thread.start()
        if self.log is not None and self.spec.auth_type == "AWS_IAM":
            self.log(f"{self.spec.function_name}: URL {self.url} (AuthType AWS_IAM is not verified locally)")
        return self.url

    def stop(self) -> None:
        """Stop listening; requests in flight finish."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        event = http_event(
            request.command,
            request.path,
            dict(request.headers.items()),
            body,
            source_ip=request.client_address[0],
            account_id=self.account_id,
            region=self.region,
        )
        result = self.invoker.invoke(self.spec.function_name, json.dumps(event).encode(), source="url")
        if result.ok:
            try:
                status, headers, data = http_response(json.loads(result.payload or b"null"))
            except (ValueError, TypeError) as error:
                status, headers = 502, [("Content-Type", "application/json")]
                data = json.dumps(
                    {"Message": f"the function's response is not a valid HTTP response: {error}"}
                ).encode()
        else:
            status, headers = 502, [("Content-Type", "application/json")]
            data = json.dumps({"Message": "Internal Server Error"}).encode()
        request.send_response(status)
        for name, value in headers:
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(data)))
        request.send_header("Date", formatdate(usegmt=True))
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(data)

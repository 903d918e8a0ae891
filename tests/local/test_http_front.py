"""The local Function URL front: payload format 2.0 events in, Function URL response rules out."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from eventweave.local.http_front import FunctionUrlServer, http_event, http_response
from eventweave.local.model import FunctionUrlSpec, InvokeResult


class Recorder:
    """A fake Lambda service: answers with ``answer(event)`` and keeps every event it got."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.answer: Any = lambda event: {"statusCode": 201, "headers": {"X-Echo": "yes"}, "body": json.dumps(event)}
        self.error = False

    def invoke(self, function_name: str, payload: bytes, *, source: str = "direct") -> InvokeResult:
        event = json.loads(payload)
        self.events.append(event)
        if self.error:
            return InvokeResult(200, b'{"errorMessage": "boom", "errorType": "ValueError"}', "Unhandled")
        return InvokeResult(200, json.dumps(self.answer(event)).encode())


@pytest.fixture
def front() -> Iterator[tuple[FunctionUrlServer, Recorder]]:
    recorder = Recorder()
    lines: list[str] = []
    server = FunctionUrlServer(FunctionUrlSpec(function_name="front"), recorder, log=lines.append)
    server.start()
    try:
        yield server, recorder
    finally:
        server.stop()


def _call(url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        return urllib.request.urlopen(request, timeout=10)
    except urllib.error.HTTPError as error:
        return error


def test_a_post_reaches_the_function_as_a_format_2_event(front):
    server, recorder = front
    response = _call(server.url + "requests?a=1&a=2&b=", "POST", b'{"n": 1}', {"Content-Type": "application/json"})
    assert response.status == 201
    assert response.headers["X-Echo"] == "yes"
    (event,) = recorder.events
    assert event["version"] == "2.0"
    assert event["rawPath"] == "/requests"
    assert event["rawQueryString"] == "a=1&a=2&b="
    assert event["queryStringParameters"] == {"a": "1,2", "b": ""}
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["headers"]["content-type"] == "application/json"
    assert (event["body"], event["isBase64Encoded"]) == ('{"n": 1}', False)
    assert json.loads(response.read()) == event


def test_binary_bodies_are_base64_encoded(front):
    server, recorder = front
    _call(server.url, "PUT", b"\xff\x00\x01", {"Content-Type": "application/octet-stream"})
    (event,) = recorder.events
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff\x00\x01"


def test_a_plain_json_result_is_a_200_json_body(front):
    server, recorder = front
    recorder.answer = lambda event: {"hello": "world"}
    response = _call(server.url + "x")
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json"
    assert json.loads(response.read()) == {"hello": "world"}


def test_a_function_error_is_a_502(front):
    server, recorder = front
    recorder.error = True
    response = _call(server.url)
    assert response.status == 502
    assert json.loads(response.read()) == {"Message": "Internal Server Error"}


def test_cookies_are_split_out_of_the_headers():
    event = http_event("GET", "/", {"Cookie": "a=1; b=2", "Accept": "x"}, b"")
    assert event["cookies"] == ["a=1", "b=2"]
    assert "cookie" not in event["headers"]
    assert "body" not in event


def test_response_rules():
    assert http_response({"statusCode": 204}) == (204, [("Content-Type", "application/json")], b"")
    status, headers, body = http_response(
        {
            "statusCode": 200,
            "body": base64.b64encode(b"\x00").decode(),
            "isBase64Encoded": True,
            "headers": {"Content-Type": "image/png"},
            "cookies": ["s=1"],
        }
    )
    assert (status, body) == (200, b"\x00")
    assert ("Set-Cookie", "s=1") in headers and ("Content-Type", "image/png") in headers
    assert http_response([1, 2]) == (200, [("Content-Type", "application/json")], b"[1, 2]")

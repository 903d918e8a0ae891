"""Decoupled invocation: an HTTP front that accepts a request at once (202) and a queue worker that does the work.

::

    client --POST /requests--> RequestFront --PutItem PENDING--> requests table <--UpdateItem-- RequestWorker
           <--202 Location-----     |                                                              ^
                                    +--SendMessage {"request_id", "body"}--> task queue ------------+
    client --GET /requests/{id}--> RequestFront --GetItem--> 202 / 200 / 422 / 410 / 404

The front speaks the HTTP payload format 2.0 that Lambda function URLs and API Gateway HTTP APIs share. It checks
only that the body is JSON (at most :data:`MAX_BODY_BYTES`); the worker validates it against its model, so the front
stays generic and ships without the user's code.

What ``GET /requests/{id}`` answers (a JSON body ``{"id", "status", "created_at", "deadline_at", ...}`` each time):

=========  ===========================================================================================
202        ``PENDING`` or ``RUNNING`` and the deadline has not passed (``Retry-After`` says when to ask again)
200        ``SUCCEEDED``; ``result`` holds what the worker returned
422        ``FAILED``: the body did not validate against the worker's model, or the worker raised
           :class:`PermanentError`; ``error`` holds ``{"type", "message"}``
410        ``EXPIRED``: not done by the deadline (``created_at`` + ``EVENTWEAVE_REQUEST_DEADLINE_SECONDS``).
           Gone, not 504: the answer is final, polling again will not help, and a gateway timeout would
           invite retries. A worker never *starts* a request past its deadline; one that started before it
           and finishes after still records its result (its side effects happened), but the answer stays
           410, with ``finished_late: true``, so a client never sees 410 and later 200.
404        no such request (or its record outlived ``EVENTWEAVE_REQUEST_TTL_SECONDS``)
=========  ===========================================================================================

``POST /requests`` answers 202 with ``Location: /requests/{id}``, 400 for a body that is not JSON, 413 above
:data:`MAX_BODY_BYTES`, 503 when the task could not be enqueued (nothing was accepted; retry).

Environment (set by :class:`eventweave.patterns.DecoupledInvocation`): ``EVENTWEAVE_REQUESTS_TABLE`` (both),
``EVENTWEAVE_TASK_QUEUE_URL``, ``EVENTWEAVE_REQUEST_DEADLINE_SECONDS`` (default 900) and
``EVENTWEAVE_REQUEST_TTL_SECONDS`` (default 86400) for the front.
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
import uuid
from functools import cached_property
from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from eventweave.handlers.base import IGNORED, BaseHandler, PayloadValidator, payload_validator
from eventweave.handlers.clients import client
from eventweave.handlers.context import RecordContext, SqsRecordContext, handling
from eventweave.handlers.errors import ConfigurationError, PermanentError
from eventweave.handlers.settings import env_int
from eventweave.handlers.sqs import SqsHandler

__all__ = [
    "DEADLINE_ENV",
    "MAX_BODY_BYTES",
    "REQUESTS_TABLE_ENV",
    "TASK_QUEUE_ENV",
    "TTL_ENV",
    "RequestFront",
    "RequestStore",
    "RequestTask",
    "RequestWorker",
    "front",
]

M = TypeVar("M")

REQUESTS_TABLE_ENV = "EVENTWEAVE_REQUESTS_TABLE"
TASK_QUEUE_ENV = "EVENTWEAVE_TASK_QUEUE_URL"
DEADLINE_ENV = "EVENTWEAVE_REQUEST_DEADLINE_SECONDS"
TTL_ENV = "EVENTWEAVE_REQUEST_TTL_SECONDS"
DEFAULT_DEADLINE_SECONDS = 900
DEFAULT_TTL_SECONDS = 86_400
MAX_BODY_BYTES = 240_000
"""Largest accepted body: the task message (body plus envelope and trace attributes) must fit SQS's 256 KiB."""
MAX_RESULT_BYTES = 350_000
"""Largest stored result: a DynamoDB item holds at most 400 KB."""
_ID = re.compile(r"^[A-Za-z0-9-]{1,64}$")

Status = Literal["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "EXPIRED"]
StartOutcome = Literal["started", "done", "busy", "missing", "expired"]


class RequestTask(BaseModel):
    """The queue message for one request: its id and the client's JSON body, not validated yet."""

    request_id: str
    body: Any


def _json(value: Any) -> str:
    if isinstance(value, BaseModel):
        return value.model_dump_json(by_alias=True)
    return json.dumps(value, default=str, separators=(",", ":"))


class RequestStore:
    """The requests table (partition key ``id``; TTL attribute ``expires_at``): one item per request.

    Example::

        store = RequestStore("requests")
        store.create("0b6c...", deadline_seconds=900, ttl_seconds=86400)
        store.get("0b6c...")["status"]["S"]      # "PENDING"
    """

    def __init__(self, table: str | None = None) -> None:
        table = table or os.environ.get(REQUESTS_TABLE_ENV)
        if not table:
            raise ConfigurationError(
                f"no requests table: set {REQUESTS_TABLE_ENV} (the DecoupledInvocation pattern does) or pass table="
            )
        self.table = table

    def create(self, request_id: str, *, deadline_seconds: int, ttl_seconds: int) -> dict[str, int]:
        now = int(time.time())
        times = {"created_at": now, "deadline_at": now + deadline_seconds, "expires_at": now + ttl_seconds}
        client("dynamodb").put_item(
            TableName=self.table,
            Item={
                "id": {"S": request_id},
                "status": {"S": "PENDING"},
                "attempts": {"N": "0"},
                **{name: {"N": str(value)} for name, value in times.items()},
            },
            ConditionExpression="attribute_not_exists(id)",
        )
        return times

    def get(self, request_id: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = (
            client("dynamodb")
            .get_item(TableName=self.table, Key={"id": {"S": request_id}}, ConsistentRead=True)
            .get("Item")
        )
        return item

    def start(self, request_id: str, *, lease_seconds: int) -> StartOutcome:
        """Claim the request for one attempt (``RUNNING`` with a lease); say why not otherwise."""
        from botocore.exceptions import ClientError

        now = int(time.time())
        try:
            client("dynamodb").update_item(
                TableName=self.table,
                Key={"id": {"S": request_id}},
                UpdateExpression="SET #s = :running, running_until = :lease, updated_at = :now ADD attempts :one",
                ConditionExpression=(
                    "attribute_exists(id) AND deadline_at > :now AND (#s = :pending OR (#s = :running AND "
                    "(attribute_not_exists(running_until) OR running_until < :now)))"
                ),
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":running": {"S": "RUNNING"},
                    ":pending": {"S": "PENDING"},
                    ":lease": {"N": str(now + lease_seconds)},
                    ":now": {"N": str(now)},
                    ":one": {"N": "1"},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            response: dict[str, Any] = dict(error.response)
            old: dict[str, Any] = response.get("Item") or {}
            if not old:
                return "missing"
            status = old.get("status", {}).get("S")
            if status not in ("PENDING", "RUNNING"):
                return "done"
            if int(old.get("deadline_at", {}).get("N", "0")) <= now:
                self._finish(request_id, "EXPIRED", only_if_unfinished=True)
                return "expired"
            return "busy"
        return "started"

    def succeed(self, request_id: str, result: Any) -> None:
        self._finish(request_id, "SUCCEEDED", result=result)

    def fail(self, request_id: str, error: BaseException) -> None:
        self._finish(request_id, "FAILED", error=error)

    def release(self, request_id: str, error: BaseException) -> None:
        """A retryable failure: drop the lease so the redelivered message can start again; note the error."""
        client("dynamodb").update_item(
            TableName=self.table,
            Key={"id": {"S": request_id}},
            UpdateExpression="SET last_error = :e, updated_at = :now REMOVE running_until",
            ConditionExpression="#s = :running",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":e": _error_value(error),
                ":now": {"N": str(int(time.time()))},
                ":running": {"S": "RUNNING"},
            },
        )

    def _finish(
        self,
        request_id: str,
        status: Status,
        *,
        result: Any = None,
        error: BaseException | None = None,
        only_if_unfinished: bool = False,
    ) -> None:
        from botocore.exceptions import ClientError

        values: dict[str, Any] = {":s": {"S": status}, ":now": {"N": str(int(time.time()))}}
        update = "SET #s = :s, updated_at = :now"
        if result is not None:
            values[":r"] = {"S": _json(result)}
            update += ", #r = :r"
        if error is not None:
            values[":e"] = _error_value(error)
            update += ", #e = :e"
        kwargs: dict[str, Any] = {}
        if only_if_unfinished:
            kwargs["ConditionExpression"] = "#s IN (:pending, :running)"
            values.update({":pending": {"S": "PENDING"}, ":running": {"S": "RUNNING"}})
        names = {"#s": "status"}
        if result is not None:
            names["#r"] = "result"
        if error is not None:
            names["#e"] = "error"
        try:
            client("dynamodb").update_item(
                TableName=self.table,
                Key={"id": {"S": request_id}},
                UpdateExpression=update + " REMOVE running_until",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                **kwargs,
            )
        except ClientError as failure:
            if not only_if_unfinished or failure.response.get("Error", {}).get("Code") != (
                "ConditionalCheckFailedException"
            ):
                raise


def _error_value(error: BaseException) -> dict[str, Any]:
    return {"M": {"type": {"S": type(error).__name__}, "message": {"S": str(error)[:4000]}}}


def _response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "body": json.dumps(body, default=str, separators=(",", ":")),
        "isBase64Encoded": False,
    }


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return _response(status, {"error": message}, headers)


class RequestFront(BaseHandler[Any, RecordContext]):
    """The HTTP front of a decoupled invocation (Lambda function URL or API Gateway HTTP API, payload format 2.0).

    ``POST {base_path}`` stores a ``PENDING`` record and enqueues ``{"request_id", "body"}`` for the
    :class:`RequestWorker`; ``GET {base_path}/{id}`` reports on it (see the module's table of answers). The record
    id is the correlation id of everything the request causes, so the front's and the worker's logs join on it.

    The pattern deploys this class as it is (entry ``eventweave.coordination.requests.front``); subclass it to change
    :attr:`base_path` or :attr:`retry_after_seconds`, or to add checks in :meth:`handle`.

    Example::

        front = RequestFront.lambda_handler()
        front({"requestContext": {"http": {"method": "POST"}}, "rawPath": "/requests", "body": '{"text": "hi"}'},
              context)     # {"statusCode": 202, "headers": {"Location": "/requests/6f1c...", ...}, ...}
    """

    source: ClassVar[str] = "http"
    event_source_name: ClassVar[str] = "aws:http"
    base_path: ClassVar[str] = "/requests"
    retry_after_seconds: ClassVar[int] = 2

    def __init__(
        self,
        *,
        table: str | None = None,
        task_queue_url: str | None = None,
        deadline_seconds: int | None = None,
        ttl_seconds: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._table = table
        self._task_queue_url = task_queue_url or os.environ.get(TASK_QUEUE_ENV) or None
        self.deadline_seconds = deadline_seconds or env_int(os.environ, DEADLINE_ENV, DEFAULT_DEADLINE_SECONDS, 1)
        ttl = ttl_seconds or env_int(os.environ, TTL_ENV, DEFAULT_TTL_SECONDS, 1)
        self.ttl_seconds = max(ttl, self.deadline_seconds)

    # Resolved on first use, not at import: a module may hold several entries (a worker function imports this one).
    @cached_property
    def requests(self) -> RequestStore:
        return RequestStore(self._table)

    @property
    def task_queue_url(self) -> str:
        if not self._task_queue_url:
            raise ConfigurationError(f"{type(self).__name__} needs the task queue: set {TASK_QUEUE_ENV}")
        return self._task_queue_url

    def handle(self, message: Any, ctx: RecordContext) -> dict[str, Any]:
        """Accept one request body (already parsed JSON): store it ``PENDING``, enqueue it; return its record."""
        from eventweave.handlers.publish import send_sqs

        request_id = ctx.record_id
        times = self.requests.create(request_id, deadline_seconds=self.deadline_seconds, ttl_seconds=self.ttl_seconds)
        send_sqs(self.task_queue_url, {"request_id": request_id, "body": message})
        return {"id": request_id, "status": "PENDING", **times}

    def __call__(self, event: Any, context: Any) -> dict[str, Any]:
        try:
            http = event["requestContext"]["http"]
            method = str(http["method"]).upper()
            path = str(event.get("rawPath") or http.get("path") or "/")
        except (KeyError, TypeError):
            self.logger.warning("not an HTTP (payload format 2.0) event: %.300r", event)
            return _error(400, "not an HTTP request")
        path = path.rstrip("/") or "/"
        base = self.base_path.rstrip("/")
        if path == base:
            if method != "POST":
                return _error(405, f"use POST {base}", {"Allow": "POST"})
            return self._post(event, context)
        if path.startswith(base + "/") and "/" not in path[len(base) + 1 :]:
            if method not in ("GET", "HEAD"):
                return _error(405, f"use GET {path}", {"Allow": "GET"})
            try:
                return self._get(path[len(base) + 1 :])
            except Exception:
                self.logger.exception("could not read request %s", path)
                return _error(503, "the request's status could not be read; retry", {"Retry-After": "5"})
        return _error(404, f"no route for {method} {path}; POST {base} or GET {base}/{{id}}")

    def _post(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        raw = event.get("body")
        if event.get("isBase64Encoded") and isinstance(raw, str):
            try:
                raw = base64.b64decode(raw, validate=True).decode()
            except ValueError:
                return _error(400, "the body is not valid base64-encoded UTF-8")
        if not isinstance(raw, str) or not raw.strip():
            return _error(400, "the request needs a JSON body")
        if len(raw.encode()) > MAX_BODY_BYTES:
            return _error(413, f"the body is over {MAX_BODY_BYTES} bytes; store large inputs in S3 and send a key")
        try:
            body = json.loads(raw)
        except ValueError as error:
            return _error(400, f"the body is not JSON: {error}")
        request_id = str(uuid.uuid4())
        ctx = RecordContext({"body": body}, request_id, request_id, "aws:http", context)
        with handling(ctx):  # published messages (and log lines) carry the request id as their correlation id
            try:
                record = self.handle(body, ctx)
            except PermanentError as error:
                return _error(422, str(error))
            except Exception:
                self.logger.exception("request %s could not be accepted", request_id)
                return _error(503, "the request could not be accepted; retry", {"Retry-After": "5"})
        location = f"{self.base_path.rstrip('/')}/{request_id}"
        headers = {"Location": location, "Retry-After": str(self.retry_after_seconds)}
        self.logger.info("request %s accepted", request_id, extra={"correlation_id": request_id})
        return _response(202, {**record, "location": location}, headers)

    def _get(self, request_id: str) -> dict[str, Any]:
        if not _ID.match(request_id):
            return _error(404, "no such request")
        item = self.requests.get(request_id)
        now = int(time.time())
        if item is None or int(item.get("expires_at", {}).get("N", "0")) <= now:
            return _error(404, "no such request")
        status = item["status"]["S"]
        doc: dict[str, Any] = {
            "id": request_id,
            "status": status,
            "created_at": int(item["created_at"]["N"]),
            "deadline_at": int(item["deadline_at"]["N"]),
        }
        finished_at = int(item.get("updated_at", {}).get("N", "0"))
        if status in ("SUCCEEDED", "FAILED") and finished_at >= doc["deadline_at"]:
            # Finished after the client was told 410: the result stays recorded, the answer stays 410 (final).
            doc["status"] = "EXPIRED"
            doc["finished_late"] = True
            return _response(410, doc)
        if status == "SUCCEEDED":
            raw = item.get("result", {}).get("S")
            doc["result"] = json.loads(raw) if raw is not None else None
            return _response(200, doc)
        if status == "FAILED":
            error = item.get("error", {}).get("M", {})
            doc["error"] = {"type": error.get("type", {}).get("S"), "message": error.get("message", {}).get("S")}
            return _response(422, doc)
        if status == "EXPIRED" or now >= doc["deadline_at"]:
            doc["status"] = "EXPIRED"
            return _response(410, doc)
        doc["attempts"] = int(item.get("attempts", {}).get("N", "0"))
        return _response(202, doc, {"Retry-After": str(self.retry_after_seconds)})


front = RequestFront.lambda_handler()
"""The entry Lambda calls for the built-in front (``eventweave.coordination.requests.front``)."""


class RequestWorker(SqsHandler[RequestTask], Generic[M]):
    """Does the work of a decoupled request and records the outcome for ``GET /requests/{id}``.

    Implement :meth:`work`; its return value (JSON-able or a pydantic model, at most :data:`MAX_RESULT_BYTES`) becomes
    the ``SUCCEEDED`` result. The base marks the request ``RUNNING`` first (a claim with a lease, so a duplicate
    delivery does not run it twice concurrently), validates the client's body against ``M`` (``FAILED`` with the
    validation error if it does not match; that is the client's mistake, so it is not sent to the DLQ), and records
    ``FAILED`` when ``work`` raises :class:`PermanentError` (which then goes to the DLQ, as everywhere in
    eventweave). Any other exception is retried by SQS; the request stays ``RUNNING`` until it succeeds, fails for
    good, or passes its deadline. A request already finished, expired or unknown is skipped.

    Example::

        class Summarize(RequestWorker[SummaryRequest]):
            def work(self, request: SummaryRequest, ctx: SqsRecordContext) -> Summary:
                return Summary(words=len(request.text.split()))

        summarize = Summarize.lambda_handler()
    """

    _request_: ClassVar[PayloadValidator] = payload_validator(Any)

    @classmethod
    def _payload_type(cls, declared: Any) -> Any:
        if declared is not RequestTask:
            cls._request_ = payload_validator(declared)
        return RequestTask

    def __init__(self, *, table: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._table = table

    @cached_property
    def requests(self) -> RequestStore:
        return RequestStore(self._table)

    def work(self, request: M, ctx: SqsRecordContext) -> Any:
        """Do the work of one request; return its result."""
        raise NotImplementedError

    def handle(self, message: RequestTask, ctx: SqsRecordContext) -> Any:
        request_id = message.request_id
        lease = max(5, ctx.remaining_time_ms() // 1000 + 1)
        outcome = self.requests.start(request_id, lease_seconds=lease)
        if outcome != "started":
            self.logger.info("request %s not started: %s", request_id, outcome)
            return IGNORED
        try:
            request = self._request_.from_python(message.body)
        except ValidationError as error:
            self.logger.warning("request %s does not match %s: %s", request_id, self._request_.type_, error)
            self.requests.fail(request_id, error)
            return IGNORED
        try:
            result = self.work(request, ctx)
        except PermanentError as error:
            self.requests.fail(request_id, error)
            raise
        except Exception as error:
            try:
                self.requests.release(request_id, error)
            except Exception:
                self.logger.exception("request %s: could not release its lease; it expires by itself", request_id)
            raise
        if result is IGNORED:
            result = None
        if len(_json(result).encode()) > MAX_RESULT_BYTES:
            too_large = PermanentError(
                f"the result of request {request_id} is over {MAX_RESULT_BYTES} bytes; store it in S3 and return a key"
            )
            self.requests.fail(request_id, too_large)
            raise too_large
        self.requests.succeed(request_id, result)
        return None

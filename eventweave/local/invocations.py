"""Asynchronous invocation (Lambda's internal event queue) and the push relays (SNS and EventBridge deliveries
moto cannot make).

Async: an event is accepted at once (202), run by a worker pool, retried on a function error up to
``MaximumRetryAttempts`` with a delay between attempts (AWS waits about 1 then 2 minutes; locally
``retry_delays``), dropped to failure when older than ``MaximumEventAgeInSeconds``; the on-success / on-failure
destination then gets AWS's invocation record (SQS body, SNS message, EventBridge ``detail``, or a Lambda payload),
or, with no on-failure destination, the function's DLQ gets the event with ``RequestID`` / ``ErrorCode`` /
``ErrorMessage`` attributes. With neither, the event is discarded as in AWS, and the log says so.

Push: the deployer subscribed a relay queue (raw delivery off) or targeted it from a rule; the relay turns each
relayed message into the event the target expects (Lambda's SNS event, the transformed EventBridge event) and hands
it to the async queue or publishes it to the SNS topic. A relay message is deleted only after the hand-off; one that
keeps failing past the target's retry policy goes to the target's dead-letter queue. An EventBridge event is handed
on with the whole documented envelope (``version``, ``id``, ``detail-type``, ``source``, ``account``, ``time``,
``region``, ``resources``, ``detail``), whatever the data plane left out. A receive from a relay queue that fails is
counted per target (:meth:`PushRelay.status`), journaled and retried with backoff.

Every record is built by :mod:`eventweave.wire`: destination records, the EventBridge destination entry
(``source: "aws.lambda"``), the function DLQ message, the SNS -> Lambda record.
"""

from __future__ import annotations

import datetime as dt
import functools
import heapq
import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from eventweave.wire.destinations import async_dlq_message, async_record, destination_event_entry
from eventweave.wire.eventbridge import event as eventbridge_event
from eventweave.wire.eventbridge import is_event
from eventweave.wire.sns import lambda_record, parse_notification

from .aws import client
from .model import AsyncConfig, FunctionSpec, Invoker, InvokeResult, LogSink, PushTarget, UnknownFunctionError
from .sources import FailureCounter, PollError, RelayThreads, relay_loop
from .trace import Journal

__all__ = ["AsyncInvoker", "PushRelay", "json_path", "normalise_event", "transform_input"]


def _client(service: str, endpoint_url: str, region: str) -> Any:
    return client(service, endpoint_url, region)


_REQUEUE_MAX_SECONDS = 300.0
"""The longest wait between two tries of a throttled asynchronous event (AWS: 1 s growing to 5 minutes)."""


@dataclass(order=True)
class _Event:
    due: float
    seq: int
    function: str = field(compare=False)
    payload: bytes = field(compare=False)
    request_id: str = field(compare=False)
    accepted: float = field(compare=False)
    attempts: int = field(compare=False, default=0)
    source: str = field(compare=False, default="async")
    requeues: int = field(compare=False, default=0)
    """Throttles and service errors so far: they set the backoff, not the retry count."""


class AsyncInvoker:
    """Lambda's asynchronous invocation queue for the local cloud.

    Example::

        queue = AsyncInvoker(lambda_service, endpoint_url=endpoint)
        queue.configure("resize", AsyncConfig(maximum_retry_attempts=1), function_arn=arn, dead_letter_arn=None)
        queue.start()
        queue.submit("resize", b'{"key": "a.png"}')
        queue.wait_idle(10)
    """

    def __init__(
        self,
        invoker: Invoker,
        *,
        endpoint_url: str,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        log: LogSink | None = None,
        retry_delays: tuple[float, ...] = (1.0, 2.0),
        workers: int = 4,
    ) -> None:
        self.invoker = invoker
        self.endpoint_url = endpoint_url
        self.region = region
        self.account_id = account_id
        self.log = log
        self.retry_delays = retry_delays or (0.0,)
        self._configs: dict[str, tuple[AsyncConfig, str, str | None]] = {}
        self._queue: list[_Event] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._in_flight = 0
        self._stop = False
        self._threads: list[threading.Thread] = []
        self._workers = workers
        self._clients: dict[str, Any] = {}

    def configure(
        self, function_name: str, config: AsyncConfig, *, function_arn: str, dead_letter_arn: str | None = None
    ) -> None:
        """Set the async settings of a function (AWS defaults until configured)."""
        with self._cond:
            self._configs[function_name] = (config, function_arn, dead_letter_arn)

    def submit(self, function_name: str, payload: bytes, *, source: str = "async") -> str:
        """Queue one event; return its request id at once, as a 202 does."""
        request_id = str(uuid.uuid4())
        now = time.time()
        with self._cond:
            heapq.heappush(
                self._queue,
                _Event(time.monotonic(), next(self._seq), function_name, payload, request_id, now, source=source),
            )
            self._cond.notify()
        return request_id

    def start(self) -> None:
        """Start the worker threads."""
        self._stop = False
        for i in range(self._workers):
            thread = threading.Thread(target=self._loop, name=f"async-invoke-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop after the invocations in flight; queued events are dropped (the local cloud is going away)."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=60)
        self._threads.clear()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until nothing is queued or running; ``False`` on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.1))
        return True

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stop and (not self._queue or self._queue[0].due > time.monotonic()):
                    wait = self._queue[0].due - time.monotonic() if self._queue else None
                    self._cond.wait(wait)
                if self._stop:
                    return
                event = heapq.heappop(self._queue)
                self._in_flight += 1
            try:
                self._run(event)
            except Exception as error:  # never lose the worker; the event's fate is logged by _run
                self._log(f"async {event.function} {event.request_id}: internal error {error!r}")
            finally:
                with self._cond:
                    self._in_flight -= 1
                    self._cond.notify_all()

    def _settings(self, function: str) -> tuple[AsyncConfig, str, str | None]:
        with self._cond:
            found = self._configs.get(function)
        if found is not None:
            return found
        return AsyncConfig(), f"arn:aws:lambda:{self.region}:{self.account_id}:function:{function}", None

    def _reserved_concurrency(self, function: str) -> int | None:
        """The function's reserved concurrency, when the invoker is the local Lambda service (which knows it)."""
        lookup = getattr(self.invoker, "get", None)
        try:
            spec = lookup(function) if callable(lookup) else None
        except UnknownFunctionError:
            return None
        return spec.reserved_concurrency if isinstance(spec, FunctionSpec) else None

    def _run(self, event: _Event) -> None:
        config, function_arn, dead_letter = self._settings(event.function)
        if time.time() - event.accepted > config.maximum_event_age_seconds:
            self._fail(event, config, function_arn, dead_letter, None, "EventAgeExceeded")
            return
        event.attempts += 1
        result = self.invoker.invoke(event.function, event.payload, source=event.source, request_id=event.request_id)
        if result.ok:
            if config.on_success is not None:
                self._deliver(config.on_success.arn, self._record(event, function_arn, result, "Success"))
            return
        if result.status_code == 429 and self._reserved_concurrency(event.function) == 0:
            # A function that may never run: AWS sends its events straight to failure handling, without retries.
            self._fail(event, config, function_arn, dead_letter, result, "RetriesExhausted")
            return
        if result.status_code == 429 or result.status_code >= 500:
            # Throttled or a service error: back to the queue, not counted as a retry; AWS retries these for up to
            # the event's maximum age, the interval growing from 1 s to 5 minutes.
            event.attempts -= 1
            event.requeues += 1
            self._requeue(event, min(_REQUEUE_MAX_SECONDS, 2.0 ** (event.requeues - 1)))
            return
        if event.attempts <= config.maximum_retry_attempts:
            delay = self.retry_delays[min(event.attempts - 1, len(self.retry_delays) - 1)]
            self._requeue(event, delay)
            return
        self._fail(event, config, function_arn, dead_letter, result, "RetriesExhausted")

    def _requeue(self, event: _Event, delay: float) -> None:
        with self._cond:
            event.due = time.monotonic() + delay
            event.seq = next(self._seq)
            heapq.heappush(self._queue, event)
            self._cond.notify()

    def _record(self, event: _Event, function_arn: str, result: InvokeResult | None, condition: str) -> dict[str, Any]:
        return async_record(
            event.payload,
            request_id=event.request_id,
            function_arn=function_arn,
            condition=condition,
            invoke_count=event.attempts,
            status_code=result.status_code if result is not None else 200,
            function_error=result.function_error if result is not None else None,
            response=result.payload if result is not None else None,
        )

    def _fail(
        self,
        event: _Event,
        config: AsyncConfig,
        function_arn: str,
        dead_letter: str | None,
        result: InvokeResult | None,
        condition: str,
    ) -> None:
        if config.on_failure is not None:
            # Destinations come "in addition to or instead of a dead-letter queue": with both, both get the event.
            self._deliver(config.on_failure.arn, self._record(event, function_arn, result, condition))
        if dead_letter is not None:
            message = ""
            if result is not None:
                try:
                    message = str(json.loads(result.payload).get("errorMessage", ""))
                except (ValueError, AttributeError):
                    message = result.payload.decode(errors="replace")
            body, attributes = async_dlq_message(
                event.payload,
                request_id=event.request_id,
                status_code=result.status_code if result is not None else 200,
                error_message=message or condition,
            )
            self._send(dead_letter, body, attributes)
            self._log(f"async {event.function} {event.request_id}: {condition}; event sent to DLQ {dead_letter}")
        if config.on_failure is not None or dead_letter is not None:
            return
        self._log(
            f"async {event.function} {event.request_id}: {condition} after {event.attempts} attempt(s); "
            "DISCARDED (no on-failure destination or DLQ is configured, as AWS would discard it)"
        )

    def _deliver(self, destination: str, record: dict[str, Any]) -> None:
        service = destination.split(":")[2]
        try:
            if service == "lambda":
                self.submit(destination.split(":")[6], json.dumps(record).encode(), source="destination")
            elif service == "events":
                response = self._clientfor("events").put_events(
                    Entries=[destination_event_entry(record, destination_arn=destination)]
                )
                if response.get("FailedEntryCount"):
                    raise RuntimeError(f"PutEvents refused the record: {response.get('Entries')}")
            else:
                self._send(destination, json.dumps(record), None)
        except Exception as error:
            self._log(f"async destination {destination} could not be reached ({error}); record: {json.dumps(record)}")

    def _send(self, arn: str, body: str, attributes: Mapping[str, Any] | None) -> None:
        service = arn.split(":")[2]
        if service == "sqs":
            sqs = self._clientfor("sqs")
            url = sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[-1], QueueOwnerAWSAccountId=arn.split(":")[4])[
                "QueueUrl"
            ]
            extra = {"MessageAttributes": attributes} if attributes else {}
            sqs.send_message(QueueUrl=url, MessageBody=body, **extra)
        elif service == "sns":
            self._clientfor("sns").publish(
                TopicArn=arn, Message=body, **({"MessageAttributes": attributes} if attributes else {})
            )
        else:
            raise ValueError(f"{arn} is not an SQS queue or SNS topic")

    def _clientfor(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = _client(service, self.endpoint_url, self.region)
        return self._clients[service]

    def _log(self, line: str) -> None:
        if self.log is not None:
            self.log(line)


# -- EventBridge input transformation -----------------------------------------------------------------------------
#
# JSONPath is jsonpath-ng's. moto's own transformer (moto/events/utils.py EventTemplateParser.parse) is not used: it
# replaces ``<name>`` as plain text, so a string value lands unquoted in a JSON template (``{"s": <s>}`` becomes
# ``{"s": RUNNING}``, which it then fails to parse), a path that matches nothing leaves ``<name>`` in the output, a
# text template cannot be rendered at all (it always ``json.loads`` the result), and it knows neither
# ``<aws.events.rule-arn>``, ``<aws.events.rule-name>`` nor ``<aws.events.event>``.

_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-$]+)>")
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"?|<[A-Za-z0-9_.\-$]+>|\s+|[^"<\s]+|<')
"""A template's tokens: JSON string literals (an unterminated one runs to the end), placeholders, whitespace, and
everything else."""
_PLAIN_FIELD = re.compile(r"^(?:[A-Za-z_@][A-Za-z0-9_@\-]*|\d+|\*)$")
_FIELD = re.compile(r"(?<=\.)([^.\[\]\"']+)")
_RESERVED = ("aws.events.rule-arn", "aws.events.rule-name", "aws.events.event", "aws.events.event.json")
_NOTHING = object()
"""What a path that matches nothing yields: the variable is not created (EventBridge's "Common issues")."""


@functools.lru_cache(maxsize=1024)
def _compiled(path: str) -> Any:
    """``path`` compiled by jsonpath-ng, or ``None`` when it cannot be read (EventBridge does not validate paths)."""
    from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
    from jsonpath_ng.parser import parse

    # EventBridge allows field names jsonpath-ng reads only quoted (``$.detail.a/b``, ``$.detail.1st``).
    quoted = _FIELD.sub(lambda m: m.group(1) if _PLAIN_FIELD.match(m.group(1)) else json.dumps(m.group(1)), path)
    try:
        return parse(quoted)
    except (JsonPathLexerError, JsonPathParserError, ValueError):
        return None


def json_path(event: Any, path: str) -> Any:
    """The value ``path`` selects in ``event``, as EventBridge's ``InputPath`` / ``InputPathsMap`` read it: one
    value, or the list of values for a path with a wildcard or slice; ``None`` when it matches nothing.

    Example::

        json_path({"detail": {"items": [{"id": 1}, {"id": 2}]}}, "$.detail.items[*].id")   # [1, 2]
    """
    value = _select(event, path)
    return None if value is _NOTHING else value


def _select(event: Any, path: str) -> Any:
    expression = _compiled(path.strip())
    if expression is None:
        return _NOTHING
    matches = [match.value for match in expression.find(event)]
    if not matches:
        return _NOTHING
    if len(matches) == 1 and not any(mark in path for mark in ("*", "..", ":")):
        return matches[0]
    return matches


def _is_json_template(template: str, tokens: list[str], defined: Callable[[str], bool]) -> bool:
    if not template.lstrip().startswith(("{", "[", '"')):
        return False
    try:
        json.loads("".join("null" if defined(token) else token for token in tokens))
    except ValueError:
        return False
    return True


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def transform_input(event: dict[str, Any], transform: Mapping[str, Any] | None, rule_arn: str) -> str:
    """The payload a target receives: the event, ``Input``, ``InputPath`` or ``InputTransformer`` applied.

    EventBridge's rendering rules ("Transforming target input"): a variable whose value is a string is inserted
    quoted where the template has a JSON value, and as its bare text inside a JSON string or in a text template;
    other values as (minified) JSON. A variable whose path matches nothing is ``null`` as a JSON value and empty
    text inside a string or a text template. ``<aws.events.rule-arn>``, ``<aws.events.rule-name>``,
    ``<aws.events.event>`` (the event without ``detail``), ``<aws.events.event.json>`` (the whole event) and
    ``<aws.events.event.ingestion-time>`` are predefined and cannot be overridden. A JSON template's output is
    minified; a placeholder the map does not define is left as it is.

    Example::

        transform_input(event, {"InputTransformer": {"InputPathsMap": {"id": "$.detail.id"},
                                                     "InputTemplate": '{"order": <id>}'}}, rule_arn)
    """
    if not transform:
        return json.dumps(event)
    if "Input" in transform:
        return str(transform["Input"])
    if "InputPath" in transform:
        return _compact(json_path(event, str(transform["InputPath"])))
    spec = transform["InputTransformer"]
    paths = spec.get("InputPathsMap") or {}
    values: dict[str, Any] = {name: _select(event, str(path)) for name, path in paths.items()}
    values.update(
        zip(
            _RESERVED,
            (rule_arn, rule_arn.rsplit("/", 1)[-1], {k: v for k, v in event.items() if k != "detail"}, event),
            strict=True,
        )
    )
    values["aws.events.event.ingestion-time"] = event.get("time", _NOTHING)
    template = str(spec["InputTemplate"])
    tokens = _TOKENS.findall(template)

    def text(value: Any) -> str:
        if value is _NOTHING:
            return ""
        return value if isinstance(value, str) else _compact(value)

    def defined(token: str) -> bool:
        return token.startswith("<") and token[1:-1] in values

    # A JSON template is an object, array or string that parses as JSON with its placeholders as values; anything
    # else (``<id> is in <state>``, a lone ``<state>``) is text.
    if not _is_json_template(template, tokens, defined):
        return _PLACEHOLDER.sub(lambda m: text(values[m.group(1)]) if m.group(1) in values else m.group(0), template)

    def in_string(match: re.Match[str]) -> str:
        if match.group(1) not in values:
            return match.group(0)
        # Inside a JSON string: the value's text, escaped so that the string stays one.
        return json.dumps(text(values[match.group(1)]), ensure_ascii=False)[1:-1]

    out: list[str] = []
    for token in tokens:
        if token.startswith('"'):
            out.append(_PLACEHOLDER.sub(in_string, token))
        elif defined(token):
            value = values[token[1:-1]]
            out.append("null" if value is _NOTHING else _compact(value))
        elif not token.isspace():  # the JSON a target receives is minified
            out.append(token)
    return "".join(out)


# -- push relays --------------------------------------------------------------------------------------------------


def normalise_event(received: Mapping[str, Any], rule_arn: str) -> dict[str, Any]:
    """The EventBridge event a rule's target receives, with every key of the documented envelope.

    ``received`` is what the data plane put on the relay queue (moto 5.2.5 leaves out ``account`` unless its patch is
    installed, and writes ``time`` as epoch seconds in some paths); the rule's ARN supplies the account and region
    when the event does not carry them.
    """
    if not is_event(received):
        raise ValueError(f"not an EventBridge event (keys {sorted(received)[:12]})")
    parts = rule_arn.split(":")
    when = received.get("time")
    if isinstance(when, int | float) and not isinstance(when, bool):
        when = dt.datetime.fromtimestamp(when, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    resources = received.get("resources")
    return eventbridge_event(
        received["detail"],
        detail_type=str(received["detail-type"]),
        source=str(received["source"]),
        account=str(received.get("account") or parts[4]),
        region=str(received.get("region") or parts[3]),
        resources=list(resources) if isinstance(resources, list) else [],
        event_id=str(received["id"]),
        time=str(when) if when else None,
    )


class PushRelay(RelayThreads):
    """Delivers what moto cannot: SNS -> Lambda, EventBridge -> Lambda, EventBridge -> SNS.

    Example::

        relay = PushRelay(deployment.push_targets, async_invoker, endpoint_url=endpoint)
        relay.start()
    """

    def __init__(
        self,
        targets: list[PushTarget],
        async_invoker: AsyncInvoker,
        *,
        endpoint_url: str,
        region: str = "us-east-1",
        log: LogSink | None = None,
        journal: Journal | None = None,
    ) -> None:
        self.targets = targets
        self.async_invoker = async_invoker
        self.endpoint_url = endpoint_url
        self.region = region
        self.log = log
        self.journal = journal
        self.failures = {
            target.relay_queue_url: FailureCounter(
                f"relay:{target.source_arn.split(':')[-1]}->{target.target_arn.split(':')[-1]}",
                target.relay_queue_url,
                log=log,
                journal=journal,
            )
            for target in targets
        }
        """Failed polls per target, by relay queue URL."""
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _relay_items(self) -> list[tuple[Any, str]]:
        return [(target, f"relay-{target.kind}") for target in self.targets]

    def _loop(self, target: PushTarget) -> None:
        sqs = self._relay_client()
        relay_loop(
            self._stop,
            sqs,
            target.relay_queue_url,
            self.failures[target.relay_queue_url],
            lambda message: self._handle(sqs, target, message),
        )

    def _relay_client(self) -> Any:
        return _client("sqs", self.endpoint_url, self.region)

    def _handle(self, sqs: Any, target: PushTarget, message: dict[str, Any]) -> None:
        try:
            self._hand_off(target, message["Body"])
        except Exception as error:
            attempts = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
            sent = float(message.get("Attributes", {}).get("SentTimestamp", time.time() * 1000)) / 1000
            too_old = time.time() - sent > target.maximum_event_age_seconds
            if attempts <= target.maximum_retry_attempts and not too_old:
                self._log(f"relay {target.target_arn}: delivery failed ({error}); retried after the relay timeout")
                return  # stays in the relay queue: reappears after its visibility timeout
            self._dead_letter(target, message["Body"], error)
        try:
            sqs.delete_message(QueueUrl=target.relay_queue_url, ReceiptHandle=message["ReceiptHandle"])
        except Exception as error:
            raise PollError("DeleteMessage", error) from error

    def _hand_off(self, target: PushTarget, body: str) -> None:
        service = target.target_arn.split(":")[2]
        if target.kind == "sns":
            doc = parse_notification(body)
            if doc is None:
                raise ValueError("the relayed message is not an SNS notification")
            subscription = f"{target.source_arn}:{uuid.uuid5(uuid.NAMESPACE_URL, target.target_arn)}"
            payload = json.dumps({"Records": [lambda_record(doc, subscription_arn=subscription)]}).encode()
            self.async_invoker.submit(target.target_arn.split(":")[6], payload, source="sns")
            return
        event = normalise_event(json.loads(body), target.source_arn)
        payload_text = transform_input(event, target.input_transform, target.source_arn)
        if service == "lambda":
            self.async_invoker.submit(target.target_arn.split(":")[6], payload_text.encode(), source="events")
        elif service == "sns":
            _client("sns", self.endpoint_url, self.region).publish(TopicArn=target.target_arn, Message=payload_text)
        elif service == "sqs":
            sqs = _client("sqs", self.endpoint_url, self.region)
            arn = target.target_arn
            name = arn.rsplit(":", 1)[-1]
            url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=arn.split(":")[4])["QueueUrl"]
            extra: dict[str, str] = {}
            if name.endswith(".fifo"):
                # EventBridge deduplicates FIFO deliveries by the event's id.
                extra = {"MessageGroupId": target.message_group_id or "", "MessageDeduplicationId": str(event["id"])}
            sqs.send_message(QueueUrl=url, MessageBody=payload_text, **extra)
        else:
            raise ValueError(f"unsupported target {target.target_arn}")

    def _dead_letter(self, target: PushTarget, body: str, error: Exception) -> None:
        if target.dead_letter_arn is None:
            self._log(
                f"relay {target.target_arn}: retries exhausted ({error}); DISCARDED, no dead-letter queue: {body}"
            )
            return
        sqs = _client("sqs", self.endpoint_url, self.region)
        arn = target.dead_letter_arn
        url = sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[-1], QueueOwnerAWSAccountId=arn.split(":")[4])["QueueUrl"]
        attributes = {
            "ERROR_CODE": {"DataType": "String", "StringValue": type(error).__name__},
            "ERROR_MESSAGE": {"DataType": "String", "StringValue": str(error)[:1024] or "delivery failed"},
        }
        if target.kind == "events":
            attributes["RULE_ARN"] = {"DataType": "String", "StringValue": target.source_arn}
            attributes["TARGET_ARN"] = {"DataType": "String", "StringValue": target.target_arn}
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attributes)
        self._log(f"relay {target.target_arn}: retries exhausted ({error}); sent to {arn}")

    def _log(self, line: str) -> None:
        if self.log is not None:
            self.log(line)

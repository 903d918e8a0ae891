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
keeps failing past the target's retry policy goes to the target's dead-letter queue.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .aws import client
from .model import AsyncConfig, Invoker, InvokeResult, LogSink, PushTarget

__all__ = ["AsyncInvoker", "PushRelay", "transform_input"]


def _client(service: str, endpoint_url: str, region: str) -> Any:
    return client(service, endpoint_url, region)


def _iso(seconds: float | None = None) -> str:
    moment = dt.datetime.fromtimestamp(time.time() if seconds is None else seconds, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


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

    def _run(self, event: _Event) -> None:
        config, function_arn, dead_letter = self._settings(event.function)
        if time.time() - event.accepted > config.maximum_event_age_seconds:
            self._fail(event, config, function_arn, dead_letter, None, "EventAgeExceeded")
            return
        event.attempts += 1
        result = self.invoker.invoke(event.function, event.payload, source=event.source)
        if result.ok:
            if config.on_success is not None:
                self._deliver(config.on_success.arn, self._record(event, function_arn, result, "Success"), True)
            return
        if result.status_code == 429:
            # Throttled: back to the queue with backoff, not counted as a retry (AWS retries throttles up to 6 h).
            event.attempts -= 1
            self._requeue(event, 1.0)
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
        try:
            request_payload: Any = json.loads(event.payload or b"null")
        except ValueError:
            request_payload = event.payload.decode(errors="replace")
        response: dict[str, Any] = {"statusCode": result.status_code if result else 200, "executedVersion": "$LATEST"}
        if result is not None and result.function_error:
            response["functionError"] = result.function_error
        record: dict[str, Any] = {
            "version": "1.0",
            "timestamp": _iso(),
            "requestContext": {
                "requestId": event.request_id,
                "functionArn": f"{function_arn}:$LATEST",
                "condition": condition,
                "approximateInvokeCount": max(1, event.attempts),
            },
            "requestPayload": request_payload,
            "responseContext": response,
        }
        if result is not None:
            try:
                record["responsePayload"] = json.loads(result.payload or b"null")
            except ValueError:
                record["responsePayload"] = result.payload.decode(errors="replace")
        return record

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
            self._deliver(config.on_failure.arn, self._record(event, function_arn, result, condition), False)
            return
        if dead_letter is not None:
            message = ""
            if result is not None:
                try:
                    message = str(json.loads(result.payload).get("errorMessage", ""))[:1024]
                except (ValueError, AttributeError):
                    message = result.payload.decode(errors="replace")[:1024]
            attributes = {
                "RequestID": {"DataType": "String", "StringValue": event.request_id},
                "ErrorCode": {"DataType": "Number", "StringValue": str(result.status_code if result else 200)},
                "ErrorMessage": {"DataType": "String", "StringValue": message or condition},
            }
            self._send(dead_letter, event.payload.decode(errors="replace"), attributes)
            self._log(f"async {event.function} {event.request_id}: {condition}; event sent to DLQ {dead_letter}")
            return
        self._log(
            f"async {event.function} {event.request_id}: {condition} after {event.attempts} attempt(s); "
            "DISCARDED (no on-failure destination or DLQ is configured, as AWS would discard it)"
        )

    def _deliver(self, destination: str, record: dict[str, Any], success: bool) -> None:
        service = destination.split(":")[2]
        try:
            if service == "lambda":
                self.submit(destination.split(":")[6], json.dumps(record).encode(), source="destination")
            elif service == "events":
                bus = destination.split("/", 1)[1] if "/" in destination else "default"
                kind = "Success" if success else "Failure"
                self._clientfor("events").put_events(
                    Entries=[
                        {
                            "Source": "lambda",
                            "DetailType": f"Lambda Function Invocation Result - {kind}",
                            "Detail": json.dumps(record),
                            "Resources": [record["requestContext"]["functionArn"], destination],
                            "EventBusName": bus,
                        }
                    ]
                )
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

_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-$]+)>")


def _path(event: Any, path: str) -> Any:
    """A JSONPath of the simple form EventBridge uses (``$``, ``$.a.b``, ``$.a[0]``)."""
    if path in ("$", "$."):
        return event
    value = event
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path.removeprefix("$.").removeprefix("$")):
        if part.startswith("["):
            index = int(part[1:-1])
            value = value[index] if isinstance(value, list) and index < len(value) else None
        else:
            value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            return None
    return value


def transform_input(event: dict[str, Any], transform: Mapping[str, Any] | None, rule_arn: str) -> str:
    """The payload a target receives: the event, ``Input``, ``InputPath`` or ``InputTransformer`` applied.

    Example::

        transform_input(event, {"InputTransformer": {"InputPathsMap": {"id": "$.detail.id"},
                                                     "InputTemplate": '{"order": <id>}'}}, rule_arn)
    """
    if not transform:
        return json.dumps(event)
    if "Input" in transform:
        return str(transform["Input"])
    if "InputPath" in transform:
        return json.dumps(_path(event, str(transform["InputPath"])))
    spec = transform["InputTransformer"]
    values: dict[str, Any] = {name: _path(event, path) for name, path in (spec.get("InputPathsMap") or {}).items()}
    values["aws.events.event"] = event
    values["aws.events.event.json"] = event
    values["aws.events.rule-arn"] = rule_arn
    values["aws.events.rule-name"] = rule_arn.rsplit("/", 1)[-1]
    values["aws.events.event.ingestion-time"] = event.get("time")
    template = str(spec["InputTemplate"])

    def render(match: re.Match[str], quoted: bool) -> str:
        name = match.group(1)
        if name not in values:
            return match.group(0)
        value = values[name]
        if quoted:
            # Inside a JSON string: the value's text, escaped for a JSON string.
            text = value if isinstance(value, str) else json.dumps(value)
            return json.dumps(text)[1:-1]
        return value if isinstance(value, str) and not template.lstrip().startswith(("{", "[")) else json.dumps(value)

    out: list[str] = []
    in_string = False
    i = 0
    while i < len(template):
        char = template[i]
        if char == '"' and (i == 0 or template[i - 1] != "\\"):
            in_string = not in_string
        match = _PLACEHOLDER.match(template, i) if char == "<" else None
        if match is not None:
            out.append(render(match, in_string))
            i = match.end()
            continue
        out.append(char)
        i += 1
    return "".join(out)


# -- push relays --------------------------------------------------------------------------------------------------


class PushRelay:
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
    ) -> None:
        self.targets = targets
        self.async_invoker = async_invoker
        self.endpoint_url = endpoint_url
        self.region = region
        self.log = log
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for target in self.targets:
            thread = threading.Thread(target=self._loop, args=(target,), name=f"relay-{target.kind}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, *, wait: bool = True) -> None:
        """Stop relaying; ``wait=False`` returns at once (a long poll in flight ends without handing anything off)."""
        self._stop.set()
        if wait:
            for thread in self._threads:
                thread.join(timeout=30)
        self._threads.clear()

    def _loop(self, target: PushTarget) -> None:
        sqs = _client("sqs", self.endpoint_url, self.region)
        while not self._stop.is_set():
            try:
                response = sqs.receive_message(
                    QueueUrl=target.relay_queue_url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=1,
                    MessageSystemAttributeNames=["All"],
                )
            except Exception as error:
                if self._stop.is_set():
                    return
                self._log(f"relay {target.source_arn} -> {target.target_arn}: receive failed: {error}")
                self._stop.wait(0.5)
                continue
            if self._stop.is_set():
                return
            for message in response.get("Messages", []):
                self._handle(sqs, target, message)

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
        sqs.delete_message(QueueUrl=target.relay_queue_url, ReceiptHandle=message["ReceiptHandle"])

    def _hand_off(self, target: PushTarget, body: str) -> None:
        service = target.target_arn.split(":")[2]
        if target.kind == "sns":
            envelope = json.loads(body)
            payload = json.dumps({"Records": [_sns_record(envelope, target)]}).encode()
            self.async_invoker.submit(target.target_arn.split(":")[6], payload, source="sns")
            return
        event = json.loads(body)
        payload_text = transform_input(event, target.input_transform, target.source_arn)
        if service == "lambda":
            self.async_invoker.submit(target.target_arn.split(":")[6], payload_text.encode(), source="events")
        elif service == "sns":
            _client("sns", self.endpoint_url, self.region).publish(TopicArn=target.target_arn, Message=payload_text)
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


def _sns_record(envelope: dict[str, Any], target: PushTarget) -> dict[str, Any]:
    """Lambda's SNS event record from the HTTP/SQS notification envelope (note ``...Url`` vs ``...URL``)."""
    return {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": f"{target.source_arn}:{uuid.uuid5(uuid.NAMESPACE_URL, target.target_arn)}",
        "Sns": {
            "Type": envelope.get("Type", "Notification"),
            "MessageId": envelope.get("MessageId"),
            "TopicArn": envelope.get("TopicArn", target.source_arn),
            "Subject": envelope.get("Subject"),
            "Message": envelope.get("Message"),
            "Timestamp": envelope.get("Timestamp"),
            "SignatureVersion": envelope.get("SignatureVersion", "1"),
            "Signature": envelope.get("Signature", "EXAMPLE"),
            "SigningCertUrl": envelope.get("SigningCertURL", ""),
            "UnsubscribeUrl": envelope.get("UnsubscribeURL", ""),
            "MessageAttributes": envelope.get("MessageAttributes", {}),
        },
    }

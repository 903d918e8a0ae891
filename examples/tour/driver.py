"""A small, honest stand-in for Lambda's event source mappings, so handlers run against emulated AWS (moto).

What it does is what Lambda documents (see shared notes, "AWS Lambda delivery semantics"), in one thread:

* :class:`SqsPoller` receives up to 10 messages (all system and message attributes), hands them to the handler in
  Lambda's SQS event shape, deletes only the records the handler did not report in ``batchItemFailures`` (none if it
  raised, or if its response is invalid), and leaves failures to reappear after the queue's visibility timeout, until
  SQS's own redrive policy (``maxReceiveCount``) moves them to the dead-letter queue;
* :class:`KinesisShardReader` reads a shard in order and checkpoints at the lowest reported sequence number (the
  whole batch again if the handler raised); after ``max_retry_attempts`` it discards the batch and sends the
  documented on-failure record;
* :func:`invoke_async` calls a handler the way Lambda's asynchronous invocation does, retrying a failed attempt.

Each invocation's stdout (the runtime's EMF metric lines) and handler log lines are captured, so the trace stays
readable and the metric counters become its outcome column. Differences from Lambda are deliberate and small: one
poller (no concurrency), 1 s long polls instead of 20 s, and no waiting between asynchronous retries.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from typing import Any, TextIO

from eventweave.handlers.clients import client, reset_clients
from eventweave.testing.events import sqs_record_from_message
from eventweave.wire.envelopes import unwrap_text
from eventweave.wire.trace import trace_from_attributes

__all__ = [
    "REGION",
    "Check",
    "DeadLetter",
    "Invocation",
    "KinesisShardReader",
    "LambdaContext",
    "Reporter",
    "ScenarioResult",
    "SqsPoller",
    "invoke",
    "invoke_async",
    "local_aws",
    "read_dlq",
]

REGION = "us-east-1"
Handler = Callable[[Any, Any], Any]

_EMF_COUNTERS = {
    "RecordsProcessed": "processed",
    "RecordsDuplicate": "duplicate",
    "RecordsIgnored": "ignored",
    "RecordsPoisoned": "poison",
    "RecursionStopped": "recursion_stopped",
    "RecordsFailed": "failed",
}


# -- the emulated cloud -----------------------------------------------------------------------------------------------


@contextmanager
def local_aws() -> Iterator[str]:
    """Run moto on 127.0.0.1 (a free port) and point every boto3 client at it with dummy credentials.

    The environment is restored and eventweave's cached clients are dropped on exit.
    """
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # otherwise one access-log line per API call
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "tour",
        "AWS_SECRET_ACCESS_KEY": "tour",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    # Anything that could send a client elsewhere than loopback (a profile, a per-service endpoint) is set aside.
    unset = [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL_")] + ["AWS_SESSION_TOKEN", "AWS_PROFILE"]
    saved = {k: os.environ.get(k) for k in (*env, *unset)}
    os.environ.update(env)
    for key in unset:
        os.environ.pop(key, None)
    reset_clients()
    try:
        yield endpoint
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        reset_clients()


class LambdaContext:
    """The parts of Lambda's context object handlers read; a new request id per invocation."""

    def __init__(self, function_name: str, timeout_ms: int = 30_000) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:{function_name}"
        self.memory_limit_in_mb = 256
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "tour/[$LATEST]0"
        self._deadline = time.monotonic() + timeout_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


# -- one invocation ---------------------------------------------------------------------------------------------------


@dataclass
class Invocation:
    """What one call of a handler did, as the trace shows it."""

    handler: str
    source: str
    size: int
    response: Any = None
    error: BaseException | None = None
    counts: dict[str, int] = field(default_factory=dict)
    record_ids: list[str] = field(default_factory=list)
    returned: list[str] = field(default_factory=list)
    """Records handed back to the source to be delivered again."""
    correlation_ids: list[str] = field(default_factory=list)
    hops: list[int] = field(default_factory=list)
    note: str = ""
    logs: list[str] = field(default_factory=list)
    metric_lines: list[str] = field(default_factory=list)


def invoke(
    handler: Handler,
    event: Any,
    *,
    source: str,
    size: int,
    record_ids: list[str],
    traces: list[tuple[str, int]],
    function_name: str,
) -> Invocation:
    """Call ``handler`` once with a fresh context, capturing its metric lines and log lines."""
    buffer = io.StringIO()
    instance = getattr(handler, "__self__", handler)  # lambda_handler() returns the instance's bound __call__
    stream_handlers = [
        h for h in getattr(getattr(instance, "logger", None), "handlers", []) if isinstance(h, logging.StreamHandler)
    ]
    internal = logging.StreamHandler(buffer)
    internal.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    internal_logger = logging.getLogger("eventweave")
    previous = [h.stream for h in stream_handlers]
    for h in stream_handlers:
        h.setStream(buffer)
    internal_logger.addHandler(internal)
    inv = Invocation(
        handler=type(instance).__name__,
        source=source,
        size=size,
        record_ids=record_ids,
        correlation_ids=list(dict.fromkeys(c for c, _ in traces)),
        hops=[h for _, h in traces],
    )
    try:
        with redirect_stdout(buffer):
            inv.response = handler(event, LambdaContext(function_name))
    except Exception as error:  # the source decides what a raising handler means; record it, do not crash the tour
        inv.error = error
    finally:
        internal_logger.removeHandler(internal)
        for h, stream in zip(stream_handlers, previous, strict=True):
            h.setStream(stream)
    for line in buffer.getvalue().splitlines():
        if line.startswith('{"_aws"'):
            inv.metric_lines.append(line)
            for name, value in json.loads(line).items():
                key = _EMF_COUNTERS.get(name)
                if key is not None:
                    inv.counts[key] = inv.counts.get(key, 0) + int(value)
        elif line.strip():
            inv.logs.append(_log_summary(line))
    return inv


def _log_summary(line: str) -> str:
    """One readable line from a Powertools JSON log line (level and message; the traceback's last line)."""
    try:
        doc = json.loads(line)
    except ValueError:
        return line
    if not isinstance(doc, dict):
        return line
    text = f"{doc.get('level', '?')} {doc.get('message', '')}"
    exception = doc.get("exception")
    if isinstance(exception, str) and exception:
        text += f" [{exception.strip().splitlines()[-1]}]"
    return " / ".join(part.strip() for part in text.splitlines())


def _reported_failures(response: Any, ids: list[str]) -> tuple[list[str], str]:
    """Ids a partial batch response hands back, in batch order, and why if Lambda would treat it as total failure."""
    if response is None or response == {}:
        return [], ""
    if not isinstance(response, dict):
        return list(ids), f"response is a {type(response).__name__}, not an object"
    items = response.get("batchItemFailures")
    if items is None:
        return [], ""
    if not isinstance(items, list):
        return list(ids), "batchItemFailures is not a list"
    reported: set[str] = set()
    for item in items:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or identifier not in ids:
            return list(ids), f"itemIdentifier {identifier!r} is not a record of the batch"
        reported.add(identifier)
    return [i for i in ids if i in reported], ""


# -- SQS --------------------------------------------------------------------------------------------------------------


def sqs_lambda_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """A ReceiveMessage result in the shape Lambda's SQS event source mapping delivers."""
    return sqs_record_from_message(message, queue_arn, REGION)


def sqs_trace(record: dict[str, Any]) -> tuple[str, int]:
    """(correlation id, hops) of an SQS record, read from the wire the way eventweave's runtime reads it."""
    correlation, _, hops = trace_from_attributes(record.get("messageAttributes"))
    if correlation is None:
        unwrapped = unwrap_text(record["body"])
        if unwrapped is not None:
            if unwrapped.trace is not None:
                correlation, _, hops = unwrapped.trace
            correlation = correlation or unwrapped.message_id
    return correlation or record["messageId"], hops


class SqsPoller:
    """Lambda's SQS event source mapping with ``ReportBatchItemFailures``, for one queue and one handler."""

    def __init__(
        self,
        queue_url: str,
        handler: Handler,
        *,
        function_name: str,
        reporter: Reporter,
        batch_size: int = 10,
        wait_seconds: int = 1,
    ) -> None:
        attrs = client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn", "FifoQueue"])
        self.queue_url = queue_url
        self.arn = attrs["Attributes"]["QueueArn"]
        self.name = self.arn.rsplit(":", 1)[1]
        self.fifo = attrs["Attributes"].get("FifoQueue") == "true"
        self.handler = handler
        self.function_name = function_name
        self.reporter = reporter
        self.batch_size = batch_size
        self.wait_seconds = wait_seconds
        self.invocations: list[Invocation] = []

    def run(self, *, timeout: float = 20.0) -> list[Invocation]:
        """Deliver until the queue holds nothing, visible or in flight (a message redriven to the DLQ leaves it)."""
        deadline = time.monotonic() + timeout
        while not self._drained():
            if time.monotonic() > deadline:
                raise TimeoutError(f"queue {self.name} still holds messages after {timeout:.0f} s of delivery")
            response = client("sqs").receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=self.batch_size,
                WaitTimeSeconds=self.wait_seconds,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            messages = response.get("Messages", [])
            if messages:
                self._deliver(messages)
        return self.invocations

    def _drained(self) -> bool:
        attrs = client("sqs").get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return all(value == "0" for value in attrs.values())

    def _deliver(self, messages: list[Any]) -> None:
        records = [sqs_lambda_record(m, self.arn) for m in messages]
        ids = [r["messageId"] for r in records]
        inv = invoke(
            self.handler,
            {"Records": records},
            source=f"sqs:{self.name}",
            size=len(records),
            record_ids=ids,
            traces=[sqs_trace(r) for r in records],
            function_name=self.function_name,
        )
        if inv.error is not None:
            failed, why = list(ids), f"raised {type(inv.error).__name__}"
        else:
            failed, why = _reported_failures(inv.response, ids)
        inv.returned = failed
        if failed:
            inv.note = f"{why + ': ' if why else ''}{len(failed)} back to the queue after its visibility timeout"
        keep = set(failed)
        done = [m for m in messages if m["MessageId"] not in keep]
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            client("sqs").delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(chunk)],
            )
        if failed and self.fifo:
            self._release_group_followers(messages, keep)
        self.invocations.append(inv)
        self.reporter.invocation(inv)

    def _release_group_followers(self, messages: list[Any], failed: set[str]) -> None:
        """Make failed messages that follow an earlier failed one of their group visible at once.

        On AWS this changes nothing: the group stays blocked until its first message's visibility timeout ends, then
        the group comes back in order. moto (5.2) frees a group only when its *last* in-flight message expires, and so
        would hand the group back out of order; released early, the followers wait behind the first as on AWS.
        """
        held: set[str] = set()
        entries: list[Any] = []
        for message in messages:
            if message["MessageId"] not in failed:
                continue
            group = message.get("Attributes", {}).get("MessageGroupId", "")
            if group in held:
                handle = message["ReceiptHandle"]
                entries.append({"Id": str(len(entries)), "ReceiptHandle": handle, "VisibilityTimeout": 0})
            held.add(group)
        for start in range(0, len(entries), 10):
            client("sqs").change_message_visibility_batch(QueueUrl=self.queue_url, Entries=entries[start : start + 10])


# -- Kinesis ----------------------------------------------------------------------------------------------------------


def kinesis_trace(record: dict[str, Any]) -> tuple[str, int]:
    """(correlation id, hops) of a Kinesis record: eventweave's ``__context`` in the JSON data, if any."""
    seq = record["kinesis"]["sequenceNumber"]
    try:
        payload = json.loads(base64.b64decode(record["kinesis"]["data"]))
    except ValueError:
        return seq, 0
    meta = payload.get("__context") if isinstance(payload, dict) else None
    if not isinstance(meta, dict):
        return seq, 0
    hops = meta.get("hops", 0)
    return str(meta.get("correlationId") or seq), hops if isinstance(hops, int) else 0


class KinesisShardReader:
    """Lambda's Kinesis event source mapping with ``ReportBatchItemFailures``, for the first shard of a stream."""

    def __init__(
        self,
        stream_name: str,
        handler: Handler,
        *,
        function_name: str,
        reporter: Reporter,
        batch_size: int = 10,
        max_retry_attempts: int = 3,
        on_failure: str | None = None,
    ) -> None:
        description = client("kinesis").describe_stream(StreamName=stream_name)["StreamDescription"]
        self.stream_name = stream_name
        self.arn = description["StreamARN"]
        self.shard_id = description["Shards"][0]["ShardId"]
        self.handler = handler
        self.function_name = function_name
        self.reporter = reporter
        self.batch_size = batch_size
        self.max_retry_attempts = max_retry_attempts
        self.on_failure = on_failure
        self.invocations: list[Invocation] = []

    def run(self, *, timeout: float = 20.0) -> list[Invocation]:
        """Read from the shard's start until a read returns nothing (the tour writes before it reads)."""
        deadline = time.monotonic() + timeout
        position: dict[str, Any] = {"ShardIteratorType": "TRIM_HORIZON"}
        attempts = 0
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError(f"stream {self.stream_name} not caught up after {timeout:.0f} s of delivery")
            iterator = client("kinesis").get_shard_iterator(
                StreamName=self.stream_name, ShardId=self.shard_id, **position
            )["ShardIterator"]
            records = client("kinesis").get_records(ShardIterator=iterator, Limit=self.batch_size)["Records"]
            if not records:
                return self.invocations
            batch = [self._lambda_record(r) for r in records]
            seqs = [r["SequenceNumber"] for r in records]
            inv = invoke(
                self.handler,
                {"Records": batch},
                source=f"kinesis:{self.stream_name}",
                size=len(batch),
                record_ids=seqs,
                traces=[kinesis_trace(r) for r in batch],
                function_name=self.function_name,
            )
            if inv.error is not None:
                checkpoint: str | None = seqs[0]
                why = f"raised {type(inv.error).__name__}: "
            else:
                failed, why = _reported_failures(inv.response, seqs)
                checkpoint = min(failed, key=int) if failed else None
                why = f"{why}: " if why else ""
            if checkpoint is None:
                position = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber": seqs[-1]}
                attempts = 0
                inv.note = f"checkpoint after seq {seqs[-1]}"
            else:
                attempts += 1
                retry = seqs[seqs.index(checkpoint) :]
                if attempts > self.max_retry_attempts:
                    self._discard(retry, attempts)
                    position = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber": seqs[-1]}
                    attempts = 0
                    inv.note = f"{why}retries exhausted: {len(retry)} records discarded, on-failure record sent"
                else:
                    position = {"ShardIteratorType": "AT_SEQUENCE_NUMBER", "StartingSequenceNumber": checkpoint}
                    inv.returned = retry
                    inv.note = f"{why}checkpoint at seq {checkpoint}: {len(retry)} records read again"
            self.invocations.append(inv)
            self.reporter.invocation(inv)

    def _lambda_record(self, record: Any) -> dict[str, Any]:
        seq = record["SequenceNumber"]
        account = self.arn.split(":")[4]
        return {
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": record["PartitionKey"],
                "sequenceNumber": seq,
                "data": base64.b64encode(record["Data"]).decode(),
                "approximateArrivalTimestamp": record["ApproximateArrivalTimestamp"].timestamp(),
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": f"{self.shard_id}:{seq}",
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": f"arn:aws:iam::{account}:role/{self.function_name}-role",
            "awsRegion": REGION,
            "eventSourceARN": self.arn,
        }

    def _discard(self, seqs: list[str], attempts: int) -> None:
        """Send the documented on-failure record (metadata only) for a batch whose retries are exhausted."""
        if self.on_failure is None:
            return
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        record = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": f"arn:aws:lambda:{REGION}:123456789012:function:{self.function_name}",
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": attempts,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": now,
            "KinesisBatchInfo": {
                "shardId": self.shard_id,
                "startSequenceNumber": seqs[0],
                "endSequenceNumber": seqs[-1],
                "approximateArrivalOfFirstRecord": now,
                "approximateArrivalOfLastRecord": now,
                "batchSize": len(seqs),
                "streamArn": self.arn,
            },
        }
        client("sqs").send_message(QueueUrl=self.on_failure, MessageBody=json.dumps(record))


# -- asynchronous invocation ------------------------------------------------------------------------------------------


def invoke_async(
    handler: Handler, payload: dict[str, Any], *, function_name: str, reporter: Reporter, max_attempts: int = 3
) -> list[Invocation]:
    """Deliver one asynchronous event: up to ``max_attempts`` calls while the handler raises (Lambda's default)."""
    meta = payload.get("__context")
    trace = (str(meta.get("correlationId")), int(meta.get("hops", 0))) if isinstance(meta, dict) else None
    invocations = []
    for attempt in range(1, max_attempts + 1):
        context_id = str(uuid.uuid4())
        inv = invoke(
            handler,
            payload,
            source="lambda:async",
            size=1,
            record_ids=[context_id],
            traces=[trace or (context_id, 0)],
            function_name=function_name,
        )
        invocations.append(inv)
        if inv.error is None:
            inv.note = f"returned {json.dumps(inv.response, default=str, separators=(',', ':'))}"
            reporter.invocation(inv)
            break
        inv.returned = inv.record_ids
        inv.note = f"raised {type(inv.error).__name__}: attempt {attempt} of {max_attempts}"
        reporter.invocation(inv)
    return invocations


# -- dead-letter queues -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeadLetter:
    """One message found in a dead-letter queue."""

    reason: str
    """eventweave's poison reason, ``redriven`` (SQS maxReceiveCount) or ``retries-exhausted`` (stream batch)."""
    detail: str
    document: Any


def read_dlq(queue_url: str) -> list[DeadLetter]:
    """Every message in ``queue_url``, classified; the messages are left in the queue, visible."""
    from eventweave.handlers import PoisonRecord

    sqs = client("sqs")
    found: list[DeadLetter] = []
    handles: list[str] = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=30, AttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            break
        for message in messages:
            handles.append(message["ReceiptHandle"])
            body = message["Body"]
            try:
                doc = json.loads(body)
            except ValueError:
                doc = body
            if isinstance(doc, dict) and doc.get("kind") == "eventweave.poison":
                poison = PoisonRecord.model_validate(doc)
                # pydantic's message spans lines (summary, field, problem, docs link); the first three say it all
                lines = [line.strip() for line in poison.error_message.strip().splitlines()[:3]]
                found.append(DeadLetter(poison.reason, f"{poison.error_type}: {' / '.join(lines)}", poison))
            elif isinstance(doc, dict) and "KinesisBatchInfo" in doc:
                info = doc["KinesisBatchInfo"]
                span = f"seq {info['startSequenceNumber']}-{info['endSequenceNumber']}"
                found.append(DeadLetter("retries-exhausted", span, doc))
            else:
                found.append(DeadLetter("redriven", "moved by the queue's redrive policy (maxReceiveCount)", doc))
    for start in range(0, len(handles), 10):
        sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(n), "ReceiptHandle": h, "VisibilityTimeout": 0}
                for n, h in enumerate(handles[start : start + 10])
            ],
        )
    return found


# -- reporting --------------------------------------------------------------------------------------------------------


@dataclass
class Check:
    """One expected-versus-actual line of a scenario's table."""

    label: str
    expected: Any
    actual: Any

    @property
    def ok(self) -> bool:
        return bool(self.expected == self.actual)


STANDARD = ("events in", "processed", "retried", "in DLQ", "duplicates suppressed")


@dataclass
class ScenarioResult:
    key: str
    title: str
    checks: list[Check] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.error is None and bool(self.checks) and all(c.ok for c in self.checks)

    def value(self, label: str) -> Any:
        return next((c.actual for c in self.checks if c.label == label), "-")

    def problems(self) -> list[str]:
        if self.error is not None:
            return [self.error]
        return [f"{c.label}: expected {_show(c.expected)}, got {_show(c.actual)}" for c in self.checks if not c.ok]


def _show(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(_show(v) for v in value) if value else "(none)"
    if isinstance(value, dict):
        return " ".join(f"{k}:{_show(v)}" for k, v in value.items()) if value else "(none)"
    return str(value)


def _short(identifier: str) -> str:
    return identifier[:8]


class Reporter:
    """Writes the trace a person reads: one line per invocation, a table per scenario, a summary."""

    def __init__(self, out: TextIO, *, verbose: bool = False) -> None:
        self.out = out
        self.verbose = verbose
        self._count = 0

    def heading(self, text: str) -> None:
        self._count = 0
        self.out.write(f"\n{text}\n{'=' * len(text)}\n")

    def say(self, text: str) -> None:
        self.out.write(f"  {text}\n")

    def invocation(self, inv: Invocation) -> None:
        self._count += 1
        names = [
            ("processed", "processed"),
            ("duplicate", "duplicate"),
            ("ignored", "ignored"),
            ("poison", "poison->DLQ"),
            ("failed", "failed"),
        ]
        parts = [f"{label} {inv.counts[key]}" for key, label in names if inv.counts.get(key)]
        if inv.counts.get("recursion_stopped"):
            parts.append(f"(recursion-limit {inv.counts['recursion_stopped']})")
        if inv.error is not None:
            parts.append(f"raised {type(inv.error).__name__}")
        outcome = ", ".join(parts) or "nothing counted"
        ids = inv.correlation_ids
        corr = _short(ids[0]) + (f" +{len(ids) - 1} more" if len(ids) > 1 else "") if ids else "-"
        hops = sorted(set(inv.hops))
        hop_text = "" if hops in ([], [0]) else f" hops {hops[0]}" + (f"-{hops[-1]}" if len(hops) > 1 else "")
        self.out.write(
            f"  #{self._count:<2} {inv.handler:<16} {inv.source:<24} batch {inv.size:<3} {outcome:<46}  "
            f"corr {corr}{hop_text}\n"
        )
        if inv.note:
            self.out.write(f"      -> {inv.note}\n")
        if self.verbose:
            for line in inv.logs:
                self.out.write(f"      log: {line[:200]}\n")
            for line in inv.metric_lines:
                doc = json.loads(line)
                names = [m["Name"] for m in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
                self.out.write(f"      emf: {' '.join(f'{n}={doc.get(n)}' for n in names)}\n")

    def dead_letters(self, name: str, found: list[DeadLetter]) -> None:
        if not found:
            self.say(f"DLQ {name}: empty")
        for letter in found:
            detail = letter.detail if len(letter.detail) <= 110 else letter.detail[:107] + "..."
            self.say(f"DLQ {name}: {letter.reason} ({detail})")

    def scenario(self, result: ScenarioResult) -> None:
        rows = [(c.label, _show(c.expected), _show(c.actual), c.ok) for c in result.checks]
        label_w = max([len("check"), *(len(r[0]) for r in rows)])
        expected_w = max([len("expected"), *(len(r[1]) for r in rows)])
        self.out.write(f"\n  {'check':<{label_w}}  {'expected':<{expected_w}}  actual\n")
        for label, expected, actual, ok in rows:
            mark = "" if ok else "   <-- MISMATCH"
            self.out.write(f"  {label:<{label_w}}  {expected:<{expected_w}}  {actual}{mark}\n")
        if result.error is not None:
            self.out.write(f"  error: {result.error}\n")
        verdict = "PASS" if result.passed else "FAIL"
        self.out.write(f"  {verdict}: {result.key} ({result.seconds:.1f} s)\n")

    def summary(self, results: list[ScenarioResult], seconds: float) -> None:
        self.heading("Summary")
        columns = f"{'in':>4} {'processed':>9} {'retried':>7} {'in DLQ':>6} {'dups':>5}"
        self.out.write(f"  {'scenario':<48} {columns}  result\n")
        for r in results:
            values = [r.value(label) for label in STANDARD]
            verdict = "PASS" if r.passed else "FAIL"
            name = f"{r.key:<10} {r.title}"
            self.out.write(
                f"  {name:<48.48} {values[0]!s:>4} {values[1]!s:>9} {values[2]!s:>7} {values[3]!s:>6} "
                f"{values[4]!s:>5}  {verdict}\n"
            )
        self.out.write("  (in: distinct records delivered; dups: duplicates whose side effect was skipped)\n")
        failed = [r for r in results if not r.passed]
        if failed:
            self.out.write(f"\n{len(failed)} of {len(results)} scenarios FAILED ({seconds:.1f} s):\n")
            for r in failed:
                for problem in r.problems():
                    self.out.write(f"  scenario {r.key!r} failed: {problem}\n")
        else:
            self.out.write(f"\nall {len(results)} scenarios passed ({seconds:.1f} s)\n")

"""eventweave's local cloud and MiniStack side by side: the same handlers, the same topology, the same client calls.

MiniStack (PyPI ``ministack``, the ``bench`` extra) is a LocalStack-compatible emulator that runs Lambda functions as
warm subprocesses without Docker. Both emulators run as their own process on a free loopback port, each in its
default settings; the benchmark process talks to both through plain boto3 clients over HTTP, so neither gets an
in-process shortcut. MiniStack is started as ``python -m ministack`` with ``GATEWAY_PORT`` (its port),
``BIND_HOST=127.0.0.1`` (its default binds every interface), ``IOT_MTLS_ENABLED=0`` (its default also opens an
MQTT listener on the fixed port 8883 of every interface), and ``TMPDIR`` in the benchmark's temporary folder (where
it leaves each worker's unpacked code); nothing else is changed. eventweave runs as
``python -m bench.ministack_peer serve``: a :class:`~eventweave.local.cloud.LocalCloud` (default settings but
``idle_ttl_seconds``, 5 s here, so that reaping can be watched) with ``EventweavePeer`` deployed, logging to stderr as
``eventweave local up`` does.

The topology (``bench/local_app/stack.py:PeerStack``, 13 functions): an SQS queue -> event source mapping -> the
``QueueProbe`` handler (batch 10, partial batch responses, visibility 180 s, DLQ after 5 receives); an SNS topic ->
``TopicProbe`` (Lambda subscription, async retries 2, on-failure queue); ``InvokeProbe`` invoked with
``InvocationType=Event``; a second queue and ``DrainProbe`` with no mapping yet; nine functions nothing invokes. On
eventweave it is the synthesized CDK stack; on MiniStack the same functions are created through boto3 from the same
template (handler, runtime, memory, timeout, environment; a queue stands in for each DLQ reference) with a zip of
``bench/local_app/handlers.py``, then ``CreateEventSourceMapping``, ``Subscribe`` + ``AddPermission`` and
``PutFunctionEventInvokeConfig``.

Each handler prints ``BENCH-START <path> <id> <time.time()>`` when it starts on a record, and each emulator keeps the
function's output where it keeps it: eventweave's log (the serve process's stderr, read from a file), MiniStack's
CloudWatch Logs (``FilterLogEvents``, read only after a phase's messages are all sent). The printed clock is the
handler's, so where the line is read from does not change the figure.

Figures (per round, both emulators; medians of 3 interleaved rounds, the first emulator alternating):

* **start -> endpoint ready**: process start to the first successful ``ListQueues``. eventweave: ``eventweave local
  up --assembly`` (the user's command; synth reported separately). Also **start -> topology deployed**: eventweave's
  ``ready`` line (``EventweavePeer`` deployed) and MiniStack's start plus the boto3 calls that build the topology.
* **idle RSS** with the 13 functions deployed, none invoked yet: the whole process tree (emulator and workers, from
  /proc), once it has settled.
* **SQS send -> handler start**, p50/p99, open loop: one ``SendMessage`` every 20 ms on a fixed schedule, after warm-up
  messages; **SNS publish -> handler start** p50; **async invoke -> handler start** p50; 100 messages each per round.
* **drain of 1,000 messages**: ``DrainProbe``'s queue is loaded with 1,000 messages (``SendMessageBatch``) while no
  mapping exists, the function having been invoked once (warm); then the mapping is created and the rate is 1,000 /
  (last handler start - the moment before the create call). The mapping is created through the Lambda API on both
  emulators, the same ``CreateEventSourceMapping`` call (batch 10, partial batch responses): creating it after loading
  is the same experiment as enabling a disabled one, and needs nothing but the API both have.
* **RSS after the load** (after the drain), and for eventweave **RSS after the idle TTL**: polled until it is back
  within 10% of idle (or 30 s pass).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import select
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._report import ROOT, Section

STACK = "EventweavePeer"
ROUNDS = 3
SAMPLES = 100
"""Messages per latency path per round."""
PERIOD = 0.02
DRAIN = 1000
IDLE_TTL = 5.0
BUDGET = 200.0
"""Seconds of rounds after which no further round starts (a round is about 45 s on an idle 2-core machine)."""
GOALS = {
    "sqs_p50": 0.5,
    "sqs_p99": 0.5,
    "drain": 1.5,
    "idle_rss": 1.0,
    "start": 1.0,
    "sns_p50": 0.5,
    "async_p50": 1.0,
    "ttl_rss": 0.10,
}
_MARK = re.compile(r"BENCH-START (\S+) (\S+) ([0-9.]+)")
_HANDLER_FILES = ("bench/__init__.py", "bench/local_app/__init__.py", "bench/local_app/handlers.py")
_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}


_BEGAN = time.monotonic()


def _say(what: str) -> None:
    print(f"  ministack_peer [{time.monotonic() - _BEGAN:5.1f} s]: {what}", file=sys.stderr, flush=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _clients(endpoint: str) -> dict[str, Any]:
    import boto3
    from botocore.config import Config

    config = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=2, read_timeout=60)
    return {
        name: boto3.client(name, endpoint_url=endpoint, config=config, **_CREDENTIALS)  # type: ignore[call-overload]
        for name in ("sqs", "sns", "lambda", "logs")
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# -- process trees ------------------------------------------------------------------------------------------------


def _tree(root: int) -> list[int]:
    """``root`` and every descendant still alive (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _tree_rss(root: int) -> tuple[float, int]:
    """Resident MB of ``root``'s whole process tree, and how many processes it has."""
    pids = _tree(root)
    return sum(_rss_kb(pid) for pid in pids) / 1024, len(pids)


def _settled_rss(root: int, *, timeout: float = 6.0) -> tuple[float, int]:
    """The tree's RSS once five samples 0.2 s apart agree within 1% (or the last sample after ``timeout``)."""
    samples: list[float] = []
    deadline = time.monotonic() + timeout
    while True:
        rss, procs = _tree_rss(root)
        samples = [*samples[-4:], rss]
        if len(samples) == 5 and max(samples) - min(samples) <= 0.01 * max(samples):
            return rss, procs
        if time.monotonic() > deadline:
            return rss, procs
        time.sleep(0.2)


def _stop_tree(process: subprocess.Popen[Any], pids: list[int], *, grace: float = 15.0) -> None:
    """Wait for ``process`` to exit (it was asked already), then kill it and whatever of ``pids`` is left, by pid."""
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait(timeout=10)
    for pid in pids:
        if pid != process.pid and Path(f"/proc/{pid}").exists():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def _wait_endpoint(process: subprocess.Popen[Any], sqs: Any, started: float, *, timeout: float = 60.0) -> float:
    """Seconds from ``started`` to the first ``ListQueues`` that succeeds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            sqs.list_queues()
            return time.perf_counter() - started
        except Exception:
            if process.poll() is not None:
                raise RuntimeError(f"the emulator exited with {process.returncode} before answering") from None
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


# -- the two emulators --------------------------------------------------------------------------------------------


class _Side:
    """One emulator in one round: its process, its clients, and how it shows what the handlers printed."""

    name = ""
    process: subprocess.Popen[Any]
    endpoint: str
    clients: dict[str, Any]
    queue_url: str
    topic_arn: str
    async_function: str
    drain_url: str
    drain_arn: str
    drain_function: str

    def start(self) -> tuple[float, float]:
        """Start the emulator and deploy the topology: (seconds to the endpoint, seconds to the topology)."""
        raise NotImplementedError

    def marks(self, path: str, since: float) -> dict[str, float]:
        """The first handler start of each id on ``path`` printed since ``since`` (epoch seconds)."""
        raise NotImplementedError

    def map_drain(self) -> None:
        """Create the backlog queue's mapping: ``CreateEventSourceMapping``, the same call on both emulators."""
        self.clients["lambda"].create_event_source_mapping(
            EventSourceArn=self.drain_arn,
            FunctionName=self.drain_function,
            BatchSize=10,
            FunctionResponseTypes=["ReportBatchItemFailures"],
        )

    def stop(self) -> None:
        raise NotImplementedError

    def send(self, path: str) -> Callable[[str], None]:
        sqs, sns, lam = self.clients["sqs"], self.clients["sns"], self.clients["lambda"]
        if path == "sqs":
            return lambda body: sqs.send_message(QueueUrl=self.queue_url, MessageBody=body)
        if path == "sns":
            return lambda body: sns.publish(TopicArn=self.topic_arn, Message=body)
        return lambda body: lam.invoke(FunctionName=self.async_function, InvocationType="Event", Payload=body)


class _Eventweave(_Side):
    name = "eventweave"

    def __init__(self, assembly: Path, workdir: Path) -> None:
        self.assembly = assembly
        self.log_path = workdir / f"eventweave-{uuid.uuid4().hex[:6]}.log"
        self._offset = 0
        self._seen: dict[tuple[str, str], float] = {}

    def start(self) -> tuple[float, float]:
        port = _free_port()
        self.endpoint = f"http://127.0.0.1:{port}"
        self.clients = _clients(self.endpoint)
        command = [sys.executable, "-m", "bench.ministack_peer", "serve", "--assembly", str(self.assembly)]
        command += ["--stack", STACK, "--port", str(port), "--ttl", str(IDLE_TTL)]
        with self.log_path.open("w") as log:
            started = time.perf_counter()
            self.process = subprocess.Popen(
                command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True
            )
        endpoint = _wait_endpoint(self.process, self.clients["sqs"], started)
        ready = json.loads(self._reply("READY", timeout=60))
        deployed = time.perf_counter() - started
        outputs = ready["outputs"]
        self.queue_url, self.topic_arn = outputs["QueueUrl"], outputs["TopicArn"]
        self.async_function = outputs["AsyncFunctionName"]
        self.drain_url, self.drain_arn = outputs["DrainQueueUrl"], outputs["DrainQueueArn"]
        self.drain_function = outputs["DrainFunctionName"]
        return endpoint, deployed

    def _reply(self, word: str, *, timeout: float) -> str:
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError(f"the eventweave serve process exited; its log: {self.log_path}")
            if line.startswith(word):
                return line[len(word) :].strip()
        raise TimeoutError(f"no {word} from the eventweave serve process in {timeout:g} s; its log: {self.log_path}")

    def marks(self, path: str, since: float) -> dict[str, float]:
        with self.log_path.open("rb") as log:
            log.seek(self._offset)
            chunk = log.read()
        complete = chunk.rfind(b"\n") + 1  # a line still being written is read next time
        self._offset += complete
        for match in _MARK.finditer(chunk[:complete].decode(errors="replace")):
            self._seen.setdefault((match.group(1), match.group(2)), float(match.group(3)))
        return {key: at for (p, key), at in self._seen.items() if p == path and at >= since}

    def stop(self) -> None:
        pids = _tree(self.process.pid)
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()  # the serve process stops its local cloud at end of input
        _stop_tree(self.process, pids)


class _MiniStack(_Side):
    name = "MiniStack"

    def __init__(self, template: dict[str, Any], workdir: Path) -> None:
        self.template = template
        self.workdir = workdir
        self.log_path = workdir / f"ministack-{uuid.uuid4().hex[:6]}.log"
        self.functions: dict[str, str] = {}
        """Logical id of each PeerStack function -> its name on MiniStack."""

    def start(self) -> tuple[float, float]:
        port = _free_port()
        self.endpoint = f"http://127.0.0.1:{port}"
        self.clients = _clients(self.endpoint)
        scratch = self.workdir / f"ministack-tmp-{port}"
        scratch.mkdir()
        # Its TMPDIR is the benchmark's own folder: MiniStack leaves each worker's unpacked code in TMPDIR.
        env = dict(os.environ, GATEWAY_PORT=str(port), BIND_HOST="127.0.0.1", IOT_MTLS_ENABLED="0", TMPDIR=str(scratch))
        with self.log_path.open("w") as log:
            started = time.perf_counter()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ministack"],
                cwd=self.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        endpoint = _wait_endpoint(self.process, self.clients["sqs"], started)
        self._deploy()
        return endpoint, time.perf_counter() - started

    def _deploy(self) -> None:
        sqs, sns, lam = self.clients["sqs"], self.clients["sns"], self.clients["lambda"]

        def queue(name: str, **attributes: str) -> tuple[str, str]:
            url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            return url, arn

        def worker_queue(name: str) -> tuple[str, str]:
            _, dlq_arn = queue(f"{name}-dlq", MessageRetentionPeriod="1209600")
            redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5})
            return queue(name, VisibilityTimeout="180", RedrivePolicy=redrive)

        code = io.BytesIO()
        with zipfile.ZipFile(code, "w", zipfile.ZIP_DEFLATED) as archive:
            for name in _HANDLER_FILES:
                archive.write(ROOT / name, name)
        resources = self.template["Resources"]
        for logical_id, resource in resources.items():
            if resource["Type"] != "AWS::Lambda::Function":
                continue
            props = resource["Properties"]
            environment = {}
            for key, value in props.get("Environment", {}).get("Variables", {}).items():
                # A reference (the function's dead-letter queue) gets a queue of its own here.
                environment[key] = value if isinstance(value, str) else queue(f"{logical_id}-{key.lower()}")[0]
            lam.create_function(
                FunctionName=logical_id,
                Runtime=props["Runtime"],
                Role="arn:aws:iam::000000000000:role/bench",
                Handler=props["Handler"],
                Code={"ZipFile": code.getvalue()},
                Timeout=props.get("Timeout", 3),
                MemorySize=props.get("MemorySize", 128),
                Environment={"Variables": environment},
            )
            self.functions[logical_id] = logical_id
        for name in self.functions:
            deadline = time.monotonic() + 30
            while lam.get_function_configuration(FunctionName=name).get("State") != "Active":
                if time.monotonic() > deadline:
                    raise TimeoutError(f"MiniStack: function {name} is not Active after 30 s")
                time.sleep(0.05)

        def function(prefix: str) -> str:
            (name,) = [f for f in self.functions if f.startswith(prefix)]
            return name

        self.queue_url, queue_arn = worker_queue("peer-queue")
        lam.create_event_source_mapping(
            EventSourceArn=queue_arn,
            FunctionName=function("QueueWorkerFunction"),
            BatchSize=10,
            FunctionResponseTypes=["ReportBatchItemFailures"],
        )
        self.topic_arn = sns.create_topic(Name="peer-topic")["TopicArn"]
        topic_function = function("TopicHandlerFunction")
        topic_arn = lam.get_function_configuration(FunctionName=topic_function)["FunctionArn"]
        _, undelivered_arn = queue("peer-topic-undelivered")
        sns.subscribe(
            TopicArn=self.topic_arn,
            Protocol="lambda",
            Endpoint=topic_arn,
            Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": undelivered_arn})},
        )
        lam.add_permission(
            FunctionName=topic_function,
            StatementId="sns",
            Action="lambda:InvokeFunction",
            Principal="sns.amazonaws.com",
            SourceArn=self.topic_arn,
        )
        self.async_function = function("AsyncFunction")
        for name in (topic_function, self.async_function):
            _, failures_arn = queue(f"{name}-failures")
            lam.put_function_event_invoke_config(
                FunctionName=name,
                MaximumRetryAttempts=2,
                MaximumEventAgeInSeconds=21600,
                DestinationConfig={"OnFailure": {"Destination": failures_arn}},
            )
        self.drain_url, self.drain_arn = worker_queue("peer-drain")
        self.drain_function = function("DrainFunction")

    def marks(self, path: str, since: float) -> dict[str, float]:
        function = {
            "sqs": "QueueWorkerFunction",
            "sns": "TopicHandlerFunction",
            "async": "AsyncFunction",
            "drain": "DrainFunction",
        }[path]
        (name,) = [f for f in self.functions if f.startswith(function)]
        logs = self.clients["logs"]
        out: dict[str, float] = {}
        kwargs: dict[str, Any] = {
            "logGroupName": f"/aws/lambda/{name}",
            "filterPattern": '"BENCH-START"',
            "startTime": int(since * 1000) - 1000,
        }
        while True:
            try:
                page = logs.filter_log_events(**kwargs)
            except logs.exceptions.ResourceNotFoundException:
                return out  # nothing has run yet: the group is created on the first invocation
            for event in page.get("events", []):
                match = _MARK.search(event["message"])
                if match and match.group(1) == path and float(match.group(3)) >= since:
                    out.setdefault(match.group(2), float(match.group(3)))
            token = page.get("nextToken")
            if not token:
                return out
            kwargs["nextToken"] = token

    def stop(self) -> None:
        pids = _tree(self.process.pid)
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        _stop_tree(self.process, pids)


# -- measurements -------------------------------------------------------------------------------------------------


def _wait_marks(side: _Side, path: str, ids: set[str], since: float, timeout: float) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    while True:
        seen = side.marks(path, since)
        if ids <= seen.keys() or time.monotonic() > deadline:
            return {key: at for key, at in seen.items() if key in ids}
        time.sleep(0.25)


def _latency(side: _Side, path: str, n: int) -> tuple[list[float], int]:
    """Producer call -> handler start (ms) for ``n`` messages sent open loop; and how many never started."""
    send = side.send(path)
    since = time.time()
    warm = {f"warm-{uuid.uuid4().hex[:8]}" for _ in range(3)}
    for key in warm:
        send(json.dumps({"id": key}))
    _wait_marks(side, path, warm, since, 30)
    time.sleep(0.5)
    sent: dict[str, float] = {}
    since = time.time()
    tick = time.perf_counter()
    for _ in range(n):
        key = uuid.uuid4().hex[:12]
        sent[key] = time.time()
        send(json.dumps({"id": key}))
        tick += PERIOD
        time.sleep(max(0.0, tick - time.perf_counter()))
    seen = _wait_marks(side, path, set(sent), since, 30)
    return [(seen[key] - at) * 1000 for key, at in sent.items() if key in seen], n - len(seen)


def _drain(side: _Side, n: int) -> tuple[float, int]:
    """Messages/s draining ``n`` preloaded messages through a mapping created after loading; and how many of them
    the handler never started on."""
    sqs, lam = side.clients["sqs"], side.clients["lambda"]
    lam.invoke(FunctionName=side.drain_function, Payload=json.dumps({"Records": []}))  # a warm environment
    ids = [uuid.uuid4().hex[:12] for _ in range(n)]
    for start in range(0, n, 10):
        entries = [
            {"Id": str(i), "MessageBody": json.dumps({"id": key})} for i, key in enumerate(ids[start : start + 10])
        ]
        sqs.send_message_batch(QueueUrl=side.drain_url, Entries=entries)
    since = time.time()
    side.map_drain()
    deadline = time.monotonic() + 180
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    while time.monotonic() < deadline:
        time.sleep(0.5)
        attributes = sqs.get_queue_attributes(QueueUrl=side.drain_url, AttributeNames=names)["Attributes"]
        if sum(int(attributes.get(name, 0)) for name in names) == 0:
            break
    seen = _wait_marks(side, "drain", set(ids), since, 10)
    if not seen:
        return 0.0, n
    return len(seen) / max(1e-6, max(seen.values()) - since), n - len(seen)


def _after_ttl(side: _Side, idle: float) -> tuple[float, float]:
    """eventweave: RSS once reaping has brought it back within 10% of idle (or after 30 s), and the seconds it took."""
    start = time.monotonic()
    while True:
        rss, _ = _tree_rss(side.process.pid)
        if rss <= idle * (1 + GOALS["ttl_rss"]) or time.monotonic() - start > 30:
            return rss, time.monotonic() - start
        time.sleep(0.5)


def _start_cli(assembly: Path, workdir: Path) -> tuple[float, float]:
    """``eventweave local up --assembly``: seconds to the first successful API call, and to its ready line."""
    port = _free_port()
    sqs = _clients(f"http://127.0.0.1:{port}")["sqs"]
    command = [sys.executable, "-m", "eventweave.cli", "local", "up", "--assembly", str(assembly)]
    command += ["--stack", STACK, "--port", str(port)]
    ready = threading.Event()
    deployed = [float("nan")]
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True
    )

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("Ctrl-C"):
                deployed[0] = time.perf_counter() - started
                ready.set()
        ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        endpoint = _wait_endpoint(process, sqs, started)
        ready.wait(60)
    finally:
        pids = _tree(process.pid)
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        _stop_tree(process, pids, grace=30)
        reader.join(5)
    return endpoint, deployed[0]


def _round(side: _Side) -> dict[str, float]:
    figures: dict[str, float] = {}
    _say(f"{side.name}: start + deploy")
    try:
        figures["start"], figures["deployed"] = side.start()
        figures["idle_rss"], figures["idle_procs"] = _settled_rss(side.process.pid)
        for path in ("sqs", "sns", "async"):
            _say(f"{side.name}: {path} latency")
            latencies, missing = _latency(side, path, SAMPLES)
            figures[f"{path}_p50"] = statistics.median(latencies) if latencies else float("nan")
            figures[f"{path}_p99"] = _percentile(latencies, 0.99) if latencies else float("nan")
            figures[f"{path}_missing"] = missing
        _say(f"{side.name}: drain of {DRAIN}")
        figures["drain"], figures["drain_missing"] = _drain(side, DRAIN)
        figures["load_rss"], figures["load_procs"] = _settled_rss(side.process.pid, timeout=3)
        if isinstance(side, _Eventweave):
            figures["ttl_rss"], figures["ttl_seconds"] = _after_ttl(side, figures["idle_rss"])
    finally:
        if hasattr(side, "process"):
            _say(f"{side.name}: stop")
            side.stop()
    return figures


def _median(rounds: list[dict[str, float]], key: str) -> float:
    values = [r[key] for r in rounds if key in r and r[key] == r[key]]
    return statistics.median(values) if values else float("nan")


def _verdict(value: float, limit: float, *, at_least: bool = False) -> str:
    if value != value:
        return "n/a"
    if at_least:
        return f"met (>= {limit:g}x)" if value >= limit else f"**missed** (< {limit:g}x)"
    return f"met (<= {limit:g}x)" if value <= limit else f"**missed** (> {limit:g}x)"


def run() -> Section:
    from importlib import metadata

    from eventweave.testing.stack import synthesize

    section = Section(
        title="eventweave's local cloud vs MiniStack",
        method=(
            "`bench/ministack_peer.py` (method in its docstring). The same handlers (`bench/local_app/handlers.py`) "
            "and topology (`PeerStack`: SQS -> Lambda mapping, SNS -> Lambda, an async-invoked function, a backlog "
            "queue, 13 functions) on both emulators, each its own process on loopback in its default settings, "
            "driven by the same boto3 calls over HTTP. Latency is open loop (one message per 20 ms, warm "
            f"functions, {SAMPLES} per path per round), from the producer's call to the handler's own clock at its "
            f"first line. Medians of {ROUNDS} interleaved rounds (fewer if the time budget runs out; see the notes); "
            "ratio = eventweave / MiniStack."
        ),
        header=("figure", "eventweave", "MiniStack", "ratio", "goal", "verdict"),
    )
    try:
        version = metadata.version("ministack")
    except metadata.PackageNotFoundError:
        section.notes.append("MiniStack is not installed (`pip install -e '.[bench]'`): nothing measured.")
        return section
    with tempfile.TemporaryDirectory(prefix="bench-peer-") as tmp:
        workdir = Path(tmp)
        started = time.perf_counter()
        assembly = synthesize(ROOT / "bench" / "local_app", workdir / "cdk.out")
        synth = time.perf_counter() - started
        template = json.loads((assembly / f"{STACK}.template.json").read_text())
        ew_rounds: list[dict[str, float]] = []
        ms_rounds: list[dict[str, float]] = []
        errors: list[str] = []
        began, last = time.monotonic(), 0.0
        for number in range(ROUNDS):
            if number and time.monotonic() - began + last > BUDGET:
                section.notes.append(
                    f"Only {number} of {ROUNDS} rounds: another would have passed the module's {BUDGET:.0f} s budget "
                    f"(a round took {last:.0f} s on this machine now)."
                )
                break
            round_began = time.monotonic()
            _say(f"round {number + 1}/{ROUNDS}: eventweave `local up` start")
            try:
                cli = _start_cli(assembly, workdir)
            except Exception as error:  # a failed round is reported, not fatal to the rest of `make bench`
                errors.append(f"round {number + 1}, `eventweave local up`: {type(error).__name__}: {error}")
                cli = (float("nan"), float("nan"))
            sides: list[_Side] = [_Eventweave(assembly, workdir), _MiniStack(template, workdir)]
            for side in sides if number % 2 == 0 else sides[::-1]:
                try:
                    figures = _round(side)
                except Exception as error:
                    errors.append(f"round {number + 1}, {side.name}: {type(error).__name__}: {error}")
                    continue
                if isinstance(side, _Eventweave):
                    figures["cli_start"], figures["cli_deployed"] = cli
                    ew_rounds.append(figures)
                else:
                    ms_rounds.append(figures)
            last = time.monotonic() - round_began
        section.notes.extend(f"Failed, left out of the medians: {error}" for error in errors)
    _rows(section, ew_rounds, ms_rounds)
    section.notes.append(
        f"MiniStack {version}. CDK synth of the benchmark app (eventweave only, not in its start figures): "
        f"{synth:.1f} s."
    )
    return section


def _rows(section: Section, ew: list[dict[str, float]], ms: list[dict[str, float]]) -> None:
    def pair(key: str, ms_key: str | None = None) -> tuple[float, float]:
        return _median(ew, key), _median(ms, ms_key or key)

    def ratio(a: float, b: float) -> float:
        return a / b if b and b == b and a == a else float("nan")

    def row(label: str, a: float, b: float, unit: str, goal_key: str | None, *, at_least: bool = False) -> None:
        value = ratio(a, b)
        limit = GOALS[goal_key] if goal_key else None
        goal = "-" if limit is None else (f">= {limit:g}x" if at_least else f"<= {limit:g}x")
        verdict = "-" if limit is None else _verdict(value, limit, at_least=at_least)
        section.rows.append((label, f"{a:.{unit}}", f"{b:.{unit}}", f"{value:.2f}x", goal, verdict))

    a, b = pair("cli_start", "start")
    row("start -> endpoint ready, s (eventweave: `eventweave local up`)", a, b, "2f", "start")
    a, b = pair("cli_deployed", "deployed")
    row("start -> 13-function topology deployed, s (MiniStack: + boto3 calls)", a, b, "2f", None)
    a, b = pair("idle_rss")
    row("idle RSS, 13 functions deployed, whole process tree, MB", a, b, "0f", "idle_rss")
    for path, label in (("sqs", "SQS send"), ("sns", "SNS publish"), ("async", "async invoke (Event)")):
        a, b = pair(f"{path}_p50")
        row(f"{label} -> handler start p50, ms", a, b, "1f", f"{path}_p50")
        a, b = pair(f"{path}_p99")
        row(f"{label} -> handler start p99, ms", a, b, "1f", "sqs_p99" if path == "sqs" else None)
    a, b = pair("drain")
    row(f"drain of {DRAIN} preloaded messages, messages/s", a, b, "0f", "drain", at_least=True)
    a, b = pair("load_rss")
    row("RSS after the load, MB", a, b, "0f", None)
    idle, after, seconds = _median(ew, "idle_rss"), _median(ew, "ttl_rss"), _median(ew, "ttl_seconds")
    back = ratio(after, idle) - 1
    section.rows.append(
        (
            f"eventweave RSS after the {IDLE_TTL:g} s idle TTL, MB",
            f"{after:.0f} ({seconds:.1f} s after the load)",
            "- (keeps one warm worker per function)",
            f"{after / idle:.2f}x of idle" if idle else "n/a",
            f"within {GOALS['ttl_rss']:.0%} of idle",
            "n/a" if back != back else ("met" if back <= GOALS["ttl_rss"] else "**missed**"),
        )
    )
    procs = f"{_median(ew, 'load_procs'):.0f} / {_median(ms, 'load_procs'):.0f}"
    section.notes.append(f"Processes after the load (emulator + function workers), eventweave / MiniStack: {procs}.")
    lost = {
        side: {
            key: sum(r.get(key, 0) for r in rounds)
            for key in ("sqs_missing", "sns_missing", "async_missing", "drain_missing")
        }
        for side, rounds in (("eventweave", ew), ("MiniStack", ms))
    }
    if any(any(v for v in counts.values()) for counts in lost.values()):
        section.notes.append(f"Messages whose handler start was never seen (all rounds): {lost}.")
    else:
        section.notes.append("Every message of every round reached its handler on both emulators.")
    section.notes.append(
        "Per-round values (eventweave | MiniStack): "
        + "; ".join(
            f"{key} "
            + ", ".join(f"{r.get(key, float('nan')):.1f}" for r in ew)
            + " | "
            + ", ".join(f"{r.get(key, float('nan')):.1f}" for r in ms)
            for key in ("sqs_p50", "sns_p50", "async_p50", "drain", "idle_rss")
        )
        + "."
    )


# -- the eventweave side's process --------------------------------------------------------------------------------


def _serve(argv: list[str]) -> int:
    """Run a LocalCloud with one stack deployed until standard input closes."""
    parser = argparse.ArgumentParser(prog="python -m bench.ministack_peer serve")
    parser.add_argument("--assembly", required=True)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ttl", type=float, required=True)
    args = parser.parse_args(argv)
    from eventweave.local.cloud import LocalCloud

    cloud = LocalCloud(port=args.port, idle_ttl_seconds=args.ttl)
    cloud.start()
    try:
        stack = cloud.deploy(args.assembly, args.stack, stack_name=args.stack)
        print("READY " + json.dumps({"endpoint": cloud.endpoint, "outputs": stack.outputs}), flush=True)
        sys.stdin.read()  # the benchmark closes it to stop this process
    finally:
        cloud.stop()
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] != ["serve"]:
        sys.exit("usage: python -m bench.ministack_peer serve --assembly DIR --stack NAME --port N --ttl SECONDS")
    sys.exit(_serve(sys.argv[2:]))

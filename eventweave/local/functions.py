"""The local Lambda service: each function runs in its own worker processes, as execution environments do in AWS.

A worker imports the handler once (a visible cold start) and is reused while warm; at most ``reserved_concurrency``
(or the service default) run one function at once and further invocations wait for one to free up; the function's
timeout is enforced by killing the worker, whose next invocation cold-starts a new one. Handler errors, import errors,
timeouts and crashed workers come back as Lambda reports them (``FunctionError: Unhandled`` with ``errorType`` /
``errorMessage``), never as an exception of the service.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .importable import importable_modules
from .model import FunctionSpec, InvokeResult, LogSink, UnknownFunctionError
from .runtime_api import RuntimeApi, RuntimeInvocation, RuntimeOutcome, deadline_ms
from .trace import Invocation, Journal, describe_payload

__all__ = ["DEFAULT_IDLE_TTL_SECONDS", "LambdaService"]

INIT_TIMEOUT_SECONDS = 10.0
"""Lambda's limit for the init phase (imports, module-level code) of an on-demand execution environment."""

_PASS_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT", "VIRTUAL_ENV")


_ENVIRONMENT_PROCESS = str(Path(__file__).with_name("_environment_process.py"))


class _WorkerDiedError(Exception):
    pass


_MEMORY_CHECK_SECONDS = 0.05
DEFAULT_IDLE_TTL_SECONDS = 300.0
"""Idle environments are shut down after five minutes (AWS reclaims them after an undocumented, longer while)."""
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


class _Worker:
    """One execution environment: its process (``eventweave.local._environment_process``, AWS's runtime interface
    client) and the Runtime API it polls (:class:`~eventweave.local.runtime_api.RuntimeApi`)."""

    def __init__(self, spec: FunctionSpec, env: dict[str, str], python: str, log: LogSink | None) -> None:
        self.spec = spec
        self.api = RuntimeApi()
        self.api.start()
        try:
            self.process = subprocess.Popen(  # noqa: S603 - this interpreter, eventweave's own environment process
                [python, "-I", "-u", _ENVIRONMENT_PROCESS],
                cwd=str(spec.code_dir),
                env=dict(env, AWS_LAMBDA_RUNTIME_API=self.api.address),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: a timeout or OOM kill takes the handler's children too
            )
        except BaseException:
            self.api.close()
            raise
        self._pump = threading.Thread(target=self._forward, args=(self.process.stdout, log), daemon=True)
        self._pump.start()
        self.ready = False
        self.idle_since = time.monotonic()
        self.out_of_memory = False
        self._limit_bytes = spec.memory_mb * 1024 * 1024

    def _forward(self, stream: IO[bytes] | None, log: LogSink | None) -> None:
        if stream is None:
            return
        for raw in stream:
            if log is not None:
                log(f"[{self.spec.name}] {raw.decode(errors='replace').rstrip()}")

    def _watch(self) -> None:
        """Raise :class:`_WorkerDiedError` if the process is gone, or (killing it) over the function's memory."""
        if self.process.poll() is not None:
            raise _WorkerDiedError
        if self.resident_bytes() > self._limit_bytes:
            self.out_of_memory = True
            self.kill()
            raise _WorkerDiedError

    def start(self, deadline: float) -> RuntimeOutcome | None:
        """Wait for init to end: ``None`` when the runtime asks for work, the init error it posted otherwise."""
        while True:
            remaining = deadline - time.monotonic()
            try:
                outcome = self.api.wait_ready(min(_MEMORY_CHECK_SECONDS, remaining))
            except TimeoutError:
                if remaining <= _MEMORY_CHECK_SECONDS:
                    raise
                self._watch()
                continue
            self.ready = outcome is None
            return outcome

    def call(self, invocation: RuntimeInvocation, deadline: float) -> RuntimeOutcome | None:
        """Hand one invocation to the runtime and wait for what it posts until ``deadline``; ``None`` on timeout.
        The environment is watched meanwhile: gone, or over the function's memory size (then killed, as Lambda does,
        with ``out_of_memory`` set), it raises :class:`_WorkerDiedError`."""
        self.api.submit(invocation)
        while True:
            remaining = deadline - time.monotonic()
            outcome = self.api.wait_result(max(0.0, min(_MEMORY_CHECK_SECONDS, remaining)))
            if outcome is not None:
                return outcome
            self._watch()
            if remaining <= _MEMORY_CHECK_SECONDS:
                return None

    def resident_bytes(self) -> int:
        """The environment process's resident set size (0 when it is gone)."""
        try:
            with open(f"/proc/{self.process.pid}/statm") as statm:
                return int(statm.read().split()[1]) * _PAGE_SIZE
        except (OSError, ValueError, IndexError):
            return 0

    def kill(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.api.close()


@dataclass
class _Pool:
    spec: FunctionSpec
    limit: int
    idle: list[_Worker] = field(default_factory=list)
    busy: int = 0
    condition: threading.Condition = field(default_factory=threading.Condition)
    closed: bool = False


def _trace_header(request_id: str) -> str:
    """An X-Ray trace header for one invocation (``_X_AMZN_TRACE_ID`` in the environment), sampled off."""
    epoch = f"{int(time.time()):08x}"
    return f"Root=1-{epoch}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0"


class LambdaService:
    """Runs the deployed functions of the local cloud; implements the :class:`~eventweave.local.model.Invoker` protocol.

    Example::

        with LambdaService(endpoint_url=plane.endpoint) as lambdas:
            lambdas.register(spec)
            result = lambdas.invoke(spec.name, b'{"Records": []}')
            assert result.ok, result.payload
    """

    def __init__(
        self,
        *,
        endpoint_url: str,
        region: str = "us-east-1",
        account_id: str = "000000000000",
        log: LogSink | None = None,
        default_concurrency: int = 4,
        python: str = sys.executable,
        journal: Journal | None = None,
        idle_ttl_seconds: float = DEFAULT_IDLE_TTL_SECONDS,
        lambda_imports: bool = True,
    ) -> None:
        self.endpoint_url = endpoint_url
        self.idle_ttl_seconds = idle_ttl_seconds
        """How long a warm environment may sit idle before it is shut down (Lambda reclaims idle environments too)."""
        self._reaper: threading.Thread | None = None
        self._closing = threading.Event()
        self.journal = journal
        self.region = region
        self.account_id = account_id
        self.log = log
        self.default_concurrency = default_concurrency
        self.python = python
        self.lambda_imports = lambda_imports
        """Functions import only what Lambda would give them (see :mod:`eventweave.local.importable`); ``False``
        lets them import anything installed on the host."""
        self._pools: dict[str, _Pool] = {}
        self._lock = threading.Lock()

    # -- registry -------------------------------------------------------------------------------------------------

    def register(self, spec: FunctionSpec) -> None:
        """Make ``spec`` invocable (replacing an earlier function of the same name, whose workers stop)."""
        if not spec.code_dir.is_dir():
            raise FileNotFoundError(f"function {spec.name}: code directory {spec.code_dir} does not exist")
        limit = spec.reserved_concurrency if spec.reserved_concurrency is not None else self.default_concurrency
        with self._lock:
            old = self._pools.pop(spec.name, None)
            self._pools[spec.name] = _Pool(spec, limit)
            if self._reaper is None:
                self._reaper = threading.Thread(target=self._reap_idle, name="lambda-idle-reaper", daemon=True)
                self._reaper.start()
        if old is not None:
            self._close_pool(old)

    def _reap_idle(self) -> None:
        """Shut down environments idle for longer than :attr:`idle_ttl_seconds`, so memory returns to the idle
        figure after a burst."""
        while not self._closing.wait(min(5.0, max(0.05, self.idle_ttl_seconds / 4))):
            self.reap_idle()

    def reap_idle(self) -> int:
        """Shut down the environments idle for longer than the TTL now; how many were."""
        cutoff = time.monotonic() - self.idle_ttl_seconds
        with self._lock:
            pools = list(self._pools.values())
        expired: list[_Worker] = []
        for pool in pools:
            with pool.condition:
                keep = [w for w in pool.idle if w.idle_since > cutoff]
                expired.extend(w for w in pool.idle if w.idle_since <= cutoff)
                pool.idle = keep
        for worker in expired:
            worker.kill()
        return len(expired)

    def unregister(self, name: str) -> None:
        """Forget a function and stop its workers."""
        with self._lock:
            pool = self._pools.pop(name, None)
        if pool is not None:
            self._close_pool(pool)

    def functions(self) -> list[FunctionSpec]:
        """The registered functions."""
        with self._lock:
            return [pool.spec for pool in self._pools.values()]

    def set_reserved_concurrency(self, name_or_arn: str, reserved: int | None) -> FunctionSpec:
        """Change a running function's reserved concurrency (``PutFunctionConcurrency``; ``None``:
        ``DeleteFunctionConcurrency``) and return its updated spec. Invocations in flight finish; warm environments
        beyond the new limit are shut down, so at most ``reserved`` run at once from now on (0 throttles every
        invocation)."""
        from dataclasses import replace

        pool = self._pool(name_or_arn)
        surplus: list[_Worker] = []
        with pool.condition:
            pool.spec = replace(pool.spec, reserved_concurrency=reserved)
            pool.limit = reserved if reserved is not None else self.default_concurrency
            # Every environment counts against the limit, busy or idle: keep busy + idle <= limit.
            # The most recently used (warmest, at the end) stay.
            cut = max(0, len(pool.idle) - max(0, pool.limit - pool.busy))
            surplus, pool.idle = pool.idle[:cut], pool.idle[cut:]
            pool.condition.notify_all()
        for worker in surplus:
            worker.kill()
        return pool.spec

    def exists(self, name_or_arn: str) -> bool:
        """Whether :meth:`get` would find the function."""
        try:
            self.get(name_or_arn)
        except UnknownFunctionError:
            return False
        return True

    def get(self, name_or_arn: str) -> FunctionSpec:
        """The function named by a name, an ARN, or an ARN with a qualifier."""
        return self._pool(name_or_arn).spec

    def _pool(self, name_or_arn: str) -> _Pool:
        name = name_or_arn
        if name.startswith("arn:"):
            parts = name.split(":")
            name = parts[6] if len(parts) > 6 else name
        elif ":" in name:
            name = name.split(":", 1)[0]  # name:qualifier
        with self._lock:
            pool = self._pools.get(name)
        if pool is None:
            raise UnknownFunctionError(f"Function not found: {name_or_arn} (not deployed in the local cloud)")
        return pool

    # -- invoking -------------------------------------------------------------------------------------------------

    def invoke(
        self, function_name: str, payload: bytes, *, source: str = "direct", request_id: str | None = None
    ) -> InvokeResult:
        """Run the function on ``payload`` and wait for its answer (RequestResponse). ``request_id``: the id the
        invocation runs under (an asynchronous event keeps its id across retries, as on AWS); a new one if not given.
        """
        pool = self._pool(function_name)
        spec = pool.spec
        try:
            payload.decode("utf-8")
        except UnicodeDecodeError as bad:
            body = json.dumps(
                {"Type": "User", "message": f"Could not parse request body into json: invalid UTF-8 ({bad})"}
            ).encode()
            self._log_line(spec, source, "InvalidRequestContentException", 0.0, False, payload)
            return InvokeResult(400, body, None)
        if pool.limit == 0:
            body = json.dumps(
                {
                    "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
                    "Type": "User",
                    "message": "Rate Exceeded.",
                }
            ).encode()
            self._log_line(spec, source, "throttled", 0.0, False, payload)
            return InvokeResult(429, body, None)
        worker = self._acquire(pool)
        if worker is None:
            # At the function's reserved concurrency Lambda throttles instead of queueing: sync callers get 429,
            # event source mappings and the async queue retry as AWS documents.
            body = json.dumps(
                {
                    "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
                    "Type": "User",
                    "message": "Rate Exceeded.",
                }
            ).encode()
            self._log_line(spec, source, "throttled", 0.0, False, payload)
            return InvokeResult(429, body, None)
        request_id = request_id or str(uuid.uuid4())
        started = time.monotonic()
        cold = not worker.ready
        deadline = started + spec.timeout_seconds
        outcome: RuntimeOutcome | None = None
        error: dict[str, Any] | None = None
        healthy = True
        try:
            init_error = None
            if cold:
                # Lambda's init phase has its own 10-second budget; the function's timeout starts after it.
                init_error = worker.start(time.monotonic() + INIT_TIMEOUT_SECONDS)
                deadline = time.monotonic() + spec.timeout_seconds
            if init_error is None:
                invocation = RuntimeInvocation(
                    request_id, payload, deadline_ms(deadline - time.monotonic()), spec.arn, _trace_header(request_id)
                )
                outcome = worker.call(invocation, deadline)
            else:
                outcome = init_error
            if outcome is None:
                healthy = False
                error = {
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": (
                        f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {request_id} "
                        f"Task timed out after {spec.timeout_seconds:.2f} seconds"
                    ),
                }
            elif outcome.kind != "response":
                # An init failure discards the environment (the runtime exits): the next invoke runs init again.
                healthy = outcome.kind != "init_error"
                error = outcome.error_document()
        except TimeoutError:
            healthy = False
            error = {
                "errorType": "Sandbox.Timedout",
                "errorMessage": f"{request_id} Task timed out after {spec.timeout_seconds:.2f} seconds (during init)",
            }
        except (_WorkerDiedError, OSError):
            healthy = False
            try:
                code: int | None = worker.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                code = None
            how = f"signal: {signal.Signals(-code).name.removeprefix('SIG').lower()}" if code and code < 0 else None
            error = {
                "errorType": "Runtime.OutOfMemory" if worker.out_of_memory else "Runtime.ExitError",
                "errorMessage": (
                    f"RequestId: {request_id} Error: Runtime exited with error: "
                    f"{'signal: killed' if worker.out_of_memory else how or f'exit status {code}'}"
                ),
            }
        finally:
            elapsed = (time.monotonic() - started) * 1000
        self._release(pool, worker, healthy)
        if error is not None or outcome is None:
            error = error or {"errorType": "Runtime.Unknown", "errorMessage": "no outcome"}
            self._log_line(spec, source, str(error.get("errorType")), elapsed, cold, payload, request_id)
            return InvokeResult(200, json.dumps(error).encode(), "Unhandled", elapsed, cold, request_id)
        answer = outcome.body
        self._log_line(spec, source, "ok", elapsed, cold, payload, request_id, answer.decode(errors="replace"))
        return InvokeResult(200, answer, None, elapsed, cold, request_id)

    def _environment(self, spec: FunctionSpec) -> dict[str, str]:
        env = {key: os.environ[key] for key in _PASS_ENV if key in os.environ}
        env.update(spec.environment)
        env.update(
            AWS_ENDPOINT_URL=self.endpoint_url,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",  # noqa: S106 - moto's fixed test credentials
            AWS_SESSION_TOKEN="testing",  # noqa: S106
            AWS_REGION=self.region,
            AWS_DEFAULT_REGION=self.region,
            AWS_LAMBDA_FUNCTION_NAME=spec.name,
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(spec.memory_mb),
            AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
            AWS_LAMBDA_LOG_GROUP_NAME=f"/aws/lambda/{spec.name}",
            AWS_LAMBDA_LOG_STREAM_NAME=f"local/{uuid.uuid4().hex}",
            AWS_EXECUTION_ENV=f"AWS_Lambda_{spec.runtime}",
            LAMBDA_TASK_ROOT=str(spec.code_dir),
            _HANDLER=spec.handler,
            PYTHONUNBUFFERED="1",
        )
        if self.lambda_imports:
            env["EVENTWEAVE_IMPORTABLE"] = ",".join(sorted(importable_modules(spec.requirements)))
        if spec.layer_dirs:
            # Lambda extracts layers under /opt; a Python layer's packages are in python/ (or its site-packages).
            env["EVENTWEAVE_LAYER_DIRS"] = os.pathsep.join(str(path) for path in spec.layer_dirs)
        return env

    def _acquire(self, pool: _Pool) -> _Worker | None:
        """A warm environment, a new one, or ``None`` when the function is at its reserved concurrency (throttled).

        Without reserved concurrency the pool's limit is the local cloud's own cap on processes, not a Lambda limit
        (AWS would run more in parallel), so an invocation waits for a free environment instead of throttling.
        """
        dead: list[_Worker] = []
        try:
            with pool.condition:
                while True:
                    if pool.closed:
                        raise UnknownFunctionError(f"Function not found: {pool.spec.name} (it was removed)")
                    while pool.idle:
                        worker = pool.idle.pop()
                        if worker.process.poll() is None:
                            pool.busy += 1
                            return worker
                        dead.append(worker)  # Lambda never sends work to an environment that has died
                    if pool.busy < pool.limit:
                        pool.busy += 1
                        break
                    if pool.spec.reserved_concurrency is not None:
                        return None
                    pool.condition.wait()
        finally:
            for worker in dead:
                worker.kill()
        try:
            return _Worker(pool.spec, self._environment(pool.spec), self.python, self.log)
        except BaseException:
            with pool.condition:
                pool.busy -= 1
                pool.condition.notify()
            raise

    def _release(self, pool: _Pool, worker: _Worker, healthy: bool) -> None:
        with pool.condition:
            pool.busy -= 1
            keep = healthy and not pool.closed
            if keep:
                worker.idle_since = time.monotonic()
                pool.idle.append(worker)
            pool.condition.notify()
        if not keep:
            worker.kill()

    def _close_pool(self, pool: _Pool) -> None:
        with pool.condition:
            pool.closed = True
            idle, pool.idle = pool.idle, []
            pool.condition.notify_all()
        for worker in idle:
            worker.kill()

    def _log_line(
        self,
        spec: FunctionSpec,
        source: str,
        outcome: str,
        elapsed_ms: float,
        cold: bool,
        payload: bytes,
        request_id: str = "",
        answer: str = "",
    ) -> None:
        if self.log is None and self.journal is None:
            return
        if outcome == "ok" and '"batchItemFailures"' in answer and '"itemIdentifier"' in answer:
            outcome = "partial"
        size, correlations = describe_payload(payload)
        invocation = Invocation(
            time.time() - elapsed_ms / 1000,
            spec.name,
            source,
            size,
            outcome,
            elapsed_ms,
            cold,
            request_id,
            tuple(correlations),
        )
        if self.journal is not None:
            self.journal.record(invocation)
        if self.log is not None:
            self.log(invocation.line())

    def close(self) -> None:
        """Stop every worker."""
        self._closing.set()
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            self._close_pool(pool)

    def __enter__(self) -> LambdaService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""``LocalCloud``: the data plane, the Lambda service, the async queue, event source mappings, push relays and URLs
of one machine, started together; deploy cloud assemblies into it and destroy them again.

Example::

    with LocalCloud() as cloud:
        stack = cloud.deploy("cdk.out", "EventweaveShowcase")
        boto3.client("sqs", endpoint_url=cloud.endpoint).send_message(QueueUrl=stack.outputs["BillingQueueUrl"], ...)
        cloud.wait_idle()
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .assembly import CloudAssembly
from .deployer import Deployer, Deployment
from .functions import DEFAULT_IDLE_TTL_SECONDS, LambdaService
from .gateway import DataPlane
from .http_front import FunctionUrlServer
from .invocations import AsyncInvoker, PushRelay
from .lambda_control import EventInvokeSettings, MappingRecord
from .model import AsyncConfig, EventSourceMappingSpec, FunctionSpec, InvokeResult, UnknownFunctionError
from .provisioners.lambda_ import async_config
from .sources import SqsPoller
from .streams import StreamPoller
from .trace import Journal

if TYPE_CHECKING:
    from .schedules import Scheduler

__all__ = ["DeployedStack", "LocalCloud"]


class _BackgroundService(Protocol):
    def start(self) -> None: ...
    def stop(self, *, wait: bool = True) -> None: ...
    def status(self) -> list[dict[str, Any]]: ...


def _stderr_log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass
class _Mapping:
    """One event source mapping the cloud holds: its record, the stack it runs with, and its poller (``None`` while
    disabled)."""

    record: MappingRecord
    stack: str
    runner: _BackgroundService | None = None
    checkpoint: StreamPoller | None = None
    """The stream poller that ran the mapping last (stopped): a resumed or updated mapping goes on from its shards'
    checkpoints, as on AWS, instead of at ``StartingPosition`` again."""


@dataclass
class DeployedStack:
    """A stack deployed into the local cloud, and what runs it.

    Example::

        stack = cloud.deploy("cdk.out", "Orders")
        stack.outputs["OrdersTopicArn"]; stack.urls  # {"App-Front-1A2B": "http://127.0.0.1:49731/"}
    """

    deployment: Deployment
    runners: list[_BackgroundService] = field(default_factory=list)
    url_servers: list[FunctionUrlServer] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The deployed stack's name."""
        return self.deployment.stack_name

    @property
    def outputs(self) -> dict[str, str]:
        """The template's Outputs, resolved."""
        return dict(self.deployment.outputs)

    @property
    def urls(self) -> dict[str, str]:
        """Local URL of each function that has a Function URL, by function name."""
        return {server.spec.function_name: server.url for server in self.url_servers}

    def status(self) -> list[dict[str, Any]]:
        """Each event source mapping and push relay target of the stack: ``{"name", "queue", "receive_failures",
        "poll_failures", "last_error"}`` (a failed poll is retried with backoff, and journaled)."""
        return [entry for runner in self.runners for entry in runner.status()]

    def function_name(self, logical_id_prefix: str) -> str:
        """The physical name of the one function whose logical id starts with ``logical_id_prefix``."""
        matches = [f.name for f in self.deployment.functions if f.logical_id.startswith(logical_id_prefix)]
        if len(matches) != 1:
            known = sorted(f.logical_id for f in self.deployment.functions)
            raise KeyError(
                f"stack {self.name}: {len(matches)} functions have a logical id starting with {logical_id_prefix!r}; "
                f"choose one of {known}"
            )
        return matches[0]


class LocalCloud:
    """Everything eventweave runs locally, in one object: start it, deploy assemblies, destroy them, stop it.

    ``endpoint``: an existing AWS-compatible endpoint (a LocalStack the user runs) instead of the embedded moto; the
    handlers, event source mappings and async invocations still run here.

    Example::

        cloud = LocalCloud()
        cloud.start()
        stack = cloud.deploy("cdk.out")
        ...
        cloud.stop()
    """

    def __init__(
        self,
        *,
        port: int = 0,
        endpoint: str | None = None,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        log: Any = None,
        async_retry_delays: tuple[float, ...] = (1.0, 2.0),
        default_concurrency: int = 4,
        journal_path: str | Path | None = None,
        idle_ttl_seconds: float = DEFAULT_IDLE_TTL_SECONDS,
        lambda_imports: bool = True,
        skip_unsupported: Iterable[str] = (),
    ) -> None:
        self.port = port
        self.skip_unsupported = tuple(skip_unsupported)
        """Resource types (fnmatch patterns) deployed as skipped instead of refusing the stack; listed on the
        deployment (``Deployment.skipped``)."""
        self.scheduler: Scheduler | None = None
        self.idle_ttl_seconds = idle_ttl_seconds
        self.lambda_imports = lambda_imports
        """Functions import only what Lambda would give them (their asset, layers, the runtime's packages and, for an
        eventweave function, its requirements); ``False`` lets them import anything installed on the host."""
        """Warm execution environments idle this long are shut down (default five minutes)."""
        self.region = region
        self.account_id = account_id
        self.log = log or _stderr_log
        self.async_retry_delays = async_retry_delays
        self.default_concurrency = default_concurrency
        self.journal = Journal(path=Path(journal_path) if journal_path else None)
        """Every invocation, to follow one correlation id through the topology: ``cloud.journal.follow(id)``."""
        self._external = endpoint
        self.endpoint = endpoint or ""
        self.data_plane: DataPlane | None = None
        self.lambdas: LambdaService | None = None
        self.async_invoker: AsyncInvoker | None = None
        self.stacks: dict[str, DeployedStack] = {}
        self._lock = threading.Lock()
        self._mappings: dict[str, _Mapping] = {}
        """Every event source mapping by UUID (deployed or created through the API), running or disabled."""
        self._mapping_lock = threading.RLock()
        """Held while a mapping's poller is replaced: one change at a time, so two never both run."""
        self._modified: dict[str, float] = {}
        self._invoke_settings: dict[str, EventInvokeSettings] = {}

    # -- lifecycle ------------------------------------------------------------------------------------------------

    def start(self) -> str:
        """Start the data plane (unless external) and the Lambda side; return the endpoint URL."""
        if self._external is None:
            self.data_plane = DataPlane(port=self.port, lambda_api=self, function_exists=self._function_exists)
            self.endpoint = self.data_plane.start()
        self.lambdas = LambdaService(
            endpoint_url=self.endpoint,
            region=self.region,
            account_id=self.account_id,
            log=self.log,
            default_concurrency=self.default_concurrency,
            journal=self.journal,
            idle_ttl_seconds=self.idle_ttl_seconds,
            lambda_imports=self.lambda_imports,
        )
        self.async_invoker = AsyncInvoker(
            self.lambdas,
            endpoint_url=self.endpoint,
            region=self.region,
            account_id=self.account_id,
            log=self.log,
            retry_delays=self.async_retry_delays,
        )
        self.async_invoker.start()
        from .schedules import Scheduler

        self.scheduler = Scheduler(
            endpoint_url=self.endpoint,
            region=self.region,
            account_id=self.account_id,
            invoker=self.async_invoker,
            log=self.log,
        )
        self.scheduler.start()
        return self.endpoint

    def fire_schedule(self, name: str, *, group: str | None = None) -> list[str]:
        """Fire an EventBridge Scheduler schedule (or a scheduled rule) now, whatever its expression; what it
        delivered to."""
        if self.scheduler is None:
            raise RuntimeError("the local cloud is not started")
        return self.scheduler.fire_now(name, group=group)

    def stop(self) -> None:
        """Destroy nothing, stop everything: pollers, relays, URLs, workers, the data plane."""
        with self._mapping_lock:
            for stack in list(self.stacks.values()):
                self._stop_runtime(stack)
            self.stacks.clear()
        if self.scheduler is not None:
            self.scheduler.stop()
        if self.async_invoker is not None:
            self.async_invoker.stop()
        if self.lambdas is not None:
            self.lambdas.close()
        if self.data_plane is not None:
            self.data_plane.stop()

    def __enter__(self) -> LocalCloud:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- deploy / destroy -----------------------------------------------------------------------------------------

    def deploy(
        self, assembly: str | Path | CloudAssembly, stack: str | None = None, *, stack_name: str | None = None
    ) -> DeployedStack:
        """Deploy one stack of a cloud assembly (the only one when ``stack`` is None) and start running it."""
        lambdas, invoker = self._require()
        cloud_assembly = assembly if isinstance(assembly, CloudAssembly) else CloudAssembly.load(Path(assembly))
        artifact = cloud_assembly.stack(stack) if stack is not None else _only(cloud_assembly)
        deployment = self._deployer().deploy(artifact, stack_name=stack_name)
        local = DeployedStack(deployment)
        mappings: list[_Mapping] = []
        try:
            for spec in deployment.functions:
                lambdas.register(spec)
                config = deployment.async_configs.get(spec.name, AsyncConfig())
                invoker.configure(spec.name, config, function_arn=spec.arn, dead_letter_arn=spec.dead_letter_arn)
            now = time.time()
            for spec in deployment.functions:
                self._modified[spec.name] = now
            for name, config in deployment.async_configs.items():
                self._invoke_settings[name] = EventInvokeSettings(_invoke_document(config), now)
            for mapping in deployment.mappings:
                entry = _Mapping(MappingRecord(mapping, now), deployment.stack_name)
                if mapping.enabled:
                    entry.runner = self._start_mapping(mapping, None)
                    local.runners.append(entry.runner)
                mappings.append(entry)
            if deployment.push_targets:
                relay = PushRelay(
                    deployment.push_targets,
                    invoker,
                    endpoint_url=self.endpoint,
                    region=self.region,
                    log=self.log,
                    journal=self.journal,
                )
                relay.start()
                local.runners.append(relay)
            if deployment.bucket_notifications:
                from .notifications import BucketNotificationRelay

                s3_relay = BucketNotificationRelay(
                    deployment.bucket_notifications,
                    invoker,
                    endpoint_url=self.endpoint,
                    region=self.region,
                    log=self.log,
                    journal=self.journal,
                )
                s3_relay.start()
                local.runners.append(s3_relay)
            for url in deployment.urls:
                port = int(url.url.rsplit(":", 1)[1].strip("/")) if url.url else 0
                server = FunctionUrlServer(
                    url, lambdas, port=port, log=self.log, account_id=self.account_id, region=self.region
                )
                server.start()
                local.url_servers.append(server)
        except BaseException:
            self._stop_runtime(local)
            self._deployer().destroy(deployment)
            raise
        with self._mapping_lock:
            self._mappings.update((entry.record.spec.uuid, entry) for entry in mappings)
            with self._lock:
                self.stacks[deployment.stack_name] = local
        return local

    def destroy(self, stack: DeployedStack) -> None:
        """Stop what runs the stack, then delete its resources.

        Pollers are told to stop without waiting for their long polls to return (up to a second): one that returns
        with messages after this leaves them for the visibility timeout, as a deleted mapping does on AWS.
        """
        with self._mapping_lock:
            self._stop_runtime(stack, wait=False)
            with self._lock:
                self.stacks.pop(stack.name, None)
        self._deployer().destroy(stack.deployment)

    def status(self) -> dict[str, list[dict[str, Any]]]:
        """Per deployed stack, the counters of each event source mapping and relay target (see
        :meth:`DeployedStack.status`); the failures themselves are in :meth:`Journal.failures`.

        Example::

            cloud.status()["Orders"]   # [{"name": "sqs:orders-1A2B->Charge", "receive_failures": 0, ...}, ...]
        """
        with self._lock:
            stacks = dict(self.stacks)
        return {name: stack.status() for name, stack in stacks.items()}

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no asynchronous invocation is queued or running (event source queues are the caller's)."""
        _, invoker = self._require()
        return invoker.wait_idle(timeout)

    def wait_quiet(self, timeout: float = 30.0, *, settle: float = 0.3) -> list[str]:
        """Wait until nothing runs or waits anywhere (see :mod:`.quiescence`); ``[]``, or what is still busy."""
        from .quiescence import wait_quiet

        return wait_quiet(self, timeout=timeout, settle=settle)

    # -- the Lambda API the data plane's gateway calls ------------------------------------------------------------

    def invoke_sync(self, function_name: str, payload: bytes) -> InvokeResult:
        lambdas, _ = self._require()
        return lambdas.invoke(function_name, payload, source="invoke")

    def invoke_async(self, function_name: str, payload: bytes) -> None:
        lambdas, invoker = self._require()
        # An unknown function fails the Invoke call itself (404), as in AWS, instead of failing later in the queue.
        invoker.submit(lambdas.get(function_name).name, payload, source="invoke-event")

    def _function_exists(self, name: str) -> bool:
        return self.lambdas is not None and self.lambdas.exists(name)

    # -- what Lambda's control plane reads and changes (eventweave.local.lambda_control.LambdaRuntime) -------------

    def lambda_functions(self) -> list[FunctionSpec]:
        """Every function the cloud runs, as the Lambda service holds it (reserved concurrency as changed)."""
        lambdas, _ = self._require()
        return lambdas.functions()

    def lambda_function(self, name_or_arn: str) -> FunctionSpec:
        """The function named (name, ARN, qualified); raises :class:`UnknownFunctionError`."""
        lambdas, _ = self._require()
        return lambdas.get(name_or_arn)

    def function_last_modified(self, name: str) -> float:
        """When the function was deployed (epoch seconds)."""
        return self._modified.get(name, 0.0)

    def set_reserved_concurrency(self, name: str, reserved: int | None) -> FunctionSpec:
        """Change the running function's reserved concurrency (``PutFunctionConcurrency``; ``None``: delete it)."""
        lambdas, _ = self._require()
        return lambdas.set_reserved_concurrency(name, reserved)

    def event_invoke_settings(self, name: str) -> EventInvokeSettings | None:
        """The function's ``EventInvokeConfig`` (from the template or the API), ``None`` when it has none."""
        return self._invoke_settings.get(name)

    def set_event_invoke_settings(self, name: str, settings: EventInvokeSettings | None) -> None:
        """Apply the function's ``EventInvokeConfig`` to the async queue (``None``: back to AWS's defaults)."""
        lambdas, invoker = self._require()
        spec = lambdas.get(name)
        config = async_config(dict(settings.document)) if settings is not None else AsyncConfig()
        invoker.configure(spec.name, config, function_arn=spec.arn, dead_letter_arn=spec.dead_letter_arn)
        if settings is None:
            self._invoke_settings.pop(spec.name, None)
        else:
            self._invoke_settings[spec.name] = settings

    def event_source_mappings(self) -> list[MappingRecord]:
        """Every event source mapping, running or disabled."""
        with self._mapping_lock:
            return [entry.record for entry in self._mappings.values()]

    def event_source_mapping(self, mapping_id: str) -> MappingRecord:
        """The mapping with that UUID; raises :class:`KeyError`."""
        with self._mapping_lock:
            return self._mappings[mapping_id].record

    def create_event_source_mapping(self, record: MappingRecord) -> MappingRecord:
        """Run a new mapping with the stack of its function (its poller starts now when it is enabled, and stops
        when that stack is destroyed)."""
        with self._mapping_lock:
            if record.spec.uuid in self._mappings:
                raise ValueError(f"event source mapping {record.spec.uuid} exists already")
            stack = self._stack_of(record.spec.function_name)
            entry = _Mapping(record, stack.name)
            self._run(entry, stack)
            self._mappings[record.spec.uuid] = entry
            return record

    def update_event_source_mapping(self, record: MappingRecord) -> MappingRecord:
        """Replace a mapping's configuration: its poller stops (the batch in flight finishes) and, when the mapping
        is enabled, a new one starts with the new spec (a stream's resumes where the old one stopped)."""
        with self._mapping_lock:
            entry = self._mappings[record.spec.uuid]
            if entry.record.spec == record.spec and (entry.runner is not None) == record.spec.enabled:
                entry.record = record  # nothing the poller reads changed
                return record
            stack = self._stack_of(record.spec.function_name)
            self._halt(entry)
            entry.record, entry.stack = record, stack.name
            self._run(entry, stack)
            return record

    def delete_event_source_mapping(self, mapping_id: str) -> MappingRecord:
        """Stop a mapping's poller and forget the mapping; raises :class:`KeyError`. The batch in flight finishes;
        what the poller had received and not delivered reappears after the queue's visibility timeout."""
        with self._mapping_lock:
            entry = self._mappings[mapping_id]
            self._halt(entry)
            del self._mappings[mapping_id]
            return entry.record

    def _stack_of(self, function_name: str) -> DeployedStack:
        with self._lock:
            stacks = list(self.stacks.values())
        for stack in stacks:
            if any(spec.name == function_name for spec in stack.deployment.functions):
                return stack
        raise UnknownFunctionError(f"Function not found: {function_name} (not deployed in the local cloud)")

    def _run(self, entry: _Mapping, stack: DeployedStack) -> None:
        if not entry.record.spec.enabled:
            return
        entry.runner = self._start_mapping(entry.record.spec, entry.checkpoint)
        stack.runners.append(entry.runner)

    def _halt(self, entry: _Mapping) -> None:
        runner, entry.runner = entry.runner, None
        if runner is None:
            return
        runner.stop(wait=True)  # a change takes effect once the old poller is gone: two never run one mapping
        if isinstance(runner, StreamPoller):
            entry.checkpoint = runner
        with self._lock:
            stack = self.stacks.get(entry.stack)
        if stack is not None and runner in stack.runners:
            stack.runners.remove(runner)

    def _start_mapping(self, spec: EventSourceMappingSpec, checkpoint: StreamPoller | None) -> _BackgroundService:
        lambdas, _ = self._require()
        options: dict[str, Any] = {
            "endpoint_url": self.endpoint,
            "region": self.region,
            "log": self.log,
            "journal": self.journal,
        }
        if spec.source == "sqs":
            runner: _BackgroundService = SqsPoller(spec, lambdas, **options)
        elif checkpoint is not None and replace(checkpoint.spec, enabled=True) == replace(spec, enabled=True):
            runner = checkpoint  # paused and resumed: a stopped stream poller goes on from its shards' checkpoints
        else:
            stream = StreamPoller(spec, lambdas, **options)
            if checkpoint is not None and checkpoint.spec.source_arn == spec.source_arn:
                # A changed configuration needs a new poller; it goes on from the old one's checkpoints instead of
                # StartingPosition again, as an updated mapping does on AWS.
                stream.take_over(checkpoint)
            runner = stream
        runner.start()
        return runner

    # -- internals ------------------------------------------------------------------------------------------------

    def _deployer(self) -> Deployer:
        # With the embedded data plane its clients call moto in-process (see eventweave.local.aws).
        return Deployer(
            endpoint_url=self.endpoint,
            region=self.region,
            account_id=self.account_id,
            skip_unsupported=self.skip_unsupported,
        )

    def _require(self) -> tuple[LambdaService, AsyncInvoker]:
        if self.lambdas is None or self.async_invoker is None:
            raise RuntimeError("the local cloud is not started: call start() or use it as a context manager")
        return self.lambdas, self.async_invoker

    def _stop_runtime(self, stack: DeployedStack, *, wait: bool = True) -> None:
        for server in stack.url_servers:
            server.stop()
        for runner in stack.runners:
            runner.stop(wait=wait)
        stack.url_servers.clear()
        stack.runners.clear()
        with self._mapping_lock:
            for key in [key for key, entry in self._mappings.items() if entry.stack == stack.name]:
                del self._mappings[key]
        for spec in stack.deployment.functions:
            self._modified.pop(spec.name, None)
            self._invoke_settings.pop(spec.name, None)
            if self.lambdas is not None:
                self.lambdas.unregister(spec.name)


def _invoke_document(config: AsyncConfig) -> dict[str, Any]:
    """A deployed ``AWS::Lambda::EventInvokeConfig`` as ``GetFunctionEventInvokeConfig`` returns it."""
    return {
        "MaximumRetryAttempts": config.maximum_retry_attempts,
        "MaximumEventAgeInSeconds": config.maximum_event_age_seconds,
        "DestinationConfig": {
            "OnSuccess": {"Destination": config.on_success.arn} if config.on_success is not None else {},
            "OnFailure": {"Destination": config.on_failure.arn} if config.on_failure is not None else {},
        },
    }


def _only(assembly: CloudAssembly) -> Any:
    stacks = assembly.stacks
    if len(stacks) != 1:
        names = [s.name for s in stacks]
        raise ValueError(f"the cloud assembly has {len(names)} stacks {names}; say which one to deploy")
    return stacks[0]

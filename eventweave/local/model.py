"""What the local cloud knows about a deployed app: plain records shared by the deployer, the Lambda service,
the event source pollers and the push paths.

The deployer turns a synthesized template into these records (physical names resolved, intrinsics evaluated); the
other parts only read them. Nothing here talks to AWS or moto.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

__all__ = [
    "AsyncConfig",
    "BucketNotificationSpec",
    "BucketNotificationTarget",
    "DestinationSpec",
    "EventSourceMappingSpec",
    "FunctionSpec",
    "FunctionUrlSpec",
    "InvokeResult",
    "Invoker",
    "LogSink",
    "PushTarget",
    "ScheduleSpec",
    "UnknownFunctionError",
]

InvocationType = Literal["RequestResponse", "Event"]


@dataclass(frozen=True)
class FunctionSpec:
    """A Lambda function of a deployed stack, as the local Lambda service runs it.

    Example::

        FunctionSpec(name="App-WorkerFunction-1A2B", arn="arn:aws:lambda:us-east-1:000000000000:function:App-...",
                     handler="examples.showcase.handlers.handler", code_dir=Path("cdk.out/asset.abc"),
                     environment={"EVENTWEAVE_DLQ": "https://..."}, timeout_seconds=30)
    """

    name: str
    arn: str
    handler: str
    """``module.attribute`` of the entry point, as in the template's ``Handler``."""
    code_dir: Path
    """The unpacked asset directory; the local worker imports the handler module from it."""
    environment: Mapping[str, str] = field(default_factory=dict)
    timeout_seconds: int = 3
    memory_mb: int = 128
    reserved_concurrency: int | None = None
    runtime: str = "python3.14"
    dead_letter_arn: str | None = None
    """``DeadLetterConfig.TargetArn``: where the async path sends an event after its last retry."""
    logical_id: str = ""
    stack_name: str = ""
    layer_dirs: tuple[Path, ...] = ()
    """The function's ``Layers`` of this cloud assembly, in order: each directory holds what Lambda extracts under
    ``/opt`` (its ``python/`` and ``python/lib/python3.X/site-packages/`` folders go on ``sys.path`` after the
    function's own code). Layers from outside the assembly (an ARN of another account) are not listed."""
    qualifiers: Mapping[str, str] = field(default_factory=dict)
    """Published versions and aliases: qualifier -> the version it runs (``{"1": "1", "live": "1"}``). Locally
    every qualifier runs the function's one code; ``$LATEST`` is always valid and not listed."""
    requirements: tuple[str, ...] | None = None
    """The pip requirements an eventweave function was synthesized with (``eventweave:requirements`` metadata);
    ``None`` for any other function. Locally it may import those distributions and their dependencies from the host
    (:mod:`eventweave.local.importable`)."""


@dataclass(frozen=True)
class DestinationSpec:
    """An on-success / on-failure destination: an SQS queue, SNS topic, EventBridge bus or Lambda function ARN."""

    arn: str

    @property
    def service(self) -> str:
        """``sqs``, ``sns``, ``events`` or ``lambda``: the ARN's service field."""
        return self.arn.split(":")[2]


@dataclass(frozen=True)
class AsyncConfig:
    """``AWS::Lambda::EventInvokeConfig`` of a function (AWS defaults when the template has none)."""

    maximum_retry_attempts: int = 2
    maximum_event_age_seconds: int = 21600
    on_success: DestinationSpec | None = None
    on_failure: DestinationSpec | None = None


@dataclass(frozen=True)
class EventSourceMappingSpec:
    """An ``AWS::Lambda::EventSourceMapping``: run by eventweave's pollers, never registered in moto.

    ``source_arn`` is an SQS queue, Kinesis stream or DynamoDB stream ARN; the stream-only fields keep AWS's defaults
    when the template leaves them out (retry until the record expires, no age limit, no bisect).
    """

    uuid: str
    function_name: str
    source_arn: str
    batch_size: int = 10
    maximum_batching_window_seconds: int = 0
    enabled: bool = True
    report_batch_item_failures: bool = False
    maximum_concurrency: int | None = None
    """SQS ``ScalingConfig.MaximumConcurrency``."""
    starting_position: str | None = None
    """``TRIM_HORIZON`` / ``LATEST`` for streams."""
    bisect_batch_on_function_error: bool = False
    maximum_retry_attempts: int = -1
    """-1: retry until the record expires, as AWS."""
    maximum_record_age_seconds: int = -1
    parallelization_factor: int = 1
    on_failure: DestinationSpec | None = None
    filter_patterns: tuple[str, ...] = ()
    """``FilterCriteria.Filters[].Pattern`` JSON strings, EventBridge pattern syntax."""
    function_qualifier: str | None = None
    """The version or alias the mapping names (``FunctionName: orders:live``); ``function_name`` is unqualified."""

    @property
    def source(self) -> Literal["sqs", "kinesis", "dynamodb"]:
        """Which poller runs this mapping."""
        service = self.source_arn.split(":")[2]
        if service in ("sqs", "kinesis", "dynamodb"):
            return service  # type: ignore[return-value]
        raise ValueError(f"event source mapping {self.uuid}: unsupported source {self.source_arn}")


@dataclass(frozen=True)
class PushTarget:
    """An SNS subscription or EventBridge rule target that moto cannot deliver: a Lambda function (either source) or
    an SNS topic (EventBridge).

    moto cannot deliver these itself (Lambda needs Docker there, and EventBridge answers HTTP 500 for Lambda and SNS
    targets), so the deployer points the topic or rule at an internal SQS relay queue instead, keeping moto's filter
    policy / event pattern matching, and the push poller turns each relayed message into an asynchronous invocation
    with AWS's event shape, or a publish to the topic.
    """

    kind: Literal["sns", "events"]
    source_arn: str
    """The topic or rule ARN."""
    target_arn: str
    """A Lambda function ARN, or (EventBridge only) an SNS topic ARN or an SQS queue ARN (a target with an input
    transform: moto's own SQS delivery ignores ``Input`` and ``InputPath`` and renders templates as plain text)."""
    relay_queue_url: str
    """The internal queue the deployer subscribed / targeted in moto."""
    input_transform: Mapping[str, Any] | None = None
    """EventBridge target ``Input`` / ``InputPath`` / ``InputTransformer``, applied by eventweave."""
    dead_letter_arn: str | None = None
    """EventBridge target ``DeadLetterConfig.Arn`` or SNS subscription redrive queue."""
    maximum_retry_attempts: int = 185
    maximum_event_age_seconds: int = 86400
    message_group_id: str | None = None
    """EventBridge target ``SqsParameters.MessageGroupId`` (an SQS FIFO target)."""


@dataclass(frozen=True)
class BucketNotificationTarget:
    """One notification configuration of a bucket: its id (the record's ``s3.configurationId``) and destination."""

    configuration_id: str
    target_arn: str
    """An SQS queue, SNS topic or Lambda function ARN (a function ARN may be qualified)."""


@dataclass(frozen=True)
class BucketNotificationSpec:
    """A bucket's event notifications to SQS, SNS and Lambda.

    moto matches the events and key filters and sends its own record to ``relay_queue_url``, the configuration id
    naming the destination; eventweave's relay (:mod:`eventweave.local.notifications`) delivers the documented S3
    record (:mod:`eventweave.wire.s3`) to the destination: the SQS body, the SNS message, an asynchronous Lambda
    invocation.
    """

    bucket: str
    relay_queue_url: str
    targets: tuple[BucketNotificationTarget, ...] = ()


@dataclass(frozen=True)
class ScheduleSpec:
    """An EventBridge Scheduler schedule or a scheduled EventBridge rule of a deployed stack.

    The definition lives in the data plane (moto's Scheduler / EventBridge); :mod:`eventweave.local.schedules` fires
    it from there, so a schedule changed through the API fires as changed.
    """

    kind: Literal["scheduler", "rule"]
    name: str
    group: str
    """The schedule group (Scheduler) or the event bus (rules: always ``default``)."""
    arn: str
    expression: str
    timezone: str = "UTC"
    enabled: bool = True
    logical_id: str = ""


@dataclass(frozen=True)
class FunctionUrlSpec:
    """An ``AWS::Lambda::Url``: served on localhost by the local HTTP front."""

    function_name: str
    auth_type: Literal["AWS_IAM", "NONE"] = "AWS_IAM"
    url: str = ""


@dataclass(frozen=True)
class InvokeResult:
    """The outcome of one invocation, as Lambda's Invoke API reports it.

    ``function_error`` is ``"Unhandled"`` when the handler raised or timed out (the payload then holds
    ``errorMessage`` / ``errorType`` / ``stackTrace``), ``None`` on success.
    """

    status_code: int
    payload: bytes
    function_error: str | None = None
    duration_ms: float = 0.0
    cold_start: bool = False
    request_id: str = ""

    @property
    def ok(self) -> bool:
        """Whether the handler ran and returned normally (a throttled invoke, 429, never ran)."""
        return self.function_error is None and self.status_code < 300


class UnknownFunctionError(LookupError):
    """No function of that name or ARN is deployed in the local cloud (Lambda's ``ResourceNotFoundException``)."""


class Invoker(Protocol):
    """What the pollers and push paths need from the Lambda service: a synchronous invoke by function name."""

    def invoke(
        self, function_name: str, payload: bytes, *, source: str = "direct", request_id: str | None = None
    ) -> InvokeResult:
        """Run ``function_name`` on ``payload`` and wait; ``source`` labels the invocation in the local log,
        ``request_id`` (when given) is the id it runs under."""
        ...


class LogSink(Protocol):
    """Receives one line per invocation and the functions' own output."""

    def __call__(self, line: str) -> None: ...

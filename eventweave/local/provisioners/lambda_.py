"""Lambda: functions, event source mappings, async invoke configs, URLs, versions, aliases and layers.

None of these is created in moto (its Lambda needs Docker to run code, and its mappings fire synchronously with
batches of one). Each is recorded on the :class:`~eventweave.local.deployer.Deployment` for eventweave's own
runtime: the Lambda service, the pollers, the async queue, the URL server.

Versions and aliases: locally a function has one code, so ``f:1``, ``f:live`` and ``f`` all run it; their ARNs
resolve (``Ref``, ``Fn::GetAtt``), invoking them runs the function, and mappings and triggers on them work. The
qualifiers are recorded on :attr:`FunctionSpec.qualifiers` and the mapping's ``function_qualifier``.

Layers (``AWS::Lambda::LayerVersion``) of the cloud assembly are recorded by ARN; a function using them gets their
directories on :attr:`FunctionSpec.layer_dirs`.

The validators check what ``CreateFunction``, ``CreateEventSourceMapping`` and ``PutFunctionEventInvokeConfig`` check,
with Lambda's error codes and messages, before anything of the stack is created.
"""

from __future__ import annotations

import dataclasses
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from ..model import AsyncConfig, DestinationSpec, EventSourceMappingSpec, FunctionSpec, FunctionUrlSpec
from ._patterns import pattern_problem
from ._util import function_name, json_text, qualifier, service_of
from .base import Constraints, DeployContext, Issue, PlanContext, Planned, Provisioner, as_int, register

__all__ = [
    "FUNCTION_TYPES",
    "MAX_MEMORY_MB",
    "MAX_TIMEOUT_SECONDS",
    "async_config",
    "event_source_mapping_spec",
    "find_function",
    "validate_event_invoke_config",
    "validate_event_source_mapping",
]

MAX_TIMEOUT_SECONDS = 900
MAX_MEMORY_MB = 10240
FUNCTION_TYPES = ("AWS::Lambda::Function", "AWS::Lambda::Version", "AWS::Lambda::Alias")
_STREAM_FAILURE_DESTINATIONS = ("sqs", "sns", "s3")
_ASYNC_DESTINATIONS = ("lambda", "sqs", "sns", "events")


# -- functions -----------------------------------------------------------------------------------------------------


def _function(ctx: DeployContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = props.get("FunctionName") or ctx.physical_name(logical, 64)
    arn = ctx.arn("lambda", f"function:{name}")
    if logical in ctx.provider_functions:
        return name, {"Arn": arn, "_provider": True}  # CDK's provider of a custom resource done natively
    runtime = str(props.get("Runtime", ""))
    if not runtime.startswith("python"):
        raise ValueError(f"runtime {runtime or 'a container image'}: the local cloud runs Python functions only")
    env = (props.get("Environment") or {}).get("Variables") or {}
    layers = ctx.deployment.layers
    spec = FunctionSpec(
        name=name,
        arn=arn,
        handler=str(props["Handler"]),
        code_dir=ctx.stack.code_dir(logical),
        environment={str(k): str(v) for k, v in env.items()},
        timeout_seconds=int(props.get("Timeout", 3)),
        memory_mb=int(props.get("MemorySize", 128)),
        reserved_concurrency=(
            int(props["ReservedConcurrentExecutions"]) if "ReservedConcurrentExecutions" in props else None
        ),
        runtime=runtime,
        dead_letter_arn=(props.get("DeadLetterConfig") or {}).get("TargetArn"),
        logical_id=logical,
        stack_name=ctx.name,
        layer_dirs=tuple(layers[str(layer)] for layer in props.get("Layers") or [] if str(layer) in layers),
        requirements=_requirements(ctx.resource(logical).get("Metadata") or {}),
    )
    ctx.deployment.functions.append(spec)
    return name, {"Arn": arn}


def _requirements(metadata: dict[str, Any]) -> tuple[str, ...] | None:
    listed = metadata.get("eventweave:requirements")
    return tuple(str(item) for item in listed) if isinstance(listed, list) else None


def _function_placeholder(plan: PlanContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = str(props.get("FunctionName") or f"{plan.name}-{logical}")
    return name, {"Arn": f"arn:aws:lambda:{plan.region}:{plan.account}:function:{name}"}


def _validate_function(plan: PlanContext, logical: str, props: dict[str, Any]) -> Iterator[Issue]:
    """CreateFunction's checks: timeout 1-900 s, memory 128-10,240 MB, ephemeral storage 512-10,240 MB."""
    if logical in plan.provider_functions:
        return
    checks = Constraints()
    checks.between(props.get("Timeout"), "timeout", 1, MAX_TIMEOUT_SECONDS)
    checks.between(props.get("MemorySize"), "memorySize", 128, MAX_MEMORY_MB)
    checks.between((props.get("EphemeralStorage") or {}).get("Size"), "ephemeralStorage.size", 512, 10240)
    checks.between(props.get("ReservedConcurrentExecutions"), "reservedConcurrentExecutions", 0, None)
    yield from checks.issues()
    runtime = str(props.get("Runtime", ""))
    if not runtime.startswith("python"):
        yield Issue(f"runtime {runtime or 'a container image'}: the local cloud runs Python functions only")
        return
    try:
        plan.stack.code_dir(logical)
    except LookupError as error:
        yield Issue(str(error).split(": ", 1)[-1])


def find_function(plan: PlanContext, name_or_arn: Any) -> Planned | None:
    """The stack's function named by a name, ARN, qualified name/ARN, version or alias (its ``Ref`` / ``Arn``)."""
    if not isinstance(name_or_arn, str):
        return None
    found = plan.find(name_or_arn, *FUNCTION_TYPES)
    if found is not None and found.type != "AWS::Lambda::Function" and found.props is not None:
        return find_function(plan, found.props.get("FunctionName"))
    if found is None:
        found = plan.find(function_name(name_or_arn), "AWS::Lambda::Function")
    return found


# -- event source mappings -----------------------------------------------------------------------------------------


def _destination(config: Any, key: str) -> DestinationSpec | None:
    destination = ((config or {}).get(key) or {}).get("Destination")
    return DestinationSpec(str(destination)) if destination else None


def event_source_mapping_spec(props: dict[str, Any], mapping_id: str) -> EventSourceMappingSpec:
    """The runtime record of an event source mapping from its properties (the template's, or the body of a
    ``CreateEventSourceMapping`` / ``UpdateEventSourceMapping`` call: the same names), AWS's defaults filled in.

    Example::

        event_source_mapping_spec({"FunctionName": "f", "EventSourceArn": queue_arn, "BatchSize": 5}, str(uuid4()))
    """
    filters = tuple(json_text(f["Pattern"]) for f in (props.get("FilterCriteria") or {}).get("Filters", []))
    scaling = props.get("ScalingConfig") or {}
    target = str(props["FunctionName"])
    return EventSourceMappingSpec(
        uuid=mapping_id,
        function_name=function_name(target),
        source_arn=str(props["EventSourceArn"]),
        batch_size=int(props.get("BatchSize", 100 if ":sqs:" not in str(props["EventSourceArn"]) else 10)),
        maximum_batching_window_seconds=int(props.get("MaximumBatchingWindowInSeconds", 0)),
        enabled=bool(props.get("Enabled", True)),
        report_batch_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
        maximum_concurrency=int(scaling["MaximumConcurrency"]) if "MaximumConcurrency" in scaling else None,
        starting_position=props.get("StartingPosition"),
        bisect_batch_on_function_error=bool(props.get("BisectBatchOnFunctionError", False)),
        maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
        maximum_record_age_seconds=int(props.get("MaximumRecordAgeInSeconds", -1)),
        parallelization_factor=int(props.get("ParallelizationFactor", 1)),
        on_failure=_destination(props.get("DestinationConfig"), "OnFailure"),
        filter_patterns=filters,
        function_qualifier=qualifier(target),
    )


def _mapping(ctx: DeployContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    mapping_id = str(uuid.uuid4())
    spec = event_source_mapping_spec(props, mapping_id)
    ctx.deployment.mappings.append(spec)
    return mapping_id, {
        "EventSourceMappingArn": ctx.arn("lambda", f"event-source-mapping:{mapping_id}"),
        "Id": mapping_id,
    }


def validate_event_source_mapping(plan: PlanContext, props: dict[str, Any]) -> list[Issue]:
    """What ``CreateEventSourceMapping`` would refuse in ``props`` (the API's / template's property names), with
    Lambda's error codes and messages; ``plan`` finds the queue, stream and function named (a stack being planned,
    or the running local cloud)."""
    return list(_validate_mapping(plan, "", props))


def _validate_mapping(plan: PlanContext, logical: str, props: dict[str, Any]) -> Iterator[Issue]:
    """CreateEventSourceMapping's checks (member constraints first: AWS answers those alone when they fail)."""
    filters = [f for f in (props.get("FilterCriteria") or {}).get("Filters") or [] if isinstance(f, dict)]
    checks = Constraints()
    checks.between(props.get("BatchSize"), "batchSize", 1, 10000)
    checks.between(props.get("MaximumBatchingWindowInSeconds"), "maximumBatchingWindowInSeconds", 0, 300)
    checks.between(props.get("ParallelizationFactor"), "parallelizationFactor", 1, 10)
    checks.between(props.get("MaximumRecordAgeInSeconds"), "maximumRecordAgeInSeconds", -1, 604800)
    checks.between(props.get("MaximumRetryAttempts"), "maximumRetryAttempts", -1, 10000)
    checks.between(props.get("TumblingWindowInSeconds"), "tumblingWindowInSeconds", 0, 900)
    checks.between(
        (props.get("ScalingConfig") or {}).get("MaximumConcurrency"), "scalingConfig.maximumConcurrency", 2, 1000
    )
    pollers = props.get("ProvisionedPollerConfig") or {}
    checks.between(pollers.get("MinimumPollers"), "provisionedPollerConfig.minimumPollers", 1, 200)
    checks.between(pollers.get("MaximumPollers"), "provisionedPollerConfig.maximumPollers", 1, 2000)
    checks.one_of(props.get("StartingPosition"), "startingPosition", ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"))
    for index, entry in enumerate(filters, start=1):
        pattern = entry.get("Pattern")
        checks.longest(
            None if pattern is None else json_text(pattern), f"filterCriteria.filters.{index}.member.pattern", 4096
        )
    constraint_issues = checks.issues()
    if constraint_issues:
        yield from constraint_issues
        return
    low, high = as_int(pollers.get("MinimumPollers")), as_int(pollers.get("MaximumPollers"))
    if low is not None and high is not None and low > high:
        yield Issue(
            "MinimumPollers must be less than or equal to MaximumPollers in ProvisionedPollerConfig.",
            "InvalidParameterValueException",
        )
    source = str(props.get("EventSourceArn") or "")
    service = service_of(source)
    if service not in ("sqs", "kinesis", "dynamodb"):
        yield Issue(
            f"event source {source or '(none)'}: the local cloud runs event source mappings from SQS, Kinesis and "
            "DynamoDB Streams only"
        )
        return
    destinations = props.get("DestinationConfig") or {}
    if (destinations.get("OnSuccess") or {}).get("Destination"):
        yield Issue(
            "Unsupported DestinationConfig parameter for given event source mapping type.",
            "InvalidParameterValueException",
        )
    if service == "sqs":
        yield from _sqs_mapping_issues(plan, source, props)
    else:
        yield from _stream_mapping_issues(plan, service, source, props)
    for entry in filters:
        if entry.get("Pattern") is None or pattern_problem(entry["Pattern"]):
            yield Issue("Invalid filter pattern definition.", "InvalidParameterValueException")
            break


def _sqs_mapping_issues(plan: PlanContext, source: str, props: dict[str, Any]) -> Iterator[Issue]:
    queue = plan.find(source, "AWS::SQS::Queue")
    queue_props = (queue.props if queue is not None else None) or {}
    fifo = source.endswith(".fifo") or bool(queue_props.get("FifoQueue"))
    batch = as_int(props.get("BatchSize", 10)) or 10
    window = as_int(props.get("MaximumBatchingWindowInSeconds", 0)) or 0
    if fifo:
        if window > 0:
            yield Issue("Batching window is not supported for FIFO queues", "InvalidParameterValueException")
        if batch > 10:
            yield Issue("Maximum batch size must be between 1 and 10 inclusive", "InvalidParameterValueException")
    elif batch > 10 and window <= 0:
        yield Issue(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10",
            "InvalidParameterValueException",
        )
    function = find_function(plan, props.get("FunctionName"))
    if queue is None or queue.props is None or function is None or function.props is None:
        return  # a queue or function from outside the stack: AWS checks it there, the local cloud cannot
    visibility = as_int(queue_props.get("VisibilityTimeout", 30))
    timeout = as_int(function.props.get("Timeout", 3))
    if visibility is not None and timeout is not None and visibility < timeout:
        yield Issue(
            f"Queue visibility timeout: {visibility} seconds is less than Function timeout: {timeout} seconds",
            "InvalidParameterValueException",
        )


def _stream_mapping_issues(plan: PlanContext, service: str, source: str, props: dict[str, Any]) -> Iterator[Issue]:
    position = props.get("StartingPosition")
    if not position:
        yield Issue(
            "1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: "
            "Member must not be null.",
            "InvalidParameterValueException",
        )
    elif position == "AT_TIMESTAMP":
        if service == "dynamodb":
            yield Issue(f"Unsupported starting position for arn type: {source}", "InvalidParameterValueException")
        elif not props.get("StartingPositionTimestamp"):
            yield Issue("Need to specify a timestamp", "InvalidParameterValueException")
    failure = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
    if failure and not _standard_destination(plan, str(failure), _STREAM_FAILURE_DESTINATIONS):
        yield Issue(
            f"The provided destination config DestinationConfig(onSuccess=null, onFailure=OnFailure(destination="
            f"{failure})) is invalid: a stream's on-failure destination is a standard SQS queue, a standard SNS "
            "topic or an S3 bucket",
            "InvalidParameterValueException",
        )


def _standard_destination(plan: PlanContext, arn: str, services: tuple[str, ...]) -> bool:
    """Whether ``arn`` is of one of ``services`` and not a FIFO queue or topic."""
    service = service_of(arn)
    if service not in services:
        return False
    if service in ("sqs", "sns"):
        if arn.endswith(".fifo"):
            return False
        kind = "AWS::SQS::Queue" if service == "sqs" else "AWS::SNS::Topic"
        found = plan.find(arn, kind)
        if found is not None and found.props and (found.props.get("FifoQueue") or found.props.get("FifoTopic")):
            return False
    return True


# -- asynchronous invocation configs -------------------------------------------------------------------------------


def async_config(props: dict[str, Any]) -> AsyncConfig:
    """The asynchronous invocation settings of ``props`` (an ``AWS::Lambda::EventInvokeConfig``'s properties or a
    ``PutFunctionEventInvokeConfig`` body), AWS's defaults for what is left out."""
    config = props.get("DestinationConfig")
    return AsyncConfig(
        maximum_retry_attempts=int(props.get("MaximumRetryAttempts", 2)),
        maximum_event_age_seconds=int(props.get("MaximumEventAgeInSeconds", 21600)),
        on_success=_destination(config, "OnSuccess"),
        on_failure=_destination(config, "OnFailure"),
    )


def _invoke_config(ctx: DeployContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    function = function_name(str(props["FunctionName"]))
    ctx.deployment.async_configs[function] = async_config(props)
    return f"{function}-invoke-config", {}


def validate_event_invoke_config(plan: PlanContext, props: dict[str, Any]) -> list[Issue]:
    """What ``PutFunctionEventInvokeConfig`` would refuse in ``props`` (``FunctionName``, ``MaximumRetryAttempts``,
    ``MaximumEventAgeInSeconds``, ``DestinationConfig``), with Lambda's error codes and messages."""
    return list(_validate_invoke_config(plan, "", props))


def _validate_invoke_config(plan: PlanContext, logical: str, props: dict[str, Any]) -> Iterator[Issue]:
    """PutFunctionEventInvokeConfig's checks: retries 0-2, age 60-21,600 s, destination types."""
    checks = Constraints()
    checks.between(props.get("MaximumRetryAttempts"), "maximumRetryAttempts", 0, 2)
    checks.between(props.get("MaximumEventAgeInSeconds"), "maximumEventAgeInSeconds", 60, 21600)
    constraint_issues = checks.issues()
    if constraint_issues:
        yield from constraint_issues
        return
    config = props.get("DestinationConfig") or {}
    success = (config.get("OnSuccess") or {}).get("Destination")
    failure = (config.get("OnFailure") or {}).get("Destination")
    valid = (not success or _standard_destination(plan, str(success), _ASYNC_DESTINATIONS)) and (
        not failure or _standard_destination(plan, str(failure), (*_ASYNC_DESTINATIONS, "s3"))
    )
    if not valid:
        on_success = f"OnSuccess(destination={success})" if success else "null"
        on_failure = f"OnFailure(destination={failure})" if failure else "null"
        yield Issue(
            f"The provided destination config DestinationConfig(onSuccess={on_success}, onFailure={on_failure}) "
            "is invalid.",
            "InvalidParameterValueException",
        )
    own = find_function(plan, props.get("FunctionName"))
    for destination in (success, failure):
        if own is not None and service_of(destination) == "lambda" and find_function(plan, destination) == own:
            yield Issue("You can't specify the function as a destination for itself.", "InvalidParameterValueException")


# -- URLs, versions, aliases, layers -------------------------------------------------------------------------------


def _url(ctx: DeployContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    function = function_name(str(props["TargetFunctionArn"]))
    # The URL must exist before the server does (outputs refer to it): reserve a free port now.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    auth: Literal["AWS_IAM", "NONE"] = "NONE" if props.get("AuthType") == "NONE" else "AWS_IAM"
    ctx.deployment.urls.append(FunctionUrlSpec(function_name=function, auth_type=auth, url=url))
    return url, {"FunctionUrl": url, "FunctionArn": ctx.arn("lambda", f"function:{function}")}


def _add_qualifier(ctx: DeployContext, function: str, name: str, version: str) -> None:
    for index, spec in enumerate(ctx.deployment.functions):
        if spec.name == function:
            qualifiers = {**spec.qualifiers, name: version}
            ctx.deployment.functions[index] = dataclasses.replace(spec, qualifiers=qualifiers)


def _version(ctx: DeployContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    function = function_name(str(props["FunctionName"]))
    counters = ctx.deployment.versions
    number = counters.get(function, 0) + 1
    counters[function] = number
    arn = ctx.arn("lambda", f"function:{function}:{number}")
    _add_qualifier(ctx, function, str(number), str(number))
    return arn, {"Version": str(number), "FunctionArn": arn}


def _version_placeholder(plan: PlanContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    function = function_name(str(props.get("FunctionName", logical)))
    arn = f"arn:aws:lambda:{plan.region}:{plan.account}:function:{function}:1"
    return arn, {"Version": "1", "FunctionArn": arn}


def _alias(ctx: DeployContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    function = function_name(str(props["FunctionName"]))
    name = str(props["Name"])
    version = str(props.get("FunctionVersion", "$LATEST"))
    arn = ctx.arn("lambda", f"function:{function}:{name}")
    _add_qualifier(ctx, function, name, version)
    return arn, {"AliasArn": arn}


def _alias_placeholder(plan: PlanContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    function = function_name(str(props.get("FunctionName", logical)))
    arn = f"arn:aws:lambda:{plan.region}:{plan.account}:function:{function}:{props.get('Name', logical)}"
    return arn, {"AliasArn": arn}


def _layer(ctx: DeployContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = str(props.get("LayerName") or ctx.physical_name(logical, 140))
    arn = ctx.arn("lambda", f"layer:{name}:1")
    directory = _layer_dir(ctx, logical, props)
    if directory is not None:
        ctx.deployment.layers[arn] = directory
    return arn, {"LayerVersionArn": arn}


def _layer_dir(ctx: DeployContext, logical: str, props: dict[str, Any]) -> Path | None:
    path = (ctx.resource(logical).get("Metadata") or {}).get("aws:asset:path")
    if isinstance(path, str):
        return (ctx.stack.root / path).resolve()
    key = (props.get("Content") or {}).get("S3Key")
    return ctx.stack.assets.get(key) if isinstance(key, str) else None


def _layer_placeholder(plan: PlanContext, logical: str, props: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    name = str(props.get("LayerName") or f"{plan.name}-{logical}")
    arn = f"arn:aws:lambda:{plan.region}:{plan.account}:layer:{name}:1"
    return arn, {"LayerVersionArn": arn}


register(
    "AWS::Lambda::Function",
    Provisioner(create=_function, validate=_validate_function, placeholder=_function_placeholder),
)
register("AWS::Lambda::EventSourceMapping", Provisioner(create=_mapping, validate=_validate_mapping))
register("AWS::Lambda::EventInvokeConfig", Provisioner(create=_invoke_config, validate=_validate_invoke_config))
register("AWS::Lambda::Url", Provisioner(create=_url))
register("AWS::Lambda::Version", Provisioner(create=_version, placeholder=_version_placeholder))
register("AWS::Lambda::Alias", Provisioner(create=_alias, placeholder=_alias_placeholder))
register("AWS::Lambda::LayerVersion", Provisioner(create=_layer, placeholder=_layer_placeholder))

"""Lambda's control plane for what the local cloud runs: functions, event source mappings, reserved concurrency and
asynchronous invocation settings, answered on the data plane's endpoint as Lambda's REST API answers them.

The deployed functions live in eventweave's Lambda service and their mappings in eventweave's pollers, never in
moto, so moto's Lambda backend would answer "not found" for all of them. The gateway hands every Lambda API request
(``/2015-03-31/...``, ``/2017-10-31/...``, ``/2019-09-25/...``, ``/2019-09-30/...``, ``/2017-03-31/...``) to
:class:`LambdaControlPlane`, which routes it by botocore's own model of the API (same paths, methods, status codes)
and answers, for what eventweave runs:

* ``GetFunction``, ``GetFunctionConfiguration``, ``ListFunctions``, ``ListVersionsByFunction``, ``ListAliases``,
  ``GetAlias``;
* ``CreateEventSourceMapping``, ``GetEventSourceMapping``, ``ListEventSourceMappings``, ``UpdateEventSourceMapping``
  (``Enabled: false`` stops the mapping's poller, ``true`` starts it again), ``DeleteEventSourceMapping``: checked
  by the deployer's validator (:func:`~eventweave.local.provisioners.lambda_.validate_event_source_mapping`) against
  the live queue, stream and function, with Lambda's error codes and messages;
* ``PutFunctionConcurrency``, ``GetFunctionConcurrency``, ``DeleteFunctionConcurrency``: the running function's
  reserved concurrency (0 throttles every invocation);
* ``PutFunctionEventInvokeConfig``, ``UpdateFunctionEventInvokeConfig``, ``GetFunctionEventInvokeConfig``,
  ``DeleteFunctionEventInvokeConfig``, ``ListFunctionEventInvokeConfigs``: the async queue's settings.

The response is the one AWS gives for the call: a mapping is ``Creating`` (or ``Disabled``) on create,
``Enabling`` / ``Disabling`` / ``Updating`` on update and ``Deleting`` on delete; the change is made before the
response, so a ``Get`` afterwards shows the settled state (``Enabled`` / ``Disabled``, or 404 once deleted).

Anything else goes on to moto (``fallback``): functions and mappings created in moto directly are moto's, and
list calls add moto's items to eventweave's. An operation this module does not implement on a function eventweave
runs never gets moto's "not found": it is answered ``501`` (``NotImplementedException``) naming the operation.

Example::

    control = LambdaControlPlane(cloud)
    status, headers, body = control.handle("GET", "/2015-03-31/event-source-mappings/" + uuid, {}, b"", moto)
"""

from __future__ import annotations

import functools
import json
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import unquote

from .model import EventSourceMappingSpec, FunctionSpec, UnknownFunctionError
from .provisioners.base import Constraints, Issue, Planned
from .provisioners.lambda_ import (
    FUNCTION_TYPES,
    event_source_mapping_spec,
    validate_event_invoke_config,
    validate_event_source_mapping,
)

__all__ = [
    "ACCOUNT_CONCURRENCY",
    "MINIMUM_UNRESERVED_CONCURRENCY",
    "EventInvokeSettings",
    "LambdaControlPlane",
    "LambdaRuntime",
    "MappingRecord",
    "Response",
    "status_line",
]

Response = tuple[int, list[tuple[str, str]], bytes]
"""``(status, headers, body)`` of one HTTP response."""

ACCOUNT_CONCURRENCY = 1000
"""Lambda's default concurrency limit of an account in a region."""
MINIMUM_UNRESERVED_CONCURRENCY = 100
"""What reserved concurrency must leave unreserved (``PutFunctionConcurrency`` refuses to go below)."""

_API_VERSIONS = ("2015-03-31", "2017-03-31", "2017-10-31", "2019-09-25", "2019-09-30")
_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    400: "Bad Request",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
    501: "Not Implemented",
}
_ERROR_STATUS = {
    "ResourceNotFoundException": 404,
    "ResourceConflictException": 409,
    "InvalidParameterValueException": 400,
    "ValidationException": 400,
    "InvalidRequestContentException": 400,
    "NotImplementedException": 501,
    "ServiceException": 500,
}
_FUNCTION_REF = re.compile(
    r"^(?:arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:)?(?:\d{12}:)?(?:function:)?(?P<name>[A-Za-z0-9_-]+)"
    r"(?::(?P<qualifier>[A-Za-z0-9$_-]+))?$"
)
_NOT_FOUND = "The resource you requested does not exist."
_LATEST = "$LATEST"


@dataclass(frozen=True)
class MappingRecord:
    """One event source mapping as the local cloud runs it: its runtime spec, when it last changed, and the API
    fields the pollers do not read (returned as they were set: ``TumblingWindowInSeconds``,
    ``ProvisionedPollerConfig``, ``StartingPositionTimestamp``, ``MetricsConfig``...).

    Example::

        record = MappingRecord(spec, last_modified=time.time())
        record.state   # "Enabled"
    """

    spec: EventSourceMappingSpec
    last_modified: float
    settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def state(self) -> str:
        """The settled state: ``Enabled`` or ``Disabled``."""
        return "Enabled" if self.spec.enabled else "Disabled"


@dataclass(frozen=True)
class EventInvokeSettings:
    """A function's ``EventInvokeConfig`` as it was put: only the fields set (``MaximumRetryAttempts``,
    ``MaximumEventAgeInSeconds``) and ``DestinationConfig`` (``{"OnSuccess": {...}, "OnFailure": {...}}``).

    Example::

        EventInvokeSettings({"MaximumRetryAttempts": 0, "DestinationConfig": {"OnSuccess": {}, "OnFailure": {}}},
                            last_modified=time.time())
    """

    document: Mapping[str, Any]
    last_modified: float


class LambdaRuntime(Protocol):
    """What the control plane reads and changes in the running local cloud
    (:class:`eventweave.local.cloud.LocalCloud` provides it)."""

    endpoint: str
    region: str
    account_id: str

    def lambda_functions(self) -> list[FunctionSpec]:
        """Every function eventweave runs."""
        ...

    def lambda_function(self, name_or_arn: str) -> FunctionSpec:
        """The function named (name, ARN, qualified); raises :class:`UnknownFunctionError`."""
        ...

    def function_last_modified(self, name: str) -> float:
        """When the function was deployed (epoch seconds)."""
        ...

    def set_reserved_concurrency(self, name: str, reserved: int | None) -> FunctionSpec:
        """Change the running function's reserved concurrency (``None``: none reserved)."""
        ...

    def event_invoke_settings(self, name: str) -> EventInvokeSettings | None:
        """The function's ``EventInvokeConfig``, ``None`` when it has none."""
        ...

    def set_event_invoke_settings(self, name: str, settings: EventInvokeSettings | None) -> None:
        """Apply (or, with ``None``, remove) the function's ``EventInvokeConfig`` on the async queue."""
        ...

    def event_source_mappings(self) -> list[MappingRecord]:
        """Every mapping eventweave runs or holds disabled."""
        ...

    def event_source_mapping(self, mapping_id: str) -> MappingRecord:
        """The mapping with that UUID; raises :class:`KeyError`."""
        ...

    def create_event_source_mapping(self, record: MappingRecord) -> MappingRecord:
        """Start running a new mapping (its poller starts when it is enabled)."""
        ...

    def update_event_source_mapping(self, record: MappingRecord) -> MappingRecord:
        """Replace a mapping's configuration: its poller is stopped and, when enabled, a new one started."""
        ...

    def delete_event_source_mapping(self, mapping_id: str) -> MappingRecord:
        """Stop a mapping's poller and forget it; raises :class:`KeyError`."""
        ...


class _ApiError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class _Route:
    operation: str
    method: str
    pattern: re.Pattern[str]
    literal: int
    """How many fixed path segments: a more specific route wins (``.../aliases/{Name}`` over ``.../{Name}``)."""


@functools.cache
def _routes() -> tuple[_Route, ...]:
    """Every Lambda operation's method and path, from botocore's model of the API (what boto3 sends)."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("lambda")
    routes: list[_Route] = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        path = str(http["requestUri"]).split("?", 1)[0].rstrip("/")
        parts: list[str] = []
        literal = 0
        for segment in path.strip("/").split("/"):
            label = re.fullmatch(r"\{([A-Za-z0-9]+)(\+?)\}", segment)
            if label is None:
                parts.append(re.escape(segment))
                literal += 1
            else:
                parts.append(f"(?P<{label.group(1)}>{'.+' if label.group(2) else '[^/]+'})")
        routes.append(_Route(name, str(http["method"]), re.compile("^/" + "/".join(parts) + "/?$"), literal))
    return tuple(sorted(routes, key=lambda route: -route.literal))


def _match(method: str, path: str) -> tuple[str, dict[str, str]] | None:
    for route in _routes():
        if route.method != method:
            continue
        found = route.pattern.match(path)
        if found is not None:
            return route.operation, {key: unquote(value) for key, value in found.groupdict().items()}
    return None


def _lambda_date(epoch: float) -> str:
    """Lambda's ``LastModified`` text of a function: ``2024-05-01T12:00:00.000+0000``."""
    millis = int(epoch * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{millis:03d}+0000"


def _page(items: list[Any], query: Mapping[str, str], default: int) -> tuple[list[Any], str | None]:
    """One page of ``items`` by ``Marker`` (an offset, opaque to callers) and ``MaxItems``."""
    checks = Constraints()
    checks.between(query.get("MaxItems"), "maxItems", 1, 10000)
    issues = checks.issues()
    if issues:
        raise _ApiError("ValidationException", issues[0].message)
    start = int(query["Marker"]) if str(query.get("Marker", "")).isdigit() else 0
    size = int(query.get("MaxItems") or default)
    page = items[start : start + size]
    return page, (str(start + size) if start + size < len(items) else None)


class _LivePlan:
    """The running local cloud seen as the deployer's :class:`~eventweave.local.provisioners.PlanContext`, so the
    deploy-time validators check a run-time call: queues, topics and functions are read live."""

    stack: Any = None
    provider_functions: frozenset[str] = frozenset()

    def __init__(self, control: LambdaControlPlane) -> None:
        self.control = control
        runtime = control.runtime
        self.name = "local cloud"
        self.region = runtime.region
        self.account = runtime.account_id

    def find(self, value: Any, *types: str) -> Planned | None:
        if not isinstance(value, str):
            return None
        if not types or any(kind in FUNCTION_TYPES for kind in types):
            try:
                spec = self.control.runtime.lambda_function(value)
            except UnknownFunctionError:
                spec = None
            if spec is not None:
                props = {"FunctionName": spec.name, "Timeout": spec.timeout_seconds}
                return Planned(spec.name, "AWS::Lambda::Function", props, spec.name, {"Arn": spec.arn})
        if "AWS::SQS::Queue" in types and value.startswith("arn:") and ":sqs:" in value:
            attributes = self.control.queue_attributes(value)
            if attributes is not None:
                props = {
                    "VisibilityTimeout": int(attributes.get("VisibilityTimeout", 30)),
                    "FifoQueue": attributes.get("FifoQueue") == "true",
                }
                return Planned(value, "AWS::SQS::Queue", props, value, {"Arn": value})
        if "AWS::SNS::Topic" in types and value.startswith("arn:") and ":sns:" in value:
            try:
                topic = self.control.client("sns").get_topic_attributes(TopicArn=value)["Attributes"]
            except Exception:  # a topic of another account or gone: AWS checks it when delivering
                return None
            props = {"FifoTopic": topic.get("FifoTopic") == "true"}
            return Planned(value, "AWS::SNS::Topic", props, value, {"TopicArn": value})
        return None

    def resource(self, logical: str) -> Mapping[str, Any]:
        return {}

    def nested(self, logical: str, template: dict[str, Any], parameters: Mapping[str, Any]) -> list[str]:
        return []


class LambdaControlPlane:
    """Lambda's REST API for the functions and event source mappings the local cloud runs.

    ``handle`` answers one request; ``fallback`` is moto's answer to the same request, asked only for what
    eventweave does not run (and for list calls, whose items it adds).

    Example::

        control = LambdaControlPlane(cloud)
        status, headers, body = control.handle("PUT", f"/2015-03-31/event-source-mappings/{uuid}", {},
                                               b'{"Enabled": false}', fallback=lambda: moto(request))
        status   # 202; body's "State" is "Disabling", a GetEventSourceMapping afterwards says "Disabled"
    """

    def __init__(self, runtime: LambdaRuntime, *, clock: Callable[[], float] = time.time) -> None:
        self.runtime = runtime
        self.clock = clock
        self._clients: dict[str, Any] = {}
        self._handlers: dict[
            str, Callable[[dict[str, str], Mapping[str, str], dict[str, Any], Callable[[], Response]], Response]
        ] = {
            "GetFunction": self._get_function,
            "GetFunctionConfiguration": self._get_function_configuration,
            "ListFunctions": self._list_functions,
            "ListVersionsByFunction": self._list_versions,
            "ListAliases": self._list_aliases,
            "GetAlias": self._get_alias,
            "CreateFunction": self._create_function,
            "CreateEventSourceMapping": self._create_mapping,
            "GetEventSourceMapping": self._get_mapping,
            "ListEventSourceMappings": self._list_mappings,
            "UpdateEventSourceMapping": self._update_mapping,
            "DeleteEventSourceMapping": self._delete_mapping,
            "PutFunctionConcurrency": self._put_concurrency,
            "GetFunctionConcurrency": self._get_concurrency,
            "DeleteFunctionConcurrency": self._delete_concurrency,
            "PutFunctionEventInvokeConfig": self._put_invoke_config,
            "UpdateFunctionEventInvokeConfig": self._update_invoke_config,
            "GetFunctionEventInvokeConfig": self._get_invoke_config,
            "DeleteFunctionEventInvokeConfig": self._delete_invoke_config,
            "ListFunctionEventInvokeConfigs": self._list_invoke_configs,
        }

    @staticmethod
    def recognises(path: str) -> bool:
        """Whether ``path`` belongs to Lambda's API (one of its version prefixes)."""
        return path.lstrip("/").split("/", 1)[0] in _API_VERSIONS

    def handle(
        self, method: str, path: str, query: Mapping[str, str], body: bytes, fallback: Callable[[], Response]
    ) -> Response:
        """Answer one Lambda API request (``path`` percent-decoded or not, ``query`` one value per name)."""
        matched = _match(method.upper(), path)
        if matched is None:
            return fallback()
        operation, labels = matched
        try:
            document = json.loads(body) if body.strip() else {}
            if not isinstance(document, dict):
                raise _ApiError("InvalidRequestContentException", "Could not parse request body into json")
        except ValueError:
            return _error("InvalidRequestContentException", "Could not parse request body into json")
        handler = self._handlers.get(operation)
        try:
            if handler is not None:
                return handler(labels, query, document, fallback)
            return self._unimplemented(operation, labels, fallback)
        except _ApiError as error:
            return _error(error.code, error.message)
        except Exception as error:  # a bug here must reach the caller as Lambda's 500, not a dropped connection
            return _error("ServiceException", f"{operation}: {type(error).__name__}: {error}")

    # -- functions ------------------------------------------------------------------------------------------------

    def _function(self, reference: str, qualifier: str | None = None) -> tuple[FunctionSpec, str | None] | None:
        """The function eventweave runs that ``reference`` names, and its qualifier; ``None`` if it runs none."""
        found = _FUNCTION_REF.match(reference)
        if found is None:
            return None
        try:
            spec = self.runtime.lambda_function(found.group("name"))
        except UnknownFunctionError:
            return None
        return spec, qualifier or found.group("qualifier")

    def _require(self, labels: Mapping[str, str], query: Mapping[str, str]) -> tuple[FunctionSpec, str | None]:
        reference = labels.get("FunctionName", "")
        found = self._function(reference, query.get("Qualifier") or None)
        if found is None:
            raise LookupError(reference)
        spec, qualifier = found
        if qualifier is not None and qualifier != _LATEST and qualifier not in spec.qualifiers:
            raise _ApiError("ResourceNotFoundException", f"Function not found: {spec.arn}:{qualifier}")
        return spec, qualifier

    def _known(
        self,
        labels: Mapping[str, str],
        query: Mapping[str, str],
        fallback: Callable[[], Response],
        answer: Callable[[FunctionSpec, str | None], Response],
    ) -> Response:
        try:
            spec, qualifier = self._require(labels, query)
        except LookupError:
            return fallback()  # not a function eventweave runs: moto's, or nobody's
        return answer(spec, qualifier)

    def _configuration(self, spec: FunctionSpec, qualifier: str | None = None) -> dict[str, Any]:
        version = _LATEST if qualifier in (None, _LATEST) else spec.qualifiers[str(qualifier)]
        modified = self.runtime.function_last_modified(spec.name)
        config: dict[str, Any] = {
            "FunctionName": spec.name,
            "FunctionArn": spec.arn if qualifier is None else f"{spec.arn}:{version}",
            "Runtime": spec.runtime,
            "Handler": spec.handler,
            "Timeout": spec.timeout_seconds,
            "MemorySize": spec.memory_mb,
            "Version": version,
            "LastModified": _lambda_date(modified),
            "RevisionId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{spec.arn}:{version}@{modified}")),
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "PackageType": "Zip",
            "LoggingConfig": {"LogGroup": f"/aws/lambda/{spec.name}"},
        }
        if spec.environment:
            config["Environment"] = {"Variables": dict(spec.environment)}
        if spec.dead_letter_arn:
            config["DeadLetterConfig"] = {"TargetArn": spec.dead_letter_arn}
        return config

    def _get_function(
        self, labels: dict[str, str], query: Mapping[str, str], body: dict[str, Any], fallback: Callable[[], Response]
    ) -> Response:
        def answer(spec: FunctionSpec, qualifier: str | None) -> Response:
            out: dict[str, Any] = {"Configuration": self._configuration(spec, qualifier)}
            if spec.reserved_concurrency is not None:
                out["Concurrency"] = {"ReservedConcurrentExecutions": spec.reserved_concurrency}
            return _json(200, out)

        return self._known(labels, query, fallback, answer)

    def _get_function_configuration(
        self, labels: dict[str, str], query: Mapping[str, str], body: dict[str, Any], fallback: Callable[[], Response]
    ) -> Response:
        return self._known(labels, query, fallback, lambda spec, q: _json(200, self._configuration(spec, q)))

    def _list_functions(
        self, labels: dict[str, str], query: Mapping[str, str], body: dict[str, Any], fallback: Callable[[], Response]
    ) -> Response:
        everything = query.get("FunctionVersion") == "ALL"
        configs: list[dict[str, Any]] = []
        for spec in sorted(self.runtime.lambda_functions(), key=lambda s: s.name):
            configs.append(self._configuration(spec))
            if everything:
                configs.extend(self._configuration(spec, version) for version in _versions(spec))
        configs.extend(
            _moto_items(fallback, "Functions", exclude={c["FunctionName"] for c in configs}, id_field="FunctionName")
        )
        page, marker = _page(configs, query, 50)
        return _json(200, {"Functions": page, **({"NextMarker": marker} if marker else {})})

    def _list_versions(
        self, labels: dict[str, str], query: Mapping[str, str], body: dict[str, Any], fallback: Callable[[], Response]
    ) -> Response:
        def answer(spec: FunctionSpec, _: str | None) -> Response:
            versions = [self._configuration(spec, _LATEST), *(self._configuration(spec, v) for v in _versions(spec))]
            page, marker = _page(versions, query, 50)
            return _json(200, {"Versions": page, **({"NextMarker": marker} if marker else {})})

        return self._known(labels, {}, fallback, answer)

    def _alias(self, spec: FunctionSpec, name: str) -> dict[str, Any]:
        arn = f"{spec.arn}:{name}"
        modified = self.runtime.function_last_modified(spec.name)
        return {
            "AliasArn": arn,
            "Name": name,
            "FunctionVersion": spec.qualifiers[name],
            "Description": "",
            "RevisionId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{arn}@{modified}")),
        }

    def _list_aliases(
        self, labels: dict[str, str], query: Mapping[str, str], body: dict[str, Any], fallback: Callable[[], Response]
    ) -> Response:
        def answer(spec: FunctionSpec, _: str | None) -> Response:
            wanted = query.get("FunctionVersion")
            aliases = [
                self._alias(spec, name)
                for name in sorted(_aliases(spec))
                if wanted is None or spec.qualifiers[name] == wanted
            ]
            page, marker = _page(aliases, query, 50)
            return _json(200, {"Aliases": page, **({"NextMarker": marker} if marker else {})})

        return self._known(labels, {}, fallback, answer)

    def _get_alias(
        self, labels: dict[str, str], query: Mapping[str, str], body: dict[str, Any], fallback: Callable[[], Response]
    ) -> Response:
        def answer(spec: FunctionSpec, _: str | None) -> Response:
            name = labels["Name"]
            if name not in _aliases(spec):
                raise _ApiError("ResourceNotFoundException", f"Cannot find alias arn: {spec.arn}:{name}")
            return _json(200, self._alias(spec, name))

        return self._known(labels, {}, fallback, answer)

    def _create_function(
        self, labels: dict[str, str], query: Mapping[str, str], body: dict[str, Any], fallback: Callable[[], Response]
    ) -> Response:
        found = self._function(str(body.get("FunctionName", "")))
        if found is not None:
            # Creating it in moto would shadow nothing and confuse everything: it exists, as AWS would say.
            raise _ApiError("ResourceConflictException", f"Function already exist: {found[0].name}")
        return fallback()

    # -- event source mappings ------------------------------------------------------------------------------------

    def client(self, service: str) -> Any:
        """A client of the data plane (queues, streams, topics looked up while validating)."""
        if service not in self._clients:
            from .aws import client

            self._clients[service] = client(service, self.runtime.endpoint, self.runtime.region)
        return self._clients[service]

    def queue_attributes(self, queue_arn: str) -> dict[str, str] | None:
        """The queue's ``VisibilityTimeout`` and ``FifoQueue`` attributes; ``None`` when it does not exist."""
        parts = queue_arn.split(":")
        if len(parts) < 6:
            return None
        sqs = self.client("sqs")
        try:
            url = sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
            attributes: dict[str, str] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        except Exception as error:
            if "NonExistentQueue" in str(error) or "does not exist" in str(error):
                return None
            raise
        return attributes

    def _check_source(self, source: str) -> None:
        """Lambda reads the source when the mapping is created: a queue or stream that is not there is refused."""
        service = source.split(":")[2] if source.count(":") >= 2 else ""
        if service == "sqs" and self.queue_attributes(source) is None:
            raise _ApiError(
                "InvalidParameterValueException",
                "Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. "
                "SQS Error Message: The specified queue does not exist.",
            )
        try:
            if service == "kinesis":
                self.client("kinesis").describe_stream_summary(StreamARN=source)
            elif service == "dynamodb":
                self.client("dynamodbstreams").describe_stream(StreamArn=source)
        except Exception as error:
            if "ResourceNotFound" in str(error) or "not found" in str(error).lower():
                raise _ApiError("InvalidParameterValueException", f"Stream not found: {source}") from None
            raise

    def _mapping_target(self, reference: str) -> tuple[FunctionSpec, str | None]:
        found = self._function(reference)
        if found is None:
            raise LookupError(reference)
        spec, qualifier = found
        if qualifier is not None and qualifier != _LATEST and qualifier not in spec.qualifiers:
            raise _ApiError("ResourceNotFoundException", f"Function not found: {spec.arn}:{qualifier}")
        return spec, qualifier

    def _validate_mapping(self, props: dict[str, Any]) -> None:
        issues = validate_event_source_mapping(_LivePlan(self), props)
        if issues:
            raise _issue_error(issues[0])

    def _conflict(self, spec: EventSourceMappingSpec) -> None:
        """Lambda allows one mapping per function (or qualifier) and source."""
        for other in self.runtime.event_source_mappings():
            theirs = other.spec
            if theirs.uuid == spec.uuid or theirs.source_arn != spec.source_arn:
                continue
            if (theirs.function_name, theirs.function_qualifier) != (spec.function_name, spec.function_qualifier):
                continue
            if spec.source == "sqs":
                message = (
                    f'An event source mapping with SQS arn (" {spec.source_arn} ") and function '
                    f'(" {spec.function_name} ") already exists. Please update or delete the existing mapping with '
                    f"UUID {theirs.uuid}"
                )
            else:
                message = (
                    f'The event source arn (" {spec.source_arn} ") and function (" {spec.function_name} ") provided '
                    f"mapping already exists. Please update or delete the existing mapping with UUID {theirs.uuid}"
                )
            raise _ApiError("ResourceConflictException", message)

    def _mapping_document(self, record: MappingRecord, state: str | None = None) -> dict[str, Any]:
        spec = record.spec
        try:
            function_arn = self.runtime.lambda_function(spec.function_name).arn
        except UnknownFunctionError:  # its stack is being destroyed
            function_arn = (
                f"arn:aws:lambda:{self.runtime.region}:{self.runtime.account_id}:function:{spec.function_name}"
            )
        if spec.function_qualifier:
            function_arn = f"{function_arn}:{spec.function_qualifier}"
        doc: dict[str, Any] = {
            "UUID": spec.uuid,
            "EventSourceArn": spec.source_arn,
            "EventSourceMappingArn": (
                f"arn:aws:lambda:{self.runtime.region}:{self.runtime.account_id}:event-source-mapping:{spec.uuid}"
            ),
            "FunctionArn": function_arn,
            "LastModified": record.last_modified,
            "State": state or record.state,
            "BatchSize": spec.batch_size,
            "MaximumBatchingWindowInSeconds": spec.maximum_batching_window_seconds,
            "FunctionResponseTypes": ["ReportBatchItemFailures"] if spec.report_batch_item_failures else [],
        }
        if spec.source == "sqs":
            doc["StateTransitionReason"] = "USER_INITIATED"
            if spec.maximum_concurrency is not None:
                doc["ScalingConfig"] = {"MaximumConcurrency": spec.maximum_concurrency}
        else:
            doc.update(
                StateTransitionReason="User action",
                StartingPosition=spec.starting_position,
                ParallelizationFactor=spec.parallelization_factor,
                MaximumRecordAgeInSeconds=spec.maximum_record_age_seconds,
                MaximumRetryAttempts=spec.maximum_retry_attempts,
                BisectBatchOnFunctionError=spec.bisect_batch_on_function_error,
                TumblingWindowInSeconds=0,
                DestinationConfig={
                    "OnFailure": {"Destination": spec.on_failure.arn} if spec.on_failure is not None else {}
                },
            )
        if spec.filter_patterns:
            doc["FilterCriteria"] = {"Filters": [{"Pattern": pattern} for pattern in spec.filter_patterns]}
        doc.update(record.settings)
        return doc

    def _create_mapping(
        self, labels: dict[str, str], query: Mapping[str, str], body: dict[str, Any], fallback: Callable[[], Response]
    ) -> Response:
        try:
            self._mapping_target(str(body.get("FunctionName", "")))
        except LookupError:
            return fallback()  # a function moto holds (or nobody): moto's mapping
        source = body.get("EventSourceArn")
        if not source:
            raise _ApiError("InvalidParameterValueException", "Unrecognized event source.")
        self._validate_mapping(body)
        self._check_source(str(source))
        spec = event_source_mapping_spec(body, str(uuid.uuid4()))
        self._conflict(spec)
        record = self.runtime.create_event_source_mapping(MappingRecord(spec, self.clock(), _settings_of(body)))
        return _json(202, self._mapping_document(record, "Creating" if spec.enabled else "Disabled"))

    def _get_mapping(
        self, labels: dict[str, str], query: Mapping[str, str], body: dict[str, Any], fallback: Callable[[], Response]
    ) -> Response:
        try:
            record = self.runtime.event_source_mapping(labels["UUID"])
        except KeyError:
            return fallback()
        return _json(200, self._mapping_document(record))

    def _list_mappings(
        self, labels: dict[str, str], query: Mapping[str, str], body: dict[str, Any], fallback: Callable[[], Response]
    ) -> Response:
        records = self.runtime.event_source_mappings()
        wanted = query.get("FunctionName")
        if wanted:
            found = self._function(wanted)
            if found is None:
                records = []
            else:
                spec, qualifier = found
                records = [
                    r
                    for r in records
                    if r.spec.function_name == spec.name
                    and (qualifier is None or r.spec.function_qualifier == qualifier)
                ]
        source = query.get("EventSourceArn")
        if source:
            records = [r for r in records if r.spec.source_arn == source]
        docs = [self._mapping_document(r) for r in sorted(records, key=lambda r: r.last_modified)]
        docs.extend(_moto_items(fallback, "EventSourceMappings", exclude={d["UUID"] for d in docs}, id_field="UUID"))
        page, marker = _page(docs, query, 100)
        return _json(200, {"EventSourceMappings": page, **({"NextMarker": marker} if marker else {})})

    def _update_mapping(
        self, labels: dict[str, str], query: Mapping[str, str], body: dict[str, Any], fallback: Callable[[], Response]
    ) -> Response:
        try:
            current = self.runtime.event_source_mapping(labels["UUID"])
        except KeyError:
            return fallback()
        merged = {**_props_of(current), **{key: value for key, value in body.items() if key != "UUID"}}
        try:
            self._mapping_target(str(merged["FunctionName"]))
        except LookupError:
            raise _ApiError(
                "ResourceNotFoundException",
                f"Function not found: arn:aws:lambda:{self.runtime.region}:{self.runtime.account_id}:function:"
                f"{merged['FunctionName']}",
            ) from None
        self._validate_mapping(merged)
        spec = event_source_mapping_spec(merged, current.spec.uuid)
        self._conflict(spec)
        enabled = body.get("Enabled")
        if enabled is None:
            state = "Updating"
        elif bool(enabled) and not current.spec.enabled:
            state = "Enabling"
        elif not enabled and current.spec.enabled:
            state = "Disabling"
        else:
            state = current.state if spec == current.spec else "Updating"
        record = self.runtime.update_event_source_mapping(MappingRecord(spec, self.clock(), _settings_of(merged)))
        return _json(202, self._mapping_document(record, state))

    def _delete_mapping(
        self, labels: dict[str, str], query: Mapping[str, str], body: dict[str, Any], fallback: Callable[[], Response]
    ) -> Response:
        try:
            record = self.runtime.delete_event_source_mapping(labels["UUID"])
        except KeyError:
            return fallback()
        return _json(202, self._mapping_document(record, "Deleting"))

    # -- reserved concurrency -------------------------------------------------------------------------------------

    def _put_concurrency(
        self, labels: dict[str, str], query: Mapping[str, str], body: dict[str, Any], fallback: Callable[[], Response]
    ) -> Response:
        def answer(spec: FunctionSpec, _: str | None) -> Response:
            value = body.get("ReservedConcurrentExecutions")
            checks = Constraints()
            if value is None:
                raise _ApiError(
                    "ValidationException",
                    "1 validation error detected: Value null at 'reservedConcurrentExecutions' failed to satisfy "
                    "constraint: Member must not be null",
                )
            checks.between(value, "reservedConcurrentExecutions", 0, None)
            for issue in checks.issues():
                raise _issue_error(issue)
            reserved = int(value)
            others = sum(f.reserved_concurrency or 0 for f in self.runtime.lambda_functions() if f.name != spec.name)
            if ACCOUNT_CONCURRENCY - others - reserved < MINIMUM_UNRESERVED_CONCURRENCY:
                raise _ApiError(
                    "InvalidParameterValueException",
                    "Specified ReservedConcurrentExecutions for function decreases account's "
                    f"UnreservedConcurrentExecution below its minimum value of [{MINIMUM_UNRESERVED_CONCURRENCY}].",
                )
            updated = self.runtime.set_reserved_concurrency(spec.name, reserved)
            return _json(200, {"ReservedConcurrentExecutions": updated.reserved_concurrency})

        return self._known(labels, {}, fallback, answer)

    def _get_concurrency(
        self, labels: dict[str, str], query: Mapping[str, str], body: dict[str, Any], fallback: Callable[[], Response]
    ) -> Response:
        def answer(spec: FunctionSpec, _: str | None) -> Response:
            if spec.reserved_concurrency is None:
                return _json(200, {})
            return _json(200, {"ReservedConcurrentExecutions": spec.reserved_concurrency})

        return self._known(labels, {}, fallback, answer)

    def _delete_concurrency(
        self, labels: dict[str, str], query: Mapping[str, str], body: dict[str, Any], fallback: Callable[[], Response]
    ) -> Response:
        def answer(spec: FunctionSpec, _: str | None) -> Response:
            self.runtime.set_reserved_concurrency(spec.name, None)
            return 204, [("Content-Length", "0")], b""

        return self._known(labels, {}, fallback, answer)

    # -- asynchronous invocation settings -------------------------------------------------------------------------

    def _invoke_target(self, labels: Mapping[str, str], query: Mapping[str, str]) -> FunctionSpec:
        spec, qualifier = self._require(labels, query)
        if qualifier not in (None, _LATEST):
            # The async queue keeps one configuration per function: every qualifier runs the same code locally.
            raise _ApiError(
                "InvalidParameterValueException",
                f"the local cloud keeps one EventInvokeConfig per function; configure {spec.name} ($LATEST) "
                f"instead of its qualifier {qualifier}",
            )
        return spec

    def _invoke_document(self, spec: FunctionSpec, settings: EventInvokeSettings) -> dict[str, Any]:
        return {
            "LastModified": settings.last_modified,
            "FunctionArn": f"{spec.arn}:{_LATEST}",
            **settings.document,
        }

    def _missing_invoke_config(self, spec: FunctionSpec) -> _ApiError:
        return _ApiError(
            "ResourceNotFoundException", f"The function {spec.arn}:{_LATEST} doesn't have an EventInvokeConfig"
        )

    def _store_invoke_config(self, spec: FunctionSpec, document: dict[str, Any]) -> Response:
        issues = validate_event_invoke_config(_LivePlan(self), {"FunctionName": spec.name, **document})
        if issues:
            raise _issue_error(issues[0])
        settings = EventInvokeSettings(document, self.clock())
        self.runtime.set_event_invoke_settings(spec.name, settings)
        return _json(200, self._invoke_document(spec, settings))

    def _put_invoke_config(
        self, labels: dict[str, str], query: Mapping[str, str], body: dict[str, Any], fallback: Callable[[], Response]
    ) -> Response:
        def answer(spec: FunctionSpec, _: str | None) -> Response:
            spec = self._invoke_target(labels, query)
            document = _invoke_fields(body)
            return self._store_invoke_config(spec, document)

        return self._known(labels, query, fallback, answer)

    def _update_invoke_config(
        self, labels: dict[str, str], query: Mapping[str, str], body: dict[str, Any], fallback: Callable[[], Response]
    ) -> Response:
        def answer(spec: FunctionSpec, _: str | None) -> Response:
            spec = self._invoke_target(labels, query)
            current = self.runtime.event_invoke_settings(spec.name)
            if current is None:
                raise self._missing_invoke_config(spec)
            update = _invoke_fields(body)
            document = {**current.document, **{k: v for k, v in update.items() if k != "DestinationConfig"}}
            given = body.get("DestinationConfig") or {}
            destinations = dict(current.document.get("DestinationConfig") or {"OnSuccess": {}, "OnFailure": {}})
            destinations.update({key: dict(given[key] or {}) for key in ("OnSuccess", "OnFailure") if key in given})
            document["DestinationConfig"] = destinations
            return self._store_invoke_config(spec, document)

        return self._known(labels, query, fallback, answer)

    def _get_invoke_config(
        self, labels: dict[str, str], query: Mapping[str, str], body: dict[str, Any], fallback: Callable[[], Response]
    ) -> Response:
        def answer(spec: FunctionSpec, _: str | None) -> Response:
            spec = self._invoke_target(labels, query)
            settings = self.runtime.event_invoke_settings(spec.name)
            if settings is None:
                raise self._missing_invoke_config(spec)
            return _json(200, self._invoke_document(spec, settings))

        return self._known(labels, query, fallback, answer)

    def _delete_invoke_config(
        self, labels: dict[str, str], query: Mapping[str, str], body: dict[str, Any], fallback: Callable[[], Response]
    ) -> Response:
        def answer(spec: FunctionSpec, _: str | None) -> Response:
            spec = self._invoke_target(labels, query)
            if self.runtime.event_invoke_settings(spec.name) is None:
                raise self._missing_invoke_config(spec)
            self.runtime.set_event_invoke_settings(spec.name, None)
            return 204, [("Content-Length", "0")], b""

        return self._known(labels, query, fallback, answer)

    def _list_invoke_configs(
        self, labels: dict[str, str], query: Mapping[str, str], body: dict[str, Any], fallback: Callable[[], Response]
    ) -> Response:
        def answer(spec: FunctionSpec, _: str | None) -> Response:
            settings = self.runtime.event_invoke_settings(spec.name)
            configs = [] if settings is None else [self._invoke_document(spec, settings)]
            return _json(200, {"FunctionEventInvokeConfigs": configs})

        return self._known(labels, {}, fallback, answer)

    # -- the rest ---------------------------------------------------------------------------------------------------

    def _unimplemented(self, operation: str, labels: Mapping[str, str], fallback: Callable[[], Response]) -> Response:
        found = self._function(labels.get("FunctionName", "")) if "FunctionName" in labels else None
        if found is None:
            return fallback()
        answer = fallback()
        if answer[0] != 404:
            return answer
        # moto does not know the function eventweave runs: its "not found" would be wrong.
        supported = ", ".join(sorted(self._handlers))
        return _error(
            "NotImplementedException",
            f"The local cloud does not implement {operation} for the deployed function {found[0].name}; "
            f"it answers {supported} and Invoke",
        )


# -- helpers ---------------------------------------------------------------------------------------------------------


def _versions(spec: FunctionSpec) -> list[str]:
    return sorted((q for q, v in spec.qualifiers.items() if q == v and q.isdigit()), key=int)


def _aliases(spec: FunctionSpec) -> list[str]:
    return [q for q in spec.qualifiers if not q.isdigit()]


_SPEC_FIELDS = frozenset(
    {
        "FunctionName",
        "EventSourceArn",
        "BatchSize",
        "MaximumBatchingWindowInSeconds",
        "Enabled",
        "FunctionResponseTypes",
        "ScalingConfig",
        "StartingPosition",
        "BisectBatchOnFunctionError",
        "MaximumRetryAttempts",
        "MaximumRecordAgeInSeconds",
        "ParallelizationFactor",
        "DestinationConfig",
        "FilterCriteria",
        "UUID",
    }
)


def _settings_of(props: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a mapping's configuration the runtime spec does not hold (returned as set)."""
    return {key: value for key, value in props.items() if key not in _SPEC_FIELDS and key != "Tags"}


def _props_of(record: MappingRecord) -> dict[str, Any]:
    """A mapping's configuration with the API's names: what an update is merged into and validated as."""
    spec = record.spec
    target = f"{spec.function_name}:{spec.function_qualifier}" if spec.function_qualifier else spec.function_name
    props: dict[str, Any] = {
        "FunctionName": target,
        "EventSourceArn": spec.source_arn,
        "BatchSize": spec.batch_size,
        "MaximumBatchingWindowInSeconds": spec.maximum_batching_window_seconds,
        "Enabled": spec.enabled,
        "FunctionResponseTypes": ["ReportBatchItemFailures"] if spec.report_batch_item_failures else [],
    }
    if spec.maximum_concurrency is not None:
        props["ScalingConfig"] = {"MaximumConcurrency": spec.maximum_concurrency}
    if spec.filter_patterns:
        props["FilterCriteria"] = {"Filters": [{"Pattern": pattern} for pattern in spec.filter_patterns]}
    if spec.source != "sqs":
        props.update(
            StartingPosition=spec.starting_position,
            BisectBatchOnFunctionError=spec.bisect_batch_on_function_error,
            MaximumRetryAttempts=spec.maximum_retry_attempts,
            MaximumRecordAgeInSeconds=spec.maximum_record_age_seconds,
            ParallelizationFactor=spec.parallelization_factor,
        )
        if spec.on_failure is not None:
            props["DestinationConfig"] = {"OnFailure": {"Destination": spec.on_failure.arn}}
    props.update(record.settings)
    return props


def _invoke_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    """A ``Put`` / ``UpdateFunctionEventInvokeConfig`` body as the configuration keeps it."""
    fields = {k: body[k] for k in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds") if body.get(k) is not None}
    if not fields and body.get("DestinationConfig") is None:
        raise _ApiError(
            "InvalidParameterValueException", "You must specify at least one of error handling or destination setting."
        )
    given = body.get("DestinationConfig") or {}
    fields["DestinationConfig"] = {key: dict(given.get(key) or {}) for key in ("OnSuccess", "OnFailure")}
    return fields


def _moto_items(fallback: Callable[[], Response], list_key: str, *, exclude: set[str], id_field: str) -> list[Any]:
    """The items moto lists for the same request (functions or mappings created in moto directly), without the
    ones eventweave listed; none when moto cannot answer."""
    status, _, body = fallback()
    if status != 200:
        return []
    try:
        items = json.loads(body).get(list_key) or []
    except (ValueError, AttributeError):
        return []
    return [item for item in items if isinstance(item, dict) and item.get(id_field) not in exclude]


def _issue_error(issue: Issue) -> _ApiError:
    # A limit of the local cloud (no AWS code): refused as a bad parameter, the message says which limit.
    return _ApiError(issue.code or "InvalidParameterValueException", issue.message)


def _json(status: int, document: Any) -> Response:
    body = json.dumps(document).encode()
    return status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))], body


def _error(code: str, message: str) -> Response:
    status, headers, body = _json(_ERROR_STATUS.get(code, 400), {"Type": "User", "message": message})
    return status, [*headers, ("X-Amzn-ErrorType", code)], body


def status_line(status: int) -> str:
    """``"202 Accepted"``: a WSGI status line."""
    return f"{status} {_STATUS_TEXT.get(status, 'OK')}"

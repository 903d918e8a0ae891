"""boto3 clients bound to the local cloud's data plane (one place for the endpoint and moto's test credentials).

When the data plane runs in this process (the embedded default), :func:`client` returns a shared client that calls
moto's backends directly instead of over HTTP: the pollers, relays, the deployer and tests then pay about a fifth
per call. Lambda's API always goes over HTTP, through the gateway that routes ``Invoke`` to eventweave.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["URL_FIELDS", "client", "in_process_client", "register_in_process", "unregister_in_process"]

_IN_PROCESS: dict[str, Any] = {}
"""Endpoint URL of a data plane served by this process -> its DynamoDB lock."""
_SHARED: dict[tuple[str, str, str], Any] = {}
_GUARD = threading.Lock()
_HTTP_ONLY = frozenset({"lambda", "dynamodbstreams"})
"""Lambda: its Invoke must reach the gateway. DynamoDB Streams: moto's in-process dispatcher has no URL for it."""


def register_in_process(endpoint_url: str, dynamodb_lock: Any) -> None:
    """Mark ``endpoint_url`` as served by this process (the data plane does this when it starts)."""
    with _GUARD:
        _IN_PROCESS[endpoint_url.rstrip("/")] = dynamodb_lock


def unregister_in_process(endpoint_url: str) -> None:
    with _GUARD:
        base = endpoint_url.rstrip("/")
        _IN_PROCESS.pop(base, None)
        for key in [k for k in _SHARED if k[1] == base]:
            del _SHARED[key]


def client(service: str, endpoint_url: str | None, region: str) -> Any:
    """A boto3 client for ``service`` at ``endpoint_url`` with moto's fixed test credentials."""
    base = (endpoint_url or "").rstrip("/")
    if base in _IN_PROCESS and service not in _HTTP_ONLY:
        key = (service, base, region)
        with _GUARD:
            if key not in _SHARED:
                lock = _IN_PROCESS[base] if service.startswith("dynamodb") else None
                _SHARED[key] = in_process_client(service, region, endpoint_url=base, lock=lock)
            return _SHARED[key]
    import boto3

    factory: Any = boto3.client  # typed per service literal; the service here is a runtime string
    return factory(
        service,
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto's fixed test credentials, never real ones
    )


URL_FIELDS: dict[str, tuple[str, ...]] = {"sqs": ("QueueUrl", "QueueUrls", "queueUrls")}
"""Per service, the response fields that carry the endpoint's own URL: SQS ``CreateQueue`` / ``GetQueueUrl``
(``QueueUrl``), ``ListQueues`` (``QueueUrls``) and ``ListDeadLetterSourceQueues`` (``queueUrls``). No other response
of the services the local cloud serves names its endpoint (SNS's ``SigningCertURL`` / ``UnsubscribeURL`` are part of
the notification, message content delivered as AWS writes it)."""


def in_process_client(service: str, region: str, *, endpoint_url: str, lock: Any = None) -> Any:
    """A boto3 client that calls this process's moto backends directly, without HTTP (about 5x cheaper per call).

    For the deployer, which runs in the process that hosts the data plane: the state is the one the endpoint
    serves. Responses read as if they came through ``endpoint_url``: the URL fields of :data:`URL_FIELDS` name it,
    after parsing, so message bodies, attributes and items come back byte for byte, whatever text they hold.
    ``lock`` (the data plane's DynamoDB lock) is held around each call when given, and a request moto cannot handle
    raises instead of going to the network.
    """
    import contextlib

    import boto3
    from botocore.awsrequest import AWSResponse
    from botocore.config import Config
    from moto.core.botocore_stubber import BotocoreStubber, MockRawResponse

    stub = BotocoreStubber()
    stub.enabled = True
    factory: Any = boto3.client
    bound = factory(
        service,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto's fixed test credentials, never real ones
        # The AWS hostname, which moto's dispatcher matches, even when AWS_ENDPOINT_URL is set (botocore's stubs
        # predate this option).
        config=Config(ignore_configured_endpoint_urls=True),  # type: ignore[call-arg]
    )
    aws_base = str(bound.meta.endpoint_url).rstrip("/")
    local_base = endpoint_url.rstrip("/")

    def send(request: Any, **_: Any) -> Any:
        with lock if lock is not None else contextlib.nullcontext():
            response = stub.process_request(request)
        if response is None:
            raise RuntimeError(f"moto has no in-process handler for {request.method} {request.url}")
        status, headers, body = response
        return AWSResponse(request.url, status, headers, MockRawResponse(body))  # type: ignore[arg-type]

    bound.meta.events.register("before-send", send)
    fields = URL_FIELDS.get(bound.meta.service_model.service_id.hyphenize(), ())
    if fields:

        def local(value: Any) -> Any:
            if isinstance(value, str) and value.startswith(aws_base + "/"):
                return local_base + value[len(aws_base) :]
            return value

        def rewrite_urls(parsed: Any, **_: Any) -> None:
            if not isinstance(parsed, dict):
                return
            for key in fields:
                value = parsed.get(key)
                if isinstance(value, list):
                    parsed[key] = [local(item) for item in value]
                elif value is not None:
                    parsed[key] = local(value)

        bound.meta.events.register(f"after-call.{bound.meta.service_model.service_id.hyphenize()}", rewrite_urls)
    return bound

"""Lazily created boto3 clients, shared by every helper in the runtime.

boto3 costs more to import than the rest of the runtime together, so nothing imports it until a record actually needs
AWS. Clients honour ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>`` like any boto3 client, which is how the local
cloud and tests point handlers at moto.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Literal, overload

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_kinesis import KinesisClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient

__all__ = ["client", "reset_clients"]

_lock = threading.Lock()
_clients: dict[str, Any] = {}


@overload
def client(service: Literal["sqs"]) -> SQSClient: ...
@overload
def client(service: Literal["sns"]) -> SNSClient: ...
@overload
def client(service: Literal["dynamodb"]) -> DynamoDBClient: ...
@overload
def client(service: Literal["events"]) -> EventBridgeClient: ...
@overload
def client(service: Literal["kinesis"]) -> KinesisClient: ...
@overload
def client(service: Literal["lambda"]) -> LambdaClient: ...
@overload
def client(service: str) -> Any: ...
def client(service: str) -> Any:
    """Return the process-wide client for ``service``, creating it (and importing boto3) on first use."""
    found = _clients.get(service)
    if found is not None:
        return found
    with _lock:
        found = _clients.get(service)
        if found is None:
            import boto3  # deferred: ~190 ms that a cold start should not pay unless AWS is called
            from botocore.config import Config

            found = boto3.client(
                service,  # type: ignore[call-overload]
                config=Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=10),
            )
            _clients[service] = found
    return found


def reset_clients() -> None:
    """Forget every client (tests and the local cloud call this after changing endpoints or credentials)."""
    with _lock:
        _clients.clear()

"""The eventweave handler runtime: typed Lambda base classes for SQS, SNS, EventBridge, Kinesis, DynamoDB Streams,
asynchronous invocation and failure destinations.

This package ships inside every function, so importing it imports nothing: each name below is loaded from its own
module on first access (PEP 562), and a function pays only for the source it uses. No aws_cdk, no moto, and boto3 only
when a record first talks to AWS.

The application runtimes built on this engine (fan-out/fan-in, decoupled requests) live in
:mod:`eventweave.coordination`.

Example::

    from pydantic import BaseModel
    from eventweave.handlers import Idempotency, SqsHandler, SqsRecordContext

    class OrderPlaced(BaseModel):
        order_id: str
        amount: int

    class Charge(SqsHandler[OrderPlaced]):
        idempotency = Idempotency(key="order_id")

        def handle(self, order: OrderPlaced, ctx: SqsRecordContext) -> None:
            ...

    handler = Charge.lambda_handler()
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "ENV",
    "IGNORED",
    "AsyncInvocationRecord",
    "BaseHandler",
    "BatchFailedError",
    "Change",
    "ConfigurationError",
    "DestinationHandler",
    "DynamoDBRecordContext",
    "DynamoDBStreamHandler",
    "EventBridgeHandler",
    "EventBridgeRecordContext",
    "HandlerContract",
    "Idempotency",
    "IdempotencyStore",
    "InvalidEventError",
    "InvokeHandler",
    "KinesisHandler",
    "KinesisRecordContext",
    "PermanentError",
    "PoisonRecord",
    "RecordContext",
    "RecordFailedError",
    "Settings",
    "SnsHandler",
    "SnsRecordContext",
    "SqsFifoHandler",
    "SqsHandler",
    "SqsRecordContext",
    "StreamFailureHandler",
    "StreamFailureRecord",
    "current_record",
    "on_event",
]

_WHERE = {
    "ENV": "settings",
    "Settings": "settings",
    "IGNORED": "base",
    "BaseHandler": "base",
    "HandlerContract": "base",
    "on_event": "base",
    "BatchFailedError": "errors",
    "ConfigurationError": "errors",
    "InvalidEventError": "errors",
    "PermanentError": "errors",
    "RecordFailedError": "errors",
    "RecordContext": "context",
    "SqsRecordContext": "context",
    "current_record": "context",
    "Idempotency": "idempotency",
    "IdempotencyStore": "idempotency",
    "SqsHandler": "sqs",
    "SqsFifoHandler": "sqs",
    "SnsHandler": "sns",
    "SnsRecordContext": "sns",
    "EventBridgeHandler": "eventbridge",
    "EventBridgeRecordContext": "eventbridge",
    "KinesisHandler": "kinesis",
    "KinesisRecordContext": "kinesis",
    "DynamoDBStreamHandler": "dynamodb",
    "DynamoDBRecordContext": "dynamodb",
    "Change": "dynamodb",
    "InvokeHandler": "invoke",
    "AsyncInvocationRecord": "destinations",
    "DestinationHandler": "destinations",
    "PoisonRecord": "destinations",
    "StreamFailureHandler": "destinations",
    "StreamFailureRecord": "destinations",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'eventweave.handlers' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from .base import IGNORED, BaseHandler, HandlerContract, on_event
    from .context import RecordContext, SqsRecordContext, current_record
    from .destinations import (
        AsyncInvocationRecord,
        DestinationHandler,
        PoisonRecord,
        StreamFailureHandler,
        StreamFailureRecord,
    )
    from .dynamodb import Change, DynamoDBRecordContext, DynamoDBStreamHandler
    from .errors import BatchFailedError, ConfigurationError, InvalidEventError, PermanentError, RecordFailedError
    from .eventbridge import EventBridgeHandler, EventBridgeRecordContext
    from .idempotency import Idempotency, IdempotencyStore
    from .invoke import InvokeHandler
    from .kinesis import KinesisHandler, KinesisRecordContext
    from .settings import ENV, Settings
    from .sns import SnsHandler, SnsRecordContext
    from .sqs import SqsFifoHandler, SqsHandler

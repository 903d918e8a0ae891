"""CloudWatch Logs subscription data: gzip-compressed JSON, base64-encoded in the ``awslogs`` event a subscription
filter sends to Lambda, and as the raw record data on a Kinesis stream (Kinesis's own base64 around the gzip).

:class:`LogsData` is the decoded document with its log events. As a handler model it takes the record's bytes
(Kinesis), the ``awslogs`` event (Lambda), or the document itself::

    class Ship(KinesisHandler[LogsData]):
        def handle(self, logs: LogsData, ctx: KinesisRecordContext) -> None:
            for line in logs.log_events:
                forward(logs.log_group, line.message)
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import zlib
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .payloads import UndecodablePayload

__all__ = [
    "LogEvent",
    "LogsData",
    "LogsDataError",
    "awslogs_event",
    "decode_logs_data",
    "decode_payload",
    "encode_logs_data",
]


class LogsDataError(UndecodablePayload):
    """Subscription data that is not base64, not gzip or not the subscription document."""


class LogEvent(BaseModel):
    """One log line."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    id: str
    timestamp: int
    message: str


class LogsData(BaseModel):
    """The document a CloudWatch Logs subscription filter delivers (``messageType`` ``DATA_MESSAGE``, or
    ``CONTROL_MESSAGE`` when CloudWatch checks that the destination is reachable, with no useful events).

    Example::

        logs = LogsData.model_validate(event)          # the awslogs event a subscription sends Lambda
        [e.message for e in logs.log_events]
    """

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    __eventweave_decode__: ClassVar[Callable[[Any], Any]]
    """The handler engine passes a record's raw payload through this before validating (gzip, base64, awslogs)."""

    message_type: Literal["DATA_MESSAGE", "CONTROL_MESSAGE"] = Field(alias="messageType")
    owner: str
    log_group: str = Field(alias="logGroup")
    log_stream: str = Field(alias="logStream")
    subscription_filters: list[str] = Field(alias="subscriptionFilters")
    log_events: list[LogEvent] = Field(alias="logEvents")
    policy_level: str | None = Field(default=None, alias="policyLevel")

    @model_validator(mode="before")
    @classmethod
    def _decode(cls, value: Any) -> Any:
        return decode_payload(value)

    @property
    def is_control(self) -> bool:
        """A reachability check from CloudWatch Logs, not log data."""
        return self.message_type == "CONTROL_MESSAGE"


def decode_payload(value: Any) -> Any:
    """The subscription document from what a handler receives: gzip bytes (Kinesis data), the ``awslogs`` event, or
    the document itself (returned as it is)."""
    if isinstance(value, bytes | bytearray):
        return decode_logs_data(bytes(value))
    if isinstance(value, Mapping) and "awslogs" in value:
        inner = value["awslogs"]
        data = inner.get("data") if isinstance(inner, Mapping) else None
        if not isinstance(data, str):
            raise LogsDataError("the awslogs event has no awslogs.data text")
        return decode_logs_data(data)
    return value


LogsData.__eventweave_decode__ = staticmethod(decode_payload)


def decode_logs_data(data: bytes | str) -> dict[str, Any]:
    """The subscription document from gzip bytes, or from base64 text of them (the ``awslogs.data`` form)."""
    raw: bytes
    if isinstance(data, str):
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError) as error:
            raise LogsDataError(f"awslogs.data is not valid base64 ({error})") from None
    else:
        raw = data
    try:
        text = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as error:
        raise LogsDataError(f"subscription data is not gzip ({error}); CloudWatch Logs always compresses it") from None
    try:
        doc = json.loads(text)
    except ValueError as error:
        raise LogsDataError(f"decompressed subscription data is not JSON ({error})") from None
    if not isinstance(doc, dict):
        raise LogsDataError("decompressed subscription data is not a JSON object")
    return doc


def encode_logs_data(doc: Mapping[str, Any]) -> bytes:
    """The gzip bytes CloudWatch Logs writes for ``doc`` (Kinesis record data)."""
    return gzip.compress(json.dumps(doc, separators=(",", ":")).encode(), mtime=0)


def awslogs_event(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The event a subscription filter sends Lambda: ``{"awslogs": {"data": base64(gzip(json))}}``."""
    return {"awslogs": {"data": base64.b64encode(encode_logs_data(doc)).decode()}}

"""What a handler's declared model asks of a payload: JSON validated against it, the text as it came, or the bytes.

A model of ``str`` takes the payload text unchanged (no JSON parsing); ``bytes`` takes the payload's bytes (an SQS
body or SNS message as UTF-8, Kinesis data as decoded); a model class with an ``__eventweave_decode__``
function (:class:`eventweave.wire.logs.LogsData`) is validated from what it makes of the raw bytes; anything else is
validated from JSON.

Example::

    payload_kind(str)          # 'text'
    as_text(b"caf\\xc3\\xa9")     # 'café'
    as_text(b"\\xff")           # raises UndecodablePayload
"""

from __future__ import annotations

import json
from typing import Any, Literal

__all__ = ["PayloadKind", "UndecodablePayload", "as_bytes", "as_text", "payload_kind"]

PayloadKind = Literal["json", "text", "bytes", "model-bytes"]


class UndecodablePayload(ValueError):  # noqa: N818 - a verdict on the payload, like pydantic's ValidationError
    """The payload cannot be decoded as the model needs (not UTF-8 text, not base64, not gzip); it is poison."""


def payload_kind(type_: Any) -> PayloadKind:
    """How payloads are handed to a model of ``type_``."""
    if type_ is str:
        return "text"
    if type_ is bytes:
        return "bytes"
    if callable(getattr(type_, "__eventweave_decode__", None)):
        return "model-bytes"
    return "json"


def as_text(value: Any) -> str:
    """A payload as text: text unchanged, bytes decoded as strict UTF-8, a JSON value (an EventBridge ``detail``)
    as compact JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError as error:
            bad = bytes(value)[error.start : error.start + 4]
            raise UndecodablePayload(
                f"the payload is not valid UTF-8 (byte {error.start}: {bad!r}); "
                "a str model needs text: declare the handler with bytes to take binary data"
            ) from None
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def as_bytes(value: Any) -> bytes:
    """A payload as bytes: bytes unchanged, text as UTF-8, a JSON value as compact JSON in UTF-8."""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8", errors="surrogatepass")
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()

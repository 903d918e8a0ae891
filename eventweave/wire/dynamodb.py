"""DynamoDB JSON (``AttributeValue``) and DynamoDB Streams records.

The codec maps DynamoDB's types the way boto3's ``TypeDeserializer`` does, except that binaries are decoded, as the
stream and the low-level JSON API carry them base64-encoded: ``S`` -> ``str``, ``N`` -> ``Decimal``, ``B`` ->
``bytes``, ``BOOL`` -> ``bool``, ``NULL`` -> ``None``, ``M`` -> ``dict``, ``L`` -> ``list``, ``SS`` -> ``set[str]``,
``NS`` -> ``set[Decimal]``, ``BS`` -> ``set[bytes]``; in images, ``Keys``, lists and maps alike. :func:`serialize`
is its inverse (sets come out sorted, so the output is deterministic): ``serialize(deserialize(v)) == v`` for any
value whose sets are sorted and whose numbers are in ``Decimal``'s canonical text.

Example::

    deserialize_image({"id": {"S": "a-1"}, "blob": {"B": "AP9oZWxsbw=="}})
    # {'id': 'a-1', 'blob': b'\\x00\\xffhello'}
"""

from __future__ import annotations

import base64
import binascii
import math
import time
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

__all__ = [
    "STREAM_VIEW_TYPES",
    "DynamoDBJsonError",
    "deserialize",
    "deserialize_image",
    "serialize",
    "serialize_image",
    "stream_record",
]

STREAM_VIEW_TYPES = ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES")


class DynamoDBJsonError(ValueError):
    """A value that is not DynamoDB JSON; the message names the attribute path and what was wrong."""


def _binary(value: object, path: str) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)  # boto3 hands bytes already decoded
    if not isinstance(value, str):
        raise DynamoDBJsonError(f"{path}: a B value must be base64 text, not {type(value).__name__}")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as error:
        raise DynamoDBJsonError(f"{path}: B value {value[:40]!r} is not valid base64 ({error})") from None


def _number(value: object, path: str) -> Decimal:
    if not isinstance(value, str):
        raise DynamoDBJsonError(f"{path}: an N value must be text, not {type(value).__name__}")
    try:
        number = Decimal(value)
    except ArithmeticError:
        raise DynamoDBJsonError(f"{path}: N value {value[:40]!r} is not a number") from None
    if not number.is_finite():
        # Decimal reads "NaN", "sNaN" and "Infinity", which DynamoDB never stores (a signalling NaN cannot even be
        # hashed into an NS set, nor a NaN sorted by serialize()).
        raise DynamoDBJsonError(f"{path}: N value {value[:40]!r} is not a finite number; DynamoDB has no NaN/Infinity")
    return number


def deserialize(value: Mapping[str, Any], path: str = "$") -> Any:
    """One ``AttributeValue`` as Python; raises :class:`DynamoDBJsonError` naming ``path`` when it is not one."""
    if not isinstance(value, Mapping) or len(value) != 1:
        raise DynamoDBJsonError(f"{path}: expected one {{type: value}} pair, got {str(value)[:80]}")
    ((kind, inner),) = value.items()
    if kind == "S":
        if not isinstance(inner, str):
            raise DynamoDBJsonError(f"{path}: an S value must be text")
        return inner
    if kind == "N":
        return _number(inner, path)
    if kind == "B":
        return _binary(inner, path)
    if kind == "BOOL":
        if not isinstance(inner, bool):
            raise DynamoDBJsonError(f"{path}: a BOOL value must be true or false")
        return inner
    if kind == "NULL":
        return None
    if kind == "M":
        if not isinstance(inner, Mapping):
            raise DynamoDBJsonError(f"{path}: an M value must be an object")
        return {name: deserialize(item, f"{path}.{name}") for name, item in inner.items()}
    if kind == "L":
        if not isinstance(inner, list):
            raise DynamoDBJsonError(f"{path}: an L value must be a list")
        return [deserialize(item, f"{path}[{i}]") for i, item in enumerate(inner)]
    if kind in ("SS", "NS", "BS"):
        if not isinstance(inner, list):
            raise DynamoDBJsonError(f"{path}: an {kind} value must be a list")
        if kind == "SS":
            if not all(isinstance(item, str) for item in inner):
                raise DynamoDBJsonError(f"{path}: an SS value must hold text only")
            return set(inner)
        if kind == "NS":
            return {_number(item, f"{path}[{i}]") for i, item in enumerate(inner)}
        return {_binary(item, f"{path}[{i}]") for i, item in enumerate(inner)}
    raise DynamoDBJsonError(f"{path}: unknown DynamoDB type {kind!r} (S, N, B, BOOL, NULL, M, L, SS, NS, BS)")


def deserialize_image(image: Mapping[str, Any], path: str = "$") -> dict[str, Any]:
    """An item (``NewImage``, ``OldImage``, ``Keys``) as a plain dict."""
    if not isinstance(image, Mapping):
        raise DynamoDBJsonError(f"{path}: an item must be an object of attributes, not {type(image).__name__}")
    return {name: deserialize(value, f"{path}.{name}") for name, value in image.items()}


def _number_text(value: int | float | Decimal) -> str:
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise DynamoDBJsonError(f"DynamoDB numbers cannot be {value}")
        return repr(value)
    if isinstance(value, Decimal) and not value.is_finite():
        raise DynamoDBJsonError(f"DynamoDB numbers cannot be {value}")
    return str(value)


def serialize(value: Any) -> dict[str, Any]:
    """A Python value as an ``AttributeValue`` (bytes as base64 text, as the JSON API and streams carry them)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int | float | Decimal):
        return {"N": _number_text(value)}
    if isinstance(value, bytes | bytearray):
        return {"B": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, Mapping):
        return {"M": {str(name): serialize(item) for name, item in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [serialize(item) for item in value]}
    if isinstance(value, set | frozenset):
        items = list(value)
        if all(isinstance(item, str) for item in items):
            return {"SS": sorted(items)}
        if all(isinstance(item, bytes | bytearray) for item in items):
            return {"BS": [base64.b64encode(bytes(item)).decode() for item in sorted(items)]}
        if all(isinstance(item, int | float | Decimal) and not isinstance(item, bool) for item in items):
            numbers = [(item, _number_text(item)) for item in items]  # refuses NaN / Infinity before sorting
            return {"NS": [text for _, text in sorted(numbers, key=lambda pair: pair[0])]}
        raise DynamoDBJsonError("a set must hold only text, only numbers or only bytes")
    raise DynamoDBJsonError(f"cannot store a {type(value).__name__} in DynamoDB")


def serialize_image(item: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """A plain dict as an item in DynamoDB JSON."""
    return {str(name): serialize(value) for name, value in item.items()}


def stream_record(
    event_name: str,
    *,
    keys: Mapping[str, Any],
    sequence_number: str,
    stream_arn: str,
    new_image: Mapping[str, Any] | None = None,
    old_image: Mapping[str, Any] | None = None,
    view: str = "NEW_AND_OLD_IMAGES",
    region: str | None = None,
    event_id: str | None = None,
    created: float | None = None,
    size_bytes: int | None = None,
    user_identity: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One DynamoDB Streams record as Lambda delivers it; keys and images in DynamoDB JSON.

    Images the view type does not carry are left out whatever is passed (``KEYS_ONLY`` has none, ``NEW_IMAGE`` no
    ``OldImage``...), and INSERT never has an ``OldImage`` nor REMOVE a ``NewImage``, as on AWS.
    """
    if view not in STREAM_VIEW_TYPES:
        raise ValueError(f"stream view type {view!r} is not one of {STREAM_VIEW_TYPES}")
    body: dict[str, Any] = {
        "ApproximateCreationDateTime": float(int(created if created is not None else time.time())),
        "Keys": dict(keys),
    }
    if new_image is not None and view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES") and event_name != "REMOVE":
        body["NewImage"] = dict(new_image)
    if old_image is not None and view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES") and event_name != "INSERT":
        body["OldImage"] = dict(old_image)
    body["SequenceNumber"] = sequence_number
    body["SizeBytes"] = size_bytes if size_bytes is not None else _size(body)
    body["StreamViewType"] = view
    record: dict[str, Any] = {
        "eventID": event_id or uuid.uuid4().hex,
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region or stream_arn.split(":")[3],
        "dynamodb": body,
        "eventSourceARN": stream_arn,
    }
    if user_identity is not None:
        record["userIdentity"] = dict(user_identity)  # TTL deletions: {"type": "Service", "principalId": ...}
    return record


def _size(body: Mapping[str, Any]) -> int:
    import json

    return len(json.dumps([body.get("Keys"), body.get("NewImage"), body.get("OldImage")], separators=(",", ":")))

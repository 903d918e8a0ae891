"""Message attributes in the three forms AWS puts on the wire, read into typed values and built back.

* the SQS and SNS APIs (``SendMessage``, ``ReceiveMessage``, ``Publish``):
  ``{"DataType", "StringValue" | "BinaryValue"}`` with ``BinaryValue`` as raw bytes (boto3 base64-encodes them);
* an SQS record of a Lambda event: ``{"dataType", "stringValue" | "binaryValue", "stringListValues",
  "binaryListValues"}`` with ``binaryValue`` base64 text;
* an SNS notification (the Lambda record's ``Sns.MessageAttributes`` and the JSON body SNS puts on a queue):
  ``{"Type", "Value"}``, where a ``Binary`` value is base64 text and a ``String.Array`` value is a JSON array as text.

The data type decides, not which key happens to be present: ``Binary`` and ``Binary.<custom>`` are bytes, everything
else (``String``, ``Number``, ``String.Array`` and their custom suffixes) is text. A binary value is never read as a
string, so a Binary ``eventweave-correlation-id`` is not a correlation id.

Example::

    strings, binaries = read_attributes(record["messageAttributes"])
    strings["tenant"]          # 'acme'
    binaries["thumbnail"]      # b'\\x89PNG...'
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

__all__ = [
    "AttributeValue",
    "api_attribute",
    "api_attributes",
    "is_binary_type",
    "lambda_sqs_attribute",
    "lambda_sqs_attributes",
    "read_attributes",
    "sns_attribute",
    "sns_attributes",
    "string_attribute",
]

AttributeValue = str | int | float | bytes
"""What a caller may give for one attribute: text, a number (sent as ``Number``) or bytes (sent as ``Binary``)."""


def is_binary_type(data_type: object) -> bool:
    """Whether an attribute of ``data_type`` carries bytes (``Binary`` or ``Binary.<custom>``)."""
    return isinstance(data_type, str) and (data_type == "Binary" or data_type.startswith("Binary."))


def _type_of(value: AttributeValue, data_type: str | None) -> str:
    if data_type:
        return data_type
    if isinstance(value, bytes):
        return "Binary"
    if isinstance(value, bool):
        return "String"  # True is an int; "True" as a Number would be refused by SQS
    return "Number" if isinstance(value, int | float) else "String"


def _b64(value: bytes | str) -> str:
    return base64.b64encode(value if isinstance(value, bytes) else value.encode()).decode()


def _unb64(text: object) -> bytes | None:
    if isinstance(text, bytes):
        return text
    if not isinstance(text, str):
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


# -- reading -----------------------------------------------------------------------------------------------------


def _one(value: Mapping[str, Any]) -> tuple[str | None, bytes | None]:
    """``(text, None)`` or ``(None, bytes)`` for one attribute in any of the three forms, else ``(None, None)``."""
    if "dataType" in value or "stringValue" in value or "binaryValue" in value:  # Lambda's SQS record form
        data_type = value.get("dataType")
        if is_binary_type(data_type) or ("binaryValue" in value and "stringValue" not in value):
            return None, _unb64(value.get("binaryValue"))
        text = value.get("stringValue")
        return (text if isinstance(text, str) else None), None
    if "DataType" in value or "StringValue" in value or "BinaryValue" in value:  # the SQS / SNS API form
        data_type = value.get("DataType")
        if is_binary_type(data_type) or ("BinaryValue" in value and "StringValue" not in value):
            return None, _unb64(value.get("BinaryValue"))
        text = value.get("StringValue")
        return (text if isinstance(text, str) else None), None
    data_type = value.get("Type")  # SNS notification form
    raw = value.get("Value")
    if is_binary_type(data_type):
        return None, _unb64(raw)
    return (raw if isinstance(raw, str) else None), None


def read_attributes(raw: object) -> tuple[dict[str, str], dict[str, bytes]]:
    """``(strings, binaries)`` of a message-attribute map in any form; entries that are not attributes are skipped.

    ``strings`` holds String, Number and String.Array values as the text AWS sends; ``binaries`` the decoded bytes
    of Binary values (a Binary value that is not valid base64 is left out of both).
    """
    strings: dict[str, str] = {}
    binaries: dict[str, bytes] = {}
    if not raw or not isinstance(raw, dict):
        return strings, binaries
    for name, value in raw.items():
        if not isinstance(value, dict) or not isinstance(name, str):
            continue
        text, data = _one(value)
        if text is not None:
            strings[name] = text
        elif data is not None:
            binaries[name] = data
    return strings, binaries


def string_attribute(raw: Mapping[str, Any] | None, name: str) -> str | None:
    """One attribute's text, or ``None`` when it is absent, binary or not an attribute (cheaper than reading all)."""
    if not raw:
        return None
    value = raw.get(name)
    if not isinstance(value, dict):
        return None
    text, _ = _one(value)
    return text


# -- building ----------------------------------------------------------------------------------------------------


def api_attribute(value: AttributeValue, data_type: str | None = None) -> dict[str, Any]:
    """One attribute for ``SendMessage`` / ``Publish`` (``BinaryValue`` as bytes; boto3 encodes it)."""
    kind = _type_of(value, data_type)
    if is_binary_type(kind):
        return {"DataType": kind, "BinaryValue": value if isinstance(value, bytes) else str(value).encode()}
    return {"DataType": kind, "StringValue": value.decode() if isinstance(value, bytes) else str(value)}


def api_attributes(values: Mapping[str, AttributeValue]) -> dict[str, dict[str, Any]]:
    """A ``MessageAttributes`` map for the SQS / SNS APIs."""
    return {name: api_attribute(value) for name, value in values.items()}


def lambda_sqs_attribute(value: AttributeValue, data_type: str | None = None) -> dict[str, Any]:
    """One attribute as an SQS record of a Lambda event carries it."""
    kind = _type_of(value, data_type)
    entry: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": kind}
    if is_binary_type(kind):
        entry["binaryValue"] = _b64(value if isinstance(value, bytes) else str(value))
    else:
        entry["stringValue"] = value.decode() if isinstance(value, bytes) else str(value)
    return entry


def lambda_sqs_attributes(api: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """``ReceiveMessage``'s ``MessageAttributes`` (API form) in the form Lambda's SQS records carry."""
    out: dict[str, dict[str, Any]] = {}
    for name, value in (api or {}).items():
        kind = str(value.get("DataType", "String"))
        entry: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": kind}
        if "StringValue" in value:
            entry["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            entry["binaryValue"] = _b64(value["BinaryValue"])
        out[name] = entry
    return out


def sns_attribute(value: AttributeValue, data_type: str | None = None) -> dict[str, str]:
    """One attribute as an SNS notification carries it (``Binary`` values base64-encoded)."""
    kind = _type_of(value, data_type)
    if is_binary_type(kind):
        return {"Type": kind, "Value": _b64(value if isinstance(value, bytes) else str(value))}
    return {"Type": kind, "Value": value.decode() if isinstance(value, bytes) else str(value)}


def sns_attributes(api: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict[str, str]]:
    """``Publish``'s ``MessageAttributes`` (API form) as the notification carries them."""
    out: dict[str, dict[str, str]] = {}
    for name, value in (api or {}).items():
        kind = str(value.get("DataType", "String"))
        if "BinaryValue" in value:
            out[name] = {"Type": kind, "Value": _b64(value["BinaryValue"])}
        else:
            out[name] = {"Type": kind, "Value": str(value.get("StringValue", ""))}
    return out

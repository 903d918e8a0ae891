"""eventweave's trace metadata on the wire: how a correlation id, causation id and hop count travel with a message.

* SNS and SQS: String/Number message attributes ``eventweave-correlation-id``, ``eventweave-causation-id``,
  ``eventweave-hops`` (a Binary attribute of those names is ignored: it is not eventweave's);
* EventBridge ``detail``, Kinesis data, DynamoDB items and asynchronous-invoke payloads (JSON objects): a ``__context``
  object ``{"correlationId": ..., "causationId": ..., "hops": n}``.

A hop counter that is present but unreadable or negative reads as maximal, so the recursion guard trips: a corrupt
counter must never reset a loop to zero.

Example::

    correlation, causation, hops = trace_from_attributes(record["messageAttributes"])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .attributes import string_attribute

__all__ = [
    "ATTR_CAUSATION",
    "ATTR_CORRELATION",
    "ATTR_HOPS",
    "CONTEXT_KEY",
    "CORRUPT_HOPS",
    "Trace",
    "trace_document",
    "trace_from_attributes",
    "trace_from_payload",
]

ATTR_CORRELATION = "eventweave-correlation-id"
ATTR_CAUSATION = "eventweave-causation-id"
ATTR_HOPS = "eventweave-hops"
CONTEXT_KEY = "__context"
CORRUPT_HOPS = 1 << 30
"""The hop count of a counter that cannot be read: over any limit."""

Trace = tuple[str | None, str | None, int]
"""``(correlation id, causation id, hops)``."""


def trace_from_attributes(raw: Mapping[str, Any] | None) -> Trace:
    """The trace carried by a message-attribute map (any form); ``(None, None, 0)`` when it carries none."""
    if not raw or (ATTR_HOPS not in raw and ATTR_CORRELATION not in raw):
        return None, None, 0
    hops_text = string_attribute(raw, ATTR_HOPS)
    if hops_text is None:
        # A counter that is present but not a string attribute is as corrupt as an unparsable one.
        hops = CORRUPT_HOPS if ATTR_HOPS in raw else 0
    else:
        try:
            hops = int(hops_text)
        except ValueError:
            hops = CORRUPT_HOPS
    if hops < 0:
        hops = CORRUPT_HOPS
    return string_attribute(raw, ATTR_CORRELATION), string_attribute(raw, ATTR_CAUSATION), hops


def trace_from_payload(payload: dict[str, Any]) -> Trace | None:
    """Pop ``__context`` from a JSON object; ``None`` when it carries none."""
    meta = payload.pop(CONTEXT_KEY, None)
    if meta is None:
        return None
    if not isinstance(meta, dict):
        return None, None, CORRUPT_HOPS
    raw_hops = meta.get("hops", 0)
    try:
        # DynamoDB images deserialize numbers as Decimal, JSON as int: int() takes both.
        hops = CORRUPT_HOPS if isinstance(raw_hops, bool) else int(raw_hops)
    except (TypeError, ValueError, ArithmeticError):
        hops = CORRUPT_HOPS
    if hops < 0:
        hops = CORRUPT_HOPS
    corr, cause = meta.get("correlationId"), meta.get("causationId")
    return (corr if isinstance(corr, str) else None, cause if isinstance(cause, str) else None, hops)


def trace_document(correlation: str, causation: str | None, hops: int) -> dict[str, Any]:
    """The ``__context`` object for a JSON payload."""
    doc: dict[str, Any] = {"correlationId": correlation, "hops": hops}
    if causation:
        doc["causationId"] = causation
    return doc

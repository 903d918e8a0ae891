"""EventBridge events: the envelope every target receives, built from a ``PutEvents`` entry.

AWS documents the envelope ``{"version": "0", "id", "detail-type", "source", "account", "time", "region",
"resources", "detail"}``; ``time`` is second-precision ISO 8601 in UTC. Lambda destinations put events with
``source: "aws.lambda"`` and the detail-types in :data:`DESTINATION_DETAIL_TYPES`.

Example::

    event = event_from_entry({"Source": "orders", "DetailType": "OrderPlaced", "Detail": '{"order_id": "o-1"}'},
                             account="123456789012", region="us-east-1")
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "DESTINATION_DETAIL_TYPES",
    "DESTINATION_SOURCE",
    "ENVELOPE_KEYS",
    "event",
    "event_from_entry",
    "is_event",
]

ENVELOPE_KEYS = ("version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail")
DESTINATION_SOURCE = "aws.lambda"
DESTINATION_DETAIL_TYPES = {
    True: "Lambda Function Invocation Result - Success",
    False: "Lambda Function Invocation Result - Failure",
}


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def event(
    detail: Any,
    *,
    detail_type: str,
    source: str,
    account: str,
    region: str,
    resources: Sequence[str] = (),
    event_id: str | None = None,
    time: str | None = None,
) -> dict[str, Any]:
    """The event as a target receives it."""
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": account,
        "time": time or _now(),
        "region": region,
        "resources": list(resources),
        "detail": detail,
    }


def event_from_entry(
    entry: Mapping[str, Any], *, account: str, region: str, event_id: str | None = None
) -> dict[str, Any]:
    """The event for one ``PutEvents`` entry (``Detail`` is JSON text, as the API takes it)."""
    detail_text = entry.get("Detail", "{}")
    detail = json.loads(detail_text) if isinstance(detail_text, str) else detail_text
    return event(
        detail,
        detail_type=str(entry["DetailType"]),
        source=str(entry["Source"]),
        account=account,
        region=region,
        resources=list(entry.get("Resources") or ()),
        event_id=event_id,
        time=_entry_time(entry.get("Time")),
    )


def _entry_time(when: Any) -> str | None:
    """An entry's ``Time`` as the envelope's text; ``None`` (now) when absent or unreadable.

    boto3 takes a datetime, epoch seconds or ISO 8601 text, and sends a naive datetime as UTC (not local time).
    """
    moment: dt.datetime
    if isinstance(when, dt.datetime):
        moment = when
    elif isinstance(when, int | float) and not isinstance(when, bool):
        moment = dt.datetime.fromtimestamp(when, dt.UTC)
    elif isinstance(when, str):
        try:
            moment = dt.datetime.fromisoformat(when)
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_event(obj: object) -> bool:
    """Whether a parsed JSON value is an EventBridge event (it has the keys a target relies on)."""
    return isinstance(obj, dict) and "detail-type" in obj and "source" in obj and "detail" in obj and "id" in obj

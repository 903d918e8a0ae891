"""Publish to SNS, SQS, EventBridge, Kinesis or another function with eventweave's trace metadata.

Inside a handler, everything published carries the current record's correlation id, the record's message id as the
causation id, and the hop count plus one; consumers built on eventweave read them back, log the correlation id and stop
a chain that passes ``EVENTWEAVE_MAX_HOPS``. Outside a handler a new correlation id is minted and hops start at 0.

Where the metadata goes: message attributes for SNS and SQS (3 of the 10 allowed), a ``__context`` object inside the
JSON payload for EventBridge ``detail``, Kinesis records, Lambda payloads and DynamoDB items (:func:`stamp`).

Example::

    from eventweave.handlers.publish import put_event, send_sqs

    class Ventilate(SqsHandler[ReportRequested]):
        def handle(self, request: ReportRequested, ctx: SqsRecordContext) -> None:
            for chunk in request.chunks():
                send_sqs(TASKS_URL, chunk)                    # traced: same correlation id, hops + 1
            put_event("ReportStarted", {"report_id": request.report_id}, source="reports")
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from eventweave.wire.attributes import api_attribute
from eventweave.wire.trace import ATTR_CAUSATION, ATTR_CORRELATION, ATTR_HOPS, CONTEXT_KEY

from .clients import client
from .context import current_record

__all__ = [
    "PublishError",
    "invoke_async",
    "outgoing_trace",
    "publish_sns",
    "put_event",
    "put_record",
    "send_sqs",
    "send_sqs_batch",
    "stamp",
    "stamp_attribute",
    "trace_attributes",
]

AttributeValues = Mapping[str, str | int | float | bytes]


class PublishError(RuntimeError):
    """A service accepted only part of a batch, or refused an entry; names the resource and the entries."""


def outgoing_trace() -> tuple[str, str | None, int]:
    """``(correlation id, causation id, hops)`` for a message published now."""
    ctx = current_record()
    if ctx is None:
        return str(uuid.uuid4()), None, 0
    return ctx.correlation_id, ctx.message_id, ctx.hops + 1


def trace_attributes(extra: AttributeValues | None = None) -> dict[str, dict[str, Any]]:
    """SNS/SQS message attributes (API form) with the trace plus ``extra`` (``bytes`` values become Binary)."""
    correlation, causation, hops = outgoing_trace()
    attrs: dict[str, dict[str, Any]] = {name: api_attribute(value) for name, value in (extra or {}).items()}
    attrs[ATTR_CORRELATION] = api_attribute(correlation)
    if causation:
        attrs[ATTR_CAUSATION] = api_attribute(causation)
    attrs[ATTR_HOPS] = api_attribute(hops)
    if len(attrs) > 10:
        raise PublishError(f"{len(attrs)} message attributes; SNS and SQS allow 10 and eventweave uses 3 for tracing")
    return attrs


def _text(message: BaseModel | Mapping[str, Any] | list[Any] | str) -> str:
    if isinstance(message, BaseModel):
        return message.model_dump_json(by_alias=True)
    if isinstance(message, str):
        return message
    return json.dumps(message, default=str, separators=(",", ":"))


def _object(message: BaseModel | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(message, BaseModel):
        data = message.model_dump(mode="json", by_alias=True)
    elif isinstance(message, Mapping):
        data = dict(message)
    else:
        raise TypeError(f"expected a pydantic model or a mapping, got {type(message).__name__}")
    correlation, causation, hops = outgoing_trace()
    data[CONTEXT_KEY] = {"correlationId": correlation, "causationId": causation, "hops": hops}
    return data


def publish_sns(
    topic_arn: str,
    message: BaseModel | Mapping[str, Any] | str,
    *,
    attributes: AttributeValues | None = None,
    subject: str | None = None,
    group_id: str | None = None,
    deduplication_id: str | None = None,
) -> str:
    """Publish to an SNS topic; returns the ``MessageId``. FIFO topics need ``group_id``."""
    kwargs: dict[str, Any] = {
        "TopicArn": topic_arn,
        "Message": _text(message),
        "MessageAttributes": trace_attributes(attributes),
    }
    if subject:
        kwargs["Subject"] = subject
    if group_id:
        kwargs["MessageGroupId"] = group_id
    if deduplication_id:
        kwargs["MessageDeduplicationId"] = deduplication_id
    return client("sns").publish(**kwargs)["MessageId"]


def send_sqs(
    queue_url: str,
    message: BaseModel | Mapping[str, Any] | str,
    *,
    attributes: AttributeValues | None = None,
    delay_seconds: int = 0,
    group_id: str | None = None,
    deduplication_id: str | None = None,
) -> str:
    """Send to an SQS queue; returns the ``MessageId``. FIFO queues need ``group_id``."""
    kwargs: dict[str, Any] = {
        "QueueUrl": queue_url,
        "MessageBody": _text(message),
        "MessageAttributes": trace_attributes(attributes),
    }
    if delay_seconds:
        kwargs["DelaySeconds"] = delay_seconds
    if group_id:
        kwargs["MessageGroupId"] = group_id
    if deduplication_id:
        kwargs["MessageDeduplicationId"] = deduplication_id
    return client("sqs").send_message(**kwargs)["MessageId"]


def send_sqs_batch(
    queue_url: str,
    messages: Iterable[BaseModel | Mapping[str, Any] | str],
    *,
    attributes: AttributeValues | None = None,
    group_id: str | None = None,
    deduplication_ids: Sequence[str] | None = None,
) -> list[str]:
    """Send many messages in as few requests as SQS allows (10 messages and 256 KiB per request).

    Returns the message ids in input order; raises :class:`PublishError` naming any entry SQS refused (the others
    were sent). FIFO queues need ``group_id`` and, unless content-based deduplication is on, ``deduplication_ids``.
    """
    attrs = trace_attributes(attributes)
    attrs_size = sum(
        len(name) + len(v["DataType"]) + len(v.get("StringValue") or v.get("BinaryValue") or "")
        for name, v in attrs.items()
    )
    bodies = [_text(m) for m in messages]
    if deduplication_ids is not None and len(deduplication_ids) != len(bodies):
        raise ValueError(f"{len(deduplication_ids)} deduplication ids for {len(bodies)} messages")
    ids: list[str] = []
    for chunk in _size_chunks([len(b.encode()) + attrs_size for b in bodies]):
        entries: list[dict[str, Any]] = []
        for n, index in enumerate(chunk):
            entry: dict[str, Any] = {"Id": str(n), "MessageBody": bodies[index], "MessageAttributes": attrs}
            if group_id:
                entry["MessageGroupId"] = group_id
            if deduplication_ids is not None:
                entry["MessageDeduplicationId"] = deduplication_ids[index]
            entries.append(entry)
        response = client("sqs").send_message_batch(QueueUrl=queue_url, Entries=entries)  # type: ignore[arg-type]
        failed = response.get("Failed") or []
        if failed:
            detail = ", ".join(f"#{chunk[int(f['Id'])]}: {f.get('Message', f.get('Code'))}" for f in failed)
            raise PublishError(
                f"{queue_url} refused {len(failed)} of {len(entries)} messages ({detail}); "
                f"{len(ids) + len(entries) - len(failed)} were sent; retry the record"
            )
        ordered = sorted(response.get("Successful", []), key=lambda s: int(s["Id"]))
        ids.extend(s["MessageId"] for s in ordered)
    return ids


_BATCH_BYTES = 262_144  # SendMessageBatch's request limit (1 MiB on newer queues; 256 KiB is safe on all)


def _size_chunks(sizes: list[int]) -> list[list[int]]:
    chunks: list[list[int]] = []
    current: list[int] = []
    total = 0
    for index, size in enumerate(sizes):
        if current and (len(current) == 10 or total + size > _BATCH_BYTES):
            chunks.append(current)
            current, total = [], 0
        current.append(index)
        total += size
    if current:
        chunks.append(current)
    return chunks


def put_event(
    detail_type: str,
    detail: BaseModel | Mapping[str, Any],
    *,
    source: str,
    bus_name: str = "default",
    resources: list[str] | None = None,
) -> str:
    """Put one event on an EventBridge bus, the trace in ``detail.__context``; returns the event id."""
    entry: dict[str, Any] = {
        "Source": source,
        "DetailType": detail_type,
        "EventBusName": bus_name,
        "Detail": json.dumps(_object(detail), default=str, separators=(",", ":")),
    }
    if resources:
        entry["Resources"] = resources
    response = client("events").put_events(Entries=[entry])  # type: ignore[list-item]
    result = response["Entries"][0]
    if response.get("FailedEntryCount") or "EventId" not in result:
        raise PublishError(
            f"event bus {bus_name} refused a {detail_type!r} event: "
            f"{result.get('ErrorCode')} {result.get('ErrorMessage')}"
        )
    return result["EventId"]


def put_record(
    stream_name: str,
    data: BaseModel | Mapping[str, Any],
    *,
    partition_key: str,
) -> str:
    """Put one record on a Kinesis stream, the trace in ``__context``; returns its sequence number."""
    payload = json.dumps(_object(data), default=str, separators=(",", ":")).encode()
    kwargs: dict[str, Any] = {"Data": payload, "PartitionKey": partition_key}
    if stream_name.startswith("arn:"):
        kwargs["StreamARN"] = stream_name
    else:
        kwargs["StreamName"] = stream_name
    return client("kinesis").put_record(**kwargs)["SequenceNumber"]


def invoke_async(function_name: str, payload: BaseModel | Mapping[str, Any]) -> str | None:
    """Invoke a function asynchronously (``InvocationType="Event"``) with ``__context`` in the payload."""
    response = client("lambda").invoke(
        FunctionName=function_name,
        InvocationType="Event",
        Payload=json.dumps(_object(payload), default=str, separators=(",", ":")).encode(),
    )
    status = response.get("StatusCode")
    if status != 202:
        raise PublishError(f"async invoke of {function_name} answered {status}, not 202")
    return response.get("ResponseMetadata", {}).get("RequestId")


def stamp(item: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a DynamoDB item (plain Python, for ``Table.put_item``) with ``__context`` added."""
    return _object(item)


def stamp_attribute() -> dict[str, Any]:
    """The ``__context`` attribute in DynamoDB JSON, for the low-level client: ``Item={..., **stamp_attribute()}``."""
    correlation, causation, hops = outgoing_trace()
    value: dict[str, Any] = {"correlationId": {"S": correlation}, "hops": {"N": str(hops)}}
    if causation:
        value["causationId"] = {"S": causation}
    return {CONTEXT_KEY: {"M": value}}

"""The conformance app's one handler (plain Python and boto3): write down what each invocation saw, then fail or
answer the way the payload asks.

Every record's payload (SQS body, SNS Message, Kinesis data, EventBridge detail, or the async event itself) may be
a JSON object with instructions:

* ``key``: count this record's attempts under ``key`` (an atomic counter in the observations table);
* ``fail: n``: fail the first ``n`` attempts; ``poison: true``: fail every attempt;
* ``how``: ``"raise"`` (default: the invocation raises, a function error) or ``"partial"`` (the record is listed in
  ``batchItemFailures``);
* ``respond``: return this value as the whole response instead (the first ``respond_times`` attempts, default 1).

With ``STOP_AT_FIRST_FAILURE=1`` (the FIFO function) the handler stops at the first failing record and reports it
and every later record of the batch as failed, as AWS tells FIFO consumers to.

Each invocation writes one item per run id (``run-`` and 12 hex digits) found in its records: ``pk`` the run id,
``sk`` a time-ordered unique key, ``role``, ``event`` (the whole event, JSON) and ``outcomes`` (per record:
identifier, key, attempt, outcome).
"""

import base64
import json
import os
import re
import time
import uuid

import boto3

TABLE = os.environ["OBSERVATIONS_TABLE"]
ROLE = os.environ.get("ROLE", "unknown")
STOP_AT_FIRST_FAILURE = os.environ.get("STOP_AT_FIRST_FAILURE") == "1"
RUN = re.compile(r"run-[0-9a-f]{12}")
_MISSING = object()

dynamodb = boto3.client("dynamodb")


class RequestedFailure(Exception):
    """The payload asked for this invocation to fail."""


def _instruction(text):
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _items(event):
    """(identifier, instruction, searchable text) for each record of the event."""
    if isinstance(event, dict) and isinstance(event.get("Records"), list):
        out = []
        for record in event["Records"]:
            if record.get("eventSource") == "aws:sqs":
                body = record.get("body") or ""
                out.append((record["messageId"], _instruction(body), body))
            elif "kinesis" in record:
                data = base64.b64decode(record["kinesis"]["data"]).decode("utf-8", "replace")
                out.append((record["kinesis"]["sequenceNumber"], _instruction(data), data))
            elif "Sns" in record:
                message = record["Sns"].get("Message") or ""
                out.append((record["Sns"].get("MessageId", ""), _instruction(message), message))
            elif "dynamodb" in record:
                stream = record["dynamodb"]
                out.append((stream.get("SequenceNumber", ""), {}, json.dumps(stream.get("Keys"))))
            else:
                out.append(("", {}, json.dumps(record)))
        return out
    if isinstance(event, dict) and "detail-type" in event:
        detail = event.get("detail")
        return [(event.get("id", ""), detail if isinstance(detail, dict) else {}, json.dumps(event))]
    return [("", event if isinstance(event, dict) else {}, json.dumps(event))]


def _attempt(key):
    response = dynamodb.update_item(
        TableName=TABLE,
        Key={"pk": {"S": f"attempt#{key}"}, "sk": {"S": "-"}},
        UpdateExpression="ADD n :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
        ReturnValues="UPDATED_NEW",
    )
    return int(response["Attributes"]["n"]["N"])


def handler(event, context):
    items = _items(event)
    outcomes = []
    failed = []
    error = None
    respond = _MISSING
    for identifier, instruction, _text in items:
        key = instruction.get("key")
        attempt = _attempt(key) if isinstance(key, str) else 1
        if "respond" in instruction and respond is _MISSING and attempt <= int(instruction.get("respond_times", 1)):
            respond = instruction["respond"]
        fails = bool(instruction.get("poison")) or attempt <= int(instruction.get("fail", 0))
        if STOP_AT_FIRST_FAILURE and failed:
            outcome = "unprocessed"
            failed.append(identifier)
        elif fails and instruction.get("how") == "partial":
            outcome = "failed"
            failed.append(identifier)
        elif fails:
            outcome = "raised"
            error = error or f"{ROLE}: record {key or identifier} fails attempt {attempt} by request"
        else:
            outcome = "ok"
        outcomes.append({"id": identifier, "key": key, "attempt": attempt, "outcome": outcome})

    runs = sorted({run for _, _, text in items for run in RUN.findall(text)}) or ["run-none"]
    stamp = f"{time.time_ns():020d}#{uuid.uuid4().hex[:8]}"
    for run in runs:
        dynamodb.put_item(
            TableName=TABLE,
            Item={
                "pk": {"S": run},
                "sk": {"S": stamp},
                "role": {"S": ROLE},
                "request_id": {"S": getattr(context, "aws_request_id", "")},
                "event": {"S": json.dumps(event)},
                "outcomes": {"S": json.dumps(outcomes)},
            },
        )
    if error is not None:
        raise RequestedFailure(error)
    if respond is not _MISSING:
        return respond
    records = event.get("Records") if isinstance(event, dict) else None
    if isinstance(records, list) and not any("Sns" in record for record in records):
        return {"batchItemFailures": [{"itemIdentifier": identifier} for identifier in failed]}
    return {"ok": True, "role": ROLE, "records": len(items)}

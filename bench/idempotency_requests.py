"""DynamoDB requests per record for idempotency, counted against an in-process moto server.

eventweave: an idempotent ``SqsHandler`` (the cold-import fixture's class); every request its shared DynamoDB client
makes is counted by a botocore ``before-call.dynamodb.*`` hook, and conditional writes refused by DynamoDB by an
``after-call`` hook. Powertools: the same function built with ``idempotent_function`` per record (the other
cold-import fixture), counted the same way on its persistence layer's client. Each stack gets its own order ids.
Wall times are against moto (a local HTTP server), not DynamoDB latency.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from typing import Any

from ._report import Section, quiet_stdout

TABLE = "bench-idempotency"
BATCH = 10
WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")
READS = ("BatchGetItem", "GetItem", "Query", "TransactGetItems")


class RequestCounter:
    """Counts the requests a botocore client makes, by operation, and the conditional writes DynamoDB refused."""

    def __init__(self, client: Any) -> None:
        self.calls: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        client.meta.events.register("before-call.dynamodb.*", self._before)
        client.meta.events.register("after-call.dynamodb.*", self._after)

    def _before(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    def _after(self, model: Any, parsed: Any = None, **_: Any) -> None:
        error = (parsed or {}).get("Error", {}).get("Code")
        if error == "ConditionalCheckFailedException":
            self.refused[model.name] += 1

    def take(self) -> tuple[Counter[str], Counter[str]]:
        calls, refused = self.calls, self.refused
        self.calls, self.refused = Counter(), Counter()
        return calls, refused


@contextlib.contextmanager
def moto_env() -> Iterator[str]:
    """A ThreadedMotoServer on a free loopback port, with the environment pointing boto3 at it; restored after."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    names = (
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_DEFAULT_REGION",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "EVENTWEAVE_IDEMPOTENCY_TABLE",
    )
    saved = {name: os.environ.get(name) for name in names}
    access_log = logging.getLogger("werkzeug")
    saved_level = access_log.level
    access_log.setLevel(logging.ERROR)  # one line per request on stderr otherwise
    os.environ.update(
        AWS_ENDPOINT_URL=f"http://{host}:{port}",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        EVENTWEAVE_IDEMPOTENCY_TABLE=TABLE,
    )
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        access_log.setLevel(saved_level)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _row(label: str, calls: Counter[str], refused: Counter[str], handled: int | str, seconds: float) -> list[str]:
    reads = sum(calls[op] for op in READS)
    writes = sum(calls[op] for op in WRITES)
    by_op = ", ".join(f"{op} {n}" for op, n in sorted(calls.items())) or "none"
    refused_text = ", ".join(f"{op} {n}" for op, n in sorted(refused.items())) or "0"
    return [
        label,
        str(handled),
        f"{calls['BatchGetItem']}",
        f"{reads / BATCH:.2f}",
        f"{writes / BATCH:.2f}",
        refused_text,
        by_op,
        f"{seconds * 1000:.0f}",
    ]


def _eventweave(counter_rows: list[list[str]]) -> dict[str, float]:
    from eventweave.handlers.clients import client, reset_clients

    from .fixtures import ew_sqs_idempotent as ew
    from .fixtures.orders import LambdaContext, sqs_event

    handled: list[str] = []

    class CountingChargeOrder(ew.ChargeOrder):
        """The fixture's handler, counting which orders reach ``handle``."""

        def handle(self, order: Any, ctx: Any) -> None:
            handled.append(order.order_id)

    reset_clients()
    counter = RequestCounter(client("dynamodb"))
    handler = CountingChargeOrder.lambda_handler()
    event = sqs_event(BATCH, prefix="ew")
    figures: dict[str, float] = {}
    for label in ("new records", "same batch again (all duplicates)"):
        handled.clear()
        start = time.perf_counter()
        response = handler(event, LambdaContext())
        seconds = time.perf_counter() - start
        if response != {"batchItemFailures": []}:
            raise RuntimeError(f"eventweave idempotent handler failed records: {response}")
        calls, refused = counter.take()
        counter_rows.append(_row(f"**eventweave**, {label}", calls, refused, len(handled), seconds))
        key = "new" if label == "new records" else "dup"
        figures[f"{key}_writes"] = sum(calls[op] for op in WRITES) / BATCH
        figures[f"{key}_batchget"] = calls["BatchGetItem"]
    reset_clients()
    return figures


def _powertools(counter_rows: list[list[str]]) -> None:
    from .fixtures import pt_sqs_idempotent as pt
    from .fixtures.orders import LambdaContext, sqs_event

    counter = RequestCounter(pt.persistence.client)
    event = sqs_event(BATCH, prefix="pt")
    for label in ("new records", "same batch again (all duplicates)"):
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            response = pt.handler(event, LambdaContext())
        seconds = time.perf_counter() - start
        if response != {"batchItemFailures": []}:
            raise RuntimeError(f"Powertools idempotent handler failed records: {response}")
        calls, refused = counter.take()
        counter_rows.append(_row(f"Powertools, {label}", calls, refused, "n/a", seconds))


def run() -> Section:
    section = Section(
        title=f"DynamoDB requests for idempotency (batch of {BATCH} SQS records, in-process moto)",
        method=(
            "Requests counted per operation with botocore `before-call.dynamodb.*` hooks on the client each stack "
            "uses (eventweave: `eventweave.handlers.clients.client('dynamodb')`; Powertools: "
            "`DynamoDBPersistenceLayer.client`); refused = conditional writes DynamoDB rejected (still billed as "
            "writes). Reads and writes are requests per record; BatchGetItem is requests per batch."
        ),
        header=[
            "stack, batch",
            "records reaching handle()",
            "BatchGetItem / batch",
            "reads / record",
            "writes / record",
            "refused conditional writes",
            "requests by operation",
            "wall ms (moto)",
        ],
    )
    rows: list[list[str]] = []
    with moto_env(), quiet_stdout():
        import boto3

        boto3.client("dynamodb").create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        figures = _eventweave(rows)
        try:
            _powertools(rows)
            pt_note = ""
        except Exception as error:  # the comparison row is optional; eventweave's figures stand alone
            pt_note = f"Powertools comparison not measured: {type(error).__name__}: {error}"
    section.rows.extend(rows)
    section.notes.append(
        f"eventweave targets: duplicates cost 0 writes per record (measured {figures['dup_writes']:.2f}: "
        f"{'met' if figures['dup_writes'] == 0 else '**missed**'}) and 1 BatchGetItem per batch (measured "
        f"{figures['dup_batchget']:.0f}: {'met' if figures['dup_batchget'] == 1 else '**missed**'}); a new record "
        f"costs {figures['new_writes']:.2f} writes (lock, then COMPLETED)."
    )
    section.notes.append(
        "Powertools checks each record with a conditional PutItem: a duplicate costs one refused write instead of "
        "a share of one batched read, and a new record costs the same two writes."
    )
    section.notes.append(
        "Powertools' 'records reaching handle()' is n/a: its function is wrapped by `idempotent_function`, which "
        "returns the stored result for a COMPLETED key without calling it; the request counts show the same."
    )
    if pt_note:
        section.notes.append(pt_note)
    return section

"""The reports demo: a report with a flaky chunk and duplicate deliveries, and a report with a corrupt chunk.

Counts are in chunk deliveries: ``events_in`` = chunk tasks of both reports + duplicates injected; ``processed`` =
chunks counted by the fan-in; ``retried`` = failed deliveries of chunks counted later; ``in_dlq`` = poison chunks in
the task DLQ; ``duplicates_suppressed`` = deliveries of chunks already counted. All read back from the deployed stack.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from typing import Any

from eventweave.testing import EphemeralStack, wait_until
from eventweave.testing.scenario import Summary, Trace

from .models import ReportProgress, ReportRequest
from .sales import chunk_id, sample_sales, split, to_csv

FLAKY_CHUNK = 4
DUPLICATES = 3


def start(stack: EphemeralStack, request: ReportRequest, *, wait: bool = False) -> dict[str, Any] | None:
    """Ask for a report: an asynchronous invoke of the ventilator, or a synchronous one (``wait``) for its answer."""
    response = stack.client("lambda").invoke(
        FunctionName=stack.outputs["StartFunction"],
        InvocationType="RequestResponse" if wait else "Event",
        Payload=request.model_dump_json().encode(),
    )
    if not wait:
        return None
    answer: dict[str, Any] = json.loads(response["Payload"].read())
    if "FunctionError" in response:
        raise RuntimeError(f"start {request.report_id}: {answer}")
    return answer


def progress(stack: EphemeralStack, report_id: str) -> ReportProgress:
    """Ask the status function how the report is doing (done / total chunks, state, the report once written)."""
    response = stack.client("lambda").invoke(
        FunctionName=stack.outputs["StatusFunction"], Payload=json.dumps({"report_id": report_id}).encode()
    )
    answer = json.loads(response["Payload"].read())
    if "FunctionError" in response:
        raise RuntimeError(f"status of {report_id}: {answer}")
    return ReportProgress.model_validate(answer)


def wait_for(
    stack: EphemeralStack, report_id: str, state: str, *, done: int | None = None, timeout: float = 30
) -> ReportProgress:
    def probe() -> ReportProgress | None:
        now = progress(stack, report_id)
        return now if now.state == state and (done is None or now.done == done) else None

    return wait_until(probe, timeout=timeout, interval=0.3, what=f"report {report_id} {state} ({done} chunks done)")


def redeliver(stack: EphemeralStack, request: ReportRequest, indexes: list[int]) -> None:
    """Send copies of some chunk tasks to the task queue, as SQS's at-least-once delivery may."""
    chunks = split(request)
    sqs = stack.client("sqs")
    for index in indexes:
        task = {"job_id": request.report_id, "task_id": chunk_id(chunks[index]), "task": chunks[index].model_dump()}
        sqs.send_message(QueueUrl=stack.outputs["TaskQueueUrl"], MessageBody=json.dumps(task))


def poison_in_dlq(stack: EphemeralStack, report_id: str, seen: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drain the task DLQ into ``seen``; return the poison documents of ``report_id``'s chunks."""
    seen.extend(m["body"] for m in stack.drain(stack.outputs["TaskDlqUrl"]))
    return [
        body
        for body in seen
        if isinstance(body, dict)
        and body.get("kind") == "eventweave.poison"
        and json.loads(body["record"]["body"]).get("job_id") == report_id
    ]


def expected_totals(sales: list[tuple[str, int]]) -> dict[str, int]:
    totals: Counter[str] = Counter()
    for region, cents in sales:
        totals[region] += cents
    return dict(totals)


def run(stack: EphemeralStack, trace: Trace) -> Summary:
    summary = Summary("reports")
    run_id = uuid.uuid4().hex[:6]
    sales = sample_sales(1200, seed=11)
    good = ReportRequest(report_id=f"sales-{run_id}", csv=to_csv(sales), chunk_rows=100, flaky_chunks={FLAKY_CHUNK: 1})
    lines = to_csv(sample_sales(400, seed=12)).splitlines()
    lines[250] = "EU,12.5x"  # line 251, in chunk 2 of 4
    bad = ReportRequest(report_id=f"corrupt-{run_id}", csv="\n".join(lines), chunk_rows=100)

    trace(f"start {good.report_id}: 1,200 sales in 12 chunks; chunk {FLAKY_CHUNK} fails its first delivery")
    start(stack, good)
    trace(f"start {bad.report_id}: 400 sales in 4 chunks; line 251 (chunk 2) reads 'EU,12.5x'")
    start(stack, bad)

    mid = wait_for(stack, good.report_id, "RUNNING", done=11, timeout=20)
    trace(
        f"progress of {good.report_id}: {mid.done}/{mid.total} chunks, {mid.state} "
        f"(chunk {FLAKY_CHUNK} waits for its retry)"
    )
    summary.check(
        "progress is visible while the report runs", (mid.done, mid.total) == (11, 12), f"{mid.done}/{mid.total}"
    )

    failed = wait_for(stack, bad.report_id, "FAILED", done=3, timeout=20)
    trace(f"{bad.report_id}: FAILED at {failed.done}/{failed.total}, refused {failed.failed_chunks}: {failed.reason}")
    seen: list[dict[str, Any]] = []
    poison = wait_until(lambda: poison_in_dlq(stack, bad.report_id, seen), timeout=15, what="the poison chunk")
    trace(f"task DLQ: {len(poison)} poison chunk of {bad.report_id}, reason {poison[0]['reason']}")

    done = wait_for(stack, good.report_id, "COMPLETED", timeout=45)
    assert done.report is not None
    trace(
        f"{good.report_id}: COMPLETED {done.done}/{done.total}, {done.report.retries} retried delivery, "
        f"aggregator ran {done.aggregations}x, totals {done.report.cents_by_region}"
    )

    again = start(stack, good, wait=True) or {}
    trace(f"the same request again: ventilator answers started={again.get('started')}, sent={again.get('sent')}")
    redeliver(stack, good, [0, 5, 9])
    trace(f"{DUPLICATES} chunk tasks of {good.report_id} delivered again (as SQS at-least-once may)")
    after = wait_until(
        lambda: p if (p := progress(stack, good.report_id)).duplicates >= DUPLICATES else None,
        timeout=20,
        interval=0.3,
        what="the duplicate deliveries",
    )
    trace(f"{good.report_id}: {after.duplicates} duplicates counted and ignored; aggregator ran {after.aggregations}x")
    late = progress(stack, bad.report_id)

    assert after.report is not None
    summary.events_in = done.total + failed.total + DUPLICATES
    summary.processed = after.done + late.done
    summary.retried = after.report.retries
    summary.in_dlq = len(poison)
    summary.duplicates_suppressed = after.duplicates + late.duplicates

    want = expected_totals(sales)
    summary.check(
        "report totals match the sales", after.report.cents_by_region == want, f"{after.report.cents_by_region}"
    )
    summary.check("report counts every row once", after.report.rows == 1200, f"{after.report.rows} rows")
    summary.check(
        "the flaky chunk was retried once, then counted", after.report.retries == 1, f"{after.report.retries}"
    )
    summary.check("aggregator ran exactly once", after.aggregations == 1, f"{after.aggregations} runs")
    summary.check(
        "a repeated request sends nothing", again.get("sent") == 0 and again.get("started") is False, f"{again}"
    )
    summary.check(
        "duplicate deliveries changed nothing",
        (after.duplicates, after.done) == (DUPLICATES, 12),
        f"{after.duplicates} duplicates, {after.done}/12",
    )
    summary.check(
        "corrupt report is FAILED on its bad chunk",
        (late.state, late.failed_chunks) == ("FAILED", ["chunk-0002"]),
        f"{late.state} {late.failed_chunks}",
    )
    summary.check(
        "corrupt report's other chunks counted, aggregator never ran",
        (late.done, late.total, late.aggregations) == (3, 4, 0),
        f"{late.done}/{late.total}, {late.aggregations} runs",
    )
    summary.check(
        "the poison chunk is in the task DLQ",
        len(poison) == 1 and poison[0]["reason"] == "permanent-error",
        f"{[p['reason'] for p in poison]}",
    )
    return summary

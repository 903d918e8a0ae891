"""The reports stack deployed into the local cloud, driven through its real entry points (Lambda invoke, SQS)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from eventweave.testing import EphemeralStack, wait_until
from examples.conftest import deploy_example
from examples.reports import scenario
from examples.reports.models import ReportRequest
from examples.reports.sales import sample_sales, to_csv


@pytest.fixture(scope="module")
def stack(eventweave_cloud: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EphemeralStack]:
    yield from deploy_example(
        eventweave_cloud, tmp_path_factory, "examples.reports.stack:ReportsStack", "EventweaveReports"
    )


def test_scenario(stack: EphemeralStack) -> None:
    summary = scenario.run(stack, print)
    failed = [f"{c.what}: {c.detail}" for c in summary.checks if not c.ok]
    assert summary.ok, failed


def test_concurrent_duplicate_requests_still_aggregate_once(stack: EphemeralStack) -> None:
    sales = sample_sales(600, seed=5)
    request = ReportRequest(report_id=f"dup-{uuid.uuid4().hex[:6]}", csv=to_csv(sales), chunk_rows=50)
    # The same request twice at once: both ventilator runs send the 12 tasks unless the job finished in between.
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda _: scenario.start(stack, request, wait=True), range(2)))
    sent = sum(a["sent"] for a in answers if a)
    assert sorted(bool(a and a["started"]) for a in answers) == [False, True]
    assert 12 <= sent <= 24
    done = wait_until(
        lambda: (
            p
            if (p := scenario.progress(stack, request.report_id)).state == "COMPLETED" and p.duplicates == sent - 12
            else None
        ),
        timeout=30,
        interval=0.3,
        what="the report, with every surplus delivery counted as a duplicate",
    )
    assert (done.done, done.total, done.aggregations) == (12, 12, 1)
    assert done.report is not None and done.report.cents_by_region == scenario.expected_totals(sales)
    assert stack.depth(stack.outputs["TaskQueueUrl"]) == 0


def test_a_request_without_sales_goes_to_the_failure_queue(stack: EphemeralStack) -> None:
    report_id = f"empty-{uuid.uuid4().hex[:6]}"
    scenario.start(stack, ReportRequest(report_id=report_id, csv="\n"))
    seen: list[dict[str, Any]] = []

    def poison() -> list[dict[str, Any]]:
        seen.extend(m["body"] for m in stack.drain(stack.outputs["FailureQueueUrl"]))
        return [b for b in seen if isinstance(b, dict) and report_id in b.get("errorMessage", "")]

    [document] = wait_until(poison, timeout=20, what="the refused request in the failure queue")
    assert document["reason"] == "permanent-error"
    assert scenario.progress(stack, report_id).state == "UNKNOWN"

"""The jobs stack deployed into the local cloud and driven over plain HTTP (urllib) through its Function URL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest

from eventweave.testing import EphemeralStack
from examples.conftest import deploy_example
from examples.jobs import scenario
from examples.jobs.scenario import JobsClient


@pytest.fixture(scope="module")
def stack(eventweave_cloud: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EphemeralStack]:
    yield from deploy_example(eventweave_cloud, tmp_path_factory, "examples.jobs.stack:JobsStack", "EventweaveJobs")


@pytest.fixture(scope="module")
def api(stack: EphemeralStack) -> JobsClient:
    return JobsClient(stack.outputs["JobsUrl"])


def _item(stack: EphemeralStack, job_id: str) -> dict[str, Any]:
    item: dict[str, Any] = stack.client("dynamodb").get_item(
        TableName=stack.outputs["JobsTableName"], Key={"id": {"S": job_id}}, ConsistentRead=True
    )["Item"]
    return item


def test_the_url_output_is_the_front_s_local_function_url(stack: EphemeralStack) -> None:
    assert stack.outputs["JobsUrl"] == stack.urls[stack.outputs["FrontFunctionName"]]
    assert stack.outputs["JobsUrl"].startswith("http://127.0.0.1:")


def test_post_answers_202_then_get_answers_202_until_done_then_200(stack: EphemeralStack, api: JobsClient) -> None:
    status, headers, accepted = api.post({"text": "one fish two fish red fish", "top": 1, "work_seconds": 1.0})
    assert status == 202
    assert headers["Location"] == f"/jobs/{accepted['id']}"
    assert (accepted["status"], headers["Retry-After"]) == ("PENDING", "1")
    status, _, running = api.get(headers["Location"])
    assert (status, running["status"]) in {(202, "PENDING"), (202, "RUNNING")}  # the work takes a second
    status, done = stack.wait_until(partial(api.final, headers["Location"]), timeout=20, what="the job's result")
    assert status == 200
    assert done["result"] == {"words": 6, "distinct": 4, "top": [{"word": "fish", "count": 3}], "attempt": 1}


def test_an_invalid_body_ends_failed_at_once_without_retry(stack: EphemeralStack, api: JobsClient) -> None:
    _, headers, accepted = api.post({"text": "x", "work_seconds": 60})
    status, failed = stack.wait_until(partial(api.final, headers["Location"]), timeout=20, what="the job to fail")
    assert (status, failed["status"], failed["error"]["type"]) == (422, "FAILED", "ValidationError")
    assert "work_seconds" in failed["error"]["message"]
    assert _item(stack, accepted["id"])["attempts"]["N"] == "1"
    stack.wait_until(lambda: stack.depth(stack.outputs["TaskQueueUrl"]) == 0, timeout=10, what="the task deleted")
    assert _item(stack, accepted["id"])["attempts"]["N"] == "1"  # deleted, not handed back for another attempt


def test_past_the_deadline_a_job_answers_410_and_is_not_started_again(stack: EphemeralStack, api: JobsClient) -> None:
    _, headers, accepted = api.post({"text": "late", "fail_attempts": 1})
    job_id = accepted["id"]
    # The first delivery fails; while the task waits out its visibility timeout (12 s), the deadline passes. The stack's
    # deadline is 5 minutes, so the test moves the record's deadline instead of waiting for it.
    stack.wait_until(lambda: "last_error" in _item(stack, job_id), timeout=20, what="the first delivery to fail")
    stack.client("dynamodb").update_item(
        TableName=stack.outputs["JobsTableName"],
        Key={"id": {"S": job_id}},
        UpdateExpression="SET deadline_at = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    status, _, expired = api.get(headers["Location"])
    assert (status, expired["status"]) == (410, "EXPIRED")
    item = stack.wait_until(
        lambda: (i := _item(stack, job_id))["status"]["S"] == "EXPIRED" and i,
        timeout=40,
        what="the redelivered task to find the job expired",
    )
    assert item["attempts"]["N"] == "1"  # the redelivery did not start it
    assert api.get(headers["Location"])[0] == 410


def test_records_expire_by_ttl_on_expires_at(stack: EphemeralStack, api: JobsClient) -> None:
    ttl = stack.client("dynamodb").describe_time_to_live(TableName=stack.outputs["JobsTableName"])
    assert ttl["TimeToLiveDescription"] == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    _, _, accepted = api.post({"text": "kept a day"})
    item = _item(stack, accepted["id"])
    assert int(item["expires_at"]["N"]) - int(item["created_at"]["N"]) == 86_400


def test_unknown_jobs_and_other_routes(api: JobsClient) -> None:
    assert api.get("/jobs/00000000-0000-0000-0000-000000000000")[0] == 404
    assert api.call("POST", "requests", b"{}")[0] == 404
    assert api.call("DELETE", "jobs/abc")[0] == 405
    assert api.call("POST", "jobs", b"{not json")[0] == 400


def test_scenario(stack: EphemeralStack) -> None:
    started = time.monotonic()
    summary = scenario.run(stack, print)
    for check in summary.checks:
        print(("ok  " if check.ok else "FAIL"), check.what, check.detail)
    assert summary.ok, [c for c in summary.checks if not c.ok]
    assert (summary.events_in, summary.processed, summary.retried, summary.in_dlq) == (5, 2, 1, 1)
    assert summary.duplicates_suppressed == 1
    assert time.monotonic() - started < 60

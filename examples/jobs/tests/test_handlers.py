"""Handler tests against moto: the front and the worker wired by hand as the stack wires them on AWS."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from eventweave.testing import wait_until
from examples.jobs.handlers.word_stats import word_stats
from examples.jobs.models import WordCount

from .conftest import Jobs, http_event, make_jobs


def test_word_stats_counts_case_insensitively_and_keeps_first_use_order_on_ties() -> None:
    assert word_stats("To be, or not to be: that's it", 2) == (
        8,
        6,
        [WordCount(word="to", count=2), WordCount(word="be", count=2)],
    )
    assert word_stats("!!! ... ???", 3) == (0, 0, [])


def test_post_answers_202_with_a_status_url_under_jobs(jobs: Jobs) -> None:
    accepted = jobs.post({"text": "a b a"})
    assert accepted.status == 202
    job_id = accepted.body["id"]
    assert accepted.headers["Location"] == f"/jobs/{job_id}" == accepted.body["location"]
    assert accepted.headers["Retry-After"] == "1"
    assert accepted.body["status"] == "PENDING"
    [task] = jobs.sqs.receive_message(QueueUrl=jobs.tasks)["Messages"]
    assert json.loads(task["Body"]) == {"request_id": job_id, "body": {"text": "a b a"}}
    # The base path moved: the default /requests route no longer exists.
    assert jobs.call(http_event("POST", "/requests", {"text": "x"})).status == 404


def test_get_answers_202_until_done_then_200_with_the_result(jobs: Jobs) -> None:
    location = jobs.post({"text": "the cat saw the dog", "top": 1}).location
    pending = jobs.get(location)
    assert (pending.status, pending.body["status"], pending.headers["Retry-After"]) == (202, "PENDING", "1")
    assert jobs.deliver() == []
    done = jobs.get(location)
    assert done.status == 200
    assert done.body["result"] == {"words": 5, "distinct": 4, "top": [{"word": "the", "count": 2}], "attempt": 1}
    assert jobs.dead_letters() == []


def test_an_invalid_body_fails_the_job_at_once_without_retry_or_dlq(jobs: Jobs) -> None:
    location = jobs.post({"text": "", "top": 0, "colour": "red"}).location
    assert jobs.deliver() == []  # handled, not handed back to SQS
    failed = jobs.get(location)
    assert (failed.status, failed.body["status"], failed.body["error"]["type"]) == (422, "FAILED", "ValidationError")
    assert "top" in failed.body["error"]["message"] and "colour" in failed.body["error"]["message"]
    assert jobs.item(failed.body["id"])["attempts"]["N"] == "1"
    assert jobs.dead_letters() == []  # the client's mistake pages no one


def test_a_text_without_words_fails_the_job_and_reaches_the_dlq(jobs: Jobs) -> None:
    location = jobs.post({"text": "?! ..."}).location
    jobs.deliver()
    failed = jobs.get(location)
    assert (failed.status, failed.body["error"]) == (
        422,
        {"type": "PermanentError", "message": "the text has no words to count"},
    )
    [poison] = jobs.dead_letters()
    assert poison["reason"] == "permanent-error"


def test_a_transient_failure_is_retried_and_the_job_succeeds(jobs: Jobs) -> None:
    location = jobs.post({"text": "x y", "fail_attempts": 1}).location
    assert len(jobs.deliver()) == 1  # first delivery: handed back to SQS
    retrying = jobs.get(location)
    assert (retrying.status, retrying.body["status"], retrying.body["attempts"]) == (202, "RUNNING", 1)
    item = jobs.item(retrying.body["id"])
    assert "running_until" not in item  # the lease was released: the redelivery may start at once
    assert item["last_error"]["M"]["type"]["S"] == "UpstreamUnavailableError"
    assert jobs.deliver() == []
    done = jobs.get(location)
    assert (done.status, done.body["result"]["attempt"]) == (200, 2)
    assert jobs.item(done.body["id"])["attempts"]["N"] == "2"


def test_a_duplicate_delivery_of_a_finished_job_does_not_run_it_again(jobs: Jobs) -> None:
    accepted = jobs.post({"text": "once"})
    jobs.deliver()
    job_id = accepted.body["id"]
    jobs.sqs.send_message(QueueUrl=jobs.tasks, MessageBody=json.dumps({"request_id": job_id, "body": {"text": "x"}}))
    assert jobs.deliver() == []
    assert jobs.item(job_id)["attempts"]["N"] == "1"
    assert jobs.get(accepted.location).body["result"]["words"] == 1  # not "x"'s result


def test_past_a_short_deadline_the_job_is_410_and_never_started(aws: Callable[[str], Any]) -> None:
    jobs = make_jobs(aws, deadline_seconds=1)
    location = jobs.post({"text": "too late"}).location
    # Nothing runs the worker: the deadline passes while the task waits in the queue.
    expired = wait_until(lambda: _if_status(jobs, location, 410), timeout=5, what="the job to pass its deadline")
    assert expired.body["status"] == "EXPIRED"
    assert jobs.deliver() == []
    item = jobs.item(expired.body["id"])
    assert (item["status"]["S"], item["attempts"]["N"]) == ("EXPIRED", "0")
    assert jobs.get(location).status == 410


def test_records_carry_their_ttl_and_an_expired_record_is_gone_before_dynamodb_deletes_it(
    aws: Callable[[str], Any],
) -> None:
    jobs = make_jobs(aws, deadline_seconds=1, ttl_seconds=2)
    accepted = jobs.post({"text": "short-lived"})
    item = jobs.item(accepted.body["id"])
    assert int(item["expires_at"]["N"]) == int(item["created_at"]["N"]) + 2
    ttl = jobs.ddb.describe_time_to_live(TableName=jobs.table)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")
    # DynamoDB deletes expired items within days, not at once; the front already answers 404 past expires_at.
    wait_until(lambda: _if_status(jobs, accepted.location, 404), timeout=6, what="the record to expire")
    assert jobs.item(accepted.body["id"])  # still stored (moto, like DynamoDB, has not swept it yet)


def _if_status(jobs: Jobs, location: str, status: int) -> Any:
    response = jobs.get(location)
    return response if response.status == status else None


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/jobs", "{not json", 400),
        ("POST", "/jobs", None, 400),
        ("PUT", "/jobs", "{}", 405),
        ("GET", "/jobs/00000000-0000-0000-0000-000000000000", None, 404),
        ("GET", "/jobs/a/b", None, 404),
    ],
)
def test_bad_calls_are_refused_and_enqueue_nothing(
    jobs: Jobs, method: str, path: str, body: str | None, status: int
) -> None:
    assert jobs.call(http_event(method, path, body)).status == status
    assert jobs.sqs.receive_message(QueueUrl=jobs.tasks).get("Messages", []) == []

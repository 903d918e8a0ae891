"""The jobs demo: submit four jobs over plain HTTP, poll them to their end, replay one task, read the state back.

Happy path: a word-stats job answers 202 while it works, then 200 with its result. Failure paths: a job whose first
delivery fails transiently succeeds on the second; an invalid body ends ``FAILED`` (422) with no retry; a text with no
words ends ``FAILED`` (422) and its task lands in the DLQ. A duplicate delivery of a finished job's task is skipped.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from functools import partial
from typing import Any
from urllib.parse import urljoin

from eventweave.handlers.destinations import PoisonRecord
from eventweave.testing import EphemeralStack
from eventweave.testing.scenario import Summary, Trace

POLL_SECONDS = 40.0
"""Patience for all jobs together: the transient failure comes back after the task queue's 12 s visibility."""


class JobsClient:
    """The jobs API over plain HTTP (urllib). Locally the Function URL is not signed; on AWS it needs SigV4.

    Example::

        api = JobsClient(stack.outputs["JobsUrl"])
        status, headers, body = api.post({"text": "to be or not to be"})     # 202, {"Location": "/jobs/..."}, ...
        status, _, body = api.get(headers["Location"])                       # 202 until done, then 200
    """

    def __init__(self, url: str) -> None:
        self.url = url if url.endswith("/") else url + "/"

    def post(self, body: Any) -> tuple[int, dict[str, str], dict[str, Any]]:
        return self.call("POST", "jobs", json.dumps(body).encode())

    def get(self, location: str) -> tuple[int, dict[str, str], dict[str, Any]]:
        return self.call("GET", location)

    def call(self, method: str, path: str, data: bytes | None = None) -> tuple[int, dict[str, str], dict[str, Any]]:
        request = urllib.request.Request(  # the stack's own URL: http on localhost, https on AWS
            urljoin(self.url, path), data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return response.status, dict(response.headers), json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:  # 4xx/5xx are answers here, not exceptions
            return error.code, dict(error.headers), json.loads(error.read() or b"{}")

    def final(self, location: str) -> tuple[int, dict[str, Any]] | None:
        """The job's answer once it is final (anything but 202), else ``None``: a probe for ``wait_until``."""
        status, _, body = self.get(location)
        return None if status == 202 else (status, body)


JOBS: dict[str, dict[str, Any]] = {
    "report": {"text": "the cat saw the dog and the dog saw the cat sleep", "top": 2, "work_seconds": 1.0},
    "flaky": {"text": "retried once then counted", "fail_attempts": 1},
    "invalid": {"text": "", "top": 0},
    "no-words": {"text": "?! ... --"},
}


def run(stack: EphemeralStack, trace: Trace) -> Summary:
    summary = Summary("jobs")
    api = JobsClient(stack.outputs["JobsUrl"])
    ddb, sqs = stack.client("dynamodb"), stack.client("sqs")
    table = stack.outputs["JobsTableName"]

    locations: dict[str, str] = {}
    for name, body in JOBS.items():
        status, headers, doc = api.post(body)
        summary.events_in += 1
        locations[name] = headers.get("Location", "")
        trace(f"POST /jobs {name} {json.dumps(body)} -> {status} Location {locations[name]}")
        accepted = status == 202 and doc.get("status") == "PENDING" and locations[name].startswith("/jobs/")
        summary.check(f"{name}: POST answers 202 with a status URL", accepted, f"{status} {doc}")
    if not summary.ok:
        return summary  # nothing was accepted to follow
    ids = {name: location.rsplit("/", 1)[-1] for name, location in locations.items()}

    status, headers, doc = api.get(locations["report"])
    retry_after = headers.get("Retry-After")
    trace(f"GET {locations['report']} (report) -> {status} {doc.get('status')}, Retry-After {retry_after}")
    summary.check("report: GET answers 202 while the work runs", status == 202, f"{status} {doc.get('status')}")

    finals: dict[str, tuple[int, dict[str, Any]]] = {}
    deadline = time.monotonic() + POLL_SECONDS
    for name, location in locations.items():
        try:
            finals[name] = stack.wait_until(
                partial(api.final, location),
                timeout=max(1.0, deadline - time.monotonic()),
                interval=0.5,
                what=f"job {name} to finish",
            )
        except AssertionError as error:
            summary.check(f"{name}: finished in time", False, str(error))
            continue
        status, doc = finals[name]
        trace(f"GET {location} ({name}) -> {status} {doc.get('status')}: {_outcome(doc)}")

    report = finals.get("report", (0, {}))
    summary.check(
        "report: 200 with its word stats",
        report[0] == 200
        and report[1].get("result", {}).get("top") == [{"word": "the", "count": 4}, {"word": "cat", "count": 2}],
        json.dumps(report[1].get("result")),
    )
    flaky = finals.get("flaky", (0, {}))
    summary.check(
        "flaky: retried after a transient failure, then 200",
        flaky[0] == 200 and flaky[1].get("result", {}).get("attempt") == 2,
        f"{flaky[0]} {json.dumps(flaky[1].get('result'))}",
    )
    invalid = finals.get("invalid", (0, {}))
    summary.check(
        "invalid: FAILED 422 with the validation error",
        invalid[0] == 422 and invalid[1].get("error", {}).get("type") == "ValidationError",
        f"{invalid[0]} {invalid[1].get('error')}",
    )
    no_words = finals.get("no-words", (0, {}))
    summary.check(
        "no-words: FAILED 422 with the permanent error",
        no_words[0] == 422 and no_words[1].get("error", {}).get("type") == "PermanentError",
        f"{no_words[0]} {no_words[1].get('error')}",
    )

    # SQS delivers at least once: replay the finished report's task as a duplicate delivery would.
    sqs.send_message(
        QueueUrl=stack.outputs["TaskQueueUrl"],
        MessageBody=json.dumps({"request_id": ids["report"], "body": JOBS["report"]}),
    )
    summary.events_in += 1
    drained = _wait(stack, lambda: stack.depth(stack.outputs["TaskQueueUrl"]) == 0, "the task queue to drain")
    items = {name: _item(ddb, table, job_id) for name, job_id in ids.items()}
    attempts = {name: int(item.get("attempts", {}).get("N", "0")) for name, item in items.items()}
    trace(f"re-deliver the report's task (a duplicate) -> skipped, attempts still {attempts['report']}")
    summary.check("task queue drained", drained)
    summary.check("duplicate delivery skipped: report ran once", attempts["report"] == 1, f"attempts {attempts}")
    summary.check("invalid body not retried", attempts["invalid"] == 1, f"attempts {attempts['invalid']}")
    summary.duplicates_suppressed = 1 if drained and attempts["report"] == 1 else 0

    poison = _wait(stack, lambda: _dead_letters(sqs, stack.outputs["DeadLetterQueueUrl"], ids), "the DLQ") or []
    reasons = {name: record.reason for name, record in poison}
    trace(f"DLQ holds {len(poison)} of these jobs' tasks: {reasons}")
    summary.check("only the no-words task is in the DLQ", reasons == {"no-words": "permanent-error"}, str(reasons))

    ttl = ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    kept = all(int(i["expires_at"]["N"]) > int(i["deadline_at"]["N"]) for i in items.values() if i)
    trace(
        f"jobs table TTL {ttl.get('TimeToLiveStatus')} on {ttl.get('AttributeName')}: records expire "
        f"{int(items['report']['expires_at']['N']) - int(items['report']['created_at']['N'])} s after creation"
    )
    summary.check(
        "records expire by DynamoDB TTL on expires_at, after the polling deadline",
        ttl.get("TimeToLiveStatus") == "ENABLED" and ttl.get("AttributeName") == "expires_at" and kept,
    )

    summary.processed = sum(1 for item in items.values() if item.get("status", {}).get("S") == "SUCCEEDED")
    summary.retried = sum(max(0, n - 1) for n in attempts.values())
    summary.in_dlq = len(poison)
    summary.check("2 jobs succeeded, 1 retry", (summary.processed, summary.retried) == (2, 1))
    return summary


def _outcome(doc: dict[str, Any]) -> str:
    if "result" in doc:
        result = doc["result"] or {}
        top = ", ".join(f"{w['word']} x{w['count']}" for w in result.get("top", []))
        return f"{result.get('words')} words, top {top}, on delivery {result.get('attempt')}"
    error = doc.get("error") or {}
    return f"{error.get('type')}: {str(error.get('message')).splitlines()[0][:80]}"


def _wait(stack: EphemeralStack, probe: Any, what: str) -> Any:
    try:
        return stack.wait_until(probe, timeout=15, interval=0.5, what=what)
    except AssertionError:
        return None


def _item(ddb: Any, table: str, job_id: str) -> dict[str, Any]:
    item: dict[str, Any] = ddb.get_item(TableName=table, Key={"id": {"S": job_id}}, ConsistentRead=True).get("Item", {})
    return item


def _dead_letters(sqs: Any, url: str, ids: dict[str, str]) -> list[tuple[str, PoisonRecord]]:
    """The DLQ's poison records of these jobs, read without deleting them (visibility 0: they stay for others)."""
    by_id = {job_id: name for name, job_id in ids.items()}
    found: dict[str, tuple[str, PoisonRecord]] = {}
    for _ in range(3):
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
            "Messages", []
        ):
            record = PoisonRecord.model_validate_json(message["Body"])
            # The job id is the correlation id of everything the job causes, its poison record included.
            if record.correlation_id in by_id:
                found[message["MessageId"]] = (by_id[record.correlation_id], record)
    return list(found.values())

"""The handlers called with the events Lambda would deliver, against moto (tables and queues in memory)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from eventweave.coordination import FanIn
from eventweave.handlers import Settings
from eventweave.handlers.clients import client, reset_clients
from eventweave.testing.events import FakeLambdaContext
from examples.reports.handlers.report_status import ReportStatus
from examples.reports.handlers.split_report import SplitReport
from examples.reports.handlers.sum_chunk import SumChunk
from examples.reports.handlers.write_report import WriteReport
from examples.reports.models import Chunk, ReportProgress, ReportRequest
from examples.reports.sales import BadSaleError, merge, parse_sale, sample_sales, split, sum_chunk, to_csv

JOBS, REPORTS = "jobs", "reports"
SALES = "EU,10.00\nUS,2.50\nEU,0.25\n\nAPAC,7\nUS,1.10"  # the blank line is skipped: 5 sales
REQUEST = {"report_id": "r-1", "csv": SALES, "chunk_rows": 2}


LambdaContext = FakeLambdaContext


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Moto in-process: the job table, the reports table, the task queue and its DLQ."""
    from moto import mock_aws

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "REPORTS_TABLE": REPORTS,
        "POWERTOOLS_METRICS_NAMESPACE": "reports-tests",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        reset_clients()
        ddb, sqs = client("dynamodb"), client("sqs")
        ddb.create_table(
            TableName=JOBS,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        ddb.create_table(
            TableName=REPORTS,
            KeySchema=[{"AttributeName": "report_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "report_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield {
            "tasks": sqs.create_queue(QueueName="tasks", Attributes={"VisibilityTimeout": "0"})["QueueUrl"],
            "dlq": sqs.create_queue(QueueName="tasks-dlq")["QueueUrl"],
        }
    reset_clients()


@pytest.fixture
def completions(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What the worker sends to the aggregator (its async invoke, recorded instead of made)."""
    from eventweave.coordination import fan_out_fan_in as fan

    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(fan, "invoke_async", lambda name, payload: sent.append(dict(payload)))
    return sent


def settings(queues: dict[str, str]) -> Settings:
    return Settings(job_table=JOBS, dlq=queues["dlq"])


def ventilate(queues: dict[str, str], request: dict[str, Any] = REQUEST) -> Any:
    entry = SplitReport.lambda_handler(settings=settings(queues), task_queue_url=queues["tasks"])
    return entry(request, LambdaContext())


def receive(url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    sqs: Any = client("sqs")
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        messages += batch
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
        )
    return messages


def sqs_event(messages: list[dict[str, Any]], receive_count: int = 1) -> dict[str, Any]:
    """Lambda's SQS event; ``receive_count`` stands for the delivery number SQS would report."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {"ApproximateReceiveCount": str(receive_count)},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:tasks",
            }
            for m in messages
        ]
    }


def worker(queues: dict[str, str]) -> Any:
    return SumChunk.lambda_handler(settings=settings(queues), completion_function="aggregator")


def status(report_id: str) -> ReportProgress:
    entry = ReportStatus.lambda_handler(settings=Settings(job_table=JOBS))
    return ReportProgress.model_validate(entry({"report_id": report_id}, LambdaContext()))


# -- the business logic ------------------------------------------------------------------------------------------------


def test_sales_lines_parse_to_cents_and_anything_else_is_refused() -> None:
    assert parse_sale("EU,19.99") == ("EU", 1999)
    assert parse_sale(" US , 7 ") == ("US", 700)
    assert parse_sale("APAC,-2.5") == ("APAC", -250)  # a refund
    for bad in ("EU,12.5x", "EU,1.999", ",3.00", "EU", "EU,NaN", "EU,Infinity"):
        with pytest.raises(BadSaleError):
            parse_sale(bad)


def test_split_is_deterministic_and_merge_adds_up_to_the_plain_sum() -> None:
    sales = sample_sales(250, seed=3)
    request = ReportRequest(report_id="r", csv=to_csv(sales), chunk_rows=40, flaky_chunks={2: 1})
    chunks = split(request)
    assert chunks == split(request)
    assert [len(c.lines) for c in chunks] == [40] * 6 + [10]
    assert [c.fail_receives for c in chunks] == [0, 0, 1, 0, 0, 0, 0]
    report = merge("r", [sum_chunk(c, attempt=2 if c.index == 2 else 1) for c in chunks])
    expected: dict[str, int] = {}
    for region, cents in sales:
        expected[region] = expected.get(region, 0) + cents
    assert report.cents_by_region == expected
    assert (report.rows, report.chunks, report.total_cents, report.retries) == (250, 7, sum(expected.values()), 1)


def test_a_bad_line_is_reported_with_its_position() -> None:
    chunk = Chunk(index=1, first_line=100, lines=["EU,1.00", "EU,oops"])
    with pytest.raises(BadSaleError, match=r"sale 102: 'EU,oops'"):
        sum_chunk(chunk)


# -- the handlers ------------------------------------------------------------------------------------------------------


def test_ventilator_starts_the_job_and_sends_one_task_per_chunk(aws: dict[str, str]) -> None:
    assert ventilate(aws) == {"job_id": "r-1", "tasks": 3, "started": True, "sent": 3}
    bodies = [json.loads(m["Body"]) for m in receive(aws["tasks"])]
    assert sorted(b["task_id"] for b in bodies) == ["chunk-0000", "chunk-0001", "chunk-0002"]
    assert {b["task_id"]: len(b["task"]["lines"]) for b in bodies} == {
        "chunk-0000": 2,
        "chunk-0001": 2,
        "chunk-0002": 1,
    }
    assert (status("r-1").state, status("r-1").done, status("r-1").total) == ("RUNNING", 0, 3)


def test_worker_counts_each_chunk_once_and_completes_once(
    aws: dict[str, str], completions: list[dict[str, Any]]
) -> None:
    ventilate(aws)
    tasks = receive(aws["tasks"])
    assert worker(aws)(sqs_event(tasks[:2]), LambdaContext()) == {"batchItemFailures": []}
    assert (status("r-1").done, completions) == (2, [])
    assert worker(aws)(sqs_event(tasks), LambdaContext()) == {"batchItemFailures": []}  # 2 of 3 again
    assert worker(aws)(sqs_event(tasks), LambdaContext()) == {"batchItemFailures": []}  # all 3 again
    assert [c["job_id"] for c in completions] == ["r-1"]
    progress = status("r-1")
    assert (progress.done, progress.total, progress.duplicates) == (3, 3, 5)
    assert FanIn(JOBS).results("r-1") == {
        "chunk-0000": {"rows": 2, "cents_by_region": {"EU": 1000, "US": 250}, "attempt": 1},
        "chunk-0001": {"rows": 2, "cents_by_region": {"EU": 25, "APAC": 700}, "attempt": 1},
        "chunk-0002": {"rows": 1, "cents_by_region": {"US": 110}, "attempt": 1},
    }


def test_a_failed_delivery_is_retried_alone_and_counted_on_the_next(
    aws: dict[str, str], completions: list[dict[str, Any]]
) -> None:
    ventilate(aws, {**REQUEST, "flaky_chunks": {1: 1}})
    tasks = sorted(receive(aws["tasks"]), key=lambda m: json.loads(m["Body"])["task_id"])
    first = worker(aws)(sqs_event(tasks), LambdaContext())
    assert first == {"batchItemFailures": [{"itemIdentifier": tasks[1]["MessageId"]}]}
    assert (status("r-1").done, completions) == (2, [])
    assert worker(aws)(sqs_event([tasks[1]], receive_count=2), LambdaContext()) == {"batchItemFailures": []}
    assert len(completions) == 1
    assert FanIn(JOBS).results("r-1")["chunk-0001"]["attempt"] == 2


def test_a_corrupt_chunk_fails_the_report_and_goes_to_the_dlq_once(
    aws: dict[str, str], completions: list[dict[str, Any]]
) -> None:
    ventilate(aws, {**REQUEST, "csv": "EU,1.00\nUS,2.00\nEU,x\nUS,1.00"})
    tasks = receive(aws["tasks"])
    assert worker(aws)(sqs_event(tasks), LambdaContext()) == {"batchItemFailures": []}  # poison is not retried
    [poison] = [json.loads(m["Body"]) for m in receive(aws["dlq"])]
    assert poison["kind"] == "eventweave.poison" and poison["reason"] == "permanent-error"
    assert json.loads(poison["record"]["body"])["task_id"] == "chunk-0001"
    progress = status("r-1")
    assert (progress.state, progress.done, progress.total) == ("FAILED", 1, 2)
    assert progress.failed_chunks == ["chunk-0001"]
    assert progress.reason is not None and "sale 3: 'EU,x'" in progress.reason
    assert completions == []
    job = FanIn(JOBS).status("r-1")
    assert job is not None and job.status == "RUNNING"  # the fan-in job never completes


def test_aggregator_merges_the_partials_and_counts_its_runs(
    aws: dict[str, str], completions: list[dict[str, Any]]
) -> None:
    ventilate(aws)
    worker(aws)(sqs_event(receive(aws["tasks"])), LambdaContext())
    [completion] = completions
    aggregator = WriteReport.lambda_handler(settings=Settings(job_table=JOBS))
    assert aggregator(completion, LambdaContext()) == {"report_id": "r-1", "total_cents": 2085}
    progress = status("r-1")
    assert progress.state == "COMPLETED" and progress.aggregations == 1
    assert progress.report is not None
    assert progress.report.cents_by_region == {"APAC": 700, "EU": 1025, "US": 360}
    assert (progress.report.rows, progress.report.chunks, progress.report.retries) == (5, 3, 0)
    aggregator(completion, LambdaContext())  # if a completion ever came twice: same report, the run is counted
    again = status("r-1")
    assert (again.report, again.aggregations) == (progress.report, 2)


def test_status_of_an_unknown_report(aws: dict[str, str]) -> None:
    assert status("nope") == ReportProgress(report_id="nope", state="UNKNOWN")


def test_a_request_without_sales_is_poison_for_the_ventilator(aws: dict[str, str]) -> None:
    assert ventilate(aws, {**REQUEST, "csv": "\n\n"}) is None
    [poison] = [json.loads(m["Body"]) for m in receive(aws["dlq"])]
    assert poison["reason"] == "permanent-error" and "no tasks" in poison["errorMessage"]
    assert status("r-1").state == "UNKNOWN"

"""Fan-in against a real (moto) job table: each task counts once, exactly one caller learns the job is complete."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from pydantic import BaseModel

from eventweave.coordination import FanIn, TaskOutcome
from eventweave.handlers import IGNORED, ConfigurationError, PermanentError, Settings, SqsHandler, SqsRecordContext
from eventweave.handlers.publish import send_sqs_batch
from tests.functional.drivers import AwsCounter, QueueDriver, atomic_dynamodb

TABLE = "jobs"


@pytest.fixture
def jobs(aws: Any) -> FanIn:
    aws("dynamodb").create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return FanIn(TABLE)


FIRST = TaskOutcome(first_delivery=True, job_complete=False)
LAST = TaskOutcome(first_delivery=True, job_complete=True)
DUPLICATE = TaskOutcome(first_delivery=False, job_complete=False)


def test_completing_every_task_completes_the_job_exactly_once(jobs):
    """5 tasks: the 5th completion alone says job_complete; each costs one transaction and one read."""
    assert jobs.start_job("j-1", 5) is True
    with AwsCounter("dynamodb") as ddb:
        outcomes = [jobs.complete_task("j-1", f"t{n}", result={"rows": n}) for n in range(5)]
    assert outcomes == [FIRST] * 4 + [LAST]
    assert ddb.counts() == Counter(TransactWriteItems=5, GetItem=5, UpdateItem=1)
    status = jobs.status("j-1")
    assert status is not None
    assert (status.total, status.remaining, status.done, status.status) == (5, 0, 5, "COMPLETED")
    assert status.completed_at is not None and abs(status.completed_at - time.time()) < 60
    assert jobs.results("j-1") == {f"t{n}": {"rows": n} for n in range(5)}


def test_duplicate_completions_never_count_twice_nor_complete_again(jobs):
    """A task delivered again (before or after the job completed) is a duplicate and never a second job_complete."""
    jobs.start_job("j-1", 3)
    assert jobs.complete_task("j-1", "a", result=1) == FIRST
    assert jobs.complete_task("j-1", "a", result=1) == DUPLICATE
    assert jobs.status("j-1").remaining == 2  # the duplicate did not count the job down
    assert jobs.complete_task("j-1", "b") == FIRST
    assert jobs.complete_task("j-1", "c", result=3) == LAST
    assert [jobs.complete_task("j-1", t) for t in ("c", "a", "b")] == [DUPLICATE] * 3
    status = jobs.status("j-1")
    assert (status.remaining, status.status) == (0, "COMPLETED")
    assert jobs.results("j-1") == {"a": 1, "b": None, "c": 3}


def test_concurrent_workers_with_duplicate_deliveries_complete_the_job_once(jobs):
    """16 threads complete 40 tasks, each delivered twice in random order: 40 first deliveries, one job_complete."""
    jobs.start_job("big", 40)
    deliveries = [f"t{n:02d}" for n in range(40)] * 2
    random.Random(7).shuffle(deliveries)
    lanes = [deliveries[i::16] for i in range(16)]
    start = threading.Barrier(16)

    def work(lane: list[str]) -> list[tuple[str, TaskOutcome]]:
        worker = FanIn(TABLE)  # every Lambda container has its own
        start.wait()
        return [(task, worker.complete_task("big", task, result=int(task[1:]))) for task in lane]

    with atomic_dynamodb(), ThreadPoolExecutor(16) as pool:
        outcomes = [o for lane in pool.map(work, lanes) for o in lane]

    assert len(outcomes) == 80
    assert sum(o.job_complete for _, o in outcomes) == 1
    firsts = Counter(task for task, o in outcomes if o.first_delivery)
    assert firsts == Counter({f"t{n:02d}": 1 for n in range(40)})
    status = jobs.status("big")
    assert (status.total, status.remaining, status.status) == (40, 0, "COMPLETED")
    results = jobs.results("big")
    assert len(results) == 40
    assert results == {f"t{n:02d}": n for n in range(40)}


@pytest.mark.parametrize("redelivered", ["t2", "t0"])
def test_crash_between_count_and_claim_is_recovered_by_a_redelivery(jobs, monkeypatch, redelivered):
    """The last task's worker counts the job down to 0 and dies before claiming completion: the next delivery of a
    task (its own redelivery or any duplicate) claims it, once."""
    jobs.start_job("j-1", 3)
    jobs.complete_task("j-1", "t0")
    jobs.complete_task("j-1", "t1")
    real = FanIn._claim_completion
    crashes: list[str] = []

    def crash_once(self: FanIn, job_id: str) -> bool:
        monkeypatch.setattr(FanIn, "_claim_completion", real)
        crashes.append(job_id)
        raise TimeoutError("Task timed out after 30.00 seconds")

    monkeypatch.setattr(FanIn, "_claim_completion", crash_once)
    with pytest.raises(TimeoutError):
        jobs.complete_task("j-1", "t2")
    assert crashes == ["j-1"]
    status = jobs.status("j-1")
    assert (status.remaining, status.status) == (0, "RUNNING")  # counted, not claimed

    assert jobs.complete_task("j-1", redelivered) == TaskOutcome(first_delivery=False, job_complete=True)
    assert jobs.complete_task("j-1", redelivered) == DUPLICATE
    assert jobs.complete_task("j-1", "t2") == DUPLICATE
    assert jobs.status("j-1").status == "COMPLETED"


def test_unknown_job_is_a_permanent_error_and_leaves_no_marker(jobs):
    """A task of a job that was never started cannot be retried into success: PermanentError, nothing written."""
    with pytest.raises(PermanentError, match="start_job"):
        jobs.complete_task("ghost", "t0", result=1)
    assert jobs.results("ghost") == {}
    assert jobs.status("ghost") is None


def test_more_completions_than_tasks_is_a_permanent_error(jobs):
    """A task id beyond the job's total (a producer bug) is refused and not stored; the job stays complete once."""
    jobs.start_job("j-1", 2)
    jobs.complete_task("j-1", "a")
    assert jobs.complete_task("j-1", "b") == LAST
    with pytest.raises(PermanentError):
        jobs.complete_task("j-1", "c")
    assert set(jobs.results("j-1")) == {"a", "b"}
    assert jobs.status("j-1").remaining == 0


def test_start_job_is_idempotent_for_the_same_total_only(jobs):
    """A retried ventilator gets False; a different total for an existing job, or no task at all, is permanent."""
    assert jobs.start_job("j-1", 4) is True
    jobs.complete_task("j-1", "a")
    assert jobs.start_job("j-1", 4) is False
    assert jobs.status("j-1").remaining == 3  # the retry did not reset the count
    with pytest.raises(PermanentError, match="4 tasks, not 5"):
        jobs.start_job("j-1", 5)
    assert jobs.status("j-1").total == 4
    with pytest.raises(PermanentError):
        jobs.start_job("j-2", 0)
    assert jobs.status("j-2") is None


def test_status_while_running(jobs):
    """status() reports progress before completion; None for a job that does not exist."""
    jobs.start_job("j-1", 5)
    jobs.complete_task("j-1", "a")
    jobs.complete_task("j-1", "b")
    jobs.complete_task("j-1", "b")
    status = jobs.status("j-1")
    assert status is not None
    assert (status.job_id, status.total, status.remaining, status.done) == ("j-1", 5, 3, 2)
    assert (status.status, status.completed_at) == ("RUNNING", None)
    assert abs(status.created_at - time.time()) < 60
    assert jobs.status("other") is None


def test_job_table_comes_from_the_environment(aws, jobs, monkeypatch):
    """FanIn() reads EVENTWEAVE_JOB_TABLE; without it (and no table=) it refuses to guess."""
    monkeypatch.delenv("EVENTWEAVE_JOB_TABLE", raising=False)
    with pytest.raises(ConfigurationError, match="EVENTWEAVE_JOB_TABLE"):
        FanIn()
    monkeypatch.setenv("EVENTWEAVE_JOB_TABLE", TABLE)
    assert FanIn().start_job("j-env", 1) is True
    assert jobs.status("j-env") is not None


# -- behind a real queue -----------------------------------------------------------------------------------------------


class Chunk(BaseModel):
    report_id: str
    chunk: int
    rows: int


class CountRows(SqsHandler[Chunk]):
    """A fan-in worker: counts its chunk, skips duplicates, and aggregates once when the job completes."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.jobs = FanIn(self.settings.job_table)
        self.reports: list[tuple[str, int]] = []

    def handle(self, chunk: Chunk, ctx: SqsRecordContext) -> Any:
        outcome = self.jobs.complete_task(chunk.report_id, str(chunk.chunk), result=chunk.rows)
        if outcome.job_complete:
            self.reports.append((chunk.report_id, sum(self.jobs.results(chunk.report_id).values())))
        return None if outcome.first_delivery else IGNORED


def test_worker_behind_a_queue_with_duplicates_aggregates_once(aws, jobs, lambda_context):
    """Six chunks each sent twice to a real queue: the worker aggregates the report exactly once, with every row."""
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName="chunks")["QueueUrl"]
    jobs.start_job("r-1", 6)
    chunks = [Chunk(report_id="r-1", chunk=n, rows=10 * n) for n in range(6)]
    send_sqs_batch(url, chunks + chunks[::-1])
    worker = CountRows(settings=Settings(job_table=TABLE))
    deliveries = QueueDriver(sqs, url, worker, lambda_context).run()
    assert sum(len(d.record_ids) for d in deliveries) == 12
    assert all(d.failed == [] and d.error is None for d in deliveries)
    assert worker.reports == [("r-1", 150)]
    assert jobs.status("r-1").status == "COMPLETED"

"""Ventilator and FanInWorker against moto: tasks sent once per split, counted once per task, one completion per job."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from eventweave.coordination import FanIn
from eventweave.coordination.fan_out_fan_in import JOB_COMPLETED
from eventweave.handlers import PermanentError, Settings
from examples.showcase.job_handlers import Chunk, CountWords, SplitDocument
from tests.functional.drivers import QueueDriver, atomic_dynamodb, drain, lambda_sqs_event, queue_arn

DOC = {"document_id": "doc-1", "text": "one two\nthree\nfour five six\nseven", "chunk_lines": 1}
WORDS = 7


@pytest.fixture
def env(aws: Any) -> dict[str, Any]:
    """A job table, the task queue, a DLQ, and a queue that receives the completion events from the default bus."""
    ddb, sqs, events = aws("dynamodb"), aws("sqs"), aws("events")
    ddb.create_table(
        TableName="jobs",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    tasks = sqs.create_queue(QueueName="tasks")["QueueUrl"]
    dlq = sqs.create_queue(QueueName="tasks-dlq")["QueueUrl"]
    done = sqs.create_queue(QueueName="completions")["QueueUrl"]
    events.put_rule(Name="done", EventPattern=json.dumps({"source": ["showcase.documents"],
                                                          "detail-type": [JOB_COMPLETED]}))
    events.put_targets(Rule="done", Targets=[{"Id": "q", "Arn": queue_arn(sqs, done)}])
    return {"sqs": sqs, "ddb": ddb, "tasks": tasks, "dlq": dlq, "done": done}


def ventilator(env: dict[str, Any]) -> Any:
    return SplitDocument.lambda_handler(settings=Settings(job_table="jobs", dlq=env["dlq"]),
                                        task_queue_url=env["tasks"])


def worker(env: dict[str, Any], **kwargs: Any) -> Any:
    kwargs.setdefault("completion_bus", "default")
    return CountWords.lambda_handler(settings=Settings(job_table="jobs", dlq=env["dlq"]), **kwargs)


def completions(env: dict[str, Any], expected: int) -> list[dict[str, Any]]:
    return [json.loads(m["Body"]) for m in drain(env["sqs"], env["done"], expected)]


def test_ventilator_starts_the_job_and_sends_one_message_per_task(env: dict[str, Any], lambda_context: Any) -> None:
    result = ventilator(env)(DOC, lambda_context)
    assert result == {"job_id": "doc-1", "tasks": 4, "started": True, "sent": 4}
    bodies = [json.loads(m["Body"]) for m in drain(env["sqs"], env["tasks"], 4)]
    assert sorted(b["task_id"] for b in bodies) == ["lines-0", "lines-1", "lines-2", "lines-3"]
    assert all(b["job_id"] == "doc-1" and Chunk.model_validate(b["task"]) for b in bodies)
    status = FanIn("jobs").status("doc-1")
    assert status is not None and (status.total, status.remaining, status.status) == (4, 4, "RUNNING")


def test_duplicates_complete_the_job_exactly_once(env: dict[str, Any], lambda_context: Any) -> None:
    ventilator(env)(DOC, lambda_context)
    messages = drain(env["sqs"], env["tasks"], 4)
    arn = queue_arn(env["sqs"], env["tasks"])
    handler = worker(env)
    # Every task delivered twice, the duplicates in a later batch: counted once, completed once.
    assert handler(lambda_sqs_event(messages[:3], arn), lambda_context) == {"batchItemFailures": []}
    assert handler(lambda_sqs_event(messages[1:], arn), lambda_context) == {"batchItemFailures": []}
    assert handler(lambda_sqs_event(messages, arn), lambda_context) == {"batchItemFailures": []}
    [event] = completions(env, 1)
    assert event["source"] == "showcase.documents" and event["detail-type"] == JOB_COMPLETED
    detail = event["detail"]
    assert (detail["job_id"], detail["total"], detail["words"]) == ("doc-1", 4, WORDS)
    assert detail["__context"]["hops"] >= 1  # published from inside a handler: the chain goes on
    status = FanIn("jobs").status("doc-1")
    assert status is not None and (status.remaining, status.status) == (0, "COMPLETED")
    assert FanIn("jobs").results("doc-1") == {"lines-0": 2, "lines-1": 1, "lines-2": 3, "lines-3": 1}


def test_concurrent_duplicate_deliveries_emit_one_completion(env: dict[str, Any], lambda_context: Any) -> None:
    ventilator(env)(DOC, lambda_context)
    messages = drain(env["sqs"], env["tasks"], 4)
    arn = queue_arn(env["sqs"], env["tasks"])
    handler = worker(env)
    errors: list[BaseException] = []

    def deliver(batch: list[dict[str, Any]]) -> None:
        try:
            assert handler(lambda_sqs_event(batch, arn), lambda_context) == {"batchItemFailures": []}
        except BaseException as error:  # surfaced in the main thread
            errors.append(error)

    with atomic_dynamodb():
        threads = [threading.Thread(target=deliver, args=([m],)) for m in messages * 3]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    assert [e["detail"]["words"] for e in completions(env, 1)] == [WORDS]


def test_a_failed_emission_is_retried_and_still_emitted_once(
    env: dict[str, Any], lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import eventweave.coordination.fan_out_fan_in as fan

    real = fan.put_event
    calls: list[str] = []

    def flaky_put_event(*args: Any, **kwargs: Any) -> str:
        calls.append(args[0])
        if len(calls) == 1:
            raise ConnectionError("EventBridge did not answer")
        return real(*args, **kwargs)

    monkeypatch.setattr(fan, "put_event", flaky_put_event)
    ventilator(env)(DOC, lambda_context)
    env["sqs"].set_queue_attributes(QueueUrl=env["tasks"], Attributes={"VisibilityTimeout": "0"})  # retry at once
    driver = QueueDriver(env["sqs"], env["tasks"], worker(env), lambda_context)
    first = driver.deliver_once()
    assert first is not None and len(first.failed) == 1  # the task whose completion could not be emitted
    driver.run()
    assert len(calls) == 2
    assert [e["detail"]["job_id"] for e in completions(env, 1)] == ["doc-1"]


def test_completion_by_async_invoke(env: dict[str, Any], lambda_context: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import eventweave.coordination.fan_out_fan_in as fan

    invoked: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(fan, "invoke_async", lambda name, payload: invoked.append((name, dict(payload))))
    ventilator(env)(DOC, lambda_context)
    QueueDriver(env["sqs"], env["tasks"], worker(env, completion_bus=None, completion_function="sink"),
                lambda_context).run()
    assert [(name, payload["job_id"], payload["words"]) for name, payload in invoked] == [("sink", "doc-1", WORDS)]
    drain(env["sqs"], env["done"], 0)  # nothing on the bus


def test_a_rerun_resends_a_running_job_and_nothing_for_a_complete_one(env: dict[str, Any], lambda_context: Any) -> None:
    split = ventilator(env)
    split(DOC, lambda_context)
    assert split(DOC, lambda_context) == {"job_id": "doc-1", "tasks": 4, "started": False, "sent": 4}
    QueueDriver(env["sqs"], env["tasks"], worker(env), lambda_context).run()
    assert len(completions(env, 1)) == 1
    assert split(DOC, lambda_context) == {"job_id": "doc-1", "tasks": 4, "started": False, "sent": 0}


def test_poison_tasks_and_requests_go_to_the_dlq(env: dict[str, Any], lambda_context: Any) -> None:
    # A start request that cannot be split, and one whose job exists with another size: poison, not retried.
    split = ventilator(env)
    assert split({"document_id": "doc-1", "text": "a\nb", "chunk_lines": 0}, lambda_context) is None
    split(DOC, lambda_context)
    split({**DOC, "chunk_lines": 2}, lambda_context)
    drain(env["sqs"], env["tasks"], 4)
    # A task of an unknown job, and a task that does not validate.
    arn = queue_arn(env["sqs"], env["tasks"])
    env["sqs"].send_message(QueueUrl=env["tasks"], MessageBody=json.dumps(
        {"job_id": "nope", "task_id": "1", "task": {"first_line": 0, "text": "x"}}))
    env["sqs"].send_message(QueueUrl=env["tasks"], MessageBody=json.dumps({"job_id": "doc-1", "task_id": "9"}))
    messages = drain(env["sqs"], env["tasks"], 2)
    assert worker(env)(lambda_sqs_event(messages, arn), lambda_context) == {"batchItemFailures": []}
    reasons = sorted(json.loads(m["Body"])["reason"] for m in drain(env["sqs"], env["dlq"], 4))
    assert reasons == ["permanent-error", "permanent-error", "validation-error", "validation-error"]


def test_a_permanent_task_failure_leaves_the_job_running(env: dict[str, Any], lambda_context: Any) -> None:
    class Picky(CountWords):
        def process(self, chunk: Chunk, ctx: Any) -> int:
            if "three" in chunk.text:
                raise PermanentError("no threes")
            return super().process(chunk, ctx)

    ventilator(env)(DOC, lambda_context)
    handler = Picky.lambda_handler(settings=Settings(job_table="jobs", dlq=env["dlq"]), completion_bus="default")
    QueueDriver(env["sqs"], env["tasks"], handler, lambda_context).run()
    status = FanIn("jobs").status("doc-1")
    assert status is not None and (status.remaining, status.status) == (1, "RUNNING")
    assert [json.loads(m["Body"])["errorMessage"] for m in drain(env["sqs"], env["dlq"], 1)] == ["no threes"]
    drain(env["sqs"], env["done"], 0)

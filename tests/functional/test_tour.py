"""The handler tour (`make tour`) and its delivery driver, run in-process against the embedded moto server."""

import io
import json
import os

import pytest
from pydantic import BaseModel

from eventweave.handlers import KinesisHandler, Settings, SqsHandler
from eventweave.handlers.publish import put_record
from examples.tour import SCENARIOS, report, run
from examples.tour import handlers as tour_handlers
from examples.tour.__main__ import main
from examples.tour.driver import KinesisShardReader, Reporter, SqsPoller, _reported_failures, read_dlq


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_reaches_its_expected_end_state(aws, name):
    """Each scenario's side effects, runtime counters, DLQ contents and table state match what it promises."""
    out = io.StringIO()
    [result] = run([name], out=out)
    assert result.passed, f"{name}: {result.problems()}\n{out.getvalue()}"
    trace = out.getvalue()
    assert f"PASS: {name}" in trace
    assert "#1 " in trace  # at least one invocation trace line was printed


def test_report_fails_and_names_the_scenario_and_the_mismatch(aws, monkeypatch):
    """A worker that counts duplicate deliveries as processed makes the tour exit 1 and say where and why."""
    monkeypatch.setattr(tour_handlers, "IGNORED", None)
    out = io.StringIO()
    assert report(["fanin"], out=out) == 1
    text = out.getvalue()
    assert "1 of 1 scenarios FAILED" in text
    assert "scenario 'fanin' failed: duplicates suppressed: expected 6, got 0" in text


def test_demo_entry_point_runs_on_its_own_loopback_server(moto_endpoint, capsys, monkeypatch):
    """`python -m examples.tour` starts moto on 127.0.0.1, exits 0 when all passed and restores the environment."""
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "INFO")  # main() sets it; monkeypatch puts it back afterwards
    assert main(["--only", "recursion"]) == 0
    out = capsys.readouterr().out
    assert "moto on http://127.0.0.1:" in out
    assert f"moto on {moto_endpoint}" not in out  # its own server, not the session's
    assert "all 1 scenarios passed" in out
    assert os.environ["AWS_ENDPOINT_URL"] == moto_endpoint


class Item(BaseModel):
    name: str


def test_sqs_poller_deletes_successes_and_leaves_failures_to_the_redrive_policy(aws):
    """Only unreported records are deleted; a record that keeps failing comes back, then SQS moves it to the DLQ."""
    sqs = aws("sqs")
    dlq = sqs.create_queue(QueueName="redrive-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(
        QueueName="redrive",
        Attributes={
            "VisibilityTimeout": "1",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}),
        },
    )["QueueUrl"]
    seen: list[str] = []

    class FailsOnBad(SqsHandler[Item]):
        def handle(self, item, ctx):
            seen.append(item.name)
            if item.name == "bad":
                raise RuntimeError("always fails")

    sqs.send_message(QueueUrl=queue, MessageBody='{"name": "ok"}')
    sqs.send_message(QueueUrl=queue, MessageBody='{"name": "bad"}')
    poller = SqsPoller(queue, FailsOnBad(settings=Settings()), function_name="fails", reporter=Reporter(io.StringIO()))
    invocations = poller.run(timeout=10)

    assert sorted(seen) == ["bad", "bad", "ok"]
    assert [len(inv.returned) for inv in invocations] == [1, 1]
    assert invocations[1].error is not None  # a one-record batch that fails makes the handler raise
    dead = read_dlq(dlq)
    assert [(d.reason, d.document) for d in dead] == [("redriven", {"name": "bad"})]


class Reading(BaseModel):
    n: int


def test_kinesis_reader_checkpoints_then_discards_after_its_retry_budget(aws):
    """A record that always fails is retried from its checkpoint, then the batch goes to on-failure as metadata."""
    aws("kinesis").create_stream(StreamName="readings", ShardCount=1)
    dlq = aws("sqs").create_queue(QueueName="readings-failures")["QueueUrl"]
    seqs = [put_record("readings", {"n": n}, partition_key="p") for n in (1, 2, 3)]
    seen: list[int] = []

    class FailsOnTwo(KinesisHandler[Reading]):
        def handle(self, reading, ctx):
            seen.append(reading.n)
            if reading.n == 2:
                raise RuntimeError("always fails")

    reader = KinesisShardReader(
        "readings",
        FailsOnTwo(settings=Settings()),
        function_name="readings",
        reporter=Reporter(io.StringIO()),
        max_retry_attempts=1,
        on_failure=dlq,
    )
    invocations = reader.run(timeout=10)

    assert seen == [1, 2, 2]  # record 3 is never handled: the reader stops at 2, then discards 2 and 3
    assert [inv.record_ids for inv in invocations] == [seqs, seqs[1:]]
    [dead] = read_dlq(dlq)
    assert dead.reason == "retries-exhausted"
    info = dead.document["KinesisBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (seqs[1], seqs[2], 2)
    assert dead.document["requestContext"]["condition"] == "RetryAttemptsExhausted"


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (None, []),
        ({}, []),
        ({"batchItemFailures": []}, []),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, ["b"]),
        ({"batchItemFailures": [{"itemIdentifier": "zz"}]}, ["a", "b", "c"]),  # not in the batch: all failed
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, ["a", "b", "c"]),
        ({"batchItemFailures": [{"id": "b"}]}, ["a", "b", "c"]),  # wrong key name
    ],
)
def test_partial_batch_response_is_read_as_lambda_documents(response, expected):
    """Success and complete-failure conditions of a partial batch response follow Lambda's documented rules."""
    assert _reported_failures(response, ["a", "b", "c"])[0] == expected

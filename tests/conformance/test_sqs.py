"""SQS standard queues -> Lambda event source mappings: batches, partial batch responses, retries, redrive."""

from __future__ import annotations

import hashlib
import json
import time

import pytest

from eventweave.testing import EphemeralStack, wait_until

from .conftest import Inbox, Observations, body, key, settle


def own(invocation, run: str) -> list[str]:
    """The keys of this run's records in one invocation, in batch order."""
    return [k for k in invocation.record_keys() if isinstance(k, str) and k.startswith(run)]


def quiet_longer_than_the_window(window: float = 2.0) -> None:
    """The usual situation for a batching window: records arrive at a queue that has had nothing for longer than
    the window. A precondition of the scenario (pacing), not a wait for an outcome."""
    time.sleep(window + 1)


def send_batch(stack: EphemeralStack, url: str, bodies: dict[str, str]) -> None:
    stack.client("sqs").send_message_batch(
        QueueUrl=url, Entries=[{"Id": name, "MessageBody": text} for name, text in bodies.items()]
    )


def test_partial_batch_response_retries_only_the_listed_messages(conformance, observed: Observations, run, patience):
    """A partial batch response returns only the listed messages to the queue.

    AWS: https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html
    Notes: aws-semantics.md §1
    Expected: with ReportBatchItemFailures, a response {"batchItemFailures":[{"itemIdentifier": <messageId>}]}
    makes only that message visible again; the other messages of the batch are deleted and delivered once.
    """
    send_batch(
        conformance,
        conformance.outputs["RbifQueueUrl"],
        {"a": body(run, "a"), "b": body(run, "b", fail=1, how="partial"), "c": body(run, "c")},
    )
    wait_until(
        lambda: observed.attempts(key(run, "b")) >= 2, timeout=patience["fast"], what="the listed message's retry"
    )
    settle(conformance)
    attempts = {name: observed.attempts(key(run, name)) for name in "abc"}
    assert attempts == {"a": 1, "b": 2, "c": 1}
    retries = [i for i in observed.invocations(run) if (o := i.outcome(key(run, "b"))) and o["attempt"] == 2]
    assert [own(i, run) for i in retries] == [[key(run, "b")]]


# One message per batch (BatchSize 1), so each message's response is its batch's whole response. The messages of
# all cases are sent at once (module fixture), and each case's test waits for its own.
COMPLETE_FAILURES = {
    "unknown-itemIdentifier": {"batchItemFailures": [{"itemIdentifier": "not-a-message-of-this-batch"}]},
    "empty-itemIdentifier": {"batchItemFailures": [{"itemIdentifier": ""}]},
    "null-itemIdentifier": {"batchItemFailures": [{"itemIdentifier": None}]},
    "wrong-key-name": {"batchItemFailures": [{"itemIdentifer": "misspelt key"}]},
}
COMPLETE_SUCCESSES = {
    "empty-list": {"batchItemFailures": []},
    "null-list": {"batchItemFailures": None},
    "empty-response": {},
    "null-response": None,
}


@pytest.fixture(scope="module")
def single_queue_cases(conformance) -> dict[str, str]:
    """Run id of each response case, its message already sent to the BatchSize-1 queue."""
    import uuid

    runs: dict[str, str] = {}
    sqs = conformance.client("sqs")
    for case, response in {**COMPLETE_FAILURES, **COMPLETE_SUCCESSES}.items():
        run = runs[case] = f"run-{uuid.uuid4().hex[:12]}"
        sqs.send_message(QueueUrl=conformance.outputs["SingleQueueUrl"], MessageBody=body(run, "m", respond=response))
    return runs


@pytest.mark.parametrize("case", list(COMPLETE_FAILURES))
def test_invalid_partial_batch_response_fails_the_whole_batch(
    conformance, observed: Observations, single_queue_cases, patience, case
):
    """An invalid partial batch response fails the whole batch.

    AWS: https://github.com/awsdocs/aws-lambda-developer-guide/blob/main/doc_source/with-sqs.md
    Notes: aws-semantics.md §1, "Success and failure conditions"
    Expected: a response whose itemIdentifier is not a message ID of the batch, is empty, is null, or sits under a
    wrong key name is a complete failure: every message of the batch becomes visible again and is delivered again.
    """
    run = single_queue_cases[case]
    wait_until(
        lambda: observed.attempts(key(run, "m")) >= 2,
        timeout=patience["fast"],
        what=f"the message answered with {json.dumps(COMPLETE_FAILURES[case])} delivered again",
    )
    settle(conformance)
    assert observed.attempts(key(run, "m")) == 2  # the second answer is a plain success


@pytest.mark.parametrize("case", list(COMPLETE_SUCCESSES))
def test_empty_partial_batch_response_is_a_complete_success(
    conformance, observed: Observations, single_queue_cases, patience, case
):
    """An empty or null partial batch response is a complete success.

    AWS: https://github.com/awsdocs/aws-lambda-developer-guide/blob/main/doc_source/with-sqs.md
    Notes: aws-semantics.md §1, "Success and failure conditions"
    Expected: an empty batchItemFailures list, a null list, an empty response or a null response deletes every
    message of the batch: none is delivered again.
    """
    run = single_queue_cases[case]
    wait_until(lambda: observed.attempts(key(run, "m")) >= 1, timeout=patience["fast"], what="the message delivered")
    settle(conformance)
    assert observed.attempts(key(run, "m")) == 1


def test_function_error_with_partial_batch_responses_fails_the_whole_batch(
    conformance, observed: Observations, run, patience
):
    """A function error fails the whole batch, even with ReportBatchItemFailures on.

    AWS: https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html
    Notes: aws-semantics.md §1
    Expected: "If the function throws, the whole batch is treated as failed": every message of the batch is
    delivered again, the ones the function handled included.
    """
    send_batch(conformance, conformance.outputs["RbifQueueUrl"], {"a": body(run, "a"), "b": body(run, "b", fail=1)})
    wait_until(
        lambda: observed.attempts(key(run, "b")) >= 2, timeout=patience["fast"], what="the failing message's retry"
    )
    settle(conformance)
    failed = [i for i in observed.invocations(run) if any(o["outcome"] == "raised" for o in i.outcomes)]
    assert failed, "no invocation raised"
    for name in own(failed[0], run):
        assert observed.attempts(name) == 2, f"{name} was in the failed batch but was not delivered again"


def test_function_error_without_partial_batch_responses_retries_the_whole_batch(
    conformance, observed: Observations, run, patience
):
    """Without ReportBatchItemFailures, a function error returns the whole batch to the queue.

    AWS: https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html
    Notes: aws-semantics.md §1
    Expected: the whole batch becomes visible again after the visibility timeout, including messages that
    succeeded, and is delivered again.
    """
    send_batch(conformance, conformance.outputs["PlainQueueUrl"], {"a": body(run, "a"), "b": body(run, "b", fail=1)})
    wait_until(
        lambda: observed.attempts(key(run, "b")) >= 2, timeout=patience["fast"], what="the failing message's retry"
    )
    settle(conformance)
    first = observed.invocations(run)[0]
    assert own(first, run) == [key(run, "a"), key(run, "b")], "the two messages sent together were not one batch"
    assert observed.attempts(key(run, "a")) == 2
    assert observed.attempts(key(run, "b")) == 2


def test_partial_batch_response_is_ignored_without_report_batch_item_failures(
    conformance, observed: Observations, run, patience
):
    """A partial batch response is ignored when the mapping does not enable ReportBatchItemFailures.

    AWS: https://github.com/awsdocs/aws-lambda-developer-guide/blob/main/doc_source/with-sqs.md
    Notes: aws-semantics.md §1
    Expected: the response is ignored unless ReportBatchItemFailures is on: a successful invocation deletes the
    batch, listed messages included; nothing is delivered again or reaches the DLQ.
    """
    sqs = conformance.client("sqs")
    sqs.send_message(QueueUrl=conformance.outputs["PlainQueueUrl"], MessageBody=body(run, "m", fail=99, how="partial"))
    wait_until(lambda: observed.attempts(key(run, "m")) >= 1, timeout=patience["fast"], what="the message delivered")
    settle(conformance)
    assert observed.attempts(key(run, "m")) == 1
    assert Inbox(conformance, conformance.outputs["PlainDlqUrl"], run).collect() == []


def test_redrive_policy_moves_a_message_to_the_dlq_after_max_receive_count(
    conformance, observed: Observations, run, patience
):
    """The queue's redrive policy moves a message that keeps failing to its DLQ after maxReceiveCount receives.

    AWS: https://github.com/awsdocs/aws-lambda-developer-guide/blob/main/doc_source/with-sqs.md
    Notes: aws-semantics.md §1, "DLQ and redrive"
    Expected: SQS, not Lambda, redrives: with maxReceiveCount 2 the function sees the message twice, then the message
    is in the DLQ unchanged, and it is not delivered to the function again.
    """
    text = body(run, "m", poison=True)
    conformance.client("sqs").send_message(QueueUrl=conformance.outputs["PlainQueueUrl"], MessageBody=text)
    dlq = Inbox(conformance, conformance.outputs["PlainDlqUrl"], run)
    messages = dlq.wait(timeout=patience["fast"] * 2, what="the message in the DLQ")
    settle(conformance)
    assert observed.attempts(key(run, "m")) == 2
    assert [m["body"] for m in messages] == [json.loads(text)]


def test_batch_size_one_gives_single_record_batches(conformance, observed: Observations, run, patience):
    """BatchSize 1 gives batches of one record.

    AWS: https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html
    Notes: aws-semantics.md §1
    Expected: no batch holds more records than the mapping's BatchSize; with BatchSize 1 each message is its own
    invocation.
    """
    names = ["a", "b", "c", "d"]
    send_batch(conformance, conformance.outputs["SingleQueueUrl"], {n: body(run, n) for n in names})
    invocations = observed.wait_for(
        run,
        lambda found: found if sum(len(own(i, run)) for i in found) >= len(names) else None,
        timeout=patience["fast"],
        what="the four messages delivered",
    )
    assert [len(own(i, run)) for i in invocations] == [1, 1, 1, 1]


def test_batching_window_collects_a_trickle_into_one_batch(conformance, observed: Observations, run, patience):
    """A batching window collects messages that arrive one by one into one batch.

    AWS: https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html
    Notes: aws-semantics.md §1
    Expected: with MaximumBatchingWindowInSeconds 2 and BatchSize 10, Lambda gathers records until the window
    expires (or the batch is full): three messages sent 0.3 s apart arrive as ONE batch of three.
    """
    sqs = conformance.client("sqs")
    quiet_longer_than_the_window()
    for name in ("a", "b", "c"):
        sqs.send_message(QueueUrl=conformance.outputs["WindowQueueUrl"], MessageBody=body(run, name))
        time.sleep(0.3)  # pacing the sends (the trickle), not waiting for an outcome
    invocations = observed.wait_for(
        run,
        lambda found: found if sum(len(own(i, run)) for i in found) >= 3 else None,
        timeout=patience["fast"],
        what="the three messages delivered",
    )
    assert [own(i, run) for i in invocations] == [[key(run, "a"), key(run, "b"), key(run, "c")]]


def test_batch_size_above_ten_with_a_window_gives_batches_larger_than_ten(
    conformance, observed: Observations, run, patience
):
    """BatchSize above 10 (with a batching window) gives batches larger than 10.

    AWS: https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html
    Notes: aws-semantics.md §1
    Expected: BatchSize may be up to 10,000 on a standard queue when MaximumBatchingWindowInSeconds is at least 1;
    15 messages sent at once to a mapping with BatchSize 50 and a 2 s window arrive in a batch of more than 10.
    """
    url = conformance.outputs["BigQueueUrl"]
    quiet_longer_than_the_window()
    send_batch(conformance, url, {f"m{i}": body(run, f"m{i}") for i in range(10)})
    send_batch(conformance, url, {f"m{i}": body(run, f"m{i}") for i in range(10, 15)})
    invocations = observed.wait_for(
        run,
        lambda found: found if sum(len(own(i, run)) for i in found) >= 15 else None,
        timeout=patience["fast"],
        what="the 15 messages delivered",
    )
    sizes = [len(own(i, run)) for i in invocations]
    assert max(sizes) > 10, f"batch sizes {sizes}"


def test_sqs_record_fields(conformance, observed: Observations, run, patience):
    """An SQS record carries the message, its attributes and where it came from.

    AWS: https://github.com/awsdocs/aws-lambda-developer-guide/blob/main/doc_source/with-sqs.md
    Notes: aws-semantics.md §1, "Event record fields"
    Expected: messageId, receiptHandle, body, attributes (ApproximateReceiveCount, SentTimestamp, SenderId,
    ApproximateFirstReceiveTimestamp, all strings), messageAttributes ({} when none; stringValue and dataType per
    attribute), md5OfBody (MD5 of the body), eventSource "aws:sqs", eventSourceARN and awsRegion.
    """
    sqs = conformance.client("sqs")
    url = conformance.outputs["SingleQueueUrl"]
    with_attributes = body(run, "with")
    sent = sqs.send_message(
        QueueUrl=url,
        MessageBody=with_attributes,
        MessageAttributes={
            "color": {"DataType": "String", "StringValue": "blue"},
            "count": {"DataType": "Number", "StringValue": "3"},
        },
    )
    plain = sqs.send_message(QueueUrl=url, MessageBody=body(run, "without"))
    invocations = observed.wait_for(
        run, lambda found: found if len(found) >= 2 else None, timeout=patience["fast"], what="both messages"
    )
    records = {r["messageId"]: r for i in invocations for r in i.records if run in r["body"]}
    record = records[sent["MessageId"]]
    expected_keys = {
        "messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody", "eventSource",
        "eventSourceARN", "awsRegion",
    }  # fmt: skip
    assert expected_keys <= set(record)
    assert record["body"] == with_attributes
    assert record["md5OfBody"] == hashlib.md5(with_attributes.encode()).hexdigest()
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == conformance.outputs["SingleQueueArn"]
    assert record["awsRegion"] == conformance.region
    attributes = record["attributes"]
    for name in ("ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"):
        assert isinstance(attributes.get(name), str), f"attributes.{name} = {attributes.get(name)!r}"
    assert attributes["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"]["color"]["stringValue"] == "blue"
    assert record["messageAttributes"]["color"]["dataType"] == "String"
    assert record["messageAttributes"]["count"]["stringValue"] == "3"
    assert record["messageAttributes"]["count"]["dataType"] == "Number"
    assert records[plain["MessageId"]]["messageAttributes"] == {}

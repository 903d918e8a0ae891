"""Each pattern deployed into the embedded local cloud, driven through its real entry point (a queue, a topic, a
bus, a stream, an async invoke), with Lambda's delivery semantics run by eventweave: the assertions are about what
AWS would do (retries, DLQs, destinations, checkpoints, exactly-once effects), counted by the handlers' side effects.
"""

from __future__ import annotations

import json
import uuid

from eventweave.testing import EphemeralStack, wait_until
from tests.e2e.conftest import Effects


def _key(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _dlq_bodies(stack: EphemeralStack, output: str) -> list[dict]:
    return [m["body"] for m in stack.drain(stack.outputs[output])]


def test_queue_worker_retries_only_the_failed_record_and_sends_poison_to_the_dlq_at_once(stack, effects: Effects):
    ok, transient, poison, hopeless = (_key(p) for p in ("ok", "transient", "poison", "hopeless"))
    sqs = stack.client("sqs")
    for work in (
        {"key": ok},
        {"key": transient, "fail": 1},
        {"key": poison, "poison": True},
        {"key": hopeless, "fail": 99},
    ):
        sqs.send_message(QueueUrl=stack.outputs["QueueUrl"], MessageBody=json.dumps(work))

    wait_until(lambda: effects.count("queue", ok) == 1, timeout=20, what="the good record's effect")
    # The transient record failed once, came back after the visibility timeout, and succeeded: one effect.
    wait_until(lambda: effects.count("queue", transient) == 1, timeout=40, what="the transient record's retry")
    assert effects.attempts("queue", transient) == 2
    seen: dict[str, dict] = {}

    def dlq_has_both() -> bool:
        for body in _dlq_bodies(stack, "QueueDlqUrl"):
            # eventweave's poison document wraps the source record; SQS's redrive moves the message as it was.
            is_poison_document = body.get("kind") == "eventweave.poison"
            key = json.loads(body["record"]["body"])["key"] if is_poison_document else body.get("key")
            seen[key] = body
        return poison in seen and hopeless in seen

    wait_until(dlq_has_both, timeout=60, what="the poison and the hopeless record in the DLQ")
    # Poison is never retried; the hopeless record was tried maxReceiveCount (2) times, then SQS redrove it.
    assert effects.attempts("queue", poison) == 1
    assert effects.attempts("queue", hopeless) == 2
    assert seen[poison]["reason"] == "permanent-error"
    assert (effects.count("queue", ok), effects.count("queue", poison), effects.count("queue", hopeless)) == (1, 0, 0)


def test_topic_fan_out_routes_by_filter_policy(stack, effects: Effects):
    express, standard = _key("express"), _key("standard")
    sns = stack.client("sns")
    for key, priority in ((express, "express"), (standard, "standard")):
        sns.publish(
            TopicArn=stack.outputs["FanOutTopicArn"],
            Message=json.dumps({"key": key}),
            MessageAttributes={"priority": {"DataType": "String", "StringValue": priority}},
        )
    wait_until(
        lambda: effects.count("fanout-all", express) == 1 and effects.count("fanout-all", standard) == 1,
        timeout=20,
        what="both orders at the unfiltered subscriber",
    )
    wait_until(lambda: effects.count("fanout-express", express) == 1, timeout=20, what="the express order")
    assert effects.attempts("fanout-express", standard) == 0


def test_topic_function_and_rule_function_are_invoked_asynchronously(stack, effects: Effects):
    on_topic, on_bus = _key("topic"), _key("rule")
    stack.client("sns").publish(TopicArn=stack.outputs["TopicArn"], Message=json.dumps({"key": on_topic}))
    stack.client("events").put_events(
        Entries=[{"Source": "e2e.work", "DetailType": "Work", "Detail": json.dumps({"key": on_bus})}]
    )
    wait_until(lambda: effects.count("topic", on_topic) == 1, timeout=20, what="the SNS-invoked function's effect")
    wait_until(lambda: effects.count("rule", on_bus) == 1, timeout=20, what="the rule-invoked function's effect")


def test_async_failure_is_retried_then_reaches_the_on_failure_destination(stack, effects: Effects):
    good, bad = _key("async-ok"), _key("async-bad")
    lam = stack.client("lambda")
    for work in ({"key": good}, {"key": bad, "fail": 99}):
        response = lam.invoke(
            FunctionName=stack.outputs["AsyncFunction"], InvocationType="Event", Payload=json.dumps(work).encode()
        )
        assert response["StatusCode"] == 202
    wait_until(lambda: effects.count("async", good) == 1, timeout=20, what="the async effect")
    # retry_attempts=1: two attempts, then Lambda's failure record goes to the queue a FailureLog worker drains.
    wait_until(lambda: effects.count("async-failure", bad) == 1, timeout=60, what="the on-failure record")
    assert effects.attempts("async", bad) == 2


def _put(stack: EphemeralStack, shard_key: str, works: list[dict]) -> None:
    kinesis = stack.client("kinesis")
    for work in works:
        kinesis.put_record(
            StreamName=stack.outputs["StreamName"], Data=json.dumps(work).encode(), PartitionKey=shard_key
        )


def _failure_records(stack: EphemeralStack) -> list[dict]:
    return _dlq_bodies(stack, "StreamFailureQueueUrl")


def test_stream_poison_goes_to_the_dlq_and_later_records_keep_their_order(stack, effects: Effects):
    shard_key = _key("pk")
    keys = [_key(f"p{i}") for i in range(5)]
    _put(stack, shard_key, [{"key": k, "poison": i == 2} for i, k in enumerate(keys)])
    wait_until(
        lambda: effects.log("stream", shard_key) == [keys[0], keys[1], keys[3], keys[4]],
        timeout=30,
        what="the records around the poison one, in order",
    )
    poison = wait_until(
        lambda: [b for b in _failure_records(stack) if b.get("kind") == "eventweave.poison"],
        timeout=10,
        what="the poison document",
    )
    assert poison[0]["reason"] == "permanent-error"
    assert effects.attempts("stream", keys[2]) == 1  # never retried


def test_stream_function_error_is_bisected_down_to_the_bad_record(stack, effects: Effects):
    shard_key = _key("pk")
    keys = [_key(f"b{i}") for i in range(5)]
    _put(stack, shard_key, [{"key": k, "crash": 99 if i == 2 else 0} for i, k in enumerate(keys)])
    # The crash fails whole batches; bisecting isolates the crashing record, retries it (2), then gives it up.
    records = wait_until(
        lambda: [b for b in _failure_records(stack) if "KinesisBatchInfo" in b],
        timeout=60,
        what="the on-failure record of the crashing record",
    )
    info = records[0]["KinesisBatchInfo"]
    assert records[0]["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert records[0]["responseContext"]["functionError"] == "Unhandled"
    assert info["batchSize"] == 1
    assert info["startSequenceNumber"] == info["endSequenceNumber"]
    # In the batch of 5 and its half of 3 (splits use no retries), then alone: 1 + MaximumRetryAttempts (2).
    assert effects.attempts("stream", keys[2]) == 5
    # Later records were processed after it, in order (earlier ones may repeat: at-least-once across a retry).
    wait_until(
        lambda: effects.log("stream", shard_key)[-2:] == [keys[3], keys[4]],
        timeout=20,
        what="the records after the bad one",
    )
    log = effects.log("stream", shard_key)
    assert keys[2] not in log
    assert log.index(keys[3]) > log.index(keys[1])


def test_fan_in_completes_exactly_once_under_duplicate_delivery(stack, effects: Effects):
    job = _key("job")
    lam = stack.client("lambda")
    for _ in range(2):  # the same job started twice: its tasks are delivered twice
        lam.invoke(
            FunctionName=stack.outputs["Ventilator"],
            InvocationType="Event",
            Payload=json.dumps({"job": job, "parts": 5}).encode(),
        )
    wait_until(lambda: effects.count("complete", job) >= 1, timeout=60, what="the job's completion")
    wait_until(
        lambda: all(effects.count("part", f"{job}#{i}") >= 1 for i in range(5)), timeout=30, what="every part processed"
    )
    stack.wait_idle(timeout=30)  # every duplicate task has run: a second completion would show up now
    assert effects.count("complete", job) == 1


def test_recursion_guard_stops_a_loop_through_dynamodb_streams(stack, effects: Effects):
    pk = _key("loop")
    stack.client("dynamodb").put_item(TableName=stack.outputs["LoopTable"], Item={"pk": {"S": pk}, "n": {"N": "0"}})
    bodies = wait_until(
        lambda: _dlq_bodies(stack, "LoopFailureQueueUrl"), timeout=90, what="the looping record in the DLQ"
    )
    assert any(b.get("reason") == "recursion-limit" for b in bodies), bodies
    runs = effects.count("loop", pk)
    assert 16 <= runs <= 18
    stack.wait_idle(timeout=30)
    assert effects.count("loop", pk) == runs  # stopped, not still going

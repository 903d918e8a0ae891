"""Checks of the instrument, not of AWS: the quiescence signal (``EphemeralStack.wait_idle``) returns only once
pending work (a retry after a visibility timeout, an async retry, a stream retry) has run. Without this, a scenario
that asserts "X did not happen" after ``wait_idle`` could pass because it looked too early.
"""

from __future__ import annotations

import json

from .conftest import Observations, body, key, settle


def test_wait_idle_waits_for_an_sqs_message_to_come_back_from_its_visibility_timeout(
    conformance, observed: Observations, run
):
    sqs = conformance.client("sqs")
    sqs.send_message(QueueUrl=conformance.outputs["PlainQueueUrl"], MessageBody=body(run, "m", fail=1))
    settle(conformance)
    assert observed.attempts(key(run, "m")) == 2


def test_wait_idle_waits_for_an_async_retry(conformance, observed: Observations, run):
    conformance.client("lambda").invoke(
        FunctionName=conformance.outputs["AsyncFunction"], InvocationType="Event", Payload=body(run, "m", fail=1)
    )
    settle(conformance)
    assert observed.attempts(key(run, "m")) == 2


def test_wait_idle_waits_for_a_stream_retry(conformance, observed: Observations, run):
    conformance.client("kinesis").put_record(
        StreamName=conformance.outputs["BisectStreamName"], Data=body(run, "m", fail=1).encode(), PartitionKey=run
    )
    settle(conformance)
    assert observed.attempts(key(run, "m")) == 2


def test_wait_idle_waits_for_an_sns_delivery_to_a_function(conformance, observed: Observations, run):
    conformance.client("sns").publish(TopicArn=conformance.outputs["TopicArn"], Message=json.dumps({"run": run}))
    settle(conformance)
    assert [i.role for i in observed.invocations(run)] == ["TopicFn"]

"""Asynchronous invocation (InvocationType=Event) with EventInvokeConfig: retries and destinations."""

from __future__ import annotations

import json

from .conftest import Inbox, Observations, body, key, settle


def invoke(stack, text: str) -> None:
    response = stack.client("lambda").invoke(
        FunctionName=stack.outputs["AsyncFunction"], InvocationType="Event", Payload=text.encode()
    )
    assert response["StatusCode"] == 202


def test_async_failure_is_retried_then_reaches_the_on_failure_destination(
    conformance, observed: Observations, run, patience
):
    """A failing asynchronous invocation is retried MaximumRetryAttempts times, then the on-failure destination
    gets the invocation record.

    AWS: https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
    Notes: aws-semantics.md §3
    Expected: with MaximumRetryAttempts 1 the function runs twice; the on-failure queue then receives
    {version "1.0", timestamp, requestContext {requestId, functionArn, condition "RetriesExhausted",
    approximateInvokeCount 2}, requestPayload (the event), responseContext {statusCode 200, executedVersion
    "$LATEST", functionError "Unhandled"}, responsePayload (the error)}, and nothing more happens.
    """
    text = body(run, "m", poison=True)
    invoke(conformance, text)
    record = Inbox(conformance, conformance.outputs["AsyncFailureUrl"], run).wait(
        timeout=patience["async"], what="the on-failure record"
    )[0]["body"]
    settle(conformance)
    assert observed.attempts(key(run, "m")) == 2
    assert set(record) >= {"version", "timestamp", "requestContext", "requestPayload", "responseContext"}
    assert record["version"] == "1.0"
    context = record["requestContext"]
    assert context["requestId"]
    assert context["functionArn"].startswith(conformance.outputs["AsyncFunctionArn"])
    assert context["condition"] == "RetriesExhausted"
    assert context["approximateInvokeCount"] == 2
    assert record["requestPayload"] == json.loads(text)
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert "errorMessage" in record["responsePayload"]
    assert Inbox(conformance, conformance.outputs["AsyncSuccessUrl"], run).collect() == []


def test_async_success_reaches_the_on_success_destination(conformance, observed: Observations, run, patience):
    """A successful asynchronous invocation sends its record to the on-success destination.

    AWS: https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
    Notes: aws-semantics.md §3
    Expected: the on-success queue receives the invocation record with condition "Success", approximateInvokeCount
    1, requestPayload the event, responseContext without functionError, and responsePayload the function's return
    value.
    """
    text = body(run, "m")
    invoke(conformance, text)
    record = Inbox(conformance, conformance.outputs["AsyncSuccessUrl"], run).wait(
        timeout=patience["fast"], what="the on-success record"
    )[0]["body"]
    assert record["version"] == "1.0"
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["requestContext"]["functionArn"].startswith(conformance.outputs["AsyncFunctionArn"])
    assert record["requestPayload"] == json.loads(text)
    assert record["responseContext"]["statusCode"] == 200
    assert "functionError" not in record["responseContext"]
    assert record["responsePayload"] == {"ok": True, "role": "AsyncFn", "records": 1}
    assert observed.attempts(key(run, "m")) == 1

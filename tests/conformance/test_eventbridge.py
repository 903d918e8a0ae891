"""EventBridge rule -> Lambda (asynchronous) and -> SQS: the event envelope."""

from __future__ import annotations

import json
import re

from .conftest import Inbox, Observations

SOURCE = "conformance.test"  # app/stack.py EVENT_SOURCE
ENVELOPE = {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}


def put(stack, run: str) -> str:
    response = stack.client("events").put_events(
        Entries=[
            {
                "EventBusName": stack.outputs["BusName"],
                "Source": SOURCE,
                "DetailType": "Conformance Check",
                "Detail": json.dumps({"run": run, "n": 1}),
                "Resources": ["arn:aws:s3:::conformance-example"],
            }
        ]
    )
    assert response["FailedEntryCount"] == 0, response
    return str(response["Entries"][0]["EventId"])


def check_envelope(stack, event: dict, event_id: str, run: str) -> None:
    assert set(event) == ENVELOPE, f"keys {sorted(event)}"
    assert event["version"] == "0"
    assert event["id"] == event_id
    assert event["detail-type"] == "Conformance Check"
    assert event["source"] == SOURCE
    assert event["account"] == stack.outputs["BusArn"].split(":")[4]
    assert event["region"] == stack.region
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["time"]), event["time"]
    assert event["resources"] == ["arn:aws:s3:::conformance-example"]
    assert event["detail"] == {"run": run, "n": 1}


def test_eventbridge_envelope_at_a_lambda_target(conformance, observed: Observations, run, patience):
    """The event a function gets from an EventBridge rule.

    AWS: https://github.com/awsdocs/amazon-eventbridge-user-guide/blob/main/doc_source/eb-transform-target-input.md
    Notes: aws-semantics.md §5, §14
    Expected: the function is invoked with the envelope {version "0", id, detail-type, source, account, time
    (ISO 8601, seconds, Z), region, resources, detail}: exactly these keys, id the PutEvents EventId, account the
    bus's account.
    """
    event_id = put(conformance, run)
    invocation = observed.wait_for(
        run, lambda found: found[:1], timeout=patience["fast"], what="the rule's function", role="RuleFn"
    )[0]
    check_envelope(conformance, invocation.event, event_id, run)


def test_eventbridge_envelope_at_an_sqs_target(conformance, run, patience):
    """The message an SQS queue gets from an EventBridge rule.

    AWS: https://github.com/awsdocs/amazon-eventbridge-user-guide/blob/main/doc_source/eb-transform-target-input.md
    Notes: aws-semantics.md §5, §14
    Expected: the message body is the same envelope {version "0", id, detail-type, source, account, time, region,
    resources, detail}.
    """
    event_id = put(conformance, run)
    message = Inbox(conformance, conformance.outputs["RuleQueueUrl"], run).wait(
        timeout=patience["fast"], what="the event in the rule's queue"
    )[0]
    check_envelope(conformance, message["body"], event_id, run)

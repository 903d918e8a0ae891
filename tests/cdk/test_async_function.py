"""AsyncFunction: asynchronous invocation with bounded retries, destinations, poison routing and least privilege."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aws_cdk import App, Duration, Environment, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Match

from eventweave.patterns.async_function import AsyncFunction
from examples.showcase.handlers import ApplyLedgerEntry, Charge
from examples.showcase.stream_handlers import Resize, ResizeDone, ResizeFailures
from tests.cdk.harness import ACCOUNT, REGION, Synth, synthesize, wildcard_problems


def _ref(template: dict[str, Any], type_: str, path: str) -> str:
    """Logical id of the resource of ``type_`` at construct path ``path`` (CDK's id: the path plus an 8-digit hash)."""
    ids = [k for k, v in template["Resources"].items() if v["Type"] == type_ and re.fullmatch(path + "[0-9A-F]{8}", k)]
    assert len(ids) == 1, (type_, path, ids)
    return ids[0]


@pytest.fixture(scope="module")
def default() -> Synth:
    return synthesize(lambda stack: AsyncFunction(stack, "Resize", handler=Resize))


@pytest.fixture(scope="module")
def variants() -> Synth:
    def build(stack: Stack) -> None:
        done = AsyncFunction(stack, "Done", handler=ResizeDone, retry_attempts=0, max_event_age=Duration.hours(1))
        AsyncFunction(stack, "ToFunction", handler=Resize, on_success=done)
        bus = events.EventBus(stack, "Results")
        AsyncFunction(stack, "ToBus", handler=Resize, on_success=bus, on_failure=bus)
        AsyncFunction(stack, "Consumed", handler=Resize, failure_consumer=ResizeFailures)

    return synthesize(build, name="Variants")


def test_no_nag_findings_and_no_lint_errors(default: Synth, variants: Synth) -> None:
    assert default.findings == []
    assert default.lint_errors == []
    assert variants.findings == []
    assert variants.lint_errors == []


def test_retries_event_age_and_on_failure_destination(default: Synth) -> None:
    failures = _ref(default.template, "AWS::SQS::Queue", "ResizeFailuresQueue")
    default.assertions.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "MaximumRetryAttempts": 2,
            "MaximumEventAgeInSeconds": 21_600,
            "Qualifier": "$LATEST",
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [failures, "Arn"]}}},
        },
    )
    # The destination replaces the legacy function DLQ: both would receive every failed event.
    function = next(iter(default.resources("AWS::Lambda::Function").values()))
    assert "DeadLetterConfig" not in function["Properties"]


def test_poison_goes_to_the_failure_queue(default: Synth) -> None:
    failures = _ref(default.template, "AWS::SQS::Queue", "ResizeFailuresQueue")
    default.assertions.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "examples.showcase.stream_handlers.resize",
            "Environment": {"Variables": Match.object_like({"EVENTWEAVE_DLQ": {"Ref": failures}})},
            "RecursiveLoop": "Terminate",
        },
    )


def test_failure_queue_keeps_records_fourteen_days_encrypted_and_alarms(default: Synth) -> None:
    default.assertions.has_resource_properties(
        "AWS::SQS::Queue", {"MessageRetentionPeriod": 1_209_600, "SqsManagedSseEnabled": True}
    )
    default.assertions.resource_count_is("AWS::SQS::Queue", 1)
    alarms = {a["Properties"]["MetricName"] for a in default.resources("AWS::CloudWatch::Alarm").values()}
    assert alarms == {"ApproximateNumberOfMessagesVisible", "DestinationDeliveryFailures"}
    denies = [
        s
        for p in default.resources("AWS::SQS::QueuePolicy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    ]
    assert len(denies) == 1


def test_least_privilege(default: Synth, variants: Synth) -> None:
    for synth in (default, variants):
        assert wildcard_problems(synth.policy_statements()) == []
        assert not synth.resources("AWS::IAM::ManagedPolicy")
        for role in synth.resources("AWS::IAM::Role").values():
            assert "ManagedPolicyArns" not in role["Properties"]


def test_function_destination_invokes_exactly_that_function(variants: Synth) -> None:
    done = _ref(variants.template, "AWS::Lambda::Function", "DoneFunction")
    variants.assertions.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "MaximumRetryAttempts": 0,
            "MaximumEventAgeInSeconds": 3600,
            "DestinationConfig": {"OnFailure": Match.any_value()},
        },
    )
    variants.assertions.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "DestinationConfig": {
                "OnSuccess": {"Destination": {"Fn::GetAtt": [done, "Arn"]}},
                "OnFailure": Match.any_value(),
            }
        },
    )
    invokes = [s for s in variants.policy_statements() if s["Action"] == "lambda:InvokeFunction"]
    assert invokes == [
        {"Action": "lambda:InvokeFunction", "Effect": "Allow", "Resource": {"Fn::GetAtt": [done, "Arn"]}}
    ]


def test_event_bus_destinations_and_a_poison_queue_of_their_own(variants: Synth) -> None:
    bus = _ref(variants.template, "AWS::Events::EventBus", "Results")
    variants.assertions.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "DestinationConfig": {
                "OnSuccess": {"Destination": {"Fn::GetAtt": [bus, "Arn"]}},
                "OnFailure": {"Destination": {"Fn::GetAtt": [bus, "Arn"]}},
            }
        },
    )
    puts = [s for s in variants.policy_statements() if s["Action"] == "events:PutEvents"]
    assert puts and all(s["Resource"] == {"Fn::GetAtt": [bus, "Arn"]} for s in puts)
    # A bus cannot take eventweave's poison records (EVENTWEAVE_DLQ is a queue or topic): a failure queue does.
    dead_letters = _ref(variants.template, "AWS::SQS::Queue", "ToBusDeadLettersQueue")
    variants.assertions.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "examples.showcase.stream_handlers.resize",
            "Environment": {"Variables": Match.object_like({"EVENTWEAVE_DLQ": {"Ref": dead_letters}})},
        },
    )


def test_failure_consumer_drains_the_on_failure_queue(variants: Synth) -> None:
    queue = _ref(variants.template, "AWS::SQS::Queue", "ConsumedFailureConsumerQueue")
    dlq = _ref(variants.template, "AWS::SQS::Queue", "ConsumedFailureConsumerQueueDeadLetters")
    variants.assertions.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {"DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [queue, "Arn"]}}}},
    )
    variants.assertions.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [queue, "Arn"]},
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )
    # The invoked function's poison skips the consumer (it expects invocation records) and goes to its DLQ.
    variants.assertions.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "examples.showcase.stream_handlers.resize",
            "Environment": {"Variables": Match.object_like({"EVENTWEAVE_DLQ": {"Ref": dlq}})},
        },
    )


def _stack() -> Stack:
    app = App(context={"aws:cdk:bundling-stacks": []})
    return Stack(app, "Validation", env=Environment(account=ACCOUNT, region=REGION))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"retry_attempts": 3}, ValueError, "retry_attempts must be 0-2"),
        ({"retry_attempts": -1}, ValueError, "retry_attempts must be 0-2"),
        ({"retry_attempts": True}, TypeError, "must be an int"),
        ({"max_event_age": Duration.seconds(59)}, ValueError, "between 60 seconds and 6 hours"),
        ({"max_event_age": Duration.hours(7)}, ValueError, "between 60 seconds and 6 hours"),
        ({"on_failure": object()}, TypeError, "must be an sqs.IQueue"),
        ({"failure_consumer": ResizeFailures, "on_failure": "x"}, ValueError, "not both"),
        ({"failure_consumer": ApplyLedgerEntry}, TypeError, "standard SqsHandler"),
    ],
)
def test_out_of_range_settings_fail_at_construction(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        AsyncFunction(_stack(), "Bad", handler=Resize, **kwargs)


def test_fifo_destinations_and_non_async_handlers_are_refused() -> None:
    stack = _stack()
    fifo = sqs.Queue(stack, "Fifo", fifo=True)
    with pytest.raises(ValueError, match="FIFO queue"):
        AsyncFunction(stack, "Bad", handler=Resize, on_failure=fifo)
    with pytest.raises(TypeError, match=r"Validation/Worker: AsyncFunction needs .* use QueueWorker"):
        AsyncFunction(_stack(), "Worker", handler=Charge)

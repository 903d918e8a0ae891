"""FanOutFanIn: async ventilator -> task queue -> fan-in worker -> one completion; nag-clean, least privilege."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match

from eventweave.patterns.fan_out_fan_in import FanOutFanIn, JobCompletion
from examples.showcase.handlers import Charge
from examples.showcase.job_handlers import AnnounceWordCount, CountWords, SplitDocument
from tests.cdk.harness import Synth, synthesize, wildcard_problems


def _default(stack: Stack) -> None:
    jobs = FanOutFanIn(stack, "WordCount", ventilator=SplitDocument, worker=CountWords, max_concurrency=5)
    client = iam.Role(stack, "Client", assumed_by=iam.AccountRootPrincipal())
    jobs.grant_start(client)
    jobs.grant_read_status(client)


@pytest.fixture(scope="module")
def default() -> Synth:
    return synthesize(_default)


@pytest.fixture(scope="module")
def sink() -> Synth:
    return synthesize(lambda stack: FanOutFanIn(stack, "WordCount", ventilator=SplitDocument, worker=CountWords,
                                                completion=JobCompletion.invoke(AnnounceWordCount), retry_attempts=1),
                      name="Sink")


def _functions(synth: Synth) -> dict[str, dict[str, Any]]:
    return {props["Properties"]["Handler"].rsplit(".", 1)[1]: {"id": logical_id, **props["Properties"]}
            for logical_id, props in synth.resources("AWS::Lambda::Function").items()}


def _statements_of(synth: Synth, function: dict[str, Any]) -> list[dict[str, Any]]:
    role = function["Role"]["Fn::GetAtt"][0]
    out: list[dict[str, Any]] = []
    for policy in synth.resources("AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            out += policy["Properties"]["PolicyDocument"]["Statement"]
    return out


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    return {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}


def test_no_nag_findings_and_no_lint_errors(default: Synth, sink: Synth) -> None:
    assert default.findings == []
    assert sink.findings == []
    assert default.lint_errors == []
    assert sink.lint_errors == []


def test_least_privilege(default: Synth, sink: Synth) -> None:
    for synth in (default, sink):
        assert wildcard_problems(synth.policy_statements()) == []
        assert not synth.resources("AWS::IAM::ManagedPolicy")
        for role in synth.resources("AWS::IAM::Role").values():
            assert "ManagedPolicyArns" not in role["Properties"]
    functions = _functions(default)
    ventilator = _actions(_statements_of(default, functions["split_document"]))
    assert {"dynamodb:PutItem", "dynamodb:GetItem", "sqs:SendMessage"} <= ventilator
    assert not {"dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:DeleteItem"} & ventilator
    worker = _actions(_statements_of(default, functions["count_words"]))
    assert {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:Query",
            "events:PutEvents"} <= worker
    assert not {"dynamodb:Scan", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "lambda:InvokeFunction"} & worker


def test_environment_matches_the_handlers(default: Synth) -> None:
    functions = _functions(default)
    job_table = {"Ref": Match.string_like_regexp("WordCountJobs")}
    default.assertions.has_resource_properties("AWS::Lambda::Function", {
        "Handler": "examples.showcase.job_handlers.split_document",
        "Timeout": 60,
        "Environment": {"Variables": Match.object_like({
            "EVENTWEAVE_JOB_TABLE": job_table,
            "EVENTWEAVE_TASK_QUEUE_URL": {"Ref": Match.string_like_regexp("WordCountTasksQueue")},
            "EVENTWEAVE_DLQ": Match.any_value(),
        })},
    })
    default.assertions.has_resource_properties("AWS::Lambda::Function", {
        "Handler": "examples.showcase.job_handlers.count_words",
        "Environment": {"Variables": Match.object_like({
            "EVENTWEAVE_JOB_TABLE": job_table,
            "EVENTWEAVE_COMPLETION_BUS": Match.any_value(),
            "EVENTWEAVE_DLQ": Match.any_value(),
        })},
    })
    assert "EVENTWEAVE_COMPLETION_FUNCTION" not in functions["count_words"]["Environment"]["Variables"]
    bus = functions["count_words"]["Environment"]["Variables"]["EVENTWEAVE_COMPLETION_BUS"]
    assert "event-bus/default" in str(bus)


def test_ventilator_is_async_with_bounded_retries_and_a_failure_destination(default: Synth) -> None:
    default.assertions.has_resource_properties("AWS::Lambda::EventInvokeConfig", {
        "MaximumRetryAttempts": 2,
        "MaximumEventAgeInSeconds": 21_600,
        "DestinationConfig": {"OnFailure": {"Destination": Match.any_value()}},
    })
    default.assertions.resource_count_is("AWS::Lambda::EventInvokeConfig", 1)


def test_tasks_flow_through_a_durable_queue_with_partial_batch_responses(default: Synth) -> None:
    default.assertions.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "BatchSize": 10,
        "ScalingConfig": {"MaximumConcurrency": 5},
    })
    default.assertions.has_resource_properties("AWS::SQS::Queue", {
        "VisibilityTimeout": 180,
        "RedrivePolicy": {"maxReceiveCount": 5, "deadLetterTargetArn": Match.any_value()},
    })


def test_job_table_matches_fan_in(default: Synth) -> None:
    default.assertions.has_resource("AWS::DynamoDB::Table", {
        "Properties": {
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            "BillingMode": "PAY_PER_REQUEST",
            "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
        },
        "DeletionPolicy": "Retain",
    })


def test_grants_for_clients_are_exact(default: Synth) -> None:
    client = [s for s in default.policy_statements() if s["Action"] == "lambda:InvokeFunction"]
    assert len(client) == 1 and isinstance(client[0]["Resource"], dict)  # the ventilator's ARN, no ":*"
    reads = [s for s in default.policy_statements() if _actions([s]) == {"dynamodb:GetItem", "dynamodb:Query"}]
    assert len(reads) == 1


def test_sink_completion_is_an_async_function_the_worker_may_invoke(sink: Synth) -> None:
    functions = _functions(sink)
    assert set(functions) == {"split_document", "count_words", "announce_word_count"}
    env = functions["count_words"]["Environment"]["Variables"]
    assert env["EVENTWEAVE_COMPLETION_FUNCTION"] == {"Fn::GetAtt": [functions["announce_word_count"]["id"], "Arn"]}
    assert "EVENTWEAVE_COMPLETION_BUS" not in env
    invoke = [s for s in _statements_of(sink, functions["count_words"]) if s["Action"] == "lambda:InvokeFunction"]
    assert [s["Resource"] for s in invoke] == [{"Fn::GetAtt": [functions["announce_word_count"]["id"], "Arn"]}]
    assert "events:PutEvents" not in _actions(_statements_of(sink, functions["count_words"]))
    sink.assertions.resource_count_is("AWS::Lambda::EventInvokeConfig", 2)
    sink.assertions.has_resource_properties("AWS::Lambda::EventInvokeConfig", {"MaximumRetryAttempts": 1})
    # The sink aggregates: it may read the job's results, nothing more.
    sink_env = functions["announce_word_count"]["Environment"]["Variables"]
    assert "EVENTWEAVE_JOB_TABLE" in sink_env
    sink_actions = _actions(_statements_of(sink, functions["announce_word_count"]))
    sink_dynamodb = {a for a in sink_actions if a.startswith("dynamodb:")}
    assert sink_dynamodb == {"dynamodb:GetItem", "dynamodb:Query"}
    # One failure queue for the ventilator and the sink.
    destinations = {str(c["Properties"]["DestinationConfig"]["OnFailure"]["Destination"])
                    for c in sink.resources("AWS::Lambda::EventInvokeConfig").values()}
    assert len(destinations) == 1


def test_wrong_handlers_are_refused_with_the_construct_path() -> None:
    stack = Stack(App(), "Bad")
    with pytest.raises(TypeError, match="Bad/Jobs: ventilator must subclass"):
        FanOutFanIn(stack, "Jobs", ventilator=Charge, worker=CountWords)
    with pytest.raises(TypeError, match="Bad/Jobs2: worker must subclass"):
        FanOutFanIn(stack, "Jobs2", ventilator=SplitDocument, worker=Charge)

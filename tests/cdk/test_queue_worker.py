"""QueueWorker: SQS -> Lambda with partial batch responses, DLQ, visibility timeout and least privilege."""

from __future__ import annotations

import pytest
from aws_cdk import Duration
from aws_cdk.assertions import Match

from eventweave.patterns import QueueWorker
from examples.showcase.handlers import ApplyLedgerEntry, Charge
from tests.cdk.harness import Synth, synthesize, wildcard_problems


@pytest.fixture(scope="module")
def standard() -> Synth:
    return synthesize(lambda stack: QueueWorker(stack, "Billing", handler=Charge, max_concurrency=5,
                                                timeout=Duration.seconds(20)))


@pytest.fixture(scope="module")
def fifo() -> Synth:
    return synthesize(lambda stack: QueueWorker(stack, "Ledger", handler=ApplyLedgerEntry), name="Fifo")


def test_no_nag_findings_and_no_lint_errors(standard: Synth, fifo: Synth) -> None:
    assert standard.findings == []
    assert fifo.findings == []
    assert standard.lint_errors == []
    assert fifo.lint_errors == []


def test_partial_batch_responses_are_on(standard: Synth) -> None:
    standard.assertions.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "BatchSize": 10,
        "ScalingConfig": {"MaximumConcurrency": 5},
    })


def test_visibility_timeout_is_six_times_the_function_timeout(standard: Synth) -> None:
    standard.assertions.has_resource_properties("AWS::Lambda::Function", {"Timeout": 20})
    standard.assertions.has_resource_properties("AWS::SQS::Queue", {
        "VisibilityTimeout": 120,
        "RedrivePolicy": {"maxReceiveCount": 5, "deadLetterTargetArn": Match.any_value()},
    })


def test_dead_letter_queue_keeps_messages_fourteen_days_and_alarms(standard: Synth) -> None:
    standard.assertions.has_resource_properties("AWS::SQS::Queue", {"MessageRetentionPeriod": 1_209_600})
    standard.assertions.resource_count_is("AWS::CloudWatch::Alarm", 2)


def test_queues_are_encrypted_and_tls_only(standard: Synth) -> None:
    for queue in standard.resources("AWS::SQS::Queue").values():
        assert queue["Properties"].get("SqsManagedSseEnabled") or queue["Properties"].get("KmsMasterKeyId")
    policies = standard.resources("AWS::SQS::QueuePolicy")
    denies = [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]
              if s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}]
    assert len(denies) == 2


def test_function_environment_follows_the_handler_contract(standard: Synth) -> None:
    standard.assertions.has_resource_properties("AWS::Lambda::Function", {
        "Handler": "examples.showcase.handlers.charge",
        "Runtime": "python3.14",
        "Architectures": ["arm64"],
        "TracingConfig": {"Mode": "Active"},
        "Environment": {"Variables": Match.object_like({
            "EVENTWEAVE_DLQ": Match.any_value(),
            "EVENTWEAVE_IDEMPOTENCY_TABLE": Match.any_value(),
            "POWERTOOLS_SERVICE_NAME": "Worker",
        })},
        "DeadLetterConfig": {"TargetArn": Match.any_value()},
    })
    standard.assertions.has_resource_properties("AWS::Lambda::Function", {"RecursiveLoop": "Terminate"})
    standard.assertions.has_resource_properties("AWS::DynamoDB::Table", {
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
        "TimeToLiveSpecification": {"AttributeName": "expiration", "Enabled": True},
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
    })


def test_least_privilege(standard: Synth) -> None:
    statements = standard.policy_statements()
    assert wildcard_problems(statements) == []
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert "dynamodb:Scan" not in actions and "dynamodb:Query" not in actions
    assert {"dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"} <= actions
    assert not standard.resources("AWS::IAM::ManagedPolicy")
    for role in standard.resources("AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]


def test_fifo_handler_gets_a_fifo_queue_and_dlq(fifo: Synth) -> None:
    queues = fifo.resources("AWS::SQS::Queue")
    assert len(queues) == 2
    assert all(q["Properties"].get("FifoQueue") for q in queues.values())


def test_contract_mismatches_fail_at_synth() -> None:
    with pytest.raises(ValueError, match="batching window"):
        synthesize(lambda stack: QueueWorker(stack, "W", handler=ApplyLedgerEntry,
                                             max_batching_window=Duration.seconds(1)), name="Bad1")
    with pytest.raises(ValueError, match="max_batching_window"):
        synthesize(lambda stack: QueueWorker(stack, "W", handler=Charge, batch_size=100), name="Bad2")

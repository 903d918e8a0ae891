"""Construct assertions on JobsStack: synthesized once with cdk-nag (AwsSolutions + Serverless) and cfn-lint."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import App, Environment
from aws_cdk.assertions import Match, Template

from eventweave.constructs import add_checks
from examples.jobs.stack import JobsStack

FRONT = "examples.jobs.handlers.front.handler"
WORKER = "examples.jobs.handlers.word_stats.handler"


@dataclass
class Synth:
    template: dict[str, Any]
    assertions: Template
    findings: list[str]
    lint_errors: list[str]

    def resources(self, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == type_}

    def function(self, entry: str) -> dict[str, Any]:
        [found] = [
            {"id": k, **v["Properties"]}
            for k, v in self.resources("AWS::Lambda::Function").items()
            if v["Properties"]["Handler"] == entry
        ]
        return found

    def actions_of(self, entry: str) -> set[str]:
        role = self.function(entry)["Role"]["Fn::GetAtt"][0]
        actions: set[str] = set()
        for policy in self.resources("AWS::IAM::Policy").values():
            if {"Ref": role} in policy["Properties"]["Roles"]:
                for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                    action = statement["Action"]
                    actions |= {action} if isinstance(action, str) else set(action)
        return actions


@pytest.fixture(scope="module")
def synth() -> Synth:
    outdir = tempfile.mkdtemp(prefix="jobs-cdk-")
    app = App(outdir=outdir, context={"aws:cdk:bundling-stacks": []})
    JobsStack(app, "EventweaveJobs", env=Environment(account="123456789012", region="us-east-1"))
    add_checks(app)
    try:
        app.synth()
    except Exception as error:  # cdk-nag findings fail the synth; the report names them
        if "alidation" not in str(error):
            raise
    template = json.loads((Path(outdir) / "EventweaveJobs.template.json").read_text())
    findings: list[str] = []
    report = Path(outdir) / "validation-report.json"
    if report.exists():
        for plugin in json.loads(report.read_text()).get("pluginReports", []):
            findings += [
                f"{violation['ruleName']} at {construct['constructPath']}"
                for violation in plugin.get("violations", [])
                for construct in violation.get("violatingConstructs", [])
            ]
    import cfnlint.api  # type: ignore[import-untyped]

    matches = cfnlint.api.lint(json.dumps(template), regions=["us-east-1"])
    lint_errors = [f"{m.rule.id} {m.message}" for m in matches if m.rule.id.startswith("E")]
    return Synth(template, Template.from_json(template), findings, lint_errors)


def test_no_nag_findings_and_no_lint_errors(synth: Synth) -> None:
    assert synth.findings == []
    assert synth.lint_errors == []


def test_the_front_serves_jobs_behind_an_iam_authenticated_function_url(synth: Synth) -> None:
    synth.assertions.resource_count_is("AWS::Lambda::Url", 1)
    synth.assertions.has_resource_properties(
        "AWS::Lambda::Url", {"AuthType": "AWS_IAM", "TargetFunctionArn": Match.any_value()}
    )
    synth.assertions.resource_count_is("AWS::ApiGatewayV2::Api", 0)
    synth.assertions.resource_count_is("AWS::Lambda::Permission", 0)  # no resource policy opens the front
    front = synth.function(FRONT)
    assert front["Timeout"] == 10
    assert front["Environment"]["Variables"]["EVENTWEAVE_REQUEST_DEADLINE_SECONDS"] == "300"
    assert front["Environment"]["Variables"]["EVENTWEAVE_REQUEST_TTL_SECONDS"] == "86400"
    # Only the client role may call the URL.
    url_callers = [
        s
        for p in synth.resources("AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Action"] == "lambda:InvokeFunctionUrl"
    ]
    assert len(url_callers) == 1
    assert url_callers[0]["Condition"] == {"StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}}


def test_jobs_table_deletes_expired_records_by_ttl_on_expires_at(synth: Synth) -> None:
    [table] = synth.resources("AWS::DynamoDB::Table").values()
    props = table["Properties"]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert table["DeletionPolicy"] == "Delete"  # job records are transient


def test_worker_takes_one_job_at_a_time_from_a_durable_queue(synth: Synth) -> None:
    worker = synth.function(WORKER)
    assert worker["Timeout"] == 2
    synth.assertions.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {"BatchSize": 1, "FunctionResponseTypes": ["ReportBatchItemFailures"]},
    )
    # 6x the worker timeout: a transiently failed job is delivered again after 12 s; 5 receives, then the DLQ.
    synth.assertions.has_resource_properties(
        "AWS::SQS::Queue",
        {"VisibilityTimeout": 12, "RedrivePolicy": {"maxReceiveCount": 5, "deadLetterTargetArn": Match.any_value()}},
    )
    assert "EVENTWEAVE_DLQ" in worker["Environment"]["Variables"]


def test_least_privilege(synth: Synth) -> None:
    front = synth.actions_of(FRONT)
    assert {"dynamodb:PutItem", "dynamodb:GetItem", "sqs:SendMessage"} <= front
    assert not {"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Scan", "sqs:ReceiveMessage"} & front
    worker = synth.actions_of(WORKER)
    assert {"dynamodb:UpdateItem", "sqs:ReceiveMessage", "sqs:DeleteMessage"} <= worker
    assert not {"dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteItem", "dynamodb:Scan"} & worker
    for role in synth.resources("AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]


def test_outputs_the_tests_and_the_demo_use(synth: Synth) -> None:
    assert set(synth.template["Outputs"]) == {
        "JobsUrl",
        "JobsTableName",
        "TaskQueueUrl",
        "DeadLetterQueueUrl",
        "FrontFunctionName",
        "WorkerFunctionName",
        "ClientRoleArn",
    }
    [url_id] = synth.resources("AWS::Lambda::Url")
    assert synth.template["Outputs"]["JobsUrl"]["Value"] == {"Fn::GetAtt": [url_id, "FunctionUrl"]}

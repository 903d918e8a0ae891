"""ReportsStack synthesized with cdk-nag (AwsSolutions + Serverless) and cfn-lint: wiring and least privilege."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import App, Environment
from aws_cdk.assertions import Match, Template

from eventweave.constructs import add_checks
from examples.reports.stack import ReportsStack

MODULE = "examples.reports.handlers"
OUTPUTS = {
    "StartFunction",
    "StatusFunction",
    "AggregatorFunction",
    "ReportsTable",
    "JobTable",
    "TaskQueueUrl",
    "TaskDlqUrl",
    "FailureQueueUrl",
}


class Synth:
    """The synthesized template, its cdk-nag findings and its cfn-lint errors."""

    def __init__(self) -> None:
        outdir = tempfile.mkdtemp(prefix="reports-cdk-")
        app = App(outdir=outdir, context={"aws:cdk:bundling-stacks": []})  # no asset bundling: assertions only
        ReportsStack(app, "Reports", env=Environment(account="123456789012", region="us-east-1"))
        add_checks(app)
        try:
            app.synth()
        except Exception as error:  # findings fail the synth; the report below says which
            if "alidation" not in str(error):
                raise
        self.template: dict[str, Any] = json.loads((Path(outdir) / "Reports.template.json").read_text())
        self.assertions = Template.from_json(self.template)
        self.findings: list[str] = []
        report = Path(outdir) / "validation-report.json"
        if report.exists():
            for plugin in json.loads(report.read_text()).get("pluginReports", []):
                for violation in plugin.get("violations", []):
                    for construct in violation.get("violatingConstructs", []):
                        self.findings.append(f"{violation['ruleName']} at {construct['constructPath']}")
        import cfnlint.api  # type: ignore[import-untyped]

        matches = cfnlint.api.lint(json.dumps(self.template), regions=["us-east-1"])
        self.lint_errors = [f"{m.rule.id} {m.message}" for m in matches if m.rule.id.startswith("E")]

    def resources(self, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == type_}

    def functions(self) -> dict[str, dict[str, Any]]:
        """Module name of each function's handler (``sum_chunk``...) -> logical id and properties."""
        return {
            r["Properties"]["Handler"].removeprefix(f"{MODULE}.").removesuffix(".handler"): {"id": k, **r["Properties"]}
            for k, r in self.resources("AWS::Lambda::Function").items()
        }

    def statements(self, function: str) -> list[dict[str, Any]]:
        role = self.functions()[function]["Role"]["Fn::GetAtt"][0]
        return [
            statement
            for policy in self.resources("AWS::IAM::Policy").values()
            if {"Ref": role} in policy["Properties"]["Roles"]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        ]

    def actions_on(self, function: str, logical_id: str) -> set[str]:
        """Actions ``function``'s role may take on the resource ``logical_id`` (by Ref or GetAtt)."""
        out: set[str] = set()
        for statement in self.statements(function):
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            if logical_id in json.dumps(resources):
                actions = statement["Action"]
                out |= {actions} if isinstance(actions, str) else set(actions)
        return out


@pytest.fixture(scope="module")
def synth() -> Synth:
    return Synth()


def _id(synth: Synth, type_: str, prefix: str) -> str:
    [found] = [k for k in synth.resources(type_) if k.startswith(prefix)]
    return found


def test_nag_clean_and_lint_clean(synth: Synth) -> None:
    assert synth.findings == []
    assert synth.lint_errors == []


def test_four_functions_one_per_handler_module(synth: Synth) -> None:
    assert set(synth.functions()) == {"split_report", "sum_chunk", "write_report", "report_status"}


def test_outputs_name_what_the_tests_and_the_demo_need(synth: Synth) -> None:
    assert set(synth.template["Outputs"]) == OUTPUTS


def test_reports_table_is_kept_encrypted_and_recoverable(synth: Synth) -> None:
    synth.assertions.has_resource(
        "AWS::DynamoDB::Table",
        {
            "Properties": {
                "KeySchema": [{"AttributeName": "report_id", "KeyType": "HASH"}],
                "BillingMode": "PAY_PER_REQUEST",
                "SSESpecification": {"SSEEnabled": True},
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            },
            "DeletionPolicy": "Retain",
        },
    )


def test_the_worker_completes_into_the_aggregator(synth: Synth) -> None:
    functions = synth.functions()
    reports = {"Ref": _id(synth, "AWS::DynamoDB::Table", "Reports")}
    jobs = {"Ref": _id(synth, "AWS::DynamoDB::Table", "BuildJobs")}
    worker_env = functions["sum_chunk"]["Environment"]["Variables"]
    assert worker_env["EVENTWEAVE_COMPLETION_FUNCTION"] == {"Fn::GetAtt": [functions["write_report"]["id"], "Arn"]}
    assert (worker_env["REPORTS_TABLE"], worker_env["EVENTWEAVE_JOB_TABLE"]) == (reports, jobs)
    for name in ("write_report", "report_status"):
        env = functions[name]["Environment"]["Variables"]
        assert (env["REPORTS_TABLE"], env["EVENTWEAVE_JOB_TABLE"]) == (reports, jobs)
    assert functions["sum_chunk"]["Timeout"] == 3


def test_a_failed_chunk_comes_back_after_18_seconds_and_5_receives_end_in_the_dlq(synth: Synth) -> None:
    synth.assertions.has_resource_properties(
        "AWS::SQS::Queue",
        {"VisibilityTimeout": 18, "RedrivePolicy": {"maxReceiveCount": 5, "deadLetterTargetArn": Match.any_value()}},
    )
    synth.assertions.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {"FunctionResponseTypes": ["ReportBatchItemFailures"], "ScalingConfig": {"MaximumConcurrency": 10}},
    )


def test_the_task_dlq_alarms_on_its_first_message(synth: Synth) -> None:
    dlq = _id(synth, "AWS::SQS::Queue", "BuildTasksQueueDeadLetters")
    alarms = [a["Properties"] for a in synth.resources("AWS::CloudWatch::Alarm").values()]
    assert [a for a in alarms if dlq in json.dumps(a.get("Dimensions")) and a["Threshold"] <= 1]


def test_each_function_gets_exactly_the_table_actions_it_uses(synth: Synth) -> None:
    reports = _id(synth, "AWS::DynamoDB::Table", "Reports")
    jobs = _id(synth, "AWS::DynamoDB::Table", "BuildJobs")
    assert synth.actions_on("sum_chunk", reports) == {"dynamodb:UpdateItem"}
    assert synth.actions_on("write_report", reports) == {"dynamodb:UpdateItem"}
    assert synth.actions_on("write_report", jobs) == {"dynamodb:GetItem", "dynamodb:Query"}
    assert synth.actions_on("report_status", reports) == {"dynamodb:GetItem"}
    assert synth.actions_on("report_status", jobs) == {"dynamodb:GetItem", "dynamodb:Query"}
    assert synth.actions_on("split_report", reports) == set()


def test_no_wildcard_actions_and_no_managed_policies(synth: Synth) -> None:
    for name in synth.functions():
        for statement in synth.statements(name):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert not [a for a in actions if a == "*" or a.endswith(":*")], statement
            if statement["Resource"] == "*":
                assert set(actions) <= {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}, statement
    assert not synth.resources("AWS::IAM::ManagedPolicy")
    for role in synth.resources("AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]

"""LedgerStack's template: the tables, the stream mapping, the bus routes, least privilege, cdk-nag and cfn-lint."""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import App, Environment
from aws_cdk.assertions import Match, Template

from eventweave.constructs import add_checks
from examples.ledger.stack import FEE_MAX_HOPS, LedgerStack

# AWS documents no resource-level permissions for these actions: Resource "*" is the only form they take.
ONLY_STAR = {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "dynamodb:ListStreams"}


class Synth:
    """The synthesized stack: its template, CDK assertions, cdk-nag findings and cfn-lint errors."""

    def __init__(self, outdir: str) -> None:
        app = App(outdir=outdir, context={"aws:cdk:bundling-stacks": []})
        LedgerStack(app, "EventweaveLedger", env=Environment(account="123456789012", region="us-east-1"))
        add_checks(app)
        try:
            app.synth()
        except Exception as error:  # nag findings fail the synth; the report below lists them
            if "alidation" not in str(error):
                raise
        self.template: dict[str, Any] = json.loads((Path(outdir) / "EventweaveLedger.template.json").read_text())
        self.assertions = Template.from_json(self.template)
        self.findings: list[str] = []
        report = Path(outdir) / "validation-report.json"
        if report.exists():
            for plugin in json.loads(report.read_text()).get("pluginReports", []):
                self.findings += [
                    f"{violation['ruleName']} at {construct['constructPath']}"
                    for violation in plugin.get("violations", [])
                    for construct in violation.get("violatingConstructs", [])
                ]
        import cfnlint.api  # type: ignore[import-untyped]

        matches = cfnlint.api.lint(json.dumps(self.template), regions=["us-east-1"])
        self.lint_errors = [f"{m.rule.id} {m.message}" for m in matches if m.rule.id.startswith("E")]

    def logical_id(self, type_: str, path: str) -> str:
        """The one resource of ``type_`` whose logical id is ``path`` plus CDK's 8-digit hash."""
        ids: list[str] = [
            k
            for k, v in self.template["Resources"].items()
            if v["Type"] == type_ and re.fullmatch(path + "[0-9A-F]{8}", k)
        ]
        assert len(ids) == 1, (type_, path, ids)
        return ids[0]

    def statements_of(self, role_path: str) -> list[dict[str, Any]]:
        """The IAM statements of the default policy of the role at ``role_path``."""
        role = self.logical_id("AWS::IAM::Role", role_path)
        out: list[dict[str, Any]] = []
        for resource in self.template["Resources"].values():
            if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role} in resource["Properties"]["Roles"]:
                out += resource["Properties"]["PolicyDocument"]["Statement"]
        return out


@pytest.fixture(scope="module")
def synth() -> Synth:
    with tempfile.TemporaryDirectory(prefix="ledger-cdk-") as outdir:
        return Synth(outdir)


def _actions(statements: list[dict[str, Any]], resource_id: str) -> set[str]:
    """Every action granted on the resource ``resource_id`` (by Ref or GetAtt)."""
    found: set[str] = set()
    for statement in statements:
        if resource_id in json.dumps(statement.get("Resource")):
            actions = statement["Action"]
            found |= {actions} if isinstance(actions, str) else set(actions)
    return found


def test_no_nag_findings_and_no_lint_errors(synth: Synth) -> None:
    assert synth.findings == []
    assert synth.lint_errors == []


def test_events_table_is_keyed_by_account_and_version_with_a_new_image_stream_and_is_retained(synth: Synth) -> None:
    events = synth.template["Resources"][synth.logical_id("AWS::DynamoDB::Table", "Events")]
    assert events["Properties"]["KeySchema"] == [
        {"AttributeName": "account_id", "KeyType": "HASH"},
        {"AttributeName": "version", "KeyType": "RANGE"},
    ]
    assert {"AttributeName": "version", "AttributeType": "N"} in events["Properties"]["AttributeDefinitions"]
    assert events["Properties"]["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}
    assert events["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert events["DeletionPolicy"] == "Retain"
    # The projections are rebuilt from the ledger: they go with the stack.
    for path in ("Balances", "Statements"):
        assert synth.template["Resources"][synth.logical_id("AWS::DynamoDB::Table", path)]["DeletionPolicy"] == "Delete"


def test_projection_reads_inserts_of_the_events_stream_and_sends_failures_to_its_queue(synth: Synth) -> None:
    events = synth.logical_id("AWS::DynamoDB::Table", "Events")
    failures = synth.logical_id("AWS::SQS::Queue", "ProjectionFailuresQueue")
    synth.assertions.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [events, "StreamArn"]},
            "FilterCriteria": {"Filters": [{"Pattern": json.dumps({"eventName": ["INSERT"]}, separators=(",", ":"))}]},
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "BisectBatchOnFunctionError": True,
            "ParallelizationFactor": 1,  # one batch per shard at a time: rows of an account stay in order
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [failures, "Arn"]}}},
        },
    )
    synth.assertions.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "examples.ledger.handlers.projector.handler",
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "EVENTWEAVE_DLQ": {"Ref": failures},
                        "LEDGER_BALANCES_TABLE": {"Ref": synth.logical_id("AWS::DynamoDB::Table", "Balances")},
                        "LEDGER_EVENT_BUS": {"Ref": synth.logical_id("AWS::Events::EventBus", "DomainEventsBus")},
                    }
                )
            },
        },
    )


def test_routes_match_the_ledgers_domain_events_on_its_bus(synth: Synth) -> None:
    bus = {"Ref": synth.logical_id("AWS::Events::EventBus", "DomainEventsBus")}
    for detail_type in ("BalanceChanged", "Overdrawn"):
        synth.assertions.has_resource_properties(
            "AWS::Events::Rule",
            {"EventBusName": bus, "EventPattern": {"source": ["ledger"], "detail-type": [detail_type]}},
        )
    synth.assertions.resource_count_is("AWS::Events::Archive", 1)


def test_fee_function_has_a_small_hop_limit_and_an_idempotency_table(synth: Synth) -> None:
    failures = synth.logical_id("AWS::SQS::Queue", "DomainEventsOverdraftFeesHandlerFailuresQueue")
    synth.assertions.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "examples.ledger.handlers.overdraft.handler",
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "EVENTWEAVE_MAX_HOPS": str(FEE_MAX_HOPS),
                        "EVENTWEAVE_DLQ": {"Ref": failures},
                        "EVENTWEAVE_IDEMPOTENCY_TABLE": Match.any_value(),
                        "LEDGER_EVENTS_TABLE": {"Ref": synth.logical_id("AWS::DynamoDB::Table", "Events")},
                    }
                )
            },
        },
    )
    synth.assertions.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {"DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [failures, "Arn"]}}}},
    )


def test_each_function_gets_exactly_the_table_actions_it_uses(synth: Synth) -> None:
    events = synth.logical_id("AWS::DynamoDB::Table", "Events")
    balances = synth.logical_id("AWS::DynamoDB::Table", "Balances")
    statements = synth.logical_id("AWS::DynamoDB::Table", "Statements")
    projection = synth.statements_of("ProjectionWorkerRole")
    fees = synth.statements_of("DomainEventsOverdraftFeesHandlerFunctionRole")
    statement_worker = synth.statements_of("DomainEventsStatementsWorkerRole")

    assert _actions(projection, balances) == {"dynamodb:UpdateItem"}
    assert _actions(projection, f'"{events}", "Arn"') == set()  # reads the stream, never writes the ledger
    assert _actions(fees, f'"{events}", "Arn"') == {"dynamodb:Query", "dynamodb:PutItem"}
    assert _actions(statement_worker, statements) == {"dynamodb:PutItem"}
    assert _actions(fees, balances) == _actions(statement_worker, balances) == set()
    for statement in projection + fees + statement_worker:
        actions = statement["Action"]
        actions = [actions] if isinstance(actions, str) else actions
        assert not any(a == "*" or a.endswith(":*") for a in actions), statement
        if statement["Resource"] == "*":
            assert set(actions) <= ONLY_STAR, statement


def test_outputs_name_everything_the_scenario_reads(synth: Synth) -> None:
    assert set(synth.template["Outputs"]) == {
        "EventsTableName",
        "EventsStreamArn",
        "BalancesTableName",
        "StatementsTableName",
        "EventBusName",
        "ProjectionFunctionName",
        "ProjectionFailureQueueUrl",
        "StatementsDeadLetterQueueUrl",
        "StatementsPoisonQueueUrl",
        "FeeFunctionName",
        "FeeFailureQueueUrl",
    }

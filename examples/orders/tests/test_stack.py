"""OrdersStack synthesized with cdk-nag (AwsSolutions + Serverless) and cfn-lint, and what it provisions."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import App, Environment
from aws_cdk.assertions import Match, Template

from eventweave.constructs import add_checks
from examples.orders.stack import OrdersStack

REGION = "us-east-1"
TABLES = ("Charges", "Shipments", "Notifications", "Failures")


class Synth:
    """The synthesized template, CDK assertions on it, cdk-nag findings and cfn-lint errors (``synth.findings``)."""

    def __init__(self, template: dict[str, Any], findings: list[str], lint_errors: list[str]) -> None:
        self.template = template
        self.assertions = Template.from_json(template)
        self.findings = findings
        self.lint_errors = lint_errors

    def resources(self, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == type_}

    def logical_id(self, type_: str, prefix: str) -> str:
        [found] = [k for k in self.resources(type_) if k.startswith(prefix)]
        return found

    def function(self, prefix: str) -> dict[str, Any]:
        props: dict[str, Any] = self.resources("AWS::Lambda::Function")[
            self.logical_id("AWS::Lambda::Function", prefix)
        ]["Properties"]
        return props

    def statements_of(self, function_prefix: str) -> list[dict[str, Any]]:
        role = self.function(function_prefix)["Role"]["Fn::GetAtt"][0]
        return [
            statement
            for policy in self.resources("AWS::IAM::Policy").values()
            if {"Ref": role} in policy["Properties"]["Roles"]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        ]


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    outdir = tmp_path_factory.mktemp("orders-cdk.out")
    app = App(outdir=str(outdir), context={"aws:cdk:bundling-stacks": []})
    OrdersStack(app, "EventweaveOrders", env=Environment(account="123456789012", region=REGION))
    add_checks(app)
    try:
        app.synth()
    except Exception as error:  # cdk-nag findings fail the synth; the report below lists them
        if "alidation" not in str(error):
            raise
    template = json.loads((outdir / "EventweaveOrders.template.json").read_text())
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

    matches = cfnlint.api.lint(json.dumps(template), regions=[REGION])
    lint = [f"{m.rule.id} {m.message}" for m in matches if m.rule.id.startswith("E")]
    return Synth(template, findings, lint)


def test_no_nag_findings_and_no_lint_errors(synth: Synth) -> None:
    assert synth.findings == []
    assert synth.lint_errors == []


def test_the_bus_is_archived_and_both_rules_match_order_placed_with_a_dlq_each(synth: Synth) -> None:
    synth.assertions.resource_count_is("AWS::Events::EventBus", 1)
    synth.assertions.has_resource_properties("AWS::Events::Archive", {"RetentionDays": 14})
    rules = synth.resources("AWS::Events::Rule")
    assert len(rules) == 2
    for rule in rules.values():
        props = rule["Properties"]
        assert props["EventPattern"] == {"source": ["eventweave.orders"], "detail-type": ["OrderPlaced"]}
        [target] = props["Targets"]
        assert "Arn" in target["DeadLetterConfig"]
        assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}


def test_billing_is_an_idempotent_queue_worker_whose_poison_goes_to_the_failure_log(synth: Synth) -> None:
    billing = synth.function("OrdersBillingWorker")
    env = billing["Environment"]["Variables"]
    assert billing["Timeout"] == 3
    poison_queue = synth.logical_id("AWS::SQS::Queue", "OrdersBillingPoisonQueue")
    assert env["EVENTWEAVE_DLQ"] == {"Ref": poison_queue}
    assert env["CHARGES_TABLE"] == {"Ref": synth.logical_id("AWS::DynamoDB::Table", "Charges")}
    assert "EVENTWEAVE_IDEMPOTENCY_TABLE" in env
    # Retried records come back after 6x the function timeout; after 5 receives SQS moves them to the DLQ.
    queue = synth.resources("AWS::SQS::Queue")[synth.logical_id("AWS::SQS::Queue", "OrdersBillingQueue3")]
    assert queue["Properties"]["VisibilityTimeout"] == 18
    assert queue["Properties"]["RedrivePolicy"]["maxReceiveCount"] == 5
    # The failure log drains the poison queue; what it cannot read goes to a queue of its own.
    synth.assertions.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [poison_queue, "Arn"]},
            "FunctionName": {"Ref": synth.logical_id("AWS::Lambda::Function", "FailureLogWorker")},
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )
    log_env = synth.function("FailureLogWorker")["Environment"]["Variables"]
    assert log_env["EVENTWEAVE_DLQ"] == {"Ref": synth.logical_id("AWS::SQS::Queue", "FailureLogPoison")}


def test_notifications_get_express_orders_only_and_shipping_gets_all(synth: Synth) -> None:
    subscriptions = synth.resources("AWS::SNS::Subscription")
    by_queue = {k.split("Queue")[0]: v["Properties"] for k, v in subscriptions.items()}
    assert by_queue["FulfilmentNotifications"]["FilterPolicy"] == {"detail": {"priority": ["express"]}}
    assert by_queue["FulfilmentNotifications"]["FilterPolicyScope"] == "MessageBody"
    assert "FilterPolicy" not in by_queue["FulfilmentShipping"]
    assert all(props["RawMessageDelivery"] is True for props in by_queue.values())


def test_eventbridge_may_use_the_topic_key_for_rules_of_this_bus_only(synth: Synth) -> None:
    key = synth.logical_id("AWS::KMS::Key", "FulfilmentTopicKey")
    statements = synth.resources("AWS::KMS::Key")[key]["Properties"]["KeyPolicy"]["Statement"]
    [events] = [s for s in statements if s["Principal"] == {"Service": "events.amazonaws.com"}]
    assert sorted(events["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    source = json.dumps(events["Condition"]["ArnLike"]["aws:SourceArn"])
    assert synth.logical_id("AWS::Events::EventBus", "OrdersBus") in source
    assert source.endswith('"/*"]]}')
    synth.assertions.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": "sns:Publish",
                                "Principal": {"Service": "events.amazonaws.com"},
                                "Condition": {"ArnEquals": {"aws:SourceArn": Match.any_value()}},
                            }
                        )
                    ]
                )
            }
        },
    )


@pytest.mark.parametrize(
    ("function", "table", "actions"),
    [
        ("OrdersBillingWorker", "Charges", "dynamodb:UpdateItem"),
        ("FulfilmentShippingWorker", "Shipments", "dynamodb:UpdateItem"),
        ("FulfilmentNotificationsWorker", "Notifications", "dynamodb:PutItem"),
        ("FailureLogWorker", "Failures", "dynamodb:PutItem"),
    ],
)
def test_each_function_writes_its_own_table_with_the_one_call_it_makes(
    synth: Synth, function: str, table: str, actions: str
) -> None:
    service_tables = {synth.logical_id("AWS::DynamoDB::Table", name) for name in TABLES}
    grants = [
        (statement["Action"], statement["Resource"])
        for statement in synth.statements_of(function)
        if any(resource.get("Fn::GetAtt", [None])[0] in service_tables for resource in _resources(statement))
    ]
    assert grants == [(actions, [{"Fn::GetAtt": [synth.logical_id("AWS::DynamoDB::Table", table), "Arn"]}])]


def _resources(statement: dict[str, Any]) -> list[dict[str, Any]]:
    resources = statement["Resource"]
    return [r for r in (resources if isinstance(resources, list) else [resources]) if isinstance(r, dict)]


def test_every_table_is_on_demand_encrypted_with_point_in_time_recovery(synth: Synth) -> None:
    tables = synth.resources("AWS::DynamoDB::Table")
    assert len(tables) == 6  # four of the service, two idempotency tables (billing, notifications)
    for table in tables.values():
        props = table["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["SSESpecification"] == {"SSEEnabled": True}
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_outputs_name_everything_the_scenario_reads(synth: Synth) -> None:
    from examples.orders import scenario

    source = Path(scenario.__file__).read_text()
    outputs = set(synth.template["Outputs"])
    used = {name for name in outputs if f'"{name}"' in source}
    assert {"EventBusName", "ChargesTable", "ShipmentsTable", "NotificationsTable", "FailuresTable"} <= used
    assert {"BillingQueueUrl", "BillingPoisonQueueUrl", "BillingDeadLetterQueueUrl"} <= used

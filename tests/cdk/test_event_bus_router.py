"""EventBusRouter: custom bus, archive, rules to functions / queue workers / topics with retry policies and DLQs."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk import App, Duration, Environment, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Match

from eventweave.handlers import EventBridgeHandler, EventBridgeRecordContext
from eventweave.patterns.event_bus_router import EventBusRouter
from examples.showcase.handlers import ApplyLedgerEntry
from examples.showcase.stream_handlers import Invoicing, Resize, Shipping
from tests.cdk.harness import ACCOUNT, REGION, Synth, synthesize, wildcard_problems


class Catchall(EventBridgeHandler[dict[str, Any]]):
    """No @on_event routes: a pattern cannot be derived from it."""

    def handle(self, detail: dict[str, Any], ctx: EventBridgeRecordContext) -> None:
        return None


def _ref(template: dict[str, Any], type_: str, path: str) -> str:
    """Logical id of the resource of ``type_`` at construct path ``path`` (CDK's id: the path plus an 8-digit hash)."""
    ids = [k for k, v in template["Resources"].items() if v["Type"] == type_ and re.fullmatch(path + "[0-9A-F]{8}", k)]
    assert len(ids) == 1, (type_, path, ids)
    return ids[0]


def _audit_topic(stack: Stack) -> sns.Topic:
    # No key-policy statement for EventBridge here: route_to_topic adds it.
    key = kms.Key(stack, "AuditKey", enable_key_rotation=True)
    return sns.Topic(stack, "Audit", enforce_ssl=True, master_key=key)


@pytest.fixture(scope="module")
def default() -> Synth:
    def build(stack: Stack) -> None:
        router = EventBusRouter(stack, "Orders")
        router.route_to_function("Shipping", handler=Shipping)
        router.route_to_queue_worker("Invoicing", handler=Invoicing)
        router.route_to_topic("Audit", topic=_audit_topic(stack), event_pattern=events.EventPattern(source=["shop"]))

    return synthesize(build)


@pytest.fixture(scope="module")
def variants() -> Synth:
    def build(stack: Stack) -> None:
        bus = events.EventBus(stack, "Shared")
        router = EventBusRouter(stack, "Mine", event_bus=bus, archive=False)
        router.route_to_function(
            "Placed",
            handler=Shipping,
            event_pattern={"detail-type": ["OrderPlaced"], "source": ["shop"]},
            retry_attempts=1,
            max_event_age=Duration.hours(1),
            delivery_retry_attempts=10,
            delivery_max_event_age=Duration.hours(1),
        )
        EventBusRouter(stack, "Short", archive=Duration.days(3))

    return synthesize(build, name="Variants")


def test_no_nag_findings_and_no_lint_errors(default: Synth, variants: Synth) -> None:
    assert default.findings == []
    assert default.lint_errors == []
    assert variants.findings == []
    assert variants.lint_errors == []


def test_custom_bus_archived_for_replay(default: Synth) -> None:
    bus = _ref(default.template, "AWS::Events::EventBus", "OrdersBus")
    default.assertions.has_resource_properties(
        "AWS::Events::Archive",
        {"SourceArn": {"Fn::GetAtt": [bus, "Arn"]}, "RetentionDays": 14, "EventPattern": {"account": [ACCOUNT]}},
    )


def test_every_target_has_a_retry_policy_and_a_dead_letter_queue(default: Synth) -> None:
    rules = default.resources("AWS::Events::Rule")
    assert len(rules) == 3
    for rule in rules.values():
        (target,) = rule["Properties"]["Targets"]
        assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86_400}
        assert "Fn::GetAtt" in target["DeadLetterConfig"]["Arn"]


def test_function_route(default: Synth) -> None:
    function = _ref(default.template, "AWS::Lambda::Function", "OrdersShippingHandlerFunction")
    undelivered = _ref(default.template, "AWS::SQS::Queue", "OrdersShippingUndeliveredQueue")
    failures = _ref(default.template, "AWS::SQS::Queue", "OrdersShippingHandlerFailuresQueue")
    default.assertions.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {"detail-type": ["OrderPlaced", "OrderCancelled"]},
            "Targets": [
                Match.object_like(
                    {
                        "Arn": {"Fn::GetAtt": [function, "Arn"]},
                        "DeadLetterConfig": {"Arn": {"Fn::GetAtt": [undelivered, "Arn"]}},
                    }
                )
            ],
        },
    )
    default.assertions.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "FunctionName": {"Ref": function},
            "MaximumRetryAttempts": 2,
            "MaximumEventAgeInSeconds": 21_600,
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [failures, "Arn"]}}},
        },
    )
    default.assertions.has_resource_properties(
        "AWS::Lambda::Permission",
        {"Principal": "events.amazonaws.com", "FunctionName": {"Fn::GetAtt": [function, "Arn"]}},
    )
    default.assertions.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "examples.showcase.stream_handlers.shipping",
            "Environment": {"Variables": Match.object_like({"EVENTWEAVE_DLQ": {"Ref": failures}})},
        },
    )


def test_queue_worker_route(default: Synth) -> None:
    queue = _ref(default.template, "AWS::SQS::Queue", "OrdersInvoicingQueue")
    dlq = _ref(default.template, "AWS::SQS::Queue", "OrdersInvoicingQueueDeadLetters")
    poison = _ref(default.template, "AWS::SQS::Queue", "OrdersInvoicingPoisonQueue")
    key = _ref(default.template, "AWS::KMS::Key", "OrdersKey")
    default.assertions.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {"detail-type": ["OrderPlaced"]},
            "Targets": [
                Match.object_like(
                    {
                        "Arn": {"Fn::GetAtt": [queue, "Arn"]},
                        "DeadLetterConfig": {"Arn": {"Fn::GetAtt": [dlq, "Arn"]}},
                    }
                )
            ],
        },
    )
    default.assertions.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "KmsMasterKeyId": {"Fn::GetAtt": [key, "Arn"]},
            "VisibilityTimeout": 180,
            "RedrivePolicy": {"maxReceiveCount": 5, "deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]}},
        },
    )
    default.assertions.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {"EventSourceArn": {"Fn::GetAtt": [queue, "Arn"]}, "FunctionResponseTypes": ["ReportBatchItemFailures"]},
    )
    default.assertions.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "examples.showcase.stream_handlers.invoicing",
            "Environment": {"Variables": Match.object_like({"EVENTWEAVE_DLQ": {"Ref": poison}})},
        },
    )
    # EventBridge may send to the queue and its DLQ for these rules only, and use the router's key.
    sends = [
        s
        for p in default.resources("AWS::SQS::QueuePolicy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Principal") == {"Service": "events.amazonaws.com"}
    ]
    assert len(sends) == 4  # function route DLQ, queue, queue DLQ, topic route DLQ
    for statement in sends:
        condition = statement["Condition"]
        assert "aws:SourceArn" in condition.get("ArnEquals", {}) or condition == {
            "StringEquals": {"aws:SourceAccount": ACCOUNT}
        }
    queue_statement = next(s for s in sends if s["Resource"] == {"Fn::GetAtt": [queue, "Arn"]})
    assert queue_statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    key_policy = default.template["Resources"][key]["Properties"]["KeyPolicy"]["Statement"]
    assert any(s["Principal"] == {"Service": "events.amazonaws.com"} for s in key_policy)


def test_topic_route(default: Synth) -> None:
    topic = _ref(default.template, "AWS::SNS::Topic", "Audit")
    undelivered = _ref(default.template, "AWS::SQS::Queue", "OrdersAuditUndeliveredQueue")
    default.assertions.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {"source": ["shop"]},
            "Targets": [
                Match.object_like(
                    {"Arn": {"Ref": topic}, "DeadLetterConfig": {"Arn": {"Fn::GetAtt": [undelivered, "Arn"]}}}
                )
            ],
        },
    )
    # Only this rule may publish (no confused deputy): aws:SourceArn is the rule.
    rule = _ref(default.template, "AWS::Events::Rule", "OrdersAuditRule")
    publishes = [
        {k: v for k, v in st.items() if k != "Sid"}
        for p in default.resources("AWS::SNS::TopicPolicy").values()
        for st in p["Properties"]["PolicyDocument"]["Statement"]
        if st["Effect"] == "Allow"
    ]
    assert publishes == [
        {
            "Action": "sns:Publish",
            "Condition": {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule, "Arn"]}}},
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Resource": {"Ref": topic},
        }
    ]


def test_least_privilege(default: Synth, variants: Synth) -> None:
    for synth in (default, variants):
        statements = synth.policy_statements()
        assert wildcard_problems(statements) == []
        actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
        assert not any(a.startswith("kms:") and a != "kms:Decrypt" for a in actions)
        assert not synth.resources("AWS::IAM::ManagedPolicy")
        for role in synth.resources("AWS::IAM::Role").values():
            assert "ManagedPolicyArns" not in role["Properties"]


def test_bring_your_own_bus_explicit_pattern_and_settings(variants: Synth) -> None:
    bus = _ref(variants.template, "AWS::Events::EventBus", "Shared")
    variants.assertions.resource_count_is("AWS::Events::EventBus", 2)  # Shared and Short's own
    variants.assertions.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventBusName": {"Ref": bus},
            "EventPattern": {"detail-type": ["OrderPlaced"], "source": ["shop"]},
            "Targets": [
                Match.object_like({"RetryPolicy": {"MaximumRetryAttempts": 10, "MaximumEventAgeInSeconds": 3600}})
            ],
        },
    )
    variants.assertions.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig", {"MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 3600}
    )
    archives = variants.resources("AWS::Events::Archive")
    assert [a["Properties"]["RetentionDays"] for a in archives.values()] == [3]


def _router() -> EventBusRouter:
    app = App(context={"aws:cdk:bundling-stacks": []})
    return EventBusRouter(Stack(app, "Validation", env=Environment(account=ACCOUNT, region=REGION)), "R")


def test_handler_pairing_is_checked() -> None:
    router = _router()
    with pytest.raises(TypeError, match=r"Validation/R/Bad: route_to_function needs an EventBridgeHandler.*route_to_q"):
        router.route_to_function("Bad", handler=Invoicing)
    with pytest.raises(TypeError, match=r"route_to_queue_worker needs an SqsHandler.*use route_to_function"):
        router.route_to_queue_worker("Bad", handler=Shipping)
    with pytest.raises(TypeError, match="route_to_function needs an EventBridgeHandler"):
        router.route_to_function("Bad", handler=Resize)
    with pytest.raises(TypeError, match="FIFO handler"):
        router.route_to_queue_worker("Bad", handler=ApplyLedgerEntry)


def test_patterns_are_checked_against_the_handler() -> None:
    router = _router()
    with pytest.raises(ValueError, match=r"no @on_event method for \(it handles"):
        router.route_to_function("A", handler=Shipping, event_pattern=events.EventPattern(detail_type=["Refunded"]))
    with pytest.raises(ValueError, match="matches any detail-type"):
        router.route_to_function("B", handler=Shipping, event_pattern=events.EventPattern(source=["shop"]))
    with pytest.raises(ValueError, match="declares no @on_event detail-types"):
        router.route_to_function("C", handler=Catchall)


def test_out_of_range_settings_fail_at_construction() -> None:
    router = _router()
    with pytest.raises(ValueError, match="delivery_retry_attempts must be 0-185"):
        router.route_to_function("A", handler=Shipping, delivery_retry_attempts=186)
    with pytest.raises(ValueError, match="between 60 seconds and 24 hours"):
        router.route_to_function("A", handler=Shipping, delivery_max_event_age=Duration.hours(25))
    with pytest.raises(ValueError, match="retry_attempts must be 0-2"):
        router.route_to_function("A", handler=Shipping, retry_attempts=3)
    with pytest.raises(ValueError, match="FIFO topics"):
        router.route_to_topic("T", topic=sns.Topic(router, "Fifo", fifo=True), event_pattern={"source": ["x"]})
    router.route_to_topic("T", topic=sns.Topic(router, "Std"), event_pattern={"source": ["x"]})
    with pytest.raises(ValueError, match="exists already"):
        router.route_to_topic("T", topic=sns.Topic(router, "Other"), event_pattern={"source": ["x"]})
    with pytest.raises(TypeError, match="archive must be True, False or a Duration"):
        EventBusRouter(router, "Bad", archive="yes")  # type: ignore[arg-type]


def test_a_topic_route_lets_the_bus_rules_use_the_topics_own_key(default: Synth) -> None:
    key = _ref(default.template, "AWS::KMS::Key", "AuditKey")
    statements = default.template["Resources"][key]["Properties"]["KeyPolicy"]["Statement"]
    granted = [s for s in statements if s.get("Principal") == {"Service": "events.amazonaws.com"}]
    assert len(granted) == 1
    assert sorted(granted[0]["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    source = json.dumps(granted[0]["Condition"]["ArnLike"]["aws:SourceArn"])
    assert ":rule/" in source and "OrdersBus" in source  # this bus's rules only

"""TopicFunction (SNS -> Lambda) and RuleFunction (EventBridge rule -> Lambda): async retries, on-failure destination,
subscription / target dead-letter queues, retry policy, event pattern from the handler."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, Duration, Environment, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Match

from eventweave.patterns.async_function import FailureQueue
from eventweave.patterns.direct_pub_sub import RuleFunction, TopicFunction
from eventweave.patterns.topic_fan_out import SecureTopic
from examples.showcase.pubsub_handlers import ApplyPriceChange, AuditEvent, EmailReceipt, TrackOrders
from tests.cdk.harness import ACCOUNT, REGION, Synth, synthesize, wildcard_problems


def _defaults(stack: Stack) -> None:
    TopicFunction(stack, "Receipts", handler=EmailReceipt,
                  filter_policy={"region": sns.SubscriptionFilter.string_filter(allowlist=["eu"])})
    RuleFunction(stack, "Tracking", handler=TrackOrders)


def _variants(stack: Stack) -> None:
    orders = SecureTopic(stack, "Orders")
    alerts = FailureQueue(stack, "Alerts")
    TopicFunction(stack, "Receipts", handler=EmailReceipt, topic=orders.topic, on_failure=alerts.queue,
                  retry_attempts=0, max_event_age=Duration.hours(1),
                  filter_policy_with_message_body={"amount": sns.FilterOrPolicy.filter(
                      sns.SubscriptionFilter.numeric_filter(greater_than=0))})
    bus = events.EventBus(stack, "Bus")
    RuleFunction(stack, "Audit", handler=AuditEvent, event_bus=bus,
                 event_pattern=events.EventPattern(source=["shop.orders"]),
                 target_retry_attempts=10, target_max_event_age=Duration.hours(2), retry_attempts=1)


@pytest.fixture(scope="module")
def defaults() -> Synth:
    return synthesize(_defaults)


@pytest.fixture(scope="module")
def variants() -> Synth:
    return synthesize(_variants, name="Variants")


def _find(synth: Synth, id: str) -> Any:
    return synth.stack.node.find_child(id)


def _ref(synth: Synth, construct: Any) -> str:
    return synth.stack.get_logical_id(construct.node.default_child)


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def test_no_nag_findings_and_no_lint_errors(defaults: Synth, variants: Synth) -> None:
    assert defaults.findings == []
    assert variants.findings == []
    assert defaults.lint_errors == []
    assert variants.lint_errors == []


def test_least_privilege(defaults: Synth, variants: Synth) -> None:
    for synth in (defaults, variants):
        statements = synth.policy_statements()
        assert wildcard_problems(statements) == []
        assert not any(a.endswith("*") for s in statements for a in _actions(s) if not a.startswith("xray:"))
        assert not synth.resources("AWS::IAM::ManagedPolicy")
        for role in synth.resources("AWS::IAM::Role").values():
            assert "ManagedPolicyArns" not in role["Properties"]


def test_async_invoke_config_sends_failures_to_the_failure_queue(defaults: Synth) -> None:
    for id in ("Receipts", "Tracking"):
        pattern = _find(defaults, id)
        failures = {"Fn::GetAtt": [_ref(defaults, pattern.on_failure), "Arn"]}
        defaults.assertions.has_resource_properties("AWS::Lambda::EventInvokeConfig", {
            "FunctionName": {"Ref": _ref(defaults, pattern.function)},
            "MaximumRetryAttempts": 2,
            "MaximumEventAgeInSeconds": 21_600,
            "DestinationConfig": {"OnFailure": {"Destination": failures}},
        })
        # Poison goes to the same place at once; no legacy function DLQ (it would get every failure a second time).
        defaults.assertions.has_resource_properties("AWS::Lambda::Function", {
            "Environment": {"Variables": Match.object_like({
                "EVENTWEAVE_DLQ": {"Ref": _ref(defaults, pattern.on_failure)},
                "POWERTOOLS_SERVICE_NAME": id,
            })},
            "DeadLetterConfig": Match.absent(),
            "TracingConfig": {"Mode": "Active"},
        })


def test_sns_subscription_has_filter_policy_and_redrive_policy(defaults: Synth) -> None:
    receipts = _find(defaults, "Receipts")
    topic = {"Ref": _ref(defaults, receipts.topic)}
    undelivered = receipts.subscription_dead_letter_queue
    defaults.assertions.has_resource_properties("AWS::SNS::Subscription", {
        "Protocol": "lambda",
        "TopicArn": topic,
        "Endpoint": {"Fn::GetAtt": [_ref(defaults, receipts.function), "Arn"]},
        "FilterPolicy": {"region": ["eu"]},
        "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": [_ref(defaults, undelivered), "Arn"]}},
    })
    defaults.assertions.has_resource_properties("AWS::Lambda::Permission", {
        "Principal": "sns.amazonaws.com", "SourceArn": topic,
    })
    # SNS may send to the subscription DLQ and use its key, for this topic only.
    defaults.assertions.has_resource_properties("AWS::SQS::QueuePolicy", {
        "Queues": [{"Ref": _ref(defaults, undelivered)}],
        "PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Action": "sqs:SendMessage", "Principal": {"Service": "sns.amazonaws.com"},
            "Condition": {"ArnEquals": {"aws:SourceArn": topic}},
        })])},
    })
    key = defaults.template["Resources"][_ref(defaults, receipts.undelivered.key)]
    assert any(s.get("Principal") == {"Service": "sns.amazonaws.com"}
               and s.get("Condition") == {"ArnEquals": {"aws:SourceArn": topic}}
               for s in key["Properties"]["KeyPolicy"]["Statement"])
    # The new topic is encrypted and TLS-only.
    defaults.assertions.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    defaults.assertions.has_resource_properties("AWS::SNS::TopicPolicy", {"PolicyDocument": {"Statement": [
        Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}),
    ]}})


def test_rule_pattern_comes_from_the_handler_and_target_has_dlq_and_retry_policy(defaults: Synth) -> None:
    tracking = _find(defaults, "Tracking")
    undelivered = {"Fn::GetAtt": [_ref(defaults, tracking.target_dead_letter_queue), "Arn"]}
    defaults.assertions.has_resource_properties("AWS::Events::Rule", {
        "EventBusName": "default",
        "EventPattern": {"detail-type": ["OrderPlaced", "OrderCancelled"]},
        "Targets": [Match.object_like({
            "Arn": {"Fn::GetAtt": [_ref(defaults, tracking.function), "Arn"]},
            "DeadLetterConfig": {"Arn": undelivered},
            "RetryPolicy": {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86_400},
        })],
    })
    rule = {"Fn::GetAtt": [_ref(defaults, tracking.rule), "Arn"]}
    defaults.assertions.has_resource_properties("AWS::SQS::QueuePolicy", {
        "Queues": [{"Ref": _ref(defaults, tracking.target_dead_letter_queue)}],
        "PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Action": "sqs:SendMessage", "Principal": {"Service": "events.amazonaws.com"},
            "Condition": {"ArnEquals": {"aws:SourceArn": rule}},
        })])},
    })
    key = defaults.template["Resources"][_ref(defaults, tracking.undelivered.key)]
    assert any(s.get("Principal") == {"Service": "events.amazonaws.com"}
               and set(_actions(s)) >= {"kms:Decrypt"} for s in key["Properties"]["KeyPolicy"]["Statement"])
    defaults.assertions.has_resource_properties("AWS::Lambda::Permission", {
        "Principal": "events.amazonaws.com", "SourceArn": rule,
    })


def test_failure_queues_are_encrypted_tls_only_and_alarmed(defaults: Synth) -> None:
    queues = defaults.resources("AWS::SQS::Queue")
    assert len(queues) == 4  # per pattern: undelivered (subscription / target DLQ) and failures (on-failure)
    for queue in queues.values():
        props = queue["Properties"]
        assert props["MessageRetentionPeriod"] == 1_209_600
        assert props.get("KmsMasterKeyId") or props.get("SqsManagedSseEnabled")
    denies = [s for p in defaults.resources("AWS::SQS::QueuePolicy").values()
              for s in p["Properties"]["PolicyDocument"]["Statement"]
              if s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}]
    assert len(denies) == 4
    # Per pattern: undelivered depth, failures depth, destination delivery failures.
    defaults.assertions.resource_count_is("AWS::CloudWatch::Alarm", 6)


def test_variants_bring_their_own_topic_destination_bus_and_pattern(variants: Synth) -> None:
    receipts = _find(variants, "Receipts")
    alerts = _ref(variants, _find(variants, "Alerts").queue)
    variants.assertions.has_resource_properties("AWS::Lambda::EventInvokeConfig", {
        "FunctionName": {"Ref": _ref(variants, receipts.function)},
        "MaximumRetryAttempts": 0,
        "MaximumEventAgeInSeconds": 3600,
        "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [alerts, "Arn"]}}},
    })
    variants.assertions.has_resource_properties("AWS::Lambda::Function", {
        "Environment": {"Variables": Match.object_like({"EVENTWEAVE_DLQ": {"Ref": alerts}})},
    })
    variants.assertions.has_resource_properties("AWS::SNS::Subscription", {
        "Protocol": "lambda",
        "TopicArn": {"Ref": _ref(variants, _find(variants, "Orders").topic)},
        "FilterPolicy": {"amount": [{"numeric": [">", 0]}]},
        "FilterPolicyScope": "MessageBody",
        "RedrivePolicy": Match.any_value(),
    })
    variants.assertions.has_resource_properties("AWS::Events::Rule", {
        "EventBusName": {"Ref": _ref(variants, _find(variants, "Bus"))},
        "EventPattern": {"source": ["shop.orders"]},
        "Targets": [Match.object_like({
            "DeadLetterConfig": {"Arn": Match.any_value()},
            "RetryPolicy": {"MaximumRetryAttempts": 10, "MaximumEventAgeInSeconds": 7200},
        })],
    })
    variants.assertions.has_resource_properties("AWS::Lambda::EventInvokeConfig", {
        "MaximumRetryAttempts": 1,
        "DestinationConfig": {"OnFailure": {"Destination": Match.any_value()}},
    })
    # Neither pattern created an on-failure queue of its own for Receipts: it sends to the one it was given.
    assert receipts.failure_queue is None
    statements = [s for s in variants.policy_statements() if "sqs:SendMessage" in _actions(s)]
    assert any(s["Resource"] == {"Fn::GetAtt": [alerts, "Arn"]} for s in statements)


def _stack() -> Stack:
    app = App(context={"aws:cdk:bundling-stacks": []})
    return Stack(app, "Errors", env=Environment(account=ACCOUNT, region=REGION))


def test_handler_pairing_is_checked() -> None:
    with pytest.raises(TypeError, match="TopicFunction needs an SnsHandler"):
        TopicFunction(_stack(), "T", handler=TrackOrders)
    with pytest.raises(TypeError, match="RuleFunction needs an EventBridgeHandler"):
        RuleFunction(_stack(), "R", handler=EmailReceipt)
    with pytest.raises(TypeError, match="TopicFunction needs an SnsHandler"):
        TopicFunction(_stack(), "T", handler=ApplyPriceChange)


def test_settings_out_of_range_fail_early() -> None:
    with pytest.raises(ValueError, match="retry_attempts must be 0-2"):
        TopicFunction(_stack(), "T", handler=EmailReceipt, retry_attempts=3)
    with pytest.raises(ValueError, match="max_event_age"):
        RuleFunction(_stack(), "R", handler=TrackOrders, max_event_age=Duration.hours(7))
    with pytest.raises(ValueError, match="target_retry_attempts must be 0-185"):
        RuleFunction(_stack(), "R", handler=TrackOrders, target_retry_attempts=186)
    with pytest.raises(ValueError, match="target_max_event_age"):
        RuleFunction(_stack(), "R", handler=TrackOrders, target_max_event_age=Duration.seconds(30))


def test_patterns_and_topics_the_handler_cannot_serve_are_refused() -> None:
    with pytest.raises(ValueError, match="pass event_pattern"):
        RuleFunction(_stack(), "R", handler=AuditEvent)
    with pytest.raises(ValueError, match=r"\['OrderShipped'\].*no @on_event method"):
        RuleFunction(_stack(), "R", handler=TrackOrders,
                     event_pattern=events.EventPattern(detail_type=["OrderPlaced", "OrderShipped"]))
    stack = _stack()
    with pytest.raises(ValueError, match="FIFO topics deliver to SQS queues only"):
        TopicFunction(stack, "T", handler=EmailReceipt, topic=sns.Topic(stack, "Fifo", fifo=True))
    stack = _stack()
    with pytest.raises(ValueError, match="FIFO"):
        TopicFunction(stack, "T", handler=EmailReceipt, on_failure=sqs.Queue(stack, "Q", fifo=True))
    with pytest.raises(ValueError, match="not both"):
        TopicFunction(_stack(), "T", handler=EmailReceipt,
                      filter_policy={"a": sns.SubscriptionFilter.exists_filter()},
                      filter_policy_with_message_body={"b": sns.FilterOrPolicy.filter(
                          sns.SubscriptionFilter.exists_filter())})

"""TopicFanOut: SNS -> per-subscriber SQS queue (+DLQ, subscription redrive) -> Lambda, standard and FIFO."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, Duration, Environment, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Match

from eventweave.patterns.topic_fan_out import Subscriber, TopicFanOut
from examples.showcase.pubsub_handlers import ApplyPriceChange, EmailReceipt, FlagLargeOrder, ReserveStock
from tests.cdk.harness import ACCOUNT, REGION, Synth, synthesize, wildcard_problems

LARGE = {"amount": sns.FilterOrPolicy.filter(sns.SubscriptionFilter.numeric_filter(greater_than_or_equal_to=1000))}


def _standard(stack: Stack) -> None:
    checkout = iam.Role(stack, "Checkout", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    fan_out = TopicFanOut(
        stack,
        "Orders",
        publishers=[iam.ServicePrincipal("events.amazonaws.com")],
        subscribers=[
            Subscriber("Stock", ReserveStock, max_concurrency=5, timeout=Duration.seconds(20),
                       filter_policy={"region": sns.SubscriptionFilter.string_filter(allowlist=["eu", "us"])}),
        ],
    )
    fan_out.add_subscriber("Large", handler=FlagLargeOrder, filter_policy_with_message_body=LARGE,
                           raw_message_delivery=False)
    fan_out.grant_publish(checkout)


@pytest.fixture(scope="module")
def standard() -> Synth:
    return synthesize(_standard)


@pytest.fixture(scope="module")
def fifo() -> Synth:
    return synthesize(lambda stack: TopicFanOut(stack, "Prices", fifo=True, content_based_deduplication=True,
                                                subscribers=[Subscriber("Apply", ApplyPriceChange)]), name="Fifo")


def _fan_out(synth: Synth, id: str) -> TopicFanOut:
    construct = synth.stack.node.find_child(id)
    assert isinstance(construct, TopicFanOut)
    return construct


def _ref(synth: Synth, construct: Any) -> str:
    return synth.stack.get_logical_id(construct.node.default_child)


def _statements(resource: dict[str, Any], key: str = "KeyPolicy") -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = resource["Properties"][key]["Statement"]
    return statements


def test_no_nag_findings_and_no_lint_errors(standard: Synth, fifo: Synth) -> None:
    assert standard.findings == []
    assert fifo.findings == []
    assert standard.lint_errors == []
    assert fifo.lint_errors == []


def test_least_privilege(standard: Synth, fifo: Synth) -> None:
    for synth in (standard, fifo):
        statements = synth.policy_statements()
        assert wildcard_problems(statements) == []
        assert not any(a.endswith("*") for s in statements for a in _actions(s) if not a.startswith("xray:"))
        assert not synth.resources("AWS::IAM::ManagedPolicy")
        for role in synth.resources("AWS::IAM::Role").values():
            assert "ManagedPolicyArns" not in role["Properties"]


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def test_topic_is_encrypted_tls_only_and_signed_with_sha256(standard: Synth) -> None:
    fan_out = _fan_out(standard, "Orders")
    standard.assertions.resource_count_is("AWS::SNS::Topic", 1)
    standard.assertions.has_resource_properties("AWS::SNS::Topic", {
        "KmsMasterKeyId": {"Fn::GetAtt": [_ref(standard, fan_out.key), "Arn"]},
        "SignatureVersion": "2",
    })
    tls_only = Match.object_like({"Effect": "Deny", "Action": "sns:Publish",
                                  "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
    standard.assertions.has_resource_properties("AWS::SNS::TopicPolicy", {
        "PolicyDocument": {"Statement": Match.array_with([tls_only])},
    })


def test_publishers_may_publish_and_use_the_topic_key(standard: Synth) -> None:
    fan_out = _fan_out(standard, "Orders")
    topic_key = standard.template["Resources"][_ref(standard, fan_out.key)]
    assert any(s.get("Principal") == {"Service": "events.amazonaws.com"}
               and sorted(_actions(s)) == ["kms:Decrypt", "kms:GenerateDataKey"] for s in _statements(topic_key))
    allow = Match.object_like({"Effect": "Allow", "Action": "sns:Publish",
                               "Principal": {"Service": "events.amazonaws.com"}})
    standard.assertions.has_resource_properties("AWS::SNS::TopicPolicy", {
        "PolicyDocument": {"Statement": Match.array_with([allow])},
    })
    role_statements = [s for k, r in standard.resources("AWS::IAM::Policy").items() if k.startswith("Checkout")
                       for s in r["Properties"]["PolicyDocument"]["Statement"]]
    assert {a for s in role_statements for a in _actions(s)} == {"sns:Publish", "kms:GenerateDataKey", "kms:Decrypt"}


def test_subscriptions_carry_filter_policies_raw_delivery_and_redrive(standard: Synth) -> None:
    fan_out = _fan_out(standard, "Orders")
    stock, large = fan_out.subscribers
    topic = {"Ref": _ref(standard, fan_out.topic)}
    standard.assertions.resource_count_is("AWS::SNS::Subscription", 2)
    standard.assertions.has_resource_properties("AWS::SNS::Subscription", {
        "Protocol": "sqs",
        "TopicArn": topic,
        "Endpoint": {"Fn::GetAtt": [_ref(standard, stock.queue), "Arn"]},
        "RawMessageDelivery": True,
        "FilterPolicy": {"region": ["eu", "us"]},
        "FilterPolicyScope": Match.absent(),
        "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": [_ref(standard, stock.subscription_dead_letter_queue),
                                                                 "Arn"]}},
    })
    standard.assertions.has_resource_properties("AWS::SNS::Subscription", {
        "Endpoint": {"Fn::GetAtt": [_ref(standard, large.queue), "Arn"]},
        "RawMessageDelivery": False,
        "FilterPolicy": {"amount": [{"numeric": [">=", 1000]}]},
        "FilterPolicyScope": "MessageBody",
        "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": [_ref(standard, large.subscription_dead_letter_queue),
                                                                 "Arn"]}},
    })


def test_sns_may_use_each_subscriber_key_for_this_topic_only(standard: Synth) -> None:
    fan_out = _fan_out(standard, "Orders")
    topic = {"Ref": _ref(standard, fan_out.topic)}
    for subscriber in fan_out.subscribers:
        key = standard.template["Resources"][_ref(standard, subscriber.key)]
        sns_statements = [s for s in _statements(key) if s.get("Principal") == {"Service": "sns.amazonaws.com"}]
        assert sns_statements, f"{subscriber.node.path}: SNS cannot use the queue key"
        for statement in sns_statements:
            assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": topic}}
            assert set(_actions(statement)) <= {"kms:Decrypt", "kms:GenerateDataKey", "kms:GenerateDataKey*"}
        # The queue, its DLQ and the subscription's DLQ share the key.
        for queue in (subscriber.queue, subscriber.dead_letter_queue, subscriber.subscription_dead_letter_queue):
            props = standard.template["Resources"][_ref(standard, queue)]["Properties"]
            assert props["KmsMasterKeyId"] == {"Fn::GetAtt": [_ref(standard, subscriber.key), "Arn"]}
        # SNS may send to the queue and to the subscription DLQ, for this topic only.
        for queue in (subscriber.queue, subscriber.subscription_dead_letter_queue):
            standard.assertions.has_resource_properties("AWS::SQS::QueuePolicy", {
                "Queues": [{"Ref": _ref(standard, queue)}],
                "PolicyDocument": {"Statement": Match.array_with([Match.object_like({
                    "Effect": "Allow", "Action": "sqs:SendMessage", "Principal": {"Service": "sns.amazonaws.com"},
                    "Condition": {"ArnEquals": {"aws:SourceArn": topic}},
                })])},
            })


def test_each_subscriber_is_a_queue_worker(standard: Synth) -> None:
    fan_out = _fan_out(standard, "Orders")
    stock, large = fan_out.subscribers
    standard.assertions.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "EventSourceArn": {"Fn::GetAtt": [_ref(standard, stock.queue), "Arn"]},
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "BatchSize": 10,
        "ScalingConfig": {"MaximumConcurrency": 5},
    })
    standard.assertions.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "EventSourceArn": {"Fn::GetAtt": [_ref(standard, large.queue), "Arn"]},
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
    })
    standard.assertions.has_resource_properties("AWS::SQS::Queue", {
        "VisibilityTimeout": 120,  # 6 x the 20 s function timeout
        "RedrivePolicy": {"maxReceiveCount": 5,
                          "deadLetterTargetArn": {"Fn::GetAtt": [_ref(standard, stock.dead_letter_queue), "Arn"]}},
    })
    for subscriber, entry in ((stock, "reserve_stock"), (large, "flag_large_order")):
        standard.assertions.has_resource_properties("AWS::Lambda::Function", {
            "Handler": f"examples.showcase.pubsub_handlers.{entry}",
            "Environment": {"Variables": Match.object_like({
                "EVENTWEAVE_DLQ": {"Ref": _ref(standard, subscriber.dead_letter_queue)},
                "POWERTOOLS_SERVICE_NAME": subscriber.node.id,
            })},
        })


def test_every_failure_path_alarms(standard: Synth) -> None:
    # Per subscriber: its DLQ depth, its oldest message age, the subscription DLQ depth.
    standard.assertions.resource_count_is("AWS::CloudWatch::Alarm", 6)
    for queue in standard.resources("AWS::SQS::Queue").values():
        assert queue["Properties"].get("KmsMasterKeyId")
    denies = [s for p in standard.resources("AWS::SQS::QueuePolicy").values()
              for s in p["Properties"]["PolicyDocument"]["Statement"]
              if s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}]
    assert len(denies) == 6


def test_fifo_topic_feeds_fifo_queues(fifo: Synth) -> None:
    fifo.assertions.has_resource_properties("AWS::SNS::Topic", {
        "FifoTopic": True,
        "ContentBasedDeduplication": True,
        "TopicName": Match.string_like_regexp(r"\.fifo$"),
    })
    queues = fifo.resources("AWS::SQS::Queue")
    assert len(queues) == 3  # queue, its DLQ, the subscription DLQ
    assert all(q["Properties"].get("FifoQueue") for q in queues.values())
    fifo.assertions.has_resource_properties("AWS::SNS::Subscription", {
        "RawMessageDelivery": True,
        "RedrivePolicy": {"deadLetterTargetArn": Match.any_value()},
    })
    fifo.assertions.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
    })


def _stack() -> Stack:
    app = App(context={"aws:cdk:bundling-stacks": []})
    return Stack(app, "Errors", env=Environment(account=ACCOUNT, region=REGION))


def test_handler_and_topic_must_agree() -> None:
    with pytest.raises(TypeError, match="make ReserveStock an SqsFifoHandler"):
        TopicFanOut(_stack(), "F", fifo=True, subscribers=[Subscriber("S", ReserveStock)])
    with pytest.raises(TypeError, match="cannot deliver to FIFO queues"):
        TopicFanOut(_stack(), "F", subscribers=[Subscriber("S", ApplyPriceChange)])
    with pytest.raises(TypeError, match=r"Errors/F/S: .*need an SqsHandler.*TopicFunction"):
        TopicFanOut(_stack(), "F").add_subscriber("S", handler=EmailReceipt)


def test_option_conflicts_fail_early() -> None:
    with pytest.raises(ValueError, match="not both"):
        TopicFanOut(_stack(), "F").add_subscriber("S", handler=ReserveStock, filter_policy_with_message_body=LARGE,
                                                  filter_policy={"region": sns.SubscriptionFilter.exists_filter()})
    stack = _stack()
    standard_topic = sns.Topic(stack, "Existing")
    with pytest.raises(ValueError, match="standard topic"):
        TopicFanOut(stack, "F", topic=standard_topic, fifo=True)

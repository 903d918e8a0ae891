"""The reference resolution the rules share, on hand-written templates (no synth): the shapes other tools and
hand-written CloudFormation produce, which a CDK app's own constructs rarely do."""

from __future__ import annotations

from typing import Any

import pytest

from eventweave.nag import Model, evaluate

QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:orders"


def _model(resources: dict[str, Any], **more: dict[str, Any]) -> Model:
    templates = {"main.json": ("Main", {"Resources": resources})}
    for name, body in more.items():
        templates[f"{name}.json"] = (name, body)
    return Model(templates)


def _function(timeout: int = 30, **props: Any) -> dict[str, Any]:
    return {"Type": "AWS::Lambda::Function", "Properties": {"Timeout": timeout, **props}}


def _rules(model: Model) -> set[tuple[str, str]]:
    return {(rule.id, resource.logical_id) for rule, resource, _ in evaluate(model)}


def test_a_literal_arn_names_a_queue_by_its_name() -> None:
    model = _model({
        "Orders": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "orders", "VisibilityTimeout": 10}},
        "Fn": _function(),
        "Esm": {
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {"EventSourceArn": QUEUE_ARN, "FunctionName": {"Ref": "Fn"},
                           "FunctionResponseTypes": ["ReportBatchItemFailures"]},
        },
    })
    assert _rules(model) == {("QueueRedrivePolicy", "Orders"), ("QueueVisibilityBelowFunctionTimeout", "Orders")}


def test_a_redrive_policy_written_as_a_json_string_counts() -> None:
    model = _model({
        "Orders": {"Type": "AWS::SQS::Queue", "Properties": {
            "VisibilityTimeout": 180,
            "RedrivePolicy": '{"deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:dlq", "maxReceiveCount": 5}',
        }},
        "Fn": _function(),
        "Esm": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
            "EventSourceArn": {"Fn::GetAtt": ["Orders", "Arn"]}, "FunctionName": {"Ref": "Fn"},
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        }},
    })
    assert _rules(model) == set()


def test_a_function_behind_an_alias_and_a_sub_reference() -> None:
    model = _model({
        "Orders": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 30}},
        "Fn": _function(timeout=60),
        "Live": {"Type": "AWS::Lambda::Alias", "Properties": {"FunctionName": {"Ref": "Fn"}, "Name": "live"}},
        "Esm": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
            "EventSourceArn": {"Fn::Sub": "${Orders.Arn}"}, "FunctionName": {"Ref": "Live"},
        }},
    })
    assert ("QueueVisibilityBelowFunctionTimeout", "Orders") in _rules(model)


@pytest.mark.parametrize("visibility", [{"Ref": "VisibilityParameter"}, {"Fn::If": ["Prod", 900, 30]}])
def test_values_only_known_at_deploy_time_are_not_guessed(visibility: Any) -> None:
    model = _model({
        "Orders": {"Type": "AWS::SQS::Queue", "Properties": {
            "VisibilityTimeout": visibility, "RedrivePolicy": {"deadLetterTargetArn": "arn:aws:sqs:::dlq"},
        }},
        "Fn": _function(timeout=60),
        "Esm": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
            "EventSourceArn": {"Fn::GetAtt": ["Orders", "Arn"]}, "FunctionName": {"Ref": "Fn"},
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        }},
    })
    assert _rules(model) == set()


def test_an_imported_stream_is_still_a_stream_by_its_arn() -> None:
    model = _model({
        "Fn": _function(),
        "Esm": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
            "EventSourceArn": {"Fn::Join": ["", ["arn:aws:kinesis:", {"Ref": "AWS::Region"}, ":123:stream/clicks"]]},
            "FunctionName": {"Ref": "Fn"}, "StartingPosition": "LATEST",
        }},
    })
    assert _rules(model) == {
        ("StreamFailureDestination", "Esm"), ("StreamBoundedRetries", "Esm"), ("StreamBisectBatch", "Esm")
    }


def test_odd_shapes_do_not_break_a_rule() -> None:
    model = _model({
        "Rule": {"Type": "AWS::Events::Rule", "Properties": {"Targets": "not-a-list"}},
        "Sub": {"Type": "AWS::SNS::Subscription", "Properties": {"Protocol": {"Ref": "Proto"}}},
        "Esm": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {}},
        "Machine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {"DefinitionString": "{not json"}},
    })
    assert _rules(model) == set()

"""EventBridge target input (``Input``, ``InputPath``, ``InputTransformer``) as eventweave renders it
(:func:`eventweave.local.invocations.transform_input`, JSONPath by jsonpath-ng), and the push relay
(:class:`eventweave.local.invocations.PushRelay`) delivering EventBridge and SNS to a (fake) Lambda function and
EventBridge to an SNS topic, against the embedded data plane.

Sources: the EventBridge user guide "Transforming target input" (eb-transform-target-input; its examples table is the
first table below, event and rule as in the guide) and API_InputTransformer; shared/notes/aws-semantics.md section
14 (predefined variables, quoting, missing paths, minified output), section 5 (EventBridge invokes Lambda
asynchronously; retry policy 0-185 / 60-86,400 s; DLQ attributes ``RULE_ARN``, ``TARGET_ARN``, ``ERROR_CODE``,
``ERROR_MESSAGE``) and section 4 (SNS -> Lambda record: ``EventSource``, ``EventVersion``, ``EventSubscriptionArn``,
``Sns`` with ``...Url`` casing and ``Subject`` null when absent).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eventweave.local.aws import client
from eventweave.local.gateway import DataPlane
from eventweave.local.invocations import AsyncInvoker, PushRelay, json_path, transform_input
from eventweave.local.model import PushTarget
from eventweave.testing import wait_until
from eventweave.wire.eventbridge import ENVELOPE_KEYS

from ._delivery_fakes import ACCOUNT, REGION, FakeInvoker, depth, new_queue, new_topic_into_queue, receive

RULE_ARN = "arn:aws:events:us-east-2:123456789012:rule/example"
EVENT: dict[str, Any] = {
    "version": "0",
    "id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "123456789012",
    "time": "2015-11-11T21:29:54Z",
    "region": "us-east-1",
    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
    "detail": {
        "instance-id": "i-0123456789",
        "state": "RUNNING",
        "count": 3,
        "tags": [{"k": "a"}, {"k": "b"}],
        "quote": 'say "hi"',
        "a/b": "slash",
    },
}
PATHS = {
    "timestamp": "$.time",
    "instance": "$.detail.instance-id",
    "state": "$.detail.state",
    "count": "$.detail.count",
    "tags": "$.detail.tags",
    "first": "$.detail.tags[0].k",
    "keys": "$.detail.tags[*].k",
    "quote": "$.detail.quote",
    "missing": "$.detail.no-such-field",
}
WITHOUT_DETAIL = {k: v for k, v in EVENT.items() if k != "detail"}


def transformed(template: str, paths: dict[str, str] | None = None) -> str:
    spec = {"InputTransformer": {"InputPathsMap": PATHS if paths is None else paths, "InputTemplate": template}}
    return transform_input(EVENT, spec, RULE_ARN)


# -- the user guide's examples ---------------------------------------------------------------------------------------

GUIDE = [
    ("simple string", '"instance <instance> is in <state>"', '"instance i-0123456789 is in RUNNING"'),
    (
        "string with escaped quotes",
        '"instance \\"<instance>\\" is in <state>"',
        '"instance \\"i-0123456789\\" is in RUNNING"',
    ),
    (
        "simple JSON",
        '{\n  "instance" : <instance>,\n  "state": <state>\n}',
        '{"instance":"i-0123456789","state":"RUNNING"}',
    ),
    (
        "JSON with strings and variables",
        '{\n "instance" : <instance>,\n "state": "<state>",\n'
        ' "instanceStatus": "instance \\"<instance>\\" is in <state>"\n}',
        '{"instance":"i-0123456789","state":"RUNNING","instanceStatus":"instance \\"i-0123456789\\" is in RUNNING"}',
    ),
    (
        "JSON with a mix of variables and static information",
        '{\n  "instance" : <instance>,\n  "state": [ 9, <state>, true ],\n  "Transformed" : "Yes"\n}',
        '{"instance":"i-0123456789","state":[9,"RUNNING",true],"Transformed":"Yes"}',
    ),
    ("reserved variables in a string", '"<aws.events.rule-name> triggered"', '"example triggered"'),
]


@pytest.mark.parametrize(("template", "output"), [c[1:] for c in GUIDE], ids=[c[0] for c in GUIDE])
def test_the_guides_examples_render_as_documented(template: str, output: str) -> None:
    """Outputs as the guide's table shows them, minified ("The JSON that is passed to the target is minified")."""
    assert transformed(template) == output


def test_reserved_variables_in_json() -> None:
    """The guide's "Including reserved variables in JSON": rule ARN and name quoted; ``<aws.events.event>`` is the
    original event without ``detail`` and ``<aws.events.event.json>`` the whole event, both as JSON values."""
    out = json.loads(
        transformed(
            '{"instance": <instance>, "state": <state>, "ruleArn": <aws.events.rule-arn>, '
            '"ruleName": <aws.events.rule-name>, "originalEvent": <aws.events.event>, '
            '"whole": <aws.events.event.json>, "at": <aws.events.event.ingestion-time>}'
        )
    )
    assert out == {
        "instance": "i-0123456789",
        "state": "RUNNING",
        "ruleArn": RULE_ARN,
        "ruleName": "example",
        "originalEvent": WITHOUT_DETAIL,
        "whole": EVENT,
        "at": EVENT["time"],
    }


# -- the rendering rules --------------------------------------------------------------------------------------------

RULES = [
    # values as JSON values: strings quoted (and escaped), the rest as minified JSON
    ("a string value is quoted", '{"v": <state>}', {"v": "RUNNING"}),
    ("a number stays a number", '{"v": <count>}', {"v": 3}),
    ("an array stays an array", '{"v": <tags>}', {"v": [{"k": "a"}, {"k": "b"}]}),
    ("an array index", '{"v": <first>}', {"v": "a"}),
    ("a wildcard selects every match", '{"v": <keys>}', {"v": ["a", "b"]}),
    ("a quote inside a string value stays valid JSON", '{"v": <quote>}', {"v": 'say "hi"'}),
    ("a value inside a JSON string is its bare text", '{"v": "n=<count> s=<state>"}', {"v": "n=3 s=RUNNING"}),
    ("an array's text inside a JSON string", '{"v": "<keys>"}', {"v": '["a","b"]'}),
    ("a quote inside a JSON string stays valid JSON", '{"v": "<quote>!"}', {"v": 'say "hi"!'}),
    ("an array template", "[<state>, <count>]", ["RUNNING", 3]),
    # a path that matches nothing creates no variable: null as a value, nothing inside a string
    ("a missing path is null as a JSON value", '{"v": <missing>}', {"v": None}),
    ("a missing path is empty inside a JSON string", '{"v": "[<missing>]"}', {"v": "[]"}),
    # placeholders the map does not define are left alone
    ("an undefined placeholder inside a string is kept", '{"v": "<b>bold</b>"}', {"v": "<b>bold</b>"}),
    # predefined variables cannot be overridden
    ("a predefined variable wins over the map", '{"v": <aws.events.rule-name>}', {"v": "example"}),
]


@pytest.mark.parametrize(("template", "expected"), [c[1:] for c in RULES], ids=[c[0] for c in RULES])
def test_json_templates(template: str, expected: Any) -> None:
    paths = {**PATHS, "aws.events.rule-name": "$.detail.state"}
    out = transformed(template, paths)
    assert json.loads(out) == expected
    assert out == json.dumps(expected, separators=(",", ":"), ensure_ascii=False)  # minified


TEXT = [
    (
        "a text template inserts strings bare",
        "instance <instance> is in <state>",
        "instance i-0123456789 is in RUNNING",
    ),
    ("a text template keeps its spacing", "  <state>  and  <count>  ", "  RUNNING  and  3  "),
    ("a lone placeholder is text", "<state>", "RUNNING"),
    ("a non-string value in text is its JSON", "tags: <tags>", 'tags: [{"k":"a"},{"k":"b"}]'),
    ("a missing path in text is empty", "(<missing>)", "()"),
    ("quotes in a text template are text", 'said <quote> to "<state>" ok', 'said say "hi" to "RUNNING" ok'),
    ("something JSON-like that does not parse is text", '{"v": <state> oops', '{"v": RUNNING oops'),
    ("an undefined placeholder in text is kept", "<state> <undefined>", "RUNNING <undefined>"),
]


@pytest.mark.parametrize(("template", "expected"), [c[1:] for c in TEXT], ids=[c[0] for c in TEXT])
def test_text_templates(template: str, expected: str) -> None:
    assert transformed(template) == expected


TARGET_INPUT = [
    ("no transform: the event", None, EVENT),
    ("Input: the constant, as given", {"Input": '{"job": "nightly"}'}, {"job": "nightly"}),
    ("InputPath $.detail", {"InputPath": "$.detail"}, EVENT["detail"]),
    ("InputPath $", {"InputPath": "$"}, EVENT),
    ("InputPath to a string", {"InputPath": "$.detail.state"}, "RUNNING"),
    ("InputPath with a wildcard", {"InputPath": "$.detail.tags[*].k"}, ["a", "b"]),
    ("InputPath that matches nothing", {"InputPath": "$.detail.nothing"}, None),
]


@pytest.mark.parametrize(("transform", "expected"), [c[1:] for c in TARGET_INPUT], ids=[c[0] for c in TARGET_INPUT])
def test_input_and_input_path(transform: dict[str, Any] | None, expected: Any) -> None:
    assert json.loads(transform_input(EVENT, transform, RULE_ARN)) == expected


def test_input_is_passed_through_byte_for_byte() -> None:
    constant = '{ "spaced" : "as written" }'
    assert transform_input(EVENT, {"Input": constant}, RULE_ARN) == constant


PATH_CASES = [
    ("$", EVENT),
    ("$.detail.instance-id", "i-0123456789"),
    ("$.detail-type", "EC2 Instance State-change Notification"),
    ("$.resources[0]", EVENT["resources"][0]),
    ("$.detail.tags[1].k", "b"),
    ("$.detail.tags[*].k", ["a", "b"]),
    ("$.detail.a/b", "slash"),
    ("$.detail.tags[5]", None),
    ("$.detail.state.deeper", None),
    ("$.nothing.at.all", None),
    ("not a [ path", None),
]


@pytest.mark.parametrize(("path", "expected"), PATH_CASES, ids=[c[0] for c in PATH_CASES])
def test_json_path(path: str, expected: Any) -> None:
    """The syntax EventBridge documents: dot notation, dashes, underscores, alphanumerics, array indices, wildcards,
    forward slashes; a path that cannot be read matches nothing (paths are not validated)."""
    assert json_path(EVENT, path) == expected


# -- the push relay -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plane() -> Iterator[DataPlane]:
    with DataPlane() as running:
        yield running


class Relay:
    """A push relay for one target, over a real async queue and a fake function; stopped by the fixture."""

    def __init__(self, plane: DataPlane) -> None:
        self.plane = plane
        self.invoker = FakeInvoker()
        self.queue = AsyncInvoker(self.invoker, endpoint_url=plane.endpoint, account_id=ACCOUNT, retry_delays=(0.0,))
        self.lines: list[str] = []
        self.relay: PushRelay | None = None

    def start(self, target: PushTarget) -> PushRelay:
        self.queue.start()
        self.relay = PushRelay([target], self.queue, endpoint_url=self.plane.endpoint, log=self.lines.append)
        self.relay.start()
        return self.relay

    def stop(self) -> None:
        if self.relay is not None:
            self.relay.stop()
        self.queue.stop()


@pytest.fixture
def relay(plane: DataPlane) -> Iterator[Relay]:
    running = Relay(plane)
    yield running
    running.stop()


def rule_into_relay(plane: DataPlane, **queue_attributes: str) -> tuple[str, str, str]:
    """A rule on the default bus, targeting a new relay queue as the deployer does: ``(source, rule arn, url)``."""
    events = client("events", plane.endpoint, REGION)
    source = f"test.{uuid.uuid4().hex[:8]}"
    rule_arn = events.put_rule(Name=source.replace(".", "-"), EventPattern=json.dumps({"source": [source]}))["RuleArn"]
    url, arn = new_queue(plane, "relay", **queue_attributes)
    events.put_targets(Rule=source.replace(".", "-"), Targets=[{"Id": "relay", "Arn": arn}])
    return source, rule_arn, url


def put_event(plane: DataPlane, source: str, detail: dict[str, Any]) -> None:
    response = client("events", plane.endpoint, REGION).put_events(
        Entries=[{"Source": source, "DetailType": "Order Placed", "Detail": json.dumps(detail)}]
    )
    assert response["FailedEntryCount"] == 0


RELAYED = [
    ("no transform: the whole envelope", None, None),
    ("Input", {"Input": '{"job": "nightly"}'}, {"job": "nightly"}),
    ("InputPath", {"InputPath": "$.detail"}, {"id": "o-1", "total": 9.5}),
    (
        "InputTransformer",
        {
            "InputTransformer": {
                "InputPathsMap": {"id": "$.detail.id", "kind": "$.detail-type"},
                "InputTemplate": '{"order": <id>, "what": "<kind> for <aws.events.rule-name>"}',
            }
        },
        "transformed",
    ),
]


@pytest.mark.parametrize(("transform", "expected"), [c[1:] for c in RELAYED], ids=[c[0] for c in RELAYED])
def test_an_eventbridge_event_reaches_a_lambda_target_asynchronously_transformed(
    plane: DataPlane, relay: Relay, transform: dict[str, Any] | None, expected: Any
) -> None:
    """EventBridge invokes Lambda asynchronously with the (transformed) event; the relay message is deleted once
    handed to the async queue."""
    source, rule_arn, url = rule_into_relay(plane)
    function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:consumer"
    relay.start(PushTarget("events", rule_arn, function_arn, url, input_transform=transform))
    put_event(plane, source, {"id": "o-1", "total": 9.5})
    (call,) = relay.invoker.wait_calls(1, "consumer")
    assert call.source == "events"
    payload = json.loads(call.payload)
    if expected is None:
        assert tuple(payload) == ENVELOPE_KEYS
        assert (payload["source"], payload["detail-type"], payload["detail"]) == (
            source,
            "Order Placed",
            {"id": "o-1", "total": 9.5},
        )
        assert payload["account"] == ACCOUNT and payload["region"] == REGION and payload["version"] == "0"
    elif expected == "transformed":
        assert payload == {"order": "o-1", "what": f"Order Placed for {rule_arn.rsplit('/', 1)[-1]}"}
    else:
        assert payload == expected
    assert relay.queue.wait_idle(10)
    wait_until(lambda: depth(plane, url) == 0, timeout=10, what="the relay message deleted after the hand-off")


def test_an_eventbridge_event_reaches_an_sns_target_as_the_transformed_text(plane: DataPlane, relay: Relay) -> None:
    """EventBridge -> SNS: the topic's message is the target input, here a text template."""
    source, rule_arn, url = rule_into_relay(plane)
    topic, subscriber = new_topic_into_queue(plane, "eb-sns", raw=True)
    transform = {"InputTransformer": {"InputPathsMap": {"id": "$.detail.id"}, "InputTemplate": "order <id> was placed"}}
    relay.start(PushTarget("events", rule_arn, topic, url, input_transform=transform))
    put_event(plane, source, {"id": "o-7"})
    (message,) = receive(plane, subscriber)
    assert message["Body"] == "order o-7 was placed"


RELAY_RETRIES = [("no retries", 0, 1), ("one retry", 1, 2)]


@pytest.mark.parametrize(("retries", "receives"), [c[1:] for c in RELAY_RETRIES], ids=[c[0] for c in RELAY_RETRIES])
def test_a_target_that_keeps_failing_goes_to_the_rules_dead_letter_queue(
    plane: DataPlane, relay: Relay, retries: int, receives: int
) -> None:
    """RetryPolicy.MaximumRetryAttempts, then the target's DeadLetterConfig queue gets the original event with
    ``RULE_ARN``, ``TARGET_ARN``, ``ERROR_CODE`` and ``ERROR_MESSAGE``. The target here is a topic that does not
    exist, so every delivery fails; each retry waits for the relay queue's visibility timeout (1 s)."""
    source, rule_arn, url = rule_into_relay(plane, VisibilityTimeout="1")
    dlq_url, dlq_arn = new_queue(plane, "rule-dlq")
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:gone-{uuid.uuid4().hex[:6]}"
    relay.start(PushTarget("events", rule_arn, topic, url, dead_letter_arn=dlq_arn, maximum_retry_attempts=retries))
    put_event(plane, source, {"id": "o-9"})
    (message,) = receive(plane, dlq_url, timeout=20)
    event = json.loads(message["Body"])
    assert event["source"] == source and event["detail"] == {"id": "o-9"}
    attributes = {name: value["StringValue"] for name, value in message["MessageAttributes"].items()}
    assert attributes["RULE_ARN"] == rule_arn and attributes["TARGET_ARN"] == topic
    assert attributes["ERROR_CODE"] and attributes["ERROR_MESSAGE"]
    retried = [line for line in relay.lines if "retried after the relay timeout" in line]
    assert len(retried) == receives - 1
    assert any(f"sent to {dlq_arn}" in line for line in relay.lines)
    wait_until(lambda: depth(plane, url) == 0, timeout=10, what="the relay message deleted after the DLQ send")


SNS_CASES = [
    ("with a subject and attributes", "Order shipped", {"kind": {"DataType": "String", "StringValue": "ship"}}),
    ("without a subject", None, {}),
    ("a number attribute", None, {"n": {"DataType": "Number", "StringValue": "42"}}),
]


@pytest.mark.parametrize(("subject", "attributes"), [c[1:] for c in SNS_CASES], ids=[c[0] for c in SNS_CASES])
def test_sns_delivers_lambdas_sns_record_asynchronously(
    plane: DataPlane, relay: Relay, subject: str | None, attributes: dict[str, Any]
) -> None:
    """SNS invokes Lambda asynchronously with ``{"Records": [record]}``: ``EventSource`` ``aws:sns``,
    ``EventVersion`` ``1.0``, ``EventSubscriptionArn``; ``Sns`` with ``Type``, ``MessageId``, ``TopicArn``,
    ``Subject`` (null if none), ``Message``, ``Timestamp``, ``SignatureVersion``, ``Signature``,
    ``SigningCertUrl``, ``UnsubscribeUrl`` and ``MessageAttributes`` as ``{name: {Type, Value}}``."""
    sns = client("sns", plane.endpoint, REGION)
    topic = sns.create_topic(Name=f"to-lambda-{uuid.uuid4().hex[:8]}")["TopicArn"]
    url, queue_arn = new_queue(plane, "sns-relay")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)  # the deployer's relay: raw delivery off
    function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:listener"
    relay.start(PushTarget("sns", topic, function_arn, url))
    extra: dict[str, Any] = {"MessageAttributes": attributes} if attributes else {}
    if subject:
        extra["Subject"] = subject
    message_id = sns.publish(TopicArn=topic, Message='{"order": "o-1"}', **extra)["MessageId"]
    (call,) = relay.invoker.wait_calls(1, "listener")
    assert call.source == "sns"
    (record,) = json.loads(call.payload)["Records"]
    assert record["EventSource"] == "aws:sns" and record["EventVersion"] == "1.0"
    assert record["EventSubscriptionArn"].startswith(topic + ":")
    body = record["Sns"]
    assert set(body) == {
        "Type",
        "MessageId",
        "TopicArn",
        "Subject",
        "Message",
        "Timestamp",
        "SignatureVersion",
        "Signature",
        "SigningCertUrl",
        "UnsubscribeUrl",
        "MessageAttributes",
    }
    assert (body["Type"], body["MessageId"], body["TopicArn"]) == ("Notification", message_id, topic)
    assert body["Subject"] == subject and body["Message"] == '{"order": "o-1"}'
    assert body["MessageAttributes"] == {
        name: {"Type": value["DataType"], "Value": value["StringValue"]} for name, value in attributes.items()
    }
    assert relay.queue.wait_idle(10)
    wait_until(lambda: depth(plane, url) == 0, timeout=10, what="the relay message deleted after the hand-off")


# -- EventBridge -> SQS targets: delivered by moto itself -----------------------------------------------------------

SQS_TARGET = [
    ("Input", {"Input": '{"job": "nightly"}'}, {"job": "nightly"}),
    ("InputPath", {"InputPath": "$.detail"}, {"state": "RUNNING"}),
    (
        "InputTransformer with a string value",
        {"InputTransformer": {"InputPathsMap": {"s": "$.detail.state"}, "InputTemplate": '{"state": <s>}'}},
        {"state": "RUNNING"},
    ),
]


@pytest.fixture(scope="module")
def cloud() -> Iterator[Any]:
    from eventweave.local.cloud import LocalCloud

    with LocalCloud(log=lambda line: None) as running:
        yield running


@pytest.mark.parametrize(("transform", "expected"), [c[1:] for c in SQS_TARGET], ids=[c[0] for c in SQS_TARGET])
def test_an_sqs_target_of_a_deployed_rule_gets_the_target_input(
    cloud: Any, tmp_path: Path, transform: dict[str, Any], expected: Any
) -> None:
    """moto's own SQS delivery ignores Input and InputPath and renders templates as text (a string value unquoted,
    so PutEvents fails): a deployed rule's SQS target with a transform goes through eventweave's relay instead."""
    from eventweave.local.assembly import CloudAssembly, StackArtifact

    name = f"Rule{uuid.uuid4().hex[:8]}"
    template = {
        "Resources": {
            "Target": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "Rule": {
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "EventPattern": {"source": [name]},
                    "Targets": [{"Id": "q", "Arn": {"Fn::GetAtt": ["Target", "Arn"]}, **transform}],
                },
            },
        },
        "Outputs": {"Url": {"Value": {"Ref": "Target"}}},
    }
    artifact = StackArtifact(id=name, name=name, template=template, template_path=tmp_path / "t.json", root=tmp_path)
    stack = cloud.deploy(CloudAssembly(tmp_path, [artifact]), name)
    try:
        client("events", cloud.endpoint, REGION).put_events(
            Entries=[{"Source": name, "DetailType": "t", "Detail": json.dumps({"state": "RUNNING"})}]
        )
        sqs = client("sqs", cloud.endpoint, REGION)
        messages = wait_until(
            lambda: sqs.receive_message(QueueUrl=stack.outputs["Url"], WaitTimeSeconds=1).get("Messages"),
            timeout=10,
            what="the target's message",
        )
        assert json.loads(messages[0]["Body"]) == expected
    finally:
        cloud.destroy(stack)

"""Contract tests for every moto internal the local cloud touches (moto is pinned below its next minor in
pyproject.toml; these say what to re-check when the pin moves). Each fails when moto changes what eventweave relies
on: a name, a signature, or the behaviour itself. ``tests/local/test_moto_fixes.py`` holds the ones for the three
patches of :mod:`eventweave.local._moto_fixes`; this file covers the rest. :data:`INTERNALS` lists them all: the
internal, where eventweave uses it, and which test holds its contract.
"""

from __future__ import annotations

import inspect
import json
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from eventweave.local import _moto_clock
from eventweave.local.aws import client, in_process_client
from eventweave.local.gateway import DataPlane
from eventweave.local.invocations import normalise_event
from eventweave.local.provisioners._patterns import pattern_problem
from eventweave.local.sources import event_matcher
from eventweave.wire.eventbridge import ENVELOPE_KEYS, is_event
from eventweave.wire.sns import lambda_record, parse_notification

REGION, ACCOUNT = "us-east-1", "123456789012"

INTERNALS: list[tuple[str, str, str]] = [
    # (moto internal, used by, contract test)
    ("moto.sqs.models.unix_time", "_moto_clock.install (replaced)", "test_contract_sqs_models_reads_the_clock..."),
    (
        "moto.sqs.models.unix_time_millis",
        "_moto_clock.install (replaced)",
        "test_contract_sqs_models_reads_the_clock...",
    ),
    ("moto.core.utils.unix_time", "_moto_clock (the datetime form)", "test_contract_sqs_models_reads_the_clock..."),
    ("moto.sqs.models.Message.visible", "_moto_fixes.release_timed_out", "test_contract_message_visibility..."),
    ("moto.sqs.models.Message.delayed", "_moto_clock.frozen (one-instant scan)", "test_contract_message_visibility..."),
    ("moto.sqs.models.SQSBackend.send_message", "_moto_fixes (Binary attributes)", "test_moto_fixes.py"),
    ("moto.sqs.models.SQSBackend.receive_message", "_moto_fixes (FIFO receive)", "test_contract_sqs_receive..."),
    ("moto.sqs.models.SQSBackend.get_queue", "_moto_fixes._receive_message", "test_contract_sqs_receive..."),
    ("moto.sqs.models.Queue.wait_for_messages", "_moto_fixes._receive_message", "test_contract_sqs_receive..."),
    ("moto.sqs.models.Queue.pending_messages", "_moto_fixes.release_timed_out", "test_contract_sqs_receive..."),
    ("moto.sqs.models.Queue.fifo_queue", "_moto_fixes.release_timed_out", "test_contract_sqs_receive..."),
    ("moto.events.utils.EventTemplateParser.parse", "_moto_fixes (envelope to SQS targets)", "test_moto_fixes.py"),
    ("moto.events.models.Rule.send_to_targets", "_moto_fixes (envelope to SQS targets)", "test_moto_fixes.py"),
    ("moto.events.models.Rule._send_to_sqs_queue", "_moto_fixes (envelope's time)", "test_moto_fixes.py"),
    ("moto.events.models.EventsBackend.put_events", "_moto_fixes (envelope keys)", "test_moto_fixes.py"),
    ("moto.core.botocore_stubber.BotocoreStubber", "aws.in_process_client", "test_contract_botocore_stubber..."),
    ("moto.core.botocore_stubber.MockRawResponse", "aws.in_process_client", "test_contract_botocore_stubber..."),
    (
        "moto.moto_server.werkzeug_app.DomainDispatcherApplication",
        "gateway.DataPlane.start",
        "test_contract_moto_server",
    ),
    ("moto.moto_server.werkzeug_app.create_backend_app", "gateway.DataPlane.start", "test_contract_moto_server..."),
    ("moto.moto_server.werkzeug_app.MotoRequestHandler", "gateway.DataPlane.start", "test_contract_moto_server..."),
    (
        "moto.events.models.EventPatternParser",
        "provisioners/_patterns.pattern_problem",
        "test_contract_event_pattern_parser",
    ),
    (
        "moto.events.models.EventPattern.load",
        "sources.event_matcher (filter criteria)",
        "test_contract_event_pattern_load...",
    ),
    ("moto.events.models.EventPattern.matches_event", "sources.event_matcher", "test_contract_event_pattern_load..."),
    # behaviour reached through the API rather than an import
    (
        "moto.sns.models.Subscription.publish",
        "PushRelay (SNS -> Lambda) via wire.sns",
        "test_contract_sns_to_sqs_body...",
    ),
    (
        "moto.events.models.Rule.send_to_targets",
        "PushRelay (EventBridge -> Lambda / SNS)",
        "test_contract_eventbridge...",
    ),
    ("moto.s3.notifications.send_event", "notifications.documented_record", "test_contract_s3_notification..."),
]
"""Every moto internal the local cloud touches: ``(dotted name, where eventweave uses it, the contract test)``."""


@pytest.fixture(scope="module")
def plane() -> Iterator[DataPlane]:
    with DataPlane() as running:
        yield running


def params(function: Any) -> list[str]:
    return list(inspect.signature(function).parameters)


@pytest.mark.parametrize("name", sorted({row[0] for row in INTERNALS}))
def test_every_listed_internal_exists(name: str) -> None:
    """Each name of the table resolves in the installed moto (a rename fails here first)."""
    import importlib

    parts = name.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attribute in parts[split:]:
            if isinstance(found, type) and attribute not in dir(found):
                # instance attributes (fifo_queue, pending_messages) are set in __init__
                assert attribute in inspect.getsource(found.__init__), name
                return
            found = getattr(found, attribute)
        return
    raise AssertionError(f"{name}: no module of it imports")


# -- the moto version the pin allows -------------------------------------------------------------------------------


def test_the_installed_moto_is_inside_the_pin() -> None:
    """pyproject pins ``moto[server]>=5.1,<5.3``: these contracts were written against 5.2."""
    from importlib.metadata import version

    major, minor = (int(part) for part in version("moto").split(".")[:2])
    assert (major, minor) >= (5, 1) and (major, minor) < (5, 3)


# -- clock: _moto_clock ---------------------------------------------------------------------------------------------


def test_contract_sqs_models_reads_the_clock_through_its_module_globals(plane: DataPlane) -> None:
    """``_moto_clock`` replaces ``moto.sqs.models.unix_time`` / ``unix_time_millis``; that only works while moto's
    SQS imports them by name and calls them with no argument."""
    from moto.core import utils
    from moto.sqs import models

    assert params(utils.unix_time) == ["dt"] and params(utils.unix_time_millis) == ["dt"]
    assert _moto_clock._ORIGINAL["unix_time"] is utils.unix_time
    assert _moto_clock._ORIGINAL["unix_time_millis"] is utils.unix_time_millis
    source = inspect.getsource(models)
    assert "unix_time_millis()" in source and "unix_time()" in source
    assert _moto_clock.installed()
    assert models.unix_time_millis() == pytest.approx(utils.unix_time_millis(), abs=50)  # same values


def test_contract_message_visibility_and_delay_read_that_clock() -> None:
    """A message's ``visible`` / ``delayed`` compare ``visible_at`` / ``delayed_until`` (ms) with
    ``unix_time_millis()``: frozen time decides them (the FIFO fix's one-instant scan depends on it)."""
    from moto.sqs.models import Message

    message = Message("m-1", "body")
    with _moto_clock.frozen() as now:
        message.visible_at = now * 1000 + 1
        assert not message.visible
        message.visible_at = now * 1000 - 1
        assert message.visible
        message.delayed_until = now * 1000 + 1
        assert message.delayed
        message.delayed_until = now * 1000 - 1
        assert not message.delayed


# -- SQS receive: _moto_fixes.release_timed_out / _receive_message --------------------------------------------------


def test_contract_sqs_receive_and_queue_internals(plane: DataPlane) -> None:
    from moto.sqs.models import Queue, SQSBackend, sqs_backends

    assert params(SQSBackend.receive_message) == [
        "self",
        "queue_name",
        "count",
        "wait_seconds_timeout",
        "visibility_timeout",
        "message_attribute_names",
    ]
    assert params(SQSBackend.get_queue) == ["self", "queue_name"]
    assert params(Queue.wait_for_messages) == ["self", "timeout"]
    sqs = client("sqs", plane.endpoint, REGION)
    name = f"contract-{uuid.uuid4().hex[:8]}.fifo"
    url = sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"})[
        "QueueUrl"
    ]
    sqs.send_message(QueueUrl=url, MessageBody="m", MessageGroupId="g")
    queue = sqs_backends[ACCOUNT][REGION].get_queue(name)
    assert queue.fifo_queue is True
    assert len(queue.pending_messages) == 0
    (received,) = sqs.receive_message(QueueUrl=url, VisibilityTimeout=30)["Messages"]
    (pending,) = queue.pending_messages  # the in-flight message, a set member the fix can discard
    assert pending.body == "m" and not pending.visible
    pending.change_visibility(0)
    assert pending.visible
    queue.pending_messages.discard(pending)
    assert len(queue.pending_messages) == 0
    started = time.monotonic()
    queue.wait_for_messages(0.05)  # returns after the timeout when nothing is sent
    assert time.monotonic() - started < 5
    assert received["Body"] == "m"


# -- in-process clients: aws.in_process_client ----------------------------------------------------------------------


def test_contract_botocore_stubber_answers_aws_requests_and_declines_others() -> None:
    from botocore.awsrequest import AWSRequest
    from moto.core.botocore_stubber import BotocoreStubber, MockRawResponse

    assert params(BotocoreStubber) == [] and params(BotocoreStubber.process_request) == ["self", "request"]
    stub = BotocoreStubber()
    stub.enabled = True
    unknown = AWSRequest(method="GET", url="http://example.invalid/nothing").prepare()
    assert stub.process_request(unknown) is None  # in_process_client raises instead of going to the network
    assert MockRawResponse(b"body").read() == b"body"
    sqs = in_process_client("sqs", REGION, endpoint_url="http://127.0.0.1:1")
    status = sqs.list_queues(QueueNamePrefix="nothing-by-this-name")["ResponseMetadata"]["HTTPStatusCode"]
    assert status == 200  # answered in process: nothing listens on port 1


# -- the server: gateway.DataPlane.start -------------------------------------------------------------------------


def test_contract_moto_server_pieces(plane: DataPlane) -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import WSGIRequestHandler

    assert params(DomainDispatcherApplication)[:1] == ["create_app"]
    assert params(create_backend_app) == ["service"]
    assert issubclass(MotoRequestHandler, WSGIRequestHandler)
    app = DomainDispatcherApplication(create_backend_app)
    assert callable(app)
    # the data plane built from them serves AWS's APIs over HTTP
    import boto3

    http = boto3.client(
        "sqs",
        endpoint_url=plane.endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    assert http.list_queues()["ResponseMetadata"]["HTTPStatusCode"] == 200


# -- event patterns: _patterns.pattern_problem, sources.event_matcher ----------------------------------------------

PATTERNS = [
    ("valid", {"source": ["orders"]}, None),
    ("a leaf that is not an array", {"source": "orders"}, "must be an object or an array"),
    ("not JSON", "{nope", ""),
]


@pytest.mark.parametrize(("pattern", "problem"), [c[1:] for c in PATTERNS], ids=[c[0] for c in PATTERNS])
def test_contract_event_pattern_parser(pattern: Any, problem: str | None) -> None:
    """``EventPatternParser(text).parse()`` returns the pattern as a dict, or raises an error whose ``message`` (or
    text) says why; ``pattern_problem`` hands that text on."""
    from moto.events.models import EventPatternParser

    assert params(EventPatternParser) == ["pattern"] and params(EventPatternParser.parse) == ["self"]
    text = pattern if isinstance(pattern, str) else json.dumps(pattern)
    if problem is None:
        assert EventPatternParser(text).parse() == pattern
        assert pattern_problem(pattern) is None
        return
    with pytest.raises(Exception) as caught:
        EventPatternParser(text).parse()
    found = pattern_problem(pattern)
    assert found and problem in found
    assert found == str(getattr(caught.value, "message", None) or caught.value)


MATCHES = [
    ("prefix on the body", '{"body": {"kind": [{"prefix": "ord"}]}}', {"body": {"kind": "order"}}, True),
    ("prefix misses", '{"body": {"kind": [{"prefix": "ord"}]}}', {"body": {"kind": "refund"}}, False),
    ("numeric range", '{"body": {"n": [{"numeric": [">", 1]}]}}', {"body": {"n": 5}}, True),
    ("exists false", '{"attributes": {"x": [{"exists": false}]}}', {"attributes": {}}, True),
]


@pytest.mark.parametrize(("pattern", "record", "expected"), [c[1:] for c in MATCHES], ids=[c[0] for c in MATCHES])
def test_contract_event_pattern_load_and_matches_event(pattern: str, record: dict[str, Any], expected: bool) -> None:
    """``EventPattern.load(text).matches_event(record)``: Lambda's filter criteria use EventBridge pattern syntax."""
    from moto.events.models import EventPattern

    assert params(EventPattern.load) == ["raw_pattern"] and params(EventPattern.matches_event) == ["self", "event"]
    assert EventPattern.load(pattern).matches_event(record) is expected
    matcher = event_matcher((pattern,))
    assert matcher is not None and matcher(record) is expected


# -- what moto delivers that the relays read -----------------------------------------------------------------------


def _queue(plane: DataPlane, prefix: str) -> tuple[str, str]:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    url = client("sqs", plane.endpoint, REGION).create_queue(QueueName=name)["QueueUrl"]
    return url, f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


def _one(plane: DataPlane, url: str) -> dict[str, Any]:
    sqs = client("sqs", plane.endpoint, REGION)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
        if messages:
            return dict(messages[0])
    raise AssertionError(f"nothing arrived on {url}")


def test_contract_sns_to_sqs_body_is_a_notification_the_sns_relay_reads(plane: DataPlane) -> None:
    sns = client("sns", plane.endpoint, REGION)
    topic = sns.create_topic(Name=f"contract-{uuid.uuid4().hex[:8]}")["TopicArn"]
    url, arn = _queue(plane, "sns-body")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    message_id = sns.publish(
        TopicArn=topic,
        Message="hello",
        Subject="s",
        MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}},
    )["MessageId"]
    doc = parse_notification(_one(plane, url)["Body"])
    assert doc is not None
    for key in ("MessageId", "TopicArn", "Message", "Timestamp", "SignatureVersion", "Signature"):
        assert key in doc, key
    assert "SigningCertURL" in doc and "UnsubscribeURL" in doc  # the envelope's casing, renamed by lambda_record
    assert (doc["MessageId"], doc["TopicArn"], doc["Subject"]) == (message_id, topic, "s")
    assert doc["MessageAttributes"] == {"k": {"Type": "String", "Value": "v"}}
    record = lambda_record(doc, subscription_arn=f"{topic}:sub")
    assert record["Sns"]["SigningCertUrl"] == doc["SigningCertURL"]


def test_contract_eventbridge_to_sqs_body_is_the_envelope_the_events_relay_reads(plane: DataPlane) -> None:
    events = client("events", plane.endpoint, REGION)
    name = f"contract-{uuid.uuid4().hex[:8]}"
    url, arn = _queue(plane, "eb-body")
    rule_arn = events.put_rule(Name=name, EventPattern=json.dumps({"source": [name]}))["RuleArn"]
    events.put_targets(Rule=name, Targets=[{"Id": "q", "Arn": arn}])
    events.put_events(Entries=[{"Source": name, "DetailType": 'a "quoted" <id>', "Detail": '{"x": "<source>"}'}])
    body = json.loads(_one(plane, url)["Body"])
    assert is_event(body) and tuple(body) == ENVELOPE_KEYS
    assert body["detail"] == {"x": "<source>"} and body["detail-type"] == 'a "quoted" <id>'
    assert isinstance(body["time"], str) and body["time"].endswith("Z")
    assert normalise_event(body, rule_arn) == body


def test_contract_s3_notification_record_the_notification_relay_reads(plane: DataPlane) -> None:
    s3 = client("s3", plane.endpoint, REGION)
    bucket = f"contract-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    url, arn = _queue(plane, "s3-body")
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [{"Id": "cfg-1", "QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    sqs = client("sqs", plane.endpoint, REGION)
    s3.put_object(Bucket=bucket, Key="a dir/b+c.txt", Body=b"12345")
    deadline = time.monotonic() + 10
    records: list[dict[str, Any]] = []
    while not records and time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            records += json.loads(message["Body"]).get("Records", [])  # the s3:TestEvent has none
    (record,) = records
    assert record["eventName"].startswith("ObjectCreated:")
    assert record["s3"]["configurationId"] == "cfg-1" and record["s3"]["bucket"]["name"] == bucket
    key = record["s3"]["object"]["key"]
    assert "%2F" in key  # moto encodes "/" too; documented_record unquotes it
    assert urllib.parse.unquote_plus(key) == "a dir/b+c.txt"
    assert record["s3"]["object"]["size"] == 5 and record["s3"]["object"]["eTag"]

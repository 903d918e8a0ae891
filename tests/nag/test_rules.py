"""Every Eventweave rule fires on a minimal plain-CDK stack that makes its mistake and stays quiet on the fixed one.

All stacks live in one app, synthesized once (with EventweaveChecks only): each ``<Rule>Bad`` stack must produce
exactly the findings listed for it, each ``<Rule>Good`` stack none at all.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from fnmatch import fnmatchcase
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import Acknowledgment, App, Duration, Environment, Stack, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from eventweave.nag import RULES, EventweaveChecks, Finding

Build = Callable[[Stack], Any]
ENV = Environment(account="123456789012", region="us-east-1")


# -- building blocks ------------------------------------------------------------------------------------------------


def function(stack: Stack, id: str = "Worker", *, timeout: int = 30, **props: Any) -> lambda_.Function:
    return lambda_.Function(
        stack,
        id,
        code=lambda_.Code.from_inline("def handler(event, context):\n    return {}\n"),
        handler="index.handler",
        runtime=lambda_.Runtime.PYTHON_3_13,
        timeout=Duration.seconds(timeout),
        **props,
    )


def queue(stack: Stack, id: str = "Orders", *, visibility: int = 180, dlq: bool = True, **props: Any) -> sqs.Queue:
    dead_letter = (
        sqs.DeadLetterQueue(queue=sqs.Queue(stack, f"{id}Dlq", fifo=props.get("fifo")), max_receive_count=5)
        if dlq
        else None
    )
    return sqs.Queue(stack, id, visibility_timeout=Duration.seconds(visibility), dead_letter_queue=dead_letter, **props)


def consume(stack: Stack, source: sqs.Queue, *, timeout: int = 30, **props: Any) -> lambda_.Function:
    fn = function(stack, timeout=timeout)
    fn.add_event_source(sources.SqsEventSource(source, report_batch_item_failures=True, **props))
    return fn


def stream_mapping(stack: Stack, *, kinesis_source: bool = True, **props: Any) -> lambda_.Function:
    fn = function(stack)
    options: dict[str, Any] = {
        "starting_position": lambda_.StartingPosition.TRIM_HORIZON,
        "on_failure": sources.SqsDlq(sqs.Queue(stack, "Failures")),
        "retry_attempts": 10,
        "bisect_batch_on_error": True,
        "report_batch_item_failures": True,
        **props,
    }
    if options["on_failure"] is None:
        del options["on_failure"]
    if kinesis_source:
        fn.add_event_source(sources.KinesisEventSource(kinesis.Stream(stack, "Stream"), **options))
    else:
        table = dynamodb.Table(
            stack,
            "Table",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            stream=dynamodb.StreamViewType.NEW_IMAGE,
        )
        fn.add_event_source(sources.DynamoEventSource(table, **options))
    return fn


# -- one mistake per rule, and its fix ------------------------------------------------------------------------------


def redrive_bad(stack: Stack) -> None:
    consume(stack, queue(stack, dlq=False))


def redrive_good(stack: Stack) -> None:
    consume(stack, queue(stack))


def below_timeout_bad(stack: Stack) -> None:
    consume(stack, queue(stack, visibility=30), timeout=60)


def below_timeout_good(stack: Stack) -> None:
    consume(stack, queue(stack, visibility=360), timeout=60)


def visibility_bad(stack: Stack) -> None:
    # 6 x 30 s + a 10 s window = 190 s
    consume(stack, queue(stack, visibility=185), batch_size=20, max_batching_window=Duration.seconds(10))


def visibility_good(stack: Stack) -> None:
    consume(stack, queue(stack, visibility=190), batch_size=20, max_batching_window=Duration.seconds(10))


def batch_failures_bad(stack: Stack) -> None:
    function(stack).add_event_source(sources.SqsEventSource(queue(stack)))


def batch_failures_good(stack: Stack) -> None:
    function(stack).add_event_source(sources.SqsEventSource(queue(stack), report_batch_item_failures=True))


def batching_window_bad(stack: Stack, window: int | None = None) -> None:
    # aws_lambda_event_sources refuses this at synth; an L1 mapping (or another tool's template) does not.
    source, fn = queue(stack, visibility=200), function(stack)
    lambda_.CfnEventSourceMapping(
        stack,
        "Mapping",
        event_source_arn=source.queue_arn,
        function_name=fn.function_name,
        batch_size=20,
        maximum_batching_window_in_seconds=window,
        function_response_types=["ReportBatchItemFailures"],
    )


def batching_window_good(stack: Stack) -> None:
    batching_window_bad(stack, window=1)


def subscription_bad(stack: Stack) -> None:
    sns.Topic(stack, "Topic").add_subscription(subscriptions.SqsSubscription(sqs.Queue(stack, "Inbox")))


def subscription_good(stack: Stack) -> None:
    sns.Topic(stack, "Topic").add_subscription(
        subscriptions.SqsSubscription(sqs.Queue(stack, "Inbox"), dead_letter_queue=sqs.Queue(stack, "Undelivered"))
    )


def target_bad(stack: Stack) -> None:
    events.Rule(
        stack,
        "Rule",
        event_pattern=events.EventPattern(source=["shop"]),
        targets=[targets.SqsQueue(sqs.Queue(stack, "Inbox"))],
    )


def target_good(stack: Stack) -> None:
    events.Rule(
        stack,
        "Rule",
        event_pattern=events.EventPattern(source=["shop"]),
        targets=[targets.SqsQueue(sqs.Queue(stack, "Inbox"), dead_letter_queue=sqs.Queue(stack, "Undelivered"))],
    )


def stream_destination_bad(stack: Stack) -> None:
    stream_mapping(stack, on_failure=None)


def stream_destination_good(stack: Stack) -> None:
    stream_mapping(stack)


def stream_retries_bad(stack: Stack) -> None:
    stream_mapping(stack, kinesis_source=False, retry_attempts=None)


def stream_retries_good(stack: Stack) -> None:
    stream_mapping(stack, kinesis_source=False, retry_attempts=None, max_record_age=Duration.hours(12))


def bisect_bad(stack: Stack) -> None:
    stream_mapping(stack, bisect_batch_on_error=None)


def bisect_good(stack: Stack) -> None:
    stream_mapping(stack, bisect_batch_on_error=True)


def async_bad(stack: Stack, on_failure: bool = False) -> None:
    failures = sqs.Queue(stack, "Failures")
    fn = function(stack, on_failure=destinations.SqsDestination(failures) if on_failure else None)
    events.Rule(
        stack,
        "Rule",
        event_pattern=events.EventPattern(source=["shop"]),
        targets=[targets.LambdaFunction(fn, dead_letter_queue=sqs.Queue(stack, "Undelivered"))],
    )


def async_good(stack: Stack) -> None:
    async_bad(stack, on_failure=True)


def async_s3_and_step_functions_bad(stack: Stack) -> None:
    on_upload, notify = function(stack, "OnUpload"), function(stack, "Notify")
    s3.Bucket(stack, "Uploads").add_event_notification(s3.EventType.OBJECT_CREATED, s3n.LambdaDestination(on_upload))
    task = tasks.LambdaInvoke(
        stack, "Notify!", lambda_function=notify, invocation_type=tasks.LambdaInvocationType.EVENT
    )
    sfn.StateMachine(stack, "Machine", definition_body=sfn.DefinitionBody.from_chainable(task))


def fifo_bad(stack: Stack) -> None:
    # A FIFO source read with a batching window (L1: aws_lambda_event_sources refuses it), a standard queue with a
    # FIFO dead-letter queue, a FIFO on-failure destination, and a FIFO queue target without a message group.
    ledger, fn = queue(stack, "Ledger", visibility=200, fifo=True), function(stack)
    lambda_.CfnEventSourceMapping(
        stack,
        "Mapping",
        event_source_arn=ledger.queue_arn,
        function_name=fn.function_name,
        batch_size=10,
        maximum_batching_window_in_seconds=5,
        function_response_types=["ReportBatchItemFailures"],
    )
    fifo_dlq = sqs.Queue(stack, "FifoDlq", fifo=True)
    sqs.CfnQueue(stack, "Mixed", redrive_policy={"deadLetterTargetArn": fifo_dlq.queue_arn, "maxReceiveCount": 5})
    fn.configure_async_invoke(on_failure=destinations.SqsDestination(sqs.Queue(stack, "FifoFailures", fifo=True)))
    events.CfnRule(
        stack,
        "Rule",
        event_pattern={"source": ["shop"]},
        targets=[
            events.CfnRule.TargetProperty(
                id="Ledger",
                arn=ledger.queue_arn,
                dead_letter_config=events.CfnRule.DeadLetterConfigProperty(
                    arn=sqs.Queue(stack, "Undelivered").queue_arn
                ),
            )
        ],
    )


def fifo_good(stack: Stack) -> None:
    ledger, fn = queue(stack, "Ledger", fifo=True), function(stack)
    fn.add_event_source(sources.SqsEventSource(ledger, batch_size=10, report_batch_item_failures=True))
    fn.configure_async_invoke(on_failure=destinations.SqsDestination(sqs.Queue(stack, "Failures")))
    events.Rule(
        stack,
        "Rule",
        event_pattern=events.EventPattern(source=["shop"]),
        targets=[
            targets.SqsQueue(ledger, message_group_id="orders", dead_letter_queue=sqs.Queue(stack, "Undelivered"))
        ],
    )


def loop_bad(stack: Stack, environment: dict[str, str] | None = None) -> None:
    table = dynamodb.Table(
        stack,
        "Table",
        partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
        stream=dynamodb.StreamViewType.NEW_IMAGE,
    )
    fn = function(stack, environment=environment)
    fn.add_event_source(
        sources.DynamoEventSource(
            table,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            on_failure=sources.SqsDlq(sqs.Queue(stack, "Failures")),
            retry_attempts=10,
            bisect_batch_on_error=True,
        )
    )
    table.grant_write_data(fn)


def loop_good(stack: Stack) -> None:
    loop_bad(stack, environment={"EVENTWEAVE_MAX_HOPS": "4"})


def sqs_loop_bad(stack: Stack, recursive_loop: lambda_.RecursiveLoop = lambda_.RecursiveLoop.ALLOW) -> None:
    source = queue(stack)
    fn = function(stack, recursive_loop=recursive_loop)
    fn.add_event_source(sources.SqsEventSource(source, report_batch_item_failures=True))
    source.grant_send_messages(fn)


def sqs_loop_good(stack: Stack) -> None:
    sqs_loop_bad(stack, recursive_loop=lambda_.RecursiveLoop.TERMINATE)  # Lambda stops SQS loops itself


def acknowledged(stack: Stack) -> None:
    unguarded = queue(stack, dlq=False)
    consume(stack, unguarded)
    Validations.of(unguarded).acknowledge(
        Acknowledgment(id="Eventweave-QueueRedrivePolicy", reason="the test's deliberate mistake")
    )


# stack name -> (builder, expected findings as (rule id, construct path below the stack))
CASES: dict[str, tuple[Build, set[tuple[str, str]]]] = {
    "RedriveBad": (redrive_bad, {("QueueRedrivePolicy", "Orders/Resource")}),
    "RedriveGood": (redrive_good, set()),
    "BelowTimeoutBad": (below_timeout_bad, {("QueueVisibilityBelowFunctionTimeout", "Orders/Resource")}),
    "BelowTimeoutGood": (below_timeout_good, set()),
    "VisibilityBad": (visibility_bad, {("QueueVisibilityTimeout", "Orders/Resource")}),
    "VisibilityGood": (visibility_good, set()),
    "BatchFailuresBad": (
        batch_failures_bad,
        {("SqsReportBatchItemFailures", "Worker/SqsEventSource:BatchFailuresBadOrders*/Resource")},
    ),
    "BatchFailuresGood": (batch_failures_good, set()),
    "BatchingWindowBad": (batching_window_bad, {("SqsBatchingWindow", "Mapping")}),
    "BatchingWindowGood": (batching_window_good, set()),
    "SubscriptionBad": (subscription_bad, {("SnsSubscriptionDeadLetterQueue", "Inbox/SubscriptionBadTopic*/Resource")}),
    "SubscriptionGood": (subscription_good, set()),
    "TargetBad": (target_bad, {("EventBridgeTargetDeadLetterQueue", "Rule/Resource")}),
    "TargetGood": (target_good, set()),
    "StreamDestinationBad": (
        stream_destination_bad,
        {("StreamFailureDestination", "Worker/KinesisEventSource:StreamDestinationBadStream*/Resource")},
    ),
    "StreamDestinationGood": (stream_destination_good, set()),
    "StreamRetriesBad": (
        stream_retries_bad,
        {("StreamBoundedRetries", "Worker/DynamoDBEventSource:StreamRetriesBadTable*/Resource")},
    ),
    "StreamRetriesGood": (stream_retries_good, set()),
    "BisectBad": (bisect_bad, {("StreamBisectBatch", "Worker/KinesisEventSource:BisectBadStream*/Resource")}),
    "BisectGood": (bisect_good, set()),
    "AsyncBad": (async_bad, {("AsyncFailureDestination", "Worker/Resource")}),
    "AsyncGood": (async_good, set()),
    "AsyncS3AndStepFunctionsBad": (
        async_s3_and_step_functions_bad,
        {("AsyncFailureDestination", "OnUpload/Resource"), ("AsyncFailureDestination", "Notify/Resource")},
    ),
    "FifoBad": (
        fifo_bad,
        {
            ("FifoCompatibility", "Mapping"),
            ("FifoCompatibility", "Mixed"),
            ("FifoCompatibility", "Worker/EventInvokeConfig/Resource"),
            ("FifoCompatibility", "Rule"),
        },
    ),
    "FifoGood": (fifo_good, set()),
    "LoopBad": (loop_bad, {("RecursiveLoop", "Worker/Resource")}),
    "LoopGood": (loop_good, set()),
    "SqsLoopBad": (sqs_loop_bad, {("RecursiveLoop", "Worker/Resource")}),
    "SqsLoopGood": (sqs_loop_good, set()),
    "Acknowledged": (acknowledged, set()),
}


@pytest.fixture(scope="module")
def findings() -> dict[str, list[Finding]]:
    """Synthesize every case in one app; findings by stack name."""
    with tempfile.TemporaryDirectory(prefix="eventweave-nag-") as outdir:
        app = App(
            outdir=outdir,
            context={"aws:cdk:bundling-stacks": [], "@aws-cdk/core:failSynthOnValidationErrors": False},
        )
        for name, (build, _) in CASES.items():
            build(Stack(app, name, env=ENV))
        cross_stack(app)
        pack = EventweaveChecks(app)
        Validations.of(app).add_plugins(pack)
        app.synth()
    by_stack: dict[str, list[Finding]] = {}
    for finding in pack.findings:
        by_stack.setdefault(finding.resource.split("/", 1)[0], []).append(finding)
    return by_stack


def cross_stack(app: App) -> None:
    """A queue in one stack consumed by a function in another: resolved through the export."""
    shared = queue(Stack(app, "CrossStackQueues", env=ENV), dlq=False)
    consume(Stack(app, "CrossStackWorkers", env=ENV), shared)


def _matches(found: set[tuple[str, str]], expected: set[tuple[str, str]]) -> bool:
    return len(found) == len(expected) and all(
        any(fnmatchcase(f[1], e[1]) and f[0] == e[0] for f in found) for e in expected
    )


@pytest.mark.parametrize("name", list(CASES))
def test_rule_fires_on_its_mistake_and_not_on_the_fix(name: str, findings: dict[str, list[Finding]]) -> None:
    _, expected = CASES[name]
    found = {(f.rule.removeprefix("Eventweave-"), f.resource.split("/", 1)[1]) for f in findings.get(name, [])}
    assert _matches(found, expected), f"{name}: expected {sorted(expected)}, got {sorted(found)}"


def test_every_rule_has_a_failing_case() -> None:
    covered = {rule for _, expected in CASES.values() for rule, _ in expected}
    assert covered == {rule.id for rule in RULES}


def test_a_reference_across_stacks_is_followed(findings: dict[str, list[Finding]]) -> None:
    [finding] = findings["CrossStackQueues"]
    assert finding.rule == "Eventweave-QueueRedrivePolicy"
    assert "CrossStackWorkers/Worker/Resource" in finding.message
    assert "CrossStackWorkers" not in findings


def test_a_finding_names_the_resource_and_both_fixes(findings: dict[str, list[Finding]]) -> None:
    [finding] = findings["BelowTimeoutBad"]
    assert finding.level == "error"
    assert finding.message.startswith("BelowTimeoutBad/Orders/Resource: ")
    assert "(timeout 60 s)" in finding.message
    assert "Fix (CDK): sqs.Queue(..., visibility_timeout=Duration.seconds(360))" in finding.message
    assert "With eventweave: DurableQueue" in finding.message
    [warning] = findings["VisibilityBad"]
    assert warning.level == "warning"


def test_levels_follow_the_documented_split() -> None:
    errors = {r.id for r in RULES if r.level == "error"}
    assert errors == {
        "QueueRedrivePolicy",
        "QueueVisibilityBelowFunctionTimeout",
        "SqsBatchingWindow",
        "SnsSubscriptionDeadLetterQueue",
        "EventBridgeTargetDeadLetterQueue",
        "StreamFailureDestination",
        "StreamBoundedRetries",
        "AsyncFailureDestination",
        "FifoCompatibility",
    }
    for rule in RULES:
        module = __import__(rule.check.__module__, fromlist=["_"])
        assert "https://docs.aws.amazon.com/" in (module.__doc__ or ""), f"{rule.id} cites no AWS documentation"

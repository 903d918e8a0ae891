"""eventweave's own patterns and example stacks pass the contract checks with zero findings.

ShowcaseStack uses every pattern once, so one synth of it with EventweaveChecks alone covers the patterns here. The
other example stacks are checked where they are already synthesized: ``add_checks`` registers the pack, so each
pattern's tests (tests/cdk), each example's stack tests (examples/*/tests/test_stack.py) and the example app
(tests/cdk/test_app.py) assert zero Eventweave findings too; the last test here proves that wiring.
"""

from __future__ import annotations

import os
import tempfile

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import App, Duration, Environment, Stack, Validations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs

from eventweave.nag import EventweaveChecks, Finding
from examples.showcase.stack import ShowcaseStack
from tests.cdk.harness import ACCOUNT, REGION, synthesize

ENV = Environment(account=ACCOUNT, region=REGION)


@pytest.fixture(scope="module")
def showcase() -> tuple[EventweaveChecks, int]:
    """ShowcaseStack (every pattern), synthesized once with EventweaveChecks: the pack and the resource count."""
    with tempfile.TemporaryDirectory(prefix="eventweave-nag-") as outdir:
        app = App(
            outdir=outdir,
            context={"aws:cdk:bundling-stacks": [], "@aws-cdk/core:failSynthOnValidationErrors": False},
        )
        stack = ShowcaseStack(app, "EventweaveShowcase", env=ENV)
        pack = EventweaveChecks(app)
        Validations.of(app).add_plugins(pack)
        resources = len(app.synth().get_stack_by_name(stack.stack_name).template["Resources"])
    return pack, resources


def test_every_pattern_has_zero_findings(showcase: tuple[EventweaveChecks, int]) -> None:
    pack, resources = showcase
    assert resources > 150, "the showcase stack was not synthesized"
    assert pack.checked == resources, "the pack did not read the synthesized template"
    assert pack.findings == []


def test_add_checks_runs_the_contract_checks() -> None:
    """What every pattern test relies on: ``add_checks`` (the cdk-nag harness) reports Eventweave findings too."""

    def build(stack: Stack) -> None:
        queue = sqs.Queue(stack, "Orders", visibility_timeout=Duration.seconds(10))
        worker = lambda_.Function(
            stack,
            "Worker",
            code=lambda_.Code.from_inline("def handler(event, context):\n    return {}\n"),
            handler="index.handler",
            runtime=lambda_.Runtime.PYTHON_3_13,
            timeout=Duration.seconds(30),
        )
        worker.add_event_source(sources.SqsEventSource(queue, report_batch_item_failures=True))

    findings = synthesize(build, name="Plain").findings
    assert "Eventweave-QueueVisibilityBelowFunctionTimeout at Plain/Orders/Resource" in findings
    assert "Eventweave-QueueRedrivePolicy at Plain/Orders/Resource" in findings


def test_findings_are_plain_data() -> None:
    finding = Finding("Eventweave-QueueRedrivePolicy", "S/Q/Resource", "error", "S/Q/Resource: ...")
    assert finding.as_dict() == {
        "rule": "Eventweave-QueueRedrivePolicy",
        "resource": "S/Q/Resource",
        "level": "error",
        "message": "S/Q/Resource: ...",
    }

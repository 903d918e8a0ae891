"""Synthesize a stack once, with cdk-nag (AwsSolutions + Serverless) and cfn-lint, for assertion tests."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import App, Environment, Stack
from aws_cdk.assertions import Template

from eventweave.constructs import add_checks

ACCOUNT, REGION = "123456789012", "us-east-1"


@dataclass
class Synth:
    """One synthesized stack: the template, CDK assertions on it, cdk-nag findings and cfn-lint errors."""

    stack: Stack
    template: dict[str, Any]
    assertions: Template
    findings: list[str] = field(default_factory=list)
    lint_errors: list[str] = field(default_factory=list)

    def resources(self, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == type_}

    def policy_statements(self) -> list[dict[str, Any]]:
        """Every IAM statement of the stack's policies and roles (inline)."""
        statements: list[dict[str, Any]] = []
        for resource in self.template["Resources"].values():
            props = resource.get("Properties", {})
            if resource["Type"] == "AWS::IAM::Policy":
                statements += props["PolicyDocument"]["Statement"]
            if resource["Type"] == "AWS::IAM::Role":
                for policy in props.get("Policies", []):
                    statements += policy["PolicyDocument"]["Statement"]
        return statements


def synthesize(build: Callable[[Stack], Any], *, name: str = "Test") -> Synth:
    """Build a stack with ``build(stack)``, synthesize it (bundling skipped) and check it with cdk-nag and cfn-lint."""
    outdir = tempfile.mkdtemp(prefix="eventweave-cdk-")
    try:
        return _synthesize(build, name, outdir)
    finally:
        shutil.rmtree(outdir, ignore_errors=True)


def _synthesize(build: Callable[[Stack], Any], name: str, outdir: str) -> Synth:
    app = App(outdir=outdir, context={"aws:cdk:bundling-stacks": []})
    stack = Stack(app, name, env=Environment(account=ACCOUNT, region=REGION))
    build(stack)
    add_checks(app)
    try:
        app.synth()
    except Exception as error:  # cdk-nag findings fail the synth; the report says which
        if "ValidationFailed" not in str(error) and "Validation failed" not in str(error):
            raise
    template = json.loads((Path(outdir) / f"{name}.template.json").read_text())
    findings: list[str] = []
    report = Path(outdir) / "validation-report.json"
    if report.exists():
        for plugin in json.loads(report.read_text()).get("pluginReports", []):
            findings.extend(
                f"{violation['ruleName']} at {construct['constructPath']}"
                for violation in plugin.get("violations", [])
                for construct in violation.get("violatingConstructs", [])
            )
    import cfnlint.api

    matches = cfnlint.api.lint(json.dumps(template), regions=[REGION])
    lint_errors = [
        f"{m.rule.id} {m.message} ({'/'.join(map(str, m.path))})" for m in matches if m.rule.id.startswith("E")
    ]
    return Synth(stack, template, Template.from_json(template), findings, lint_errors)


def wildcard_problems(statements: list[dict[str, Any]]) -> list[str]:
    """Statements with a wildcard action, or Resource '*' outside the actions that allow nothing else."""
    # AWS documents no resource-level permissions for these: Resource '*' is the only form they take.
    only_star = ("xray:PutTraceSegments", "xray:PutTelemetryRecords", "dynamodb:ListStreams")
    problems = []
    for statement in statements:
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        resources = statement.get("Resource", [])
        resources = [resources] if isinstance(resources, (str, dict)) else resources
        if any(a == "*" or a.endswith(":*") for a in actions):
            problems.append(f"wildcard action in {statement}")
        if "*" in resources and not all(a in only_star for a in actions):
            problems.append(f"Resource '*' for {actions}")
    return problems

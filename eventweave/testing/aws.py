"""The ``aws`` target: deploy stacks of a synthesized app to a real account with the CDK CLI, under unique names.

The cloud assembly is synthesized once with bundling (real Lambda packages). For each ephemeral stack the target
makes a view of the assembly whose manifest gives the stack a unique ``stackName`` (every other file is a symlink,
so assets are not copied), runs ``cdk deploy <id> --app <view> --require-approval never --outputs-file ...``, reads
the outputs and the physical ids (CloudFormation ``ListStackResources``), and ``cdk destroy <id> --force`` afterwards.
Handlers run in real Lambda; the clients a test gets are plain boto3 clients for the account and region of the
credentials in the environment.

Example::

    pytest --eventweave-target aws      # needs credentials, a bootstrapped account and the CDK CLI (npx cdk)
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .stack import EphemeralStack

__all__ = ["AwsDeployment", "AwsTarget"]


@dataclass
class AwsDeployment:
    """One stack deployed by :class:`AwsTarget`."""

    stack_id: str
    stack_name: str
    view: Path
    outputs: dict[str, str] = field(default_factory=dict)
    resources: dict[str, str] = field(default_factory=dict)
    functions: dict[str, str] = field(default_factory=dict)


class AwsTarget:
    """Deploys and destroys stacks of a cloud assembly in the account of the current credentials.

    ``cdk``: the CDK CLI command (default ``$EVENTWEAVE_CDK`` or ``npx cdk``); ``region``: default
    ``$AWS_REGION`` / ``$AWS_DEFAULT_REGION``.

    Example::

        target = AwsTarget()
        deployed = target.deploy(Path("cdk.out"), "EventweaveOrders", stack_name="EventweaveOrders-1a2b3c4d")
        stack = target.view(deployed)
        ...
        target.destroy(deployed)
    """

    endpoint: str | None = None

    def __init__(self, *, cdk: str | None = None, region: str | None = None, timeout: float = 1800) -> None:
        self.cdk = shlex.split(cdk or os.environ.get("EVENTWEAVE_CDK") or "npx cdk")
        self.region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        self.timeout = timeout
        self._tmp = Path(tempfile.mkdtemp(prefix="eventweave-aws-"))

    # -- deploy / destroy -------------------------------------------------------------------------------------------

    def deploy(self, assembly: str | Path, stack: str | None = None, *, stack_name: str) -> AwsDeployment:
        assembly = Path(assembly).resolve()
        stack_id = stack or _only_stack(assembly)
        view = self._view(assembly, stack_id, stack_name)
        outputs_file = view.parent / f"{view.name}-outputs.json"
        deployment = AwsDeployment(stack_id, stack_name, view)
        self._run(
            "deploy",
            stack_id,
            "--app",
            str(view),
            "--require-approval",
            "never",
            "--outputs-file",
            str(outputs_file),
            "--ci",
            "--no-notices",
        )
        outputs = json.loads(outputs_file.read_text()) if outputs_file.is_file() else {}
        deployment.outputs = {str(k): str(v) for k, v in outputs.get(stack_name, {}).items()}
        deployment.resources, deployment.functions = self._resources(stack_name)
        return deployment

    def destroy(self, deployment: AwsDeployment) -> None:
        self._run("destroy", deployment.stack_id, "--app", str(deployment.view), "--force", "--no-notices")

    def view(self, deployment: AwsDeployment) -> EphemeralStack:
        """The test-facing view: outputs, physical ids and clients for the real account."""
        return EphemeralStack(
            name=deployment.stack_name,
            endpoint=None,
            region=self.region,
            outputs=dict(deployment.outputs),
            resources=dict(deployment.resources),
            functions=dict(deployment.functions),
        )

    def stop(self) -> None:
        """Nothing runs locally for this target; kept for symmetry with the local cloud."""

    # -- helpers ----------------------------------------------------------------------------------------------------

    def _view(self, assembly: Path, stack_id: str, stack_name: str) -> Path:
        manifest = json.loads((assembly / "manifest.json").read_text())
        artifact = manifest.get("artifacts", {}).get(stack_id)
        if not artifact or artifact.get("type") != "aws:cloudformation:stack":
            raise KeyError(f"no stack {stack_id!r} in {assembly}; stacks: {', '.join(_stacks(manifest))}")
        artifact.setdefault("properties", {})["stackName"] = stack_name
        view = self._tmp / stack_name
        view.mkdir(parents=True, exist_ok=False)
        for entry in assembly.iterdir():
            if entry.name != "manifest.json":
                (view / entry.name).symlink_to(entry)
        (view / "manifest.json").write_text(json.dumps(manifest, indent=1))
        return view

    def _run(self, *args: str) -> None:
        command = [*self.cdk, *args]
        env = dict(os.environ, JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20", CI="true")
        result = subprocess.run(  # noqa: S603 - the user's CDK CLI with arguments built here
            command, capture_output=True, text=True, timeout=self.timeout, check=False, env=env
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"`{shlex.join(command)}` failed (exit {result.returncode}):\n{(result.stdout + result.stderr)[-4000:]}"
            )

    def _resources(self, stack_name: str) -> tuple[dict[str, str], dict[str, str]]:
        import boto3

        factory: Any = boto3.client
        cloudformation = factory("cloudformation", region_name=self.region)
        resources: dict[str, str] = {}
        functions: dict[str, str] = {}
        for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
            for summary in page["StackResourceSummaries"]:
                logical, physical = summary["LogicalResourceId"], summary.get("PhysicalResourceId", "")
                resources[logical] = physical
                if summary["ResourceType"] == "AWS::Lambda::Function":
                    functions[logical] = physical
        return resources, functions


def _stacks(manifest: dict[str, Any]) -> list[str]:
    return sorted(
        str(k) for k, v in manifest.get("artifacts", {}).items() if v.get("type") == "aws:cloudformation:stack"
    )


def _only_stack(assembly: Path) -> str:
    stacks = _stacks(json.loads((assembly / "manifest.json").read_text()))
    if len(stacks) != 1:
        raise ValueError(f"{assembly} has {len(stacks)} stacks ({', '.join(stacks)}): name one")
    return stacks[0]

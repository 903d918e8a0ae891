"""The ``aws`` target drives the CDK CLI per ephemeral stack: unique stack names, outputs, physical ids, destroy.

No account here: the CLI is ``tests/local/fixtures/fake_cdk.py``, which deploys the assembly's template with moto's
CloudFormation the way ``cdk deploy`` would, so what is checked is everything eventweave does around the CLI.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import boto3
import pytest

from eventweave.local.gateway import DataPlane
from eventweave.testing.aws import AwsTarget
from eventweave.testing.plugin import ephemeral

FAKE_CDK = Path(__file__).parent / "fixtures" / "fake_cdk.py"
TEMPLATE = {
    "Resources": {"WorkQueueABCD1234": {"Type": "AWS::SQS::Queue"}},
    "Outputs": {"QueueUrl": {"Value": {"Ref": "WorkQueueABCD1234"}}},
}


@pytest.fixture
def assembly(tmp_path: Path) -> Path:
    out = tmp_path / "cdk.out"
    (out / "asset.0123").mkdir(parents=True)
    (out / "asset.0123" / "index.py").write_text("handler = print\n")
    (out / "Tiny.template.json").write_text(json.dumps(TEMPLATE))
    manifest = {
        "version": "48.0.0",
        "artifacts": {
            "Tiny": {
                "type": "aws:cloudformation:stack",
                "environment": "aws://unknown-account/unknown-region",
                "properties": {"templateFile": "Tiny.template.json"},
            }
        },
    }
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out


@pytest.fixture
def target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    with DataPlane() as plane:
        for key, value in plane.environ().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("FAKE_CDK_LOG", str(tmp_path / "cdk.log"))
        yield AwsTarget(cdk=f"{sys.executable} {FAKE_CDK}")


def _calls(tmp_path: Path) -> list[list[str]]:
    return [json.loads(line) for line in (tmp_path / "cdk.log").read_text().splitlines()]


def test_each_ephemeral_stack_gets_a_unique_name_its_outputs_and_is_destroyed(target, assembly, tmp_path):
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    with ephemeral(target, assembly, "Tiny") as stack:
        assert stack.name.startswith("Tiny-") and stack.name != "Tiny"
        assert stack.endpoint is None  # real AWS: plain boto3 clients
        assert stack.outputs["QueueUrl"].endswith("/" + stack.physical_id("WorkQueue").rsplit("/", 1)[-1])
        status = cloudformation.describe_stacks(StackName=stack.name)["Stacks"][0]["StackStatus"]
        assert status == "CREATE_COMPLETE"
        name = stack.name
    deploy, destroy = _calls(tmp_path)
    assert deploy[:2] == ["deploy", "Tiny"] and "--require-approval" in deploy and "never" in deploy
    assert destroy[:2] == ["destroy", "Tiny"] and "--force" in destroy
    remaining = [
        s["StackName"] for s in cloudformation.list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"
    ]
    assert name not in remaining
    # The user's assembly is untouched; the view links its assets instead of copying them.
    assert "stackName" not in json.loads((assembly / "manifest.json").read_text())["artifacts"]["Tiny"]["properties"]
    view = Path(deploy[deploy.index("--app") + 1])
    assert (view / "asset.0123").is_symlink()


def test_a_failing_deploy_names_the_command_and_an_unknown_stack_lists_the_known_ones(target, assembly, monkeypatch):
    with pytest.raises(KeyError, match=r"no stack 'Nope'.*stacks: Tiny"):
        target.deploy(assembly, "Nope", stack_name="Nope-1")
    broken = AwsTarget(cdk=f"{sys.executable} -c 'import sys; sys.exit(3)'")
    with pytest.raises(RuntimeError, match="exit 3"):
        broken.deploy(assembly, "Tiny", stack_name="Tiny-broken")

"""A built-in handler (RequestFront) ships eventweave's runtime only: the handler engine and coordination runtimes."""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import pytest
from aws_cdk import App, Environment, Stack

from eventweave.constructs.bundling import RUNTIME_PACKAGES, source_hash
from eventweave.patterns.decoupled_invocation import DecoupledInvocation
from examples.showcase.job_handlers import Summarize

NOT_IN_LAMBDA = ("constructs", "patterns", "local", "testing", "cli.py")


def test_the_runtime_is_the_handler_engine_the_coordination_runtimes_and_the_wire_codecs() -> None:
    assert RUNTIME_PACKAGES == ("handlers", "coordination", "wire")


def test_an_unbundled_built_in_asset_holds_the_runtime_only(tmp_path: Path) -> None:
    """Bundling skipped (tests, ``cdk synth --exclusively``): the front's asset is eventweave's runtime alone."""
    app = App(outdir=str(tmp_path), context={"aws:cdk:bundling-stacks": []})
    stack = Stack(app, "Assets", env=Environment(account="123456789012", region="us-east-1"))
    DecoupledInvocation(stack, "Summaries", worker=Summarize)
    app.synth()
    template = json.loads((tmp_path / "Assets.template.json").read_text())
    functions = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    [front] = [f for f in functions if f["Handler"] == "eventweave.coordination.requests.front"]
    asset = tmp_path / f"asset.{front['Code']['S3Key'].removesuffix('.zip')}"
    assert asset.is_dir()
    assert (asset / "__init__.py").exists()
    assert (asset / "handlers" / "base.py").exists()
    assert (asset / "coordination" / "__init__.py").exists()
    assert (asset / "coordination" / "requests.py").exists()
    assert (asset / "coordination" / "fan_out_fan_in.py").exists()
    assert (asset / "wire" / "sqs.py").exists()  # the engine reads every record through it
    for name in NOT_IN_LAMBDA:
        assert not (asset / name).exists(), f"{name} must not ship inside Lambda"
    assert not list(asset.rglob("__pycache__"))


def test_the_runtime_hash_tracks_the_coordination_runtimes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The asset hash covers ``eventweave/coordination``: a change there is a new asset, as one in handlers is."""
    import eventweave.constructs.bundling as bundling

    root = tmp_path / "eventweave"
    for package in ("handlers", "coordination", "local", "constructs"):
        (root / package).mkdir(parents=True)
        (root / package / "__init__.py").write_text(f"# {package}\n")
    (root / "__init__.py").write_text("")
    (root / "py.typed").write_text("")
    monkeypatch.setattr(bundling, "_runtime_root", lambda: root)
    names = {name for _, name in bundling._runtime_files()}
    assert names == {
        "eventweave/__init__.py",
        "eventweave/py.typed",
        "eventweave/handlers/__init__.py",
        "eventweave/coordination/__init__.py",
    }
    before = source_hash(tmp_path, "eventweave", [], "manylinux2014_aarch64/3.14")
    (root / "local" / "__init__.py").write_text("# changed, but never shipped\n")
    assert source_hash(tmp_path, "eventweave", [], "manylinux2014_aarch64/3.14") == before
    (root / "coordination" / "__init__.py").write_text("# changed\n")
    assert source_hash(tmp_path, "eventweave", [], "manylinux2014_aarch64/3.14") != before

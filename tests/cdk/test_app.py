"""The example app synthesizes through both documented paths, with real Docker-free bundling and cdk-nag."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from eventweave.constructs.bundling import pinned_requirements, source_hash

ROOT = Path(__file__).resolve().parents[2]


def _env(outdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        CDK_OUTDIR=str(outdir),
        JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20",
        CDK_HOME=str(outdir.parent / "cdk-home"),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def _check_assembly(outdir: Path) -> dict:
    template = json.loads((outdir / "EventweaveShowcase.template.json").read_text())
    report = outdir / "validation-report.json"
    if report.exists():
        plugins = json.loads(report.read_text()).get("pluginReports", [])
        assert [v for p in plugins for v in p.get("violations", [])] == []
    return template


def test_python_app_path_synthesizes_and_bundles(tmp_path: Path) -> None:
    """`CDK_OUTDIR=cdk.out python app.py`: nag-clean template and a real arm64 asset with only the runtime."""
    outdir = tmp_path / "cdk.out"
    result = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=_env(outdir), capture_output=True,
                            text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    template = _check_assembly(outdir)
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    handlers = {f["Properties"]["Handler"] for f in functions}
    # Every pattern is in the example app, each with its paired handler.
    for entry in ("examples.showcase.handlers.charge", "examples.showcase.pubsub_handlers.reserve_stock",
                  "examples.showcase.pubsub_handlers.email_receipt", "examples.showcase.pubsub_handlers.track_orders",
                  "examples.showcase.stream_handlers.shipping", "examples.showcase.stream_handlers.count_page_views",
                  "examples.showcase.stream_handlers.project_accounts", "examples.showcase.job_handlers.count_words",
                  "examples.showcase.job_handlers.summarize", "examples.showcase.stream_handlers.resize"):
        assert entry in handlers
    assets = [p for p in outdir.iterdir() if p.name.startswith("asset.") and p.is_dir()]
    assert len(assets) == 2, "one asset for the examples package, one runtime-only asset for built-in handlers"
    for asset in assets:
        assert (asset / "eventweave" / "handlers" / "base.py").exists()
        assert (asset / "eventweave" / "coordination" / "requests.py").exists()
        assert not (asset / "eventweave" / "constructs").exists(), "the CDK side must not ship inside Lambda"
        assert not (asset / "eventweave" / "patterns").exists()
        assert not (asset / "eventweave" / "local").exists()
        assert not (asset / "eventweave" / "testing").exists()
        native = list((asset / "pydantic_core").glob("_pydantic_core.cpython-314-aarch64-linux-gnu.so"))
        assert native, "pydantic-core must be the Lambda platform's wheel (CPython 3.14, aarch64)"
        assert not list(asset.rglob("__pycache__"))
    with_examples = [a for a in assets if (a / "examples" / "showcase" / "handlers.py").exists()]
    assert len(with_examples) == 1
    asset = with_examples[0]
    assert not list(asset.rglob("__pycache__"))


def test_cdk_cli_path_synthesizes(tmp_path: Path) -> None:
    """`npx cdk synth` with the project's pinned CLI (v2) reads cdk.json and produces the same stack."""
    assert (ROOT / "node_modules" / ".bin" / "cdk").exists(), "run `make install` (npm ci installs the CDK CLI)"
    outdir = tmp_path / "cdk.out"
    result = subprocess.run(["npx", "cdk", "synth", "--no-notices", "-q", "--output", str(outdir)], cwd=ROOT,
                            env=_env(outdir), capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    _check_assembly(outdir)


def test_asset_hash_is_stable_and_tracks_content(tmp_path: Path) -> None:
    """Same inputs, same hash; a changed file, a changed pin or another platform, another hash."""
    package = tmp_path / "svc"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "handler.py").write_text("X = 1\n")
    pins = pinned_requirements()
    first = source_hash(tmp_path, "svc", pins, "manylinux2014_aarch64/3.14")
    assert first == source_hash(tmp_path, "svc", pins, "manylinux2014_aarch64/3.14")
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"junk")
    assert first == source_hash(tmp_path, "svc", pins, "manylinux2014_aarch64/3.14"), "caches do not count"
    assert first != source_hash(tmp_path, "svc", [*pins, "requests==2.0"], "manylinux2014_aarch64/3.14")
    assert first != source_hash(tmp_path, "svc", pins, "manylinux2014_x86_64/3.14")
    (package / "handler.py").write_text("X = 2\n")
    assert first != source_hash(tmp_path, "svc", pins, "manylinux2014_aarch64/3.14")

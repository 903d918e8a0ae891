"""Synth time of the example CDK app (every pattern, cdk-nag on), both documented paths.

Bundled assets come from eventweave's cache after the first run (that first run's pip download is reported
separately), so the figures are what a developer pays per synth.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ._report import ROOT, Section

RUNS = 3


def _synth(command: list[str], outdir: Path) -> float:
    env = dict(os.environ)
    env.update(
        CDK_OUTDIR=str(outdir),
        JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20",
        CDK_HOME=str(outdir.parent / "cdk-home"),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    start = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {(result.stdout + result.stderr)[-2000:]}")
    return elapsed


def run() -> Section:
    section = Section(
        title="Synth time of the example app",
        method=(
            f"`app.py` synthesizes the four example services and `ShowcaseStack` (all eight patterns), with cdk-nag "
            "AwsSolutions + Serverless. "
            f"Wall time of {RUNS} runs per path after one warm-up run (which fills the bundling cache); median "
            "[min-max]."
        ),
        header=["path", "median s", "min-max s", "stacks", "resources", "assets"],
    )
    with tempfile.TemporaryDirectory(prefix="eventweave-synth-") as tmp:
        warm = Path(tmp) / "warm"
        warm_seconds = _synth([sys.executable, "app.py"], warm)
        templates = sorted(warm.glob("*.template.json"))
        resources = sum(len(json.loads(t.read_text())["Resources"]) for t in templates)
        assets = len([p for p in warm.iterdir() if p.name.startswith("asset.")])
        paths = {
            "`CDK_OUTDIR=cdk.out python app.py`": [sys.executable, "app.py"],
            "`npx cdk synth -q` (CLI 2.x)": ["npx", "cdk", "synth", "--no-notices", "-q", "--output"],
        }
        for label, command in paths.items():
            times = []
            for n in range(RUNS):
                outdir = Path(tmp) / f"{len(times)}-{n}-{label[:4]}"
                argv = [*command, str(outdir)] if command[-1] == "--output" else command
                times.append(_synth(argv, outdir))
            section.rows.append(
                [
                    label,
                    f"{statistics.median(times):.1f}",
                    f"{min(times):.1f}-{max(times):.1f}",
                    str(len(templates)),
                    str(resources),
                    str(assets),
                ]
            )
    section.notes.append(f"Warm-up run (bundling cache possibly cold): {warm_seconds:.1f} s.")
    section.notes.append(
        "Construct tests skip bundling (`aws:cdk:bundling-stacks` = []) and reuse one synth per "
        "test module, so `make test` pays this cost a few times, not per test."
    )
    return section

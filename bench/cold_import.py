"""Cold import: a fresh interpreter importing a handler module, eventweave vs the Powertools stack.

Every case runs in its own process (``python -c``), round-robin with the start rotated each round so machine drift
hits every case alike; wall time is measured around spawn and reap, CPU time and peak memory come from the kernel's
accounting of the child (``wait4``). Bytecode is cached first (one warm-up run per case, into a private
``PYTHONPYCACHEPREFIX``), so the figures compare import work, not compilation, for both stacks alike.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from ._report import ROOT, Section, goal, median, ratio

RUNS = 11
GOAL = 0.6
EW = "import bench.fixtures.ew_sqs_idempotent"
PT = "import bench.fixtures.pt_sqs_idempotent"
CASES: list[tuple[str, str]] = [
    ("`python -c pass` (reference)", "pass"),
    ("`import pydantic` (reference)", "import pydantic"),
    ("**eventweave**: `bench.fixtures.ew_sqs_idempotent`", EW),
    ("**Powertools** stack: `bench.fixtures.pt_sqs_idempotent`", PT),
    (
        "eventweave + first `client('dynamodb')` (paid by the first idempotent invocation, not at import)",
        EW + "; from eventweave.handlers.clients import client; client('dynamodb')",
    ),
]


@dataclass
class Run:
    wall: float
    cpu: float
    rss_mb: float


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("PYTHONDONTWRITEBYTECODE", "PYTHONPROFILEIMPORTTIME", "PYTHONSTARTUP", "PYTHONWARNINGS"):
        env.pop(name, None)
    env["PYTHONPYCACHEPREFIX"] = os.path.join(tempfile.gettempdir(), "eventweave-bench-pycache")
    env["AWS_DEFAULT_REGION"] = "us-east-1"
    env["EVENTWEAVE_IDEMPOTENCY_TABLE"] = "bench-idempotency"
    return env


def spawn(code: str, env: dict[str, str]) -> Run:
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
    if proc.returncode != 0:
        raise RuntimeError(f"`python -c {code!r}` exited {proc.returncode}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def warm_up(code: str, env: dict[str, str]) -> None:
    """Run once untimed: writes bytecode, and shows the error now if a fixture does not import."""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"`python -c {code!r}` failed:\n{done.stderr[-3000:]}")


def heaviest_imports(code: str, env: dict[str, str], top: int = 6) -> str:
    """Import time by top-level package (sum of each module's self time, ``-X importtime``, one untimed run)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    found: dict[str, int] = {}
    for line in done.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) != 3 or not parts[0].strip().isdigit():
            continue  # the header line, or a warning
        package = parts[2].strip().split(".")[0]
        found[package] = found.get(package, 0) + int(parts[0])
    ranked = sorted(found.items(), key=lambda kv: -kv[1])[:top]
    return ", ".join(f"{name} {us / 1000:.0f} ms" for name, us in ranked)


def run() -> Section:
    env = child_env()
    for _, code in CASES:
        warm_up(code, env)
    runs: dict[str, list[Run]] = {code: [] for _, code in CASES}
    pair_ratios: list[float] = []
    for round_no in range(RUNS):
        shift = round_no % len(CASES)
        round_walls: dict[str, float] = {}
        for _, code in CASES[shift:] + CASES[:shift]:
            result = spawn(code, env)
            runs[code].append(result)
            round_walls[code] = result.wall
        pair_ratios.append(round_walls[EW] / round_walls[PT])

    pt_wall = median([r.wall for r in runs[PT]])
    base = median([r.wall for r in runs["pass"]])
    section = Section(
        title="Cold import of a handler module",
        method=(
            f"Fresh `python -c` processes, {RUNS} runs per case, cases alternated round-robin; median wall time "
            "(spawn to reap), kernel-accounted CPU (user+sys) and peak RSS of the child. Bytecode cached by an "
            "untimed warm-up run of each case. Environment: `AWS_DEFAULT_REGION`, `EVENTWEAVE_IDEMPOTENCY_TABLE` set."
        ),
        header=["module imported", "median wall ms", "min-max ms", "median CPU ms", "peak RSS MB", "vs Powertools"],
    )
    for label, code in CASES:
        walls = [r.wall for r in runs[code]]
        med = median(walls)
        section.rows.append(
            [
                label,
                f"{med * 1000:.0f}",
                f"{min(walls) * 1000:.0f}-{max(walls) * 1000:.0f}",
                f"{median([r.cpu for r in runs[code]]) * 1000:.0f}",
                f"{median([r.rss_mb for r in runs[code]]):.0f}",
                ratio(med, pt_wall),
            ]
        )
    ew_wall = median([r.wall for r in runs[EW]])
    headline = ew_wall / pt_wall
    section.rows.append(
        [
            "**ratio eventweave / Powertools**",
            f"{headline:.2f}x (pairwise median {median(pair_ratios):.2f}x)",
            f"{min(pair_ratios):.2f}-{max(pair_ratios):.2f}x pairwise",
            "",
            "",
            goal(headline, GOAL),
        ]
    )
    section.rows.append(
        [
            "ratio above interpreter start-up ((x - pass) / (Powertools - pass))",
            ratio(ew_wall - base, pt_wall - base),
            "",
            "",
            "",
            "",
        ]
    )
    section.notes.append(
        "Import time by top-level package (`-X importtime` self times, one untimed run; `bench` is the fixture's "
        "own body: model and class creation, handler and client construction). "
        f"eventweave: {heaviest_imports(EW, env)}. Powertools: {heaviest_imports(PT, env)}."
    )
    section.notes.append(
        "The Powertools stack builds its boto3 DynamoDB client at import (DynamoDBPersistenceLayer); eventweave "
        "defers boto3 to the first record that needs AWS, hence the last reference row."
    )
    return section

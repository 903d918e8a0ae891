"""The demo's driver: synthesize, start, deploy, run each scenario, report."""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TextIO

from eventweave.testing import Summary
from eventweave.testing.plugin import to_ephemeral

ROOT = Path(__file__).resolve().parents[2]

SERVICES: dict[str, str] = {
    "orders": "EventweaveOrders",
    "reports": "EventweaveReports",
    "jobs": "EventweaveJobs",
    "ledger": "EventweaveLedger",
}
"""Example folder -> its stack id in ``app.py``."""


class _Out:
    def __init__(self, stream: TextIO, verbose: bool) -> None:
        self.stream = stream
        self.verbose = verbose
        self.start = time.monotonic()

    def line(self, text: str = "") -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def step(self, text: str) -> None:
        self.line(f"  {time.monotonic() - self.start:6.1f}s  {text}")

    def invocation(self, line: str) -> None:
        if self.verbose and " invoke " in f" {line}":
            self.line(f"            | {line}")


def _flows(cloud: Any, stack: Any, since: float) -> list[str]:
    """Per function of ``stack``: invocations since ``since`` by source and outcome, from the cloud's journal."""
    names = {name: logical for logical, name in stack.functions.items()}
    per: dict[str, Counter[str]] = {}
    records: Counter[str] = Counter()
    for hop in cloud.journal.all():
        if hop.at >= since and hop.function in names:
            per.setdefault(hop.function, Counter())[f"{hop.source}:{hop.outcome}"] += 1
            records[hop.function] += hop.batch_size
    lines = []
    for function in sorted(per, key=lambda f: names[f]):
        outcomes = ", ".join(f"{count}x {key}" for key, count in sorted(per[function].items()))
        label = names[function].removesuffix("Function")[:40]
        lines.append(
            f"{label:<40} {sum(per[function].values()):>3} invocations, {records[function]:>3} records: {outcomes}"
        )
    return lines


def _table(summaries: list[Summary]) -> list[str]:
    header = ("service", "events in", "processed", "retried", "in DLQ", "duplicates suppressed", "checks", "result")
    rows = [
        (
            s.service,
            str(s.events_in),
            str(s.processed),
            str(s.retried),
            str(s.in_dlq),
            str(s.duplicates_suppressed),
            f"{sum(c.ok for c in s.checks)}/{len(s.checks)}",
            "ok" if s.ok else "FAILED",
        )
        for s in summaries
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def fmt(row: Sequence[str]) -> str:
        return "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )

    return [fmt(header), "  ".join("-" * w for w in widths), *(fmt(row) for row in rows)]


def run(only: Sequence[str] | None = None, *, out: TextIO = sys.stdout, verbose: bool = False) -> int:
    """Run the demo; 0 when every scenario held, 1 otherwise."""
    from eventweave.local.cloud import LocalCloud
    from eventweave.testing import synthesize

    chosen = list(only or SERVICES)
    say = _Out(out, verbose)
    say.line(
        "eventweave demo: four example services on the embedded local cloud (moto + eventweave, no Docker, no AWS)"
    )
    with tempfile.TemporaryDirectory(prefix="eventweave-demo-") as tmp:
        say.step("synthesizing app.py (cdk-nag on, bundling skipped) ...")
        assembly = synthesize(ROOT, Path(tmp) / "cdk.out")
        cloud = LocalCloud(log=say.invocation, async_retry_delays=(1.0, 2.0))
        endpoint = cloud.start()
        say.step(f"local cloud up at {endpoint}")
        summaries: list[Summary] = []
        try:
            started = time.monotonic()
            with ThreadPoolExecutor(4) as pool:  # side by side: each stack is a few hundred data-plane calls
                done = pool.map(lambda n: cloud.deploy(assembly, SERVICES[n], stack_name=SERVICES[n]), chosen)
                deployed = dict(zip(chosen, done, strict=True))
            stacks = {name: to_ephemeral(d, cloud.endpoint, cloud.region) for name, d in deployed.items()}
            for name, d in deployed.items():
                say.step(
                    f"deployed {SERVICES[name]}: {len(d.deployment.resources)} resources, "
                    f"{len(d.deployment.functions)} functions"
                )
            say.step(f"{len(deployed)} stacks deployed in {time.monotonic() - started:.1f} s")
            for name in chosen:
                say.line()
                say.line(f"== {name} " + "=" * (100 - len(name)))
                scenario = importlib.import_module(f"examples.{name}.scenario")
                since = time.time()
                try:
                    summary: Summary = scenario.run(stacks[name], say.step)
                except Exception as error:  # a scenario that crashes is a failed scenario, reported, not a traceback
                    summary = Summary(name)
                    summary.check("scenario ran to the end", False, f"{type(error).__name__}: {error}")
                    if verbose:
                        traceback.print_exc(file=out)
                summaries.append(summary)
                say.line("   what flowed where (from the local cloud's invocation journal):")
                for line in _flows(cloud, stacks[name], since):
                    say.line(f"     {line}")
                say.line("   checks:")
                for check in summary.checks:
                    say.line(
                        f"     [{'ok' if check.ok else 'FAILED'}] {check.what}"
                        + (f": {check.detail}" if check.detail else "")
                    )
        finally:
            cloud.stop()
    say.line()
    for line in _table(summaries):
        say.line(line)
    failed = [s.service for s in summaries if not s.ok]
    say.line()
    say.line(
        f"FAILED: {', '.join(failed)}" if failed else f"all {len(summaries)} services reached their expected end state"
    )
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.demo", description=__doc__)
    parser.add_argument("--only", action="append", choices=list(SERVICES), help="run only this service (repeatable)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every invocation as it happens")
    args = parser.parse_args(argv)
    return run(args.only, verbose=args.verbose)

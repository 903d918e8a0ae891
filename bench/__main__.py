"""``python -m bench [NAME ...]``: run the benchmarks, print their tables, and write them to ``bench/results/``.

With no names every benchmark runs and the report goes to ``bench/results/handlers-<YYYY-MM-DD>.md`` and
``bench/results/latest.md``. With names (see ``BENCHMARKS``: ``cold_import``, ``per_record``, ...) only those run
and nothing is written, so a partial run never replaces a full report.
"""

from __future__ import annotations

import datetime as dt
import importlib
import sys
import time

from ._report import ROOT, Section, machine_info

BENCHMARKS = (
    "cold_import",
    "per_record",
    "per_record_breakdown",
    "idempotency_requests",
    "synth_time",
    "local_cloud",
    "sqs_poller",
    "ministack_peer",
)


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}", file=sys.stderr)
        return 2
    started = dt.datetime.now(dt.UTC)
    info = machine_info(started)
    head = ["# eventweave handler runtime benchmarks", ""]
    head += [f"- **{key}**: {value}" for key, value in info]
    head += [
        "",
        "Figures are measurements, not assertions: each goal is a ratio against a baseline measured in the same run "
        "on the same machine, and is reported as met or missed. Absolute times vary between machines and between "
        "runs on a shared host; compare ratios.",
        "",
    ]
    print("\n".join(head), flush=True)
    sections: list[Section] = []
    for name in names:
        module = importlib.import_module(f".{name}", __package__)
        print(f"running {name} ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        section: Section = module.run()
        section.seconds = time.perf_counter() - start
        sections.append(section)
        print(section.markdown(), flush=True)
    total = sum(s.seconds for s in sections)
    report = "\n".join(head) + "\n" + "\n".join(s.markdown() for s in sections) + f"\n_Total: {total:.0f} s._\n"
    print(f"_Total: {total:.0f} s._")
    if argv:
        return 0
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    dated = results / f"handlers-{started:%Y-%m-%d}.md"
    for path in (dated, results / "latest.md"):
        path.write_text(report)
    print(f"written: {dated.relative_to(ROOT)}, bench/results/latest.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

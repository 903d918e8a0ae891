"""Run the conformance suite and write docs/conformance.md: scenario | AWS documentation | eventweave local
(| one column per other target whose results are given).

Usage (from the repository root)::

    .venv/bin/python tests/conformance/render.py                      # run on the local cloud, write the doc
    .venv/bin/python tests/conformance/render.py --junit local.xml    # render an existing run instead
    .venv/bin/python tests/conformance/render.py --extra localstack=ls.xml --extra aws=aws.xml

A run for another target is made with pytest itself::

    .venv/bin/pytest tests/conformance --eventweave-target aws --junitxml=aws.xml

Each scenario's title, AWS source and expectation come from its docstring (the suite's conftest attaches them to
the JUnit XML as properties); its outcome is the pytest outcome: passed = matches AWS; xfailed = differs, a known
gap (strict xfail: it turns into a failure once the gap is fixed); failed = differs; skipped = not checked there.
Exits with pytest's status when it ran the suite, so a failing scenario fails the command too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SUITE = "tests/conformance"
DEFAULT_OUTPUT = ROOT / "docs" / "conformance.md"


@dataclass
class Result:
    nodeid: str
    outcome: str  # passed | failed | error | skipped | xfailed | xpassed
    message: str = ""
    properties: dict[str, str] = field(default_factory=dict)


def read_junit(path: Path) -> dict[str, Result]:
    """The results of a JUnit XML file written by pytest, by test id."""
    tree = ET.parse(path)
    out: dict[str, Result] = {}
    for case in tree.iter("testcase"):
        classname, name = case.get("classname", ""), case.get("name", "")
        nodeid = f"{classname.replace('.', '/')}.py::{name}" if classname else name
        properties = {p.get("name", ""): p.get("value", "") for p in case.iter("property")}
        outcome, message = "passed", ""
        for child in case:
            tag, text = child.tag, child.get("message", "") or ""
            if tag == "failure":
                outcome, message = ("xpassed", text) if text.startswith("[XPASS(strict)]") else ("failed", text)
            elif tag == "error":
                outcome, message = "error", text
            elif tag == "skipped":
                outcome = "xfailed" if child.get("type") == "pytest.xfail" else "skipped"
                message = text
        if nodeid in out and out[nodeid].outcome != "passed" and outcome == "passed":
            continue  # a teardown error reported separately keeps the worse outcome
        out[nodeid] = Result(nodeid, outcome, message, properties)
    return out


def run_suite(junit: Path, pytest_args: list[str]) -> tuple[int, float]:
    command = [
        sys.executable, "-m", "pytest", SUITE, "-q", "-p", "no:cacheprovider", "-o", "junit_family=xunit1",
        f"--junitxml={junit}", *pytest_args,
    ]  # fmt: skip
    started = time.monotonic()
    completed = subprocess.run(command, cwd=ROOT, check=False)
    return completed.returncode, time.monotonic() - started


def cell(result: Result | None) -> str:
    if result is None:
        return "not run"
    return {
        "passed": "matches",
        "xfailed": "differs (known gap)",
        "failed": "**differs**",
        "error": "**error**",
        "skipped": "not checked" + (f" ({_short(result.message)})" if result.message else ""),
        "xpassed": "matches (gap fixed: remove its xfail)",
    }[result.outcome]


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.replace("|", "/").split())
    for prefix in ("Skipped: ", "absence not checkable on this target: "):
        text = text.removeprefix(prefix)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _doc_link(properties: dict[str, str]) -> str:
    url = properties.get("aws_source", "")
    if not url:
        return ""
    page = url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".html").removesuffix(".md")
    archived = " (archived guide)" if "github.com/awsdocs" in url else ""
    notes = properties.get("aws_section", "")
    return f"[{page}]({url}){archived}" + (f"; {notes}" if notes else "")


FILE_ORDER = ("test_sqs.py", "test_fifo.py", "test_sns.py", "test_eventbridge.py", "test_async.py", "test_streams.py")


def _file_rank(result: Result) -> tuple[int, str]:
    file = result.nodeid.split("::", 1)[0].rsplit("/", 1)[-1]
    return (FILE_ORDER.index(file) if file in FILE_ORDER else len(FILE_ORDER), file)


def render(local: dict[str, Result], extras: dict[str, dict[str, Result]], *, summary: str) -> str:
    # xdist writes results as they finish; within a file (one worker per file) that is the file's order.
    scenarios = sorted((r for r in local.values() if r.properties.get("aws_source")), key=_file_rank)
    instruments = [r for r in local.values() if not r.properties.get("aws_source")]
    targets = ["eventweave local", *extras]
    lines = [
        "# Conformance: eventweave's local cloud against AWS's documented Lambda delivery semantics",
        "",
        "Generated by `tests/conformance/render.py` from a run of `tests/conformance` (do not edit by hand). "
        "Each scenario deploys the suite's plain aws-cdk-lib app (`tests/conformance/app/`, no eventweave imports) "
        "and checks one documented AWS behaviour; the AWS column cites the page it comes from (the quotes are in "
        "the project's notes, aws-semantics.md).",
        "",
        "*matches*: the target did what AWS documents. *differs (known gap)*: it did not, and the scenario is "
        "marked as an expected failure until the gap is fixed (strict: fixing it turns the run red until the marker "
        "goes). *not checked*: the scenario could not be checked on that target.",
        "",
        summary,
        "",
        "| Scenario | AWS documentation | " + " | ".join(targets) + " |",
        "|---|---|" + "---|" * len(targets),
    ]
    for result in scenarios:
        row = [result.properties.get("scenario", result.nodeid), _doc_link(result.properties), cell(result)]
        row += [cell(extras[name].get(result.nodeid)) for name in extras]
        lines.append("| " + " | ".join(text.replace("|", "/") for text in row) + " |")
    gaps: list[tuple[Result, str, Result]] = []
    for scenario in scenarios:
        runs = [("eventweave local", scenario)] + [(name, extras[name].get(scenario.nodeid)) for name in extras]
        gaps += [(scenario, name, r) for name, r in runs if r is not None and r.outcome in ("xfailed", "failed")]
    if gaps:
        lines += ["", "## Differences from AWS", ""]
        for scenario, name, result in gaps:
            reason = result.properties.get("known_gap") or scenario.properties.get("known_gap") or result.message
            lines.append(f"- **{scenario.properties.get('scenario')}** ({name}): {_short(reason, 400)}")
    lines += ["", "## What each scenario expects (AWS)", ""]
    described: set[str] = set()
    for result in scenarios:
        title = result.properties.get("scenario_base") or result.properties.get("scenario", "")
        if title not in described:
            described.add(title)
            lines.append(f"- **{title}**: {result.properties.get('expected', '')}")
    if instruments:
        passed = sum(r.outcome == "passed" for r in instruments)
        lines += [
            "",
            f"Instrument checks (the quiescence signal the scenarios rely on, `test_quiescence.py`): "
            f"{passed} of {len(instruments)} passed.",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="the Markdown file to write")
    parser.add_argument("--junit", type=Path, help="render this JUnit XML of a local run instead of running")
    parser.add_argument(
        "--extra", action="append", default=[], metavar="TARGET=JUNIT", help="a column for another target's run"
    )
    parser.add_argument(
        "pytest_args", nargs="*", help="pytest arguments for the run, after -- (default: -n 2 --dist loadfile)"
    )
    args = parser.parse_args(argv)
    args.pytest_args = args.pytest_args or ["-n", "2", "--dist", "loadfile"]
    status, seconds = 0, None
    if args.junit is None:
        junit = Path(tempfile.mkdtemp(prefix="conformance-")) / "local.xml"
        status, seconds = run_suite(junit, args.pytest_args)
        if not junit.is_file():
            print(f"pytest wrote no JUnit file (exit {status})", file=sys.stderr)
            return status or 1
    else:
        junit = args.junit
    local = read_junit(junit)
    extras: dict[str, dict[str, Result]] = {}
    for spec in args.extra:
        name, _, path = spec.partition("=")
        if not path:
            parser.error(f"--extra {spec!r}: write it as TARGET=path/to/junit.xml")
        extras[name] = read_junit(Path(path))
    scenarios = [r for r in local.values() if r.properties.get("aws_source")]
    outcomes = ("passed", "xfailed", "failed", "error", "skipped", "xpassed")
    counts = {k: sum(r.outcome == k for r in scenarios) for k in outcomes}
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    took = f" in {seconds:.0f} s" if seconds is not None else ""
    summary = (
        f"Last run {when}{took}: {len(scenarios)} scenarios on the local cloud: {counts['passed']} match, "
        f"{counts['xfailed']} differ (known gaps), {counts['failed'] + counts['error']} differ (unexpected), "
        f"{counts['skipped']} not checked."
    )
    if counts["xpassed"]:
        summary += f" {counts['xpassed']} match although marked as known gaps (remove the markers)."
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(local, extras, summary=summary))
    print(f"wrote {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}: {summary}")
    return status


if __name__ == "__main__":
    sys.exit(main())

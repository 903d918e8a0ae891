"""The conformance suite: the plain CDK app in this folder, synthesized once per run and deployed to the target
under test (``--eventweave-target``, default the embedded local cloud), and scenarios that check what AWS documents
about Lambda's delivery semantics against what that target does.

Each scenario is one test whose docstring has three parts, which ``render.py`` puts into docs/conformance.md::

    One-line title.

    AWS: <documentation URL>
    Notes: aws-semantics.md §N (the project's notes that quote it)
    Expected: what AWS documents, in a sentence or two.

Waits are bounded (``wait_until`` with a timeout and a description). "X does not happen" is asserted after
:meth:`~eventweave.testing.EphemeralStack.wait_idle`, the local cloud's quiescence signal, never after a sleep; on
targets without that signal those scenarios are skipped at that point, saying so.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from eventweave.testing import EphemeralStack, synthesize, wait_until
from eventweave.testing.plugin import ephemeral

APP = Path(__file__).resolve().parent
STACK = "EventweaveConformance"

# How long a scenario may wait for what AWS does, per target: the local cloud retries async events after 0.5 / 1 s
# (ini eventweave_async_retry_delays), AWS after about 1 and 2 minutes.
PATIENCE = {"local": {"fast": 20.0, "async": 20.0}, "aws": {"fast": 90.0, "async": 400.0}}


def target_of(config: pytest.Config) -> str:
    return str(config.getoption("--eventweave-target") or os.environ.get("EVENTWEAVE_TARGET") or "local")


@pytest.fixture(scope="session")
def patience(pytestconfig: pytest.Config) -> dict[str, float]:
    """Seconds a scenario waits for an effect, by kind (``fast`` deliveries, ``async`` retries)."""
    return PATIENCE.get(target_of(pytestconfig), PATIENCE["aws"])


@pytest.fixture(scope="session")
def conformance_assembly(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The conformance app synthesized once per run; xdist workers share it (the first one synthesizes)."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    outdir = shared / "conformance-cdk.out"
    with (shared / "conformance-cdk.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (outdir / "manifest.json").is_file():
            synthesize(APP, outdir)
    return outdir


def _stack_scope(fixture_name: str, config: pytest.Config) -> Literal["module", "session"]:
    # The embedded data plane is moto's in-process state, which other suites in the same worker reset
    # (POST /moto-api/reset) between their tests, taking a longer-lived stack with it; a local deploy takes well
    # under a second. Elsewhere (LocalStack, AWS) a deploy is slow and nothing resets it: once per session.
    return "module" if target_of(config) == "local" else "session"


@pytest.fixture(scope=_stack_scope)
def conformance(eventweave_cloud: Any, conformance_assembly: Path) -> Iterator[EphemeralStack]:
    """The conformance stack, deployed under a unique name (per test module locally, per session elsewhere) and
    destroyed afterwards."""
    with ephemeral(eventweave_cloud, conformance_assembly, STACK) as deployed:
        yield deployed


@pytest.fixture
def run() -> str:
    """A run id for one scenario: every payload of the scenario carries it, and the handlers file what they saw
    under it."""
    return f"run-{uuid.uuid4().hex[:12]}"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Attach each scenario's title, AWS source and expectation (from its docstring) to the report, so the
    renderer can read them from the JUnit XML."""
    if "tests/conformance/" not in item.nodeid.replace(os.sep, "/"):
        return
    for name, value in scenario_properties(item).items():
        item.user_properties.append((name, value))


def scenario_properties(item: pytest.Item) -> dict[str, str]:
    function = getattr(item, "function", None)
    doc = (getattr(function, "__doc__", None) or "").strip()
    title, _, rest = doc.partition("\n\n")
    title = " ".join(title.split())
    source = re.search(r"^\s*AWS:\s*(\S+)", rest, re.MULTILINE)
    notes = re.search(r"^\s*Notes:\s*(.+)$", rest, re.MULTILINE)
    expected = re.search(r"^\s*Expected:\s*(.+?)(?:\n\s*\n|\Z)", rest, re.MULTILINE | re.DOTALL)
    callspec = getattr(item, "callspec", None)
    case = f" [{callspec.id}]" if callspec is not None else ""
    xfail = item.get_closest_marker("xfail")
    properties = {
        "scenario": (title.rstrip(".") + case) if title else item.name,
        "scenario_base": title.rstrip(".") if title else item.name,
        "aws_source": source.group(1) if source else "",
        "aws_section": notes.group(1).strip() if notes else "",
        "expected": " ".join(expected.group(1).split()) if expected else "",
    }
    if xfail is not None:
        properties["known_gap"] = str(xfail.kwargs.get("reason", ""))
    return properties


# -- reading what the handlers saw ----------------------------------------------------------------------------------


@dataclass
class Invocation:
    """One invocation as the handler filed it."""

    role: str
    event: Any
    outcomes: list[dict[str, Any]]
    sk: str

    @property
    def records(self) -> list[dict[str, Any]]:
        records = self.event.get("Records") if isinstance(self.event, dict) else None
        return records if isinstance(records, list) else []

    def record_keys(self) -> list[str | None]:
        """The instruction ``key`` of each record, in batch order."""
        return [outcome.get("key") for outcome in self.outcomes]

    def outcome(self, key: str) -> dict[str, Any] | None:
        return next((o for o in self.outcomes if o.get("key") == key), None)


class Observations:
    """What the conformance handlers wrote to the observations table."""

    def __init__(self, stack: EphemeralStack) -> None:
        self.stack = stack
        self.table = stack.outputs["ObservationsTable"]

    def invocations(self, run: str, role: str | None = None) -> list[Invocation]:
        """The invocations that carried ``run``, oldest first (of one function when ``role`` is given)."""
        ddb = self.stack.client("dynamodb")
        out: list[Invocation] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :run",
            "ExpressionAttributeValues": {":run": {"S": run}},
            "ConsistentRead": True,
        }
        while True:
            page = ddb.query(**kwargs)
            out.extend(
                Invocation(
                    role=item["role"]["S"],
                    event=json.loads(item["event"]["S"]),
                    outcomes=json.loads(item["outcomes"]["S"]),
                    sk=item["sk"]["S"],
                )
                for item in page["Items"]
                if role is None or item["role"]["S"] == role
            )
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return sorted(out, key=lambda invocation: invocation.sk)

    def attempts(self, key: str) -> int:
        """How many times a record with instruction ``key`` reached its handler."""
        item = (
            self.stack.client("dynamodb")
            .get_item(TableName=self.table, Key={"pk": {"S": f"attempt#{key}"}, "sk": {"S": "-"}}, ConsistentRead=True)
            .get("Item")
        )
        return int(item["n"]["N"]) if item else 0

    def wait_for(self, run: str, probe: Any, *, timeout: float, what: str, role: str | None = None) -> Any:
        """``wait_until`` over this run's invocations: ``probe(invocations)`` until truthy."""
        return wait_until(lambda: probe(self.invocations(run, role)), timeout=timeout, what=what)


@pytest.fixture(scope=_stack_scope)
def observed(conformance: EphemeralStack) -> Observations:
    return Observations(conformance)


def settle(stack: EphemeralStack, timeout: float = 30.0) -> None:
    """Wait for the target's quiescence signal before asserting that something did not happen; skip the rest of
    the scenario on a target without one (it cannot say that nothing more will happen)."""
    try:
        stack.wait_idle(timeout=timeout)
    except NotImplementedError as error:
        pytest.skip(f"absence not checkable on this target: {error}")


def key(run: str, name: str) -> str:
    """A record key unique to the scenario run."""
    return f"{run}-{name}"


def body(run: str, name: str, **instructions: Any) -> str:
    """A message body for the observing handler: the run, a key, and instructions."""
    return json.dumps({"run": run, "key": key(run, name), **instructions})


class Inbox:
    """The messages of one queue that carry a run id, collected across drains (others are dropped)."""

    def __init__(self, stack: EphemeralStack, url: str, run: str) -> None:
        self.stack, self.url, self.run = stack, url, run
        self.messages: list[dict[str, Any]] = []

    def collect(self) -> list[dict[str, Any]]:
        self.messages.extend(m for m in self.stack.drain(self.url) if self.run in json.dumps(m["body"]))
        return self.messages

    def wait(self, count: int = 1, *, timeout: float, what: str) -> list[dict[str, Any]]:
        return wait_until(lambda: len(self.collect()) >= count and self.messages, timeout=timeout, what=what)

"""``eventweave local up`` runs the example app (``app.py``) end to end; the other commands drive and trace it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from eventweave.testing import wait_until

ROOT = Path(__file__).resolve().parents[2]


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eventweave.cli", "local", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _logical(state: dict, pattern: str) -> str:
    resources = state["stacks"]["EventweaveShowcase"]["resources"]
    matches = [physical for logical, physical in resources.items() if re.fullmatch(pattern, logical)]
    assert len(matches) == 1, (pattern, sorted(resources))
    return str(matches[0])


@pytest.fixture(scope="module")
def local_up(tmp_path_factory: pytest.TempPathFactory):
    cwd = tmp_path_factory.mktemp("cli")
    log = (cwd / "up.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "eventweave.cli", "local", "up", "--app", str(ROOT), "--port", "0"],
        cwd=cwd,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    assert process.stdout is not None
    out: list[str] = []
    deadline = time.monotonic() + 300
    for line in process.stdout:
        out.append(line)
        if line.startswith("Ctrl-C") or time.monotonic() > deadline:
            break
    try:
        assert any(line.startswith("ready ") for line in out), "".join(out) + (cwd / "up.log").read_text()[-3000:]
        yield cwd, "".join(out), json.loads((cwd / ".eventweave" / "local.json").read_text())
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
        log.close()
        assert code == 0
        assert not (cwd / ".eventweave" / "local.json").exists(), "up removes its state file when it stops"


def test_up_deploys_every_stack_of_the_app_and_prints_its_resources(local_up):
    _cwd, out, state = local_up
    assert "stack EventweaveShowcase" in out
    assert state["endpoint"].startswith("http://127.0.0.1:")
    assert any("BillingQueue" in logical for logical in state["stacks"]["EventweaveShowcase"]["resources"])


def test_send_is_traced_through_the_queue_worker(local_up):
    cwd, _out, state = local_up
    queue = _logical(state, r"BillingQueue[0-9A-F]{8}")
    sent = _cli(cwd, "send", queue, json.dumps({"order_id": "o-cli-1", "amount": 5}))
    assert sent.returncode == 0, sent.stderr
    correlation = sent.stdout.split("correlation=")[1].strip()

    def traced() -> str | None:
        result = _cli(cwd, "trace", correlation)
        return result.stdout if result.returncode == 0 and "outcome=ok" in result.stdout else None

    lines = wait_until(traced, timeout=60, interval=0.5, what="the message's invocation in the journal")
    assert "source=sqs batch=1" in lines
    assert "Billing" in lines


def test_publish_fans_out_by_filter_policy_and_trace_follows_both_subscribers(local_up):
    cwd, _out, state = local_up
    topic = _logical(state, r"OrdersTopic[0-9A-F]{8}")
    order = json.dumps({"order_id": "o-cli-2", "amount": 500})
    published = _cli(cwd, "publish", topic, order, "--attribute", "priority=express")
    assert published.returncode == 0, published.stderr
    correlation = published.stdout.split("correlation=")[1].strip()

    def both() -> str | None:
        result = _cli(cwd, "trace", correlation)
        found = result.stdout if result.returncode == 0 else ""
        return found if "OrdersStock" in found and "OrdersLargeOrders" in found else None

    wait_until(both, timeout=60, interval=0.5, what="both subscribers of the express order")


def test_invoke_answers_synchronously_and_errors_name_what_to_do(local_up):
    cwd, _out, state = local_up
    functions = state["stacks"]["EventweaveShowcase"]["functions"]
    name = next(physical for logical, physical in functions.items() if logical.startswith("ResizeFunction"))
    missing = _cli(cwd, "invoke", "NoSuchFunction")
    assert missing.returncode != 0 and "NoSuchFunction" in missing.stderr
    answered = _cli(cwd, "invoke", name, "--payload", json.dumps({"key": "cat.png", "width": 64}))
    assert answered.returncode == 0, answered.stderr
    assert json.loads(answered.stdout) == {"thumbnail": "thumbnails/64/cat.png"}

"""The local cloud's SQS poller against two of Lambda's documented behaviours: a batching window over a trickle, and
FIFO order under failures.

* **trickle**: 4 messages/s for 10 s (open loop, fixed schedule) into the queue of ``EventweaveTrickle`` (a
  ``QueueWorker`` with ``BatchSize`` 100 and ``MaximumBatchingWindowInSeconds`` 2). Lambda collects a batch until the
  window (counted from the batch's first message), the batch size or 6 MB; at this rate that is one batch per ~2 s
  window holding ~8 messages. Reported: batches per second over the sending time, and every batch size, from the
  local cloud's journal (one entry per invocation).
* **FIFO with failures**: ``EventweaveFifo`` is a FIFO queue (visibility timeout 2 s) -> a plain Lambda function
  (``bench/local_app/fifo_handler.py``, partial batch responses) that fails a record on its first receive when its
  content hashes to 0 mod 5 (~20%, the same records every run) and, as AWS advises for FIFO, reports that record and
  every later record of the batch as failed. 4 message groups x 25 messages are sent interleaved. Reported: order
  violations per group (a message handled successfully while an earlier message of its group has not been yet;
  goal 0), duplicate successes, and the time from the first send to the last success.

Both stacks are synthesized from ``bench/local_app`` and deployed into one in-process ``LocalCloud``, as in
``bench/local_cloud.py``.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

from ._report import ROOT, Section

RATE = 4.0
"""Trickle messages per second."""
TRICKLE_SECONDS = 10.0
WINDOW = 2.0
GROUPS = 4
PER_GROUP = 25
_FIFO = re.compile(r"BENCH-FIFO (ok|fail) (\S+) (\d+) (\S+) ([0-9.]+)")
_START = re.compile(r"BENCH-START (\S+) (\S+) ([0-9.]+)")


class _Log:
    """The local cloud's log sink: keeps the handlers' marks, drops the rest."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.fifo: list[tuple[str, str, int, str, float]] = []
        self.starts: dict[str, float] = {}

    def __call__(self, line: str) -> None:
        if "BENCH-" not in line:
            return
        with self.lock:
            if match := _FIFO.search(line):
                outcome, group, seq, receives, at = match.groups()
                self.fifo.append((outcome, group, int(seq), receives, float(at)))
            elif match := _START.search(line):
                self.starts.setdefault(match.group(2), float(match.group(3)))

    def successes(self) -> list[tuple[str, int, float]]:
        with self.lock:
            return [(group, seq, at) for outcome, group, seq, _, at in self.fifo if outcome == "ok"]


def _say(what: str) -> None:
    print(f"  sqs_poller: {what}", file=sys.stderr, flush=True)


def _wait(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _trickle(cloud: Any, stack: Any, log: _Log) -> tuple[list[int], float, int]:
    """Batch sizes in the order they ran, batches per second of sending, messages never handled."""
    from eventweave.local.aws import client

    sqs = client("sqs", cloud.endpoint, cloud.region)
    function = stack.outputs["FunctionName"]
    cloud.lambdas.invoke(function, b'{"Records": []}', source="invoke")  # a warm environment
    count = int(RATE * TRICKLE_SECONDS)
    ids = [uuid.uuid4().hex[:12] for _ in range(count)]
    started = time.time()
    tick = time.perf_counter()
    for key in ids:
        sqs.send_message(QueueUrl=stack.outputs["QueueUrl"], MessageBody=json.dumps({"id": key}))
        tick += 1 / RATE
        time.sleep(max(0.0, tick - time.perf_counter()))
    sending = time.time() - started
    _wait(lambda: all(key in log.starts for key in ids), WINDOW * 3 + 10)
    batches = [
        entry.batch_size
        for entry in cloud.journal.all()
        if entry.function == function and entry.source == "sqs" and entry.at >= started
    ]
    return batches, len(batches) / sending, sum(1 for key in ids if key not in log.starts)


def _fifo(cloud: Any, stack: Any, log: _Log) -> dict[str, Any]:
    from bench.local_app.fifo_handler import fails_first_attempt
    from eventweave.local.aws import client

    sqs = client("sqs", cloud.endpoint, cloud.region)
    url = stack.outputs["QueueUrl"]
    groups = [f"g{i}" for i in range(GROUPS)]
    messages = [(group, seq) for seq in range(PER_GROUP) for group in groups]  # interleaved, as producers would
    started = time.time()
    for start in range(0, len(messages), 10):
        entries = [
            {"Id": str(i), "MessageBody": json.dumps({"group": group, "seq": seq}), "MessageGroupId": group}
            for i, (group, seq) in enumerate(messages[start : start + 10])
        ]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
    wanted = set(messages)
    done = _wait(lambda: wanted <= {(g, s) for g, s, _ in log.successes()}, 180)
    successes = sorted(log.successes(), key=lambda item: item[2])
    finished = successes[-1][2] if successes else float("nan")
    violations: dict[str, int] = dict.fromkeys(groups, 0)
    handled: dict[str, set[int]] = defaultdict(set)
    duplicates = 0
    for group, seq, _ in successes:
        if seq in handled[group]:
            duplicates += 1
            continue
        if any(earlier not in handled[group] for earlier in range(seq)):
            violations[group] += 1
        handled[group].add(seq)
    with log.lock:
        failed = sum(1 for outcome, *_ in log.fifo if outcome == "fail")
    return {
        "violations": violations,
        "duplicates": duplicates,
        "seconds": finished - started,
        "complete": done,
        "missing": len(wanted - {(g, s) for g, s, _ in successes}),
        "failed": failed,
        "planned": sum(1 for group, seq in messages if fails_first_attempt(group, seq)),
    }


def run() -> Section:
    from eventweave.local.cloud import LocalCloud
    from eventweave.testing.stack import synthesize

    section = Section(
        title="Local SQS poller: batching window and FIFO order",
        method=(
            "`bench/sqs_poller.py` (method in its docstring). A trickle of 4 messages/s for 10 s into a mapping with "
            "BatchSize 100 and a 2 s batching window; a FIFO queue of 4 groups x 25 messages whose handler fails "
            "~20% of first attempts and reports the failed record and the rest of the batch (AWS's FIFO advice)."
        ),
        header=("figure", "value", "expected / goal", "verdict"),
    )
    with tempfile.TemporaryDirectory(prefix="bench-poller-") as tmp:
        assembly = synthesize(ROOT / "bench" / "local_app", Path(tmp) / "cdk.out")
        log = _Log()
        cloud = LocalCloud(log=log)
        cloud.start()
        try:
            trickle = cloud.deploy(assembly, "EventweaveTrickle", stack_name="EventweaveTrickle")
            fifo = cloud.deploy(assembly, "EventweaveFifo", stack_name="EventweaveFifo")
            _say(f"trickle: {RATE:g} messages/s for {TRICKLE_SECONDS:g} s")
            batches, per_second, lost = _trickle(cloud, trickle, log)
            _say(f"FIFO: {GROUPS} groups x {PER_GROUP} messages, failures on first attempts")
            result = _fifo(cloud, fifo, log)
        finally:
            cloud.stop()
    expected = RATE * WINDOW
    middle = statistics.median(batches) if batches else 0
    section.rows.append(
        (
            f"trickle {RATE:g}/s, window {WINDOW:g} s, BatchSize 100: batches per second",
            f"{per_second:.2f} ({len(batches)} batches in {TRICKLE_SECONDS:g} s)",
            f"~{1 / WINDOW:.2f} (one per {WINDOW:g} s window)",
            "met" if batches and per_second <= 1.25 / WINDOW else "**missed**",
        )
    )
    section.rows.append(
        (
            "trickle: batch sizes, in order",
            ", ".join(str(size) for size in batches) or "none",
            f"~{expected:.0f} each",
            ("met" if batches and middle >= 0.75 * expected else "**missed**")
            + (f"; {lost} messages never handled" if lost else ""),
        )
    )
    violations = result["violations"]
    section.rows.append(
        (
            f"FIFO {GROUPS} groups x {PER_GROUP}: order violations per group",
            ", ".join(f"{group}: {count}" for group, count in violations.items()),
            "0",
            "met" if result["complete"] and not any(violations.values()) else "**missed**",
        )
    )
    section.rows.append(
        (
            "FIFO: total time, first send -> last success",
            f"{result['seconds']:.1f} s ({result['failed']} first-attempt failures injected, "
            f"{result['planned']} planned; {result['duplicates']} duplicate successes)",
            "-",
            "all handled" if result["complete"] else f"**{result['missing']} never handled**",
        )
    )
    section.notes.append(
        "A failed FIFO record (and the rest of its batch) returns after the queue's 2 s visibility timeout, and its "
        "group waits for it, so the total time is dominated by the failures: about one 2 s timeout per failure in the "
        "group that has the most. Planned failures exceed injected ones when a record that would fail was first sent "
        "back as 'the rest of the batch': it is not on its first receive when it next runs."
    )
    return section

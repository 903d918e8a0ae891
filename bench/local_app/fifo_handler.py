"""A plain Lambda handler (no eventweave runtime) for a FIFO queue, written as AWS advises for FIFO partial batch
responses: at the first failed record it stops and reports that record and every later record of the batch.

A record fails on its first receive when its content hashes to 0 mod 5 (about one in five), so the run is the same
every time. Each outcome is printed with the handler's clock: ``BENCH-FIFO ok|fail <group> <seq> <receives> <t>``.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any


def fails_first_attempt(group: str, seq: int) -> bool:
    """Whether the message ``seq`` of ``group`` fails on its first receive (deterministic, about 20%)."""
    return hashlib.sha256(f"{group}:{seq}".encode()).digest()[0] % 5 == 0


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    failures: list[dict[str, str]] = []
    for record in event["Records"]:
        if failures:
            # Later records of a FIFO batch must not run after a failure: they go back with it, in order.
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        body = json.loads(record["body"])
        receives = record["attributes"].get("ApproximateReceiveCount", "?")
        group, seq = body["group"], int(body["seq"])
        if receives == "1" and fails_first_attempt(group, seq):
            print(f"BENCH-FIFO fail {group} {seq} {receives} {time.time():.6f}", flush=True)
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        print(f"BENCH-FIFO ok {group} {seq} {receives} {time.time():.6f}", flush=True)
    return {"batchItemFailures": failures}

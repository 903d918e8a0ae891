"""``eventweave.wire`` ships inside every function: importing it, and every codec in it, loads no SDK, CDK or moto."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import eventweave.wire

REPO = Path(__file__).resolve().parents[2]

_PROBE = r"""
import json, sys
HEAVY = ("boto3", "botocore", "aws_cdk", "moto", "jsii", "constructs", "aws_lambda_powertools")
def heavy():
    return sorted({m.split(".")[0] for m in sys.modules if m.split(".")[0] in HEAVY})
import eventweave.wire as wire
bare = {"heavy": heavy(), "submodules": sorted(m for m in sys.modules if m.startswith("eventweave.wire."))}
for name in wire.__all__:
    getattr(wire, name)
import eventweave.wire.attributes, eventweave.wire.destinations, eventweave.wire.dynamodb, eventweave.wire.envelopes
import eventweave.wire.eventbridge, eventweave.wire.kinesis, eventweave.wire.logs, eventweave.wire.payloads
import eventweave.wire.poison, eventweave.wire.s3, eventweave.wire.sns, eventweave.wire.sqs, eventweave.wire.trace
ours = sorted(m for m in sys.modules if m.startswith("eventweave"))
print(json.dumps({"bare": bare, "all": heavy(), "eventweave": ours}))
"""


def test_the_wire_codecs_load_no_sdk_cdk_moto_or_powertools() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["bare"] == {"heavy": [], "submodules": []}  # PEP 562: the package imports nothing up front
    assert report["all"] == []
    # wire is the bottom room: it imports nothing else of eventweave
    assert {m.split(".")[1] for m in report["eventweave"] if "." in m} == {"wire"}


def test_every_exported_name_resolves_to_its_module() -> None:
    for name in eventweave.wire.__all__:
        value = getattr(eventweave.wire, name)
        assert value.__module__.startswith("eventweave.wire."), name
    assert sorted(dir(eventweave.wire)) == sorted(eventweave.wire.__all__)

"""eventweave.coordination: the fan-out/fan-in and decoupled-request runtimes, lazy like eventweave.handlers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import eventweave.coordination as coordination
import eventweave.handlers as handlers

REPO = Path(__file__).resolve().parents[2]

MOVED = {
    "FanIn": "fan_in",
    "JobStatus": "fan_in",
    "TaskOutcome": "fan_in",
    "Ventilator": "fan_out_fan_in",
    "FanInWorker": "fan_out_fan_in",
    "FanInTask": "fan_out_fan_in",
    "JobCompleted": "fan_out_fan_in",
    "RequestFront": "requests",
    "RequestWorker": "requests",
    "RequestTask": "requests",
    "RequestStore": "requests",
}

_BARE_IMPORT = """
import json, sys
import eventweave.coordination
heavy = ("boto3", "botocore", "aws_cdk", "moto", "pydantic")
print(json.dumps({
    "heavy": sorted(m for m in sys.modules if m.split(".")[0] in heavy),
    "eventweave": sorted(m for m in sys.modules if m.startswith("eventweave.")),
}))
"""


def test_importing_the_package_imports_nothing() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _BARE_IMPORT], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"heavy": [], "eventweave": ["eventweave.coordination"]}


def test_every_name_is_exported_from_its_module() -> None:
    assert sorted(coordination.__all__) == sorted(MOVED)
    assert dir(coordination) == sorted(MOVED)
    for name, module in MOVED.items():
        value = getattr(coordination, name)
        assert value.__module__ == f"eventweave.coordination.{module}"


def test_the_handler_engine_no_longer_exports_them() -> None:
    for name in MOVED:
        assert name not in handlers.__all__
        with pytest.raises(AttributeError):
            getattr(handlers, name)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match=r"eventweave\.coordination"):
        coordination.Nothing  # noqa: B018

"""``eventweave check``: exit codes 0/1/2 and the JSON shape, on tiny plain-CDK apps in tmp_path."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from eventweave.cli import main

HEADER = """\
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs

app = App()
stack = Stack(app, "Plain")
worker = lambda_.Function(
    stack, "Worker", code=lambda_.Code.from_inline("def handler(e, c): return {}"), handler="index.handler",
    runtime=lambda_.Runtime.PYTHON_3_13, timeout=Duration.seconds(60),
)
"""

# Errors: no redrive policy, visibility timeout below the function's; a warning: no partial batch responses.
BROKEN = HEADER + """\
worker.add_event_source(sources.SqsEventSource(sqs.Queue(stack, "Orders")))
app.synth()
"""

# Fixed, but for one warning: a warning alone does not fail the check.
WARNING_ONLY = HEADER + """\
dlq = sqs.Queue(stack, "Dlq")
orders = sqs.Queue(stack, "Orders", visibility_timeout=Duration.seconds(360),
                   dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=5))
worker.add_event_source(sources.SqsEventSource(orders))
app.synth()
"""


def _app(tmp_path: Path, name: str, source: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "app.py").write_text(source)
    return folder


@pytest.fixture(scope="module")
def own_sitecustomize(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sitecustomize the environment already has: `eventweave check` must still run it (it writes a marker)."""
    folder = tmp_path_factory.mktemp("site")
    marker = folder / "ran"
    (folder / "sitecustomize.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    return folder


def test_errors_exit_1_with_a_json_list_of_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, own_sitecustomize: Path
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(own_sitecustomize))
    app = _app(tmp_path, "broken", BROKEN)

    assert main(["check", "--app", str(app), "--format", "json"]) == 1

    findings = json.loads(capsys.readouterr().out)
    assert isinstance(findings, list)
    for finding in findings:
        assert set(finding) == {"rule", "resource", "level", "message"}
        assert finding["level"] in ("error", "warning")
        assert finding["message"].startswith(f"{finding['resource']}: ")
    by_rule = {f["rule"]: f for f in findings}
    assert set(by_rule) == {
        "Eventweave-QueueRedrivePolicy",
        "Eventweave-QueueVisibilityBelowFunctionTimeout",
        "Eventweave-SqsReportBatchItemFailures",
    }
    redrive = by_rule["Eventweave-QueueRedrivePolicy"]
    assert redrive["resource"] == "Plain/Orders/Resource"
    assert redrive["level"] == "error"
    assert "Fix (CDK): " in redrive["message"] and "With eventweave: " in redrive["message"]
    assert by_rule["Eventweave-SqsReportBatchItemFailures"]["level"] == "warning"
    assert [f["level"] for f in findings] == ["error", "error", "warning"], "errors come first"
    assert (own_sitecustomize / "ran").exists(), "the environment's own sitecustomize did not run"


def test_warnings_alone_exit_0_and_text_lists_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app = _app(tmp_path, "warning", WARNING_ONLY)

    assert main(["check", "--app", str(app)]) == 0

    out = capsys.readouterr().out
    assert "WARNING Eventweave-SqsReportBatchItemFailures" in out
    assert "Plain/Worker/SqsEventSource:PlainOrders" in out
    assert out.rstrip().endswith("0 error(s), 1 warning(s)")


def test_a_synth_failure_exits_2_with_the_synth_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app = _app(tmp_path, "failing", "raise SystemExit('the stack needs a CONFIG variable')\n")

    assert main(["check", "--app", str(app), "--format", "json"]) == 2

    captured = capsys.readouterr()
    assert captured.out == ""
    assert "the stack needs a CONFIG variable" in captured.err


def test_a_folder_without_an_app_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--app", str(tmp_path)]) == 2
    assert "no app.py" in capsys.readouterr().err


def test_the_check_command_does_not_load_the_cdk_in_its_own_process() -> None:
    import subprocess

    code = "import sys, eventweave.nag.check; print('aws_cdk' in sys.modules or 'jsii' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"

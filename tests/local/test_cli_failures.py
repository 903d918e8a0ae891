"""``eventweave local failures`` and ``trace`` surface failed polls from the journal instead of leaving them silent."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from eventweave import cli
from eventweave.local.trace import Invocation, Journal, PollFailure


def _journal(folder: Path, failures: int) -> None:
    journal = Journal(path=folder / ".eventweave" / "invocations.jsonl")
    journal.record(Invocation(time.time(), "charge", "sqs", 1, "ok", 3.0, False, "r-1", ("c-1",)))
    for n in range(1, failures + 1):
        journal.record(
            PollFailure(time.time(), "sqs:orders->charge", "http://q", "ReceiveMessage", "ClientError: 500", n, 0.2)
        )


def test_failures_lists_every_failed_poll_and_exits_1(tmp_path, monkeypatch, capsys):
    _journal(tmp_path, failures=2)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["local", "failures"]) == 1
    out, err = capsys.readouterr()
    assert out.count("sqs:orders->charge") == 2
    assert "2 failed poll(s)" in err


def test_trace_warns_about_failed_polls_next_to_the_chain(tmp_path, monkeypatch, capsys):
    _journal(tmp_path, failures=1)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["local", "trace", "c-1"]) == 0
    out, err = capsys.readouterr()
    assert "charge" in out
    assert "1 poll(s) of event sources failed" in err


def test_no_failures_exits_0(tmp_path, monkeypatch, capsys):
    _journal(tmp_path, failures=0)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["local", "failures"]) == 0
    with pytest.raises(SystemExit):
        monkeypatch.chdir(tmp_path / ".eventweave")
        cli.main(["local", "failures"])  # no journal here: a clear error naming the file

"""``eventweave check``: synthesize a CDK app with the contract checks and print what they find.

``eventweave check [--app DIR] [--format text|json] [--cdk-nag]`` runs ``python app.py`` in ``DIR`` (bundling
skipped, as :func:`eventweave.testing.stack.synthesize` does) with :class:`~eventweave.nag.EventweaveChecks`
registered on every ``aws_cdk.App`` from outside the app (a ``sitecustomize`` on ``PYTHONPATH``, see
:mod:`eventweave.nag._inject`), and ``--cdk-nag`` adds cdk-nag's AwsSolutions and Serverless packs. Packs the app
registers itself are reported too. The synth does not stop at findings (``@aws-cdk/core:failSynthOnValidationErrors``
is off); the findings come from the cloud assembly's ``validation-report.json``.

Exit codes: 0 no error-level finding, 1 at least one, 2 the app did not synthesize (the synth's error is printed).

``--format json`` prints a list, one object per finding and resource::

    [{"rule": "Eventweave-QueueRedrivePolicy", "resource": "Orders/Queue/Resource", "level": "error",
      "message": "Orders/Queue/Resource: this queue is the event source of ... Fix (CDK): ... With eventweave: ..."}]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from ._inject import ENV_PACKS, SITECUSTOMIZE
from .rule import Finding

__all__ = ["CheckError", "check", "findings_from_report", "main"]

FAIL_SYNTH_CONTEXT = "@aws-cdk/core:failSynthOnValidationErrors"
_CORE_PLUGINS = ("Construct Annotations",)
"""CDK's own report of construct annotations: warnings of the constructs, not checks."""


class CheckError(RuntimeError):
    """The app could not be checked: it did not synthesize, or produced no validation report."""


def check(app_dir: str | Path = ".", *, cdk_nag: bool = False, timeout: float = 600) -> list[Finding]:
    """Synthesize the app in ``app_dir`` with the packs and return the findings (errors first).

    Example::

        findings = check("infra", cdk_nag=True)
        errors = [f for f in findings if f.level == "error"]

    :raises CheckError: when the app does not synthesize (the message holds the synth's output).
    """
    from eventweave.testing.stack import synthesize

    packs = "eventweave,aws-solutions,serverless" if cdk_nag else "eventweave"
    with tempfile.TemporaryDirectory(prefix="eventweave-check-") as tmp:
        site = Path(tmp) / "site"
        site.mkdir()
        (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
        outdir = Path(tmp) / "cdk.out"
        context = json.loads(os.environ.get("CDK_CONTEXT_JSON") or "{}")
        context[FAIL_SYNTH_CONTEXT] = False
        python_path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
        with _environment(PYTHONPATH=python_path, CDK_CONTEXT_JSON=json.dumps(context), **{ENV_PACKS: packs}):
            try:
                synthesize(app_dir, outdir, timeout=timeout)
            except (RuntimeError, FileNotFoundError, subprocess.TimeoutExpired) as error:
                raise CheckError(str(error)) from error
        report = outdir / "validation-report.json"
        if not report.is_file():
            raise CheckError(
                f"{Path(app_dir).resolve() / 'app.py'} synthesized without a validation report: does it create an "
                "aws_cdk.App and call app.synth()?"
            )
        return findings_from_report(json.loads(report.read_text()))


def findings_from_report(report: dict[str, Any]) -> list[Finding]:
    """One :class:`Finding` per rule and resource of a CDK ``validation-report.json`` (errors first).

    :raises CheckError: when a pack itself failed (its error is in the report).
    """
    findings: dict[tuple[str, str], Finding] = {}
    for plugin in report.get("pluginReports") or []:
        name = plugin.get("pluginName", "?")
        if name in _CORE_PLUGINS:
            continue
        error = (plugin.get("metadata") or {}).get("error")
        if error:
            raise CheckError(f"the {name} pack failed: {error}")
        for violation in plugin.get("violations") or []:
            level = "error" if violation.get("severity") in ("error", "fatal") else "warning"
            rule, description = str(violation.get("ruleName", "?")), str(violation.get("description", ""))
            for construct in violation.get("violatingConstructs") or [{}]:
                resource = construct.get("constructPath") or (construct.get("cloudFormationResource") or {}).get(
                    "logicalId", "?"
                )
                message = description if description.startswith(f"{resource}:") else f"{resource}: {description}"
                findings.setdefault((rule, resource), Finding(rule, resource, level, message))
    return sorted(findings.values(), key=lambda f: (f.level != "error", f.resource, f.rule))


def main(app_dir: str = ".", *, fmt: str = "text", cdk_nag: bool = False, out: TextIO | None = None) -> int:
    """The ``eventweave check`` command: print the findings; 0 clean, 1 errors, 2 the app did not synthesize."""
    out = out or sys.stdout
    try:
        findings = check(app_dir, cdk_nag=cdk_nag)
    except CheckError as error:
        print(f"eventweave check: {error}", file=sys.stderr)
        return 2
    errors = sum(f.level == "error" for f in findings)
    if fmt == "json":
        json.dump([f.as_dict() for f in findings], out, indent=2)
        out.write("\n")
    else:
        for finding in findings:
            out.write(f"{finding.level.upper():7} {finding.rule}\n        {finding.message}\n")
        warnings = len(findings) - errors
        out.write(f"{errors} error(s), {warnings} warning(s)\n" if findings else "no findings\n")
    return 1 if errors else 0


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Set environment variables for the synth subprocess, restoring them afterwards."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

"""Fixtures every example's tests share: synthesize one example's stack and deploy it into the local cloud.

Each example synthesizes only its own stack (through a generated one-stack app, with cdk-nag as in ``app.py``), so a
team that copies one folder keeps tests that do not depend on the others.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eventweave.testing import EphemeralStack
from eventweave.testing.plugin import ephemeral
from eventweave.testing.stack import synthesize

ROOT = Path(__file__).resolve().parent.parent


def synthesize_example(stack_path: str, stack_id: str, outdir: Path) -> Path:
    """Synthesize ``stack_path`` (``"examples.orders.stack:OrdersStack"``) as stack ``stack_id`` into ``outdir``."""
    module, _, cls = stack_path.partition(":")
    app_dir = outdir.parent / f"{outdir.name}-app"
    app_dir.mkdir(parents=True, exist_ok=True)
    (app_dir / "app.py").write_text(
        textwrap.dedent(
            f"""\
            import sys
            sys.path.insert(0, {str(ROOT)!r})
            from aws_cdk import App
            from eventweave.constructs import add_checks
            from {module} import {cls}
            app = App()
            {cls}(app, {stack_id!r})
            add_checks(app)
            app.synth()
            """
        )
    )
    return synthesize(app_dir, outdir)


def deploy_example(
    cloud: Any, tmp_path_factory: pytest.TempPathFactory, stack_path: str, stack_id: str
) -> Iterator[EphemeralStack]:
    """Synthesize and deploy one example stack for the ``with`` lifetime of a module fixture; destroy it after."""
    assembly = synthesize_example(stack_path, stack_id, tmp_path_factory.mktemp(f"{stack_id}-cdk.out"))
    with ephemeral(cloud, assembly, stack_id) as stack:
        yield stack

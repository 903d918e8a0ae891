"""What every example's tests share: synthesize one example's stack and deploy it into the local cloud.

Each example synthesizes only its own stack (``eventweave.testing.synthesize_stack``: a generated one-stack app, with
cdk-nag as in ``app.py``), so a team that copies one folder keeps tests that do not depend on the others.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eventweave.testing import EphemeralStack, synthesize_stack
from eventweave.testing.plugin import ephemeral, is_aws

ROOT = Path(__file__).resolve().parent.parent


def synthesize_example(stack_path: str, stack_id: str, outdir: Path, *, bundling: bool = False) -> Path:
    """Synthesize ``stack_path`` (``"examples.orders.stack:OrdersStack"``) as stack ``stack_id`` into ``outdir``."""
    return synthesize_stack(stack_path, stack_id, outdir, path=(ROOT,), bundling=bundling)


def deploy_example(
    cloud: Any, tmp_path_factory: pytest.TempPathFactory, stack_path: str, stack_id: str
) -> Iterator[EphemeralStack]:
    """Synthesize and deploy one example stack for the ``with`` lifetime of a module fixture; destroy it after.

    ``cloud`` is the ``eventweave_cloud`` fixture: the local cloud, or a real account with ``--eventweave-target aws``
    (then the assembly is bundled for real Lambda).
    """
    outdir = tmp_path_factory.mktemp(f"{stack_id}-cdk.out")
    assembly = synthesize_example(stack_path, stack_id, outdir, bundling=is_aws(cloud))
    with ephemeral(cloud, assembly, stack_id) as stack:
        yield stack

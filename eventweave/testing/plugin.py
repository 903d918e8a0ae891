"""pytest plugin ``eventweave``: the ``ephemeral_stack`` fixture and its target options.

Targets (``--eventweave-target`` or ``EVENTWEAVE_TARGET``):

* ``local`` (default): the embedded local cloud, moto as data plane and eventweave running the handlers with
  Lambda's delivery semantics; nothing to install beyond the ``local`` extra, no Docker, no account.
* ``localstack``: the data plane is a LocalStack the user runs (``--eventweave-endpoint``, default
  ``$LOCALSTACK_ENDPOINT`` or ``http://localhost:4566``); handlers still run in eventweave's Lambda service.

The app is synthesized once per session from ``eventweave_app`` (ini option; default: the rootdir) with bundling
skipped, and each ``ephemeral_stack(...)`` call deploys one of its stacks under a unique name and destroys it when the
test ends.

Example::

    def test_poison_goes_to_the_dlq(ephemeral_stack):
        stack = ephemeral_stack("EventweaveShowcase")
        ...
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .stack import EphemeralStack, synthesize

if TYPE_CHECKING:
    from eventweave.local.cloud import LocalCloud, LocalStack

__all__ = ["TARGETS", "ephemeral", "to_ephemeral"]

TARGETS = ("local", "localstack")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("eventweave", "eventweave ephemeral stacks")
    group.addoption(
        "--eventweave-target",
        choices=TARGETS,
        default=None,
        help="where ephemeral stacks are deployed (default: $EVENTWEAVE_TARGET or local)",
    )
    group.addoption(
        "--eventweave-endpoint",
        default=None,
        help="the LocalStack endpoint for --eventweave-target=localstack (default: $LOCALSTACK_ENDPOINT or :4566)",
    )
    parser.addini("eventweave_app", "folder of the CDK app (app.py) that ephemeral stacks come from", default="")
    parser.addini(
        "eventweave_async_retry_delays",
        "seconds between asynchronous invocation retries in the local cloud (AWS: about 60,120)",
        default="0.5,1.0",
    )


def _target(config: pytest.Config) -> str:
    target = config.getoption("--eventweave-target") or os.environ.get("EVENTWEAVE_TARGET") or "local"
    if target not in TARGETS:
        raise pytest.UsageError(f"EVENTWEAVE_TARGET={target!r}: choose one of {', '.join(TARGETS)}")
    return str(target)


@pytest.fixture(scope="session")
def eventweave_assembly(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The app's cloud assembly, synthesized once per session (bundling skipped)."""
    app = str(pytestconfig.getini("eventweave_app") or "")
    app_dir = (pytestconfig.rootpath / app) if app else pytestconfig.rootpath
    return synthesize(app_dir, tmp_path_factory.mktemp("eventweave-cdk.out"))


@pytest.fixture(scope="session")
def eventweave_cloud(pytestconfig: pytest.Config) -> Iterator[LocalCloud]:
    """The local cloud the session's ephemeral stacks are deployed into (started once, stopped at the end)."""
    from eventweave.local.cloud import LocalCloud

    target = _target(pytestconfig)
    endpoint = None
    if target == "localstack":
        endpoint = (
            pytestconfig.getoption("--eventweave-endpoint")
            or os.environ.get("LOCALSTACK_ENDPOINT")
            or "http://localhost:4566"
        )
    delays = tuple(float(x) for x in str(pytestconfig.getini("eventweave_async_retry_delays")).split(",") if x.strip())
    cloud = LocalCloud(endpoint=endpoint, async_retry_delays=delays)
    cloud.start()
    try:
        yield cloud
    finally:
        cloud.stop()


def to_ephemeral(local: LocalStack, endpoint: str, region: str) -> EphemeralStack:
    """The test-facing view of a deployed local stack."""
    deployment = local.deployment
    return EphemeralStack(
        name=local.name,
        endpoint=endpoint,
        region=region,
        outputs=dict(deployment.outputs),
        resources=dict(deployment.resources),
        urls=local.urls,
        functions={spec.logical_id: spec.name for spec in deployment.functions},
    )


@contextmanager
def ephemeral(cloud: LocalCloud, assembly: Path, stack: str | None = None) -> Iterator[EphemeralStack]:
    """Deploy ``stack`` under a unique name for the ``with`` block, for fixtures of a wider scope than a test.

    Example::

        @pytest.fixture(scope="module")
        def orders(eventweave_cloud, eventweave_assembly):
            with ephemeral(eventweave_cloud, eventweave_assembly, "Orders") as stack:
                yield stack
    """
    base = stack or "stack"
    local = cloud.deploy(assembly, stack, stack_name=f"{base}-{uuid.uuid4().hex[:8]}")
    try:
        yield to_ephemeral(local, cloud.endpoint, cloud.region)
    finally:
        cloud.destroy(local)


@pytest.fixture
def ephemeral_stack(eventweave_cloud: LocalCloud, eventweave_assembly: Path) -> Iterator[Callable[..., EphemeralStack]]:
    """Deploy a stack of the app under a unique name for this test: ``ephemeral_stack("StackId")``.

    Every stack deployed through it is destroyed when the test ends, pass or fail.
    """
    deployed: list[Any] = []

    def deploy(stack: str | None = None) -> EphemeralStack:
        base = stack or "stack"
        local = eventweave_cloud.deploy(eventweave_assembly, stack, stack_name=f"{base}-{uuid.uuid4().hex[:8]}")
        deployed.append(local)
        return to_ephemeral(local, eventweave_cloud.endpoint, eventweave_cloud.region)

    try:
        yield deploy
    finally:
        errors: list[BaseException] = []
        for local in reversed(deployed):
            try:
                eventweave_cloud.destroy(local)
            except Exception as error:  # destroy the others, then report
                errors.append(error)
        if errors:
            raise errors[0]

"""pytest plugin ``eventweave``: the ``ephemeral_stack`` fixture and its target options.

Targets (``--eventweave-target`` or ``EVENTWEAVE_TARGET``):

* ``local`` (default): the embedded local cloud, moto as data plane and eventweave running the handlers with
  Lambda's delivery semantics; nothing to install beyond the ``local`` extra, no Docker, no account.
* ``localstack``: the data plane is a LocalStack the user runs (``--eventweave-endpoint``, default
  ``$LOCALSTACK_ENDPOINT`` or ``http://localhost:4566``); handlers still run in eventweave's Lambda service.
* ``aws``: a real account (the credentials in the environment), deployed with the CDK CLI (``$EVENTWEAVE_CDK``,
  default ``npx cdk``; the account must be bootstrapped); handlers run in real Lambda. See :mod:`.aws`.

The app is synthesized once per session from ``eventweave_app`` (ini option; default: the rootdir), with bundling
skipped except for the ``aws`` target, and each ``ephemeral_stack(...)`` call deploys one of its stacks under a unique
name and destroys it when the test ends.

Example::

    def test_poison_goes_to_the_dlq(ephemeral_stack):
        stack = ephemeral_stack("EventweaveShowcase")
        ...
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .stack import EphemeralStack, synthesize

if TYPE_CHECKING:
    from eventweave.local.cloud import DeployedStack, LocalCloud

    from .aws import AwsTarget

__all__ = ["TARGETS", "deploy_stack", "ephemeral", "is_aws", "to_ephemeral"]

TARGETS = ("local", "localstack", "aws")


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


@pytest.fixture
def lambda_context() -> Any:
    """A :class:`~eventweave.testing.events.FakeLambdaContext` with 30 s remaining, for calling a handler directly."""
    from .events import FakeLambdaContext

    return FakeLambdaContext()


@pytest.fixture(scope="session")
def eventweave_assembly(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The app's cloud assembly, synthesized once per session (bundling skipped)."""
    app = str(pytestconfig.getini("eventweave_app") or "")
    app_dir = (pytestconfig.rootpath / app) if app else pytestconfig.rootpath
    bundling = _target(pytestconfig) == "aws"  # real Lambda needs real packages; locally the sources run as they are
    return synthesize(app_dir, tmp_path_factory.mktemp("eventweave-cdk.out"), bundling=bundling)


@pytest.fixture(scope="session")
def eventweave_cloud(pytestconfig: pytest.Config) -> Iterator[LocalCloud | AwsTarget]:
    """Where the session's ephemeral stacks are deployed: the local cloud (started once, stopped at the end), or
    an :class:`~eventweave.testing.aws.AwsTarget` for ``--eventweave-target aws``."""
    target = _target(pytestconfig)
    if target == "aws":
        from .aws import AwsTarget

        yield AwsTarget()
        return
    from eventweave.local.cloud import LocalCloud

    endpoint = None
    if target == "localstack":
        endpoint = (
            pytestconfig.getoption("--eventweave-endpoint")
            or os.environ.get("LOCALSTACK_ENDPOINT")
            or "http://localhost:4566"
        )
    delays = tuple(float(x) for x in str(pytestconfig.getini("eventweave_async_retry_delays")).split(",") if x.strip())
    # Invocation lines and the functions' output go to logging, so pytest shows them with a failing test's report
    # instead of printing them from background threads.
    logger = logging.getLogger("eventweave.local")
    logger.setLevel(logging.INFO)
    cloud = LocalCloud(endpoint=endpoint, async_retry_delays=delays, log=logger.info)
    cloud.start()
    try:
        yield cloud
    finally:
        cloud.stop()


def to_ephemeral(local: DeployedStack, endpoint: str, region: str) -> EphemeralStack:
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


def is_aws(cloud: Any) -> bool:
    """Whether ``cloud`` is the ``aws`` target (a real account) rather than the local cloud."""
    from .aws import AwsTarget

    return isinstance(cloud, AwsTarget)


def deploy_stack(cloud: Any, assembly: Path, stack: str | None) -> tuple[Any, EphemeralStack]:
    """Deploy ``stack`` of ``assembly`` under a unique name into ``cloud`` (local cloud or aws target)."""
    name = f"{stack or 'stack'}-{uuid.uuid4().hex[:8]}"
    deployed = cloud.deploy(assembly, stack, stack_name=name)
    view = cloud.view(deployed) if is_aws(cloud) else to_ephemeral(deployed, cloud.endpoint, cloud.region)
    if not is_aws(cloud):
        view.quiescence = cloud.wait_quiet
    return deployed, view


@contextmanager
def ephemeral(cloud: Any, assembly: Path, stack: str | None = None) -> Iterator[EphemeralStack]:
    """Deploy ``stack`` under a unique name for the ``with`` block, for fixtures of a wider scope than a test.

    Example::

        @pytest.fixture(scope="module")
        def orders(eventweave_cloud, eventweave_assembly):
            with ephemeral(eventweave_cloud, eventweave_assembly, "Orders") as stack:
                yield stack
    """
    deployed, view = deploy_stack(cloud, assembly, stack)
    try:
        yield view
    finally:
        cloud.destroy(deployed)


@pytest.fixture
def ephemeral_stack(eventweave_cloud: Any, eventweave_assembly: Path) -> Iterator[Callable[..., EphemeralStack]]:
    """Deploy a stack of the app under a unique name for this test: ``ephemeral_stack("StackId")``.

    Every stack deployed through it is destroyed when the test ends, pass or fail.
    """
    deployed: list[Any] = []

    def deploy(stack: str | None = None) -> EphemeralStack:
        handle, view = deploy_stack(eventweave_cloud, eventweave_assembly, stack)
        deployed.append(handle)
        return view

    try:
        yield deploy
    finally:
        errors: list[BaseException] = []
        for handle in reversed(deployed):
            try:
                eventweave_cloud.destroy(handle)
            except Exception as error:  # destroy the others, then report
                errors.append(error)
        if errors:
            raise errors[0]

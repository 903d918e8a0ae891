"""What a test holds while its stack is deployed: outputs, clients bound to the target, and waiting helpers."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["EphemeralStack", "synthesize", "synthesize_stack", "wait_until"]

T = TypeVar("T")


def wait_until(
    probe: Callable[[], T | None], *, timeout: float = 30.0, interval: float = 0.1, what: str = "the condition"
) -> T:
    """Call ``probe`` until it returns something truthy and return that; fail the test after ``timeout`` seconds.

    Example::

        messages = wait_until(lambda: stack.drain(dlq_url), timeout=20, what="a message in the billing DLQ")
    """
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def synthesize(app_dir: str | Path, outdir: str | Path, *, bundling: bool = False, timeout: float = 600) -> Path:
    """Run ``python app.py`` in ``app_dir`` into ``outdir`` and return the cloud assembly directory.

    Bundling is skipped by default: the local cloud runs handlers from their source directories with the host's
    dependencies, so building Lambda-platform packages would only cost time.

    Example::

        assembly = synthesize(".", tmp_path / "cdk.out")
    """
    app_dir, outdir = Path(app_dir).resolve(), Path(outdir).resolve()
    app = app_dir / "app.py"
    if not app.is_file():
        raise FileNotFoundError(f"no app.py in {app_dir}: point eventweave_app (pytest ini) at the CDK app's folder")
    env = dict(os.environ, CDK_OUTDIR=str(outdir), JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20")
    if not bundling:
        context = json.loads(env.get("CDK_CONTEXT_JSON") or "{}")
        context["aws:cdk:bundling-stacks"] = []
        env["CDK_CONTEXT_JSON"] = json.dumps(context)
    result = subprocess.run(  # noqa: S603 - this interpreter running the user's own app.py
        [sys.executable, str(app)], cwd=app_dir, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"synthesizing {app} failed:\n{(result.stdout + result.stderr)[-4000:]}")
    return outdir


def synthesize_stack(
    stack: str,
    stack_id: str,
    outdir: str | Path,
    *,
    path: tuple[str | Path, ...] = (),
    nag: bool = True,
    bundling: bool = False,
) -> Path:
    """Synthesize ONE stack class (``"orders.stack:OrdersStack"``) as ``stack_id`` into ``outdir``, through a
    generated one-stack app, with eventweave's cdk-nag checks unless ``nag=False``. ``path``: folders to import from
    (default: the current directory). ``bundling``: as for :func:`synthesize` (needed for real Lambda only).

    For a service folder whose tests should not depend on the rest of the app it lives in.

    Example::

        assembly = synthesize_stack("orders.stack:OrdersStack", "Orders", tmp_path / "cdk.out")
        with ephemeral(eventweave_cloud, assembly, "Orders") as stack:
            ...
    """
    module, _, cls = stack.partition(":")
    if not module or not cls.isidentifier():
        raise ValueError(f"stack {stack!r}: write it as 'package.module:StackClass'")
    outdir = Path(outdir).resolve()
    app_dir = outdir.parent / f"{outdir.name}-app"
    app_dir.mkdir(parents=True, exist_ok=True)
    folders = [str(Path(p).resolve()) for p in (path or (Path.cwd(),))]
    lines = [
        "import sys",
        f"sys.path[:0] = {folders!r}",
        "from aws_cdk import App",
        f"from {module} import {cls}",
        "app = App()",
        f"{cls}(app, {stack_id!r})",
    ]
    if nag:
        lines[3:3] = ["from eventweave.constructs import add_checks"]
        lines.append("add_checks(app)")
    lines.append("app.synth()")
    (app_dir / "app.py").write_text("\n".join(lines) + "\n")
    return synthesize(app_dir, outdir, bundling=bundling)


@dataclass
class EphemeralStack:
    """A stack deployed for one test (or module) under a unique name, destroyed afterwards.

    Example::

        def test_billing(ephemeral_stack):
            stack = ephemeral_stack("EventweaveShowcase")
            sqs = stack.client("sqs")
            sqs.send_message(QueueUrl=stack.queue_url("BillingQueue"), MessageBody='{"order_id": "o-1", "amount": 5}')
            stack.wait_until(lambda: stack.drain(stack.queue_url("BillingQueueDeadLetter")), what="the poison message")
    """

    name: str
    endpoint: str | None
    region: str
    outputs: dict[str, str]
    resources: dict[str, Any] = field(default_factory=dict)
    """Logical id -> physical id (name, URL or ARN) of every resource."""
    urls: dict[str, str] = field(default_factory=dict)
    """Function name -> URL of each Function URL."""
    functions: dict[str, str] = field(default_factory=dict)
    """Logical id -> physical name of each Lambda function."""
    quiescence: Callable[..., list[str]] | None = field(default=None, repr=False, compare=False)
    """The target's quiescence signal (``LocalCloud.wait_quiet`` on the local cloud; none elsewhere)."""
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    def client(self, service: str) -> Any:
        """A boto3 client for ``service`` bound to the stack's target (cached per service)."""
        if service not in self._clients:
            from eventweave.local.aws import client

            self._clients[service] = client(service, self.endpoint, self.region)
        return self._clients[service]

    def physical_id(self, logical_id_prefix: str) -> Any:
        """The physical id of the one resource whose logical id starts with ``logical_id_prefix``."""
        matches = [key for key in self.resources if key.startswith(logical_id_prefix)]
        exact = [key for key in matches if key == logical_id_prefix]
        if exact:
            return self.resources[exact[0]]
        if len(matches) != 1:
            raise KeyError(
                f"stack {self.name}: {len(matches)} resources have a logical id starting with {logical_id_prefix!r}"
                f"{': ' + ', '.join(sorted(matches)[:20]) if matches else ''}; give a longer prefix"
            )
        return self.resources[matches[0]]

    def function_name(self, logical_id_prefix: str) -> str:
        """The physical name of the one function whose logical id starts with ``logical_id_prefix``."""
        matches = [name for key, name in self.functions.items() if key.startswith(logical_id_prefix)]
        if len(matches) != 1:
            raise KeyError(
                f"stack {self.name}: {len(matches)} functions have a logical id starting with {logical_id_prefix!r}; "
                f"known: {sorted(self.functions)}"
            )
        return matches[0]

    def queue_url(self, logical_id_prefix: str) -> str:
        """The URL of the one queue whose logical id starts with ``logical_id_prefix``."""
        url = self.physical_id(logical_id_prefix)
        if not isinstance(url, str) or "://" not in url:
            raise KeyError(f"stack {self.name}: {logical_id_prefix!r} is not a queue (physical id {url!r})")
        return url

    def wait_until(
        self, probe: Callable[[], T | None], *, timeout: float = 30.0, interval: float = 0.1, what: str = "it"
    ) -> T:
        """:func:`wait_until`, for convenience."""
        return wait_until(probe, timeout=timeout, interval=interval, what=what)

    def wait_idle(self, timeout: float = 30.0, *, settle: float = 0.3) -> None:
        """Wait until the target has nothing left to do (no invocation running or queued, no message waiting in an
        event source's queue, stream pollers caught up) and stays so for ``settle`` seconds; fail the test after
        ``timeout`` seconds, naming what was still busy. For asserting that something does NOT happen, instead of a
        sleep.

        Only the local cloud gives this signal; on other targets it raises :class:`NotImplementedError`.

        Example::

            stack.wait_idle(timeout=20)
            assert attempts(key) == 1  # not retried
        """
        if self.quiescence is None:
            raise NotImplementedError(
                f"stack {self.name}: wait_idle needs the local cloud's quiescence signal; this target gives none "
                "(a real account or other endpoint cannot say that nothing more will happen)"
            )
        still_busy = self.quiescence(timeout, settle=settle)
        if still_busy:
            raise AssertionError(
                f"timed out after {timeout:g} s waiting for the local cloud to be quiet; still busy: "
                + "; ".join(still_busy[:10])
            )

    def drain(self, queue_url: str, *, max_messages: int = 1000) -> list[dict[str, Any]]:
        """Receive and delete what the queue holds now (visible messages); bodies parsed as JSON when they are.

        Each item has ``body`` and ``attributes`` (system) and ``message_attributes`` (string values).
        """
        sqs = self.client("sqs")
        out: list[dict[str, Any]] = []
        while len(out) < max_messages:
            response = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0,
                MessageAttributeNames=["All"],
                MessageSystemAttributeNames=["All"],
            )
            messages = response.get("Messages", [])
            if not messages:
                break
            for message in messages:
                body: Any = message.get("Body", "")
                with contextlib.suppress(ValueError):
                    body = json.loads(body)
                attrs = {
                    k: v.get("StringValue", v.get("BinaryValue"))
                    for k, v in message.get("MessageAttributes", {}).items()
                }
                out.append({"body": body, "attributes": message.get("Attributes", {}), "message_attributes": attrs})
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
        return out

    def depth(self, queue_url: str) -> int:
        """Visible plus in-flight messages of a queue."""
        attrs = self.client("sqs").get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])

"""Contract checks for any CDK app (extra ``cdk``): a cdk-nag 3.x pack for the wiring between resources.

:class:`EventweaveChecks` finds what AWS refuses or what loses data (errors) and what retries too much, delivers
twice or can run away (warnings): queues consumed by Lambda without a redrive policy, SQS mappings without partial
batch responses, visibility timeouts too short for the function, SNS subscriptions and EventBridge targets without
dead-letter queues, stream mappings without failure destinations or bounded retries, asynchronously invoked
functions without an on-failure destination, FIFO options AWS refuses, functions writing to their own trigger.
Each finding names the construct path, and the fix in plain CDK and in eventweave terms. ``eventweave check``
runs it on an app folder from the command line (:mod:`eventweave.nag.check`).

Example::

    from aws_cdk import Acknowledgment, App, Validations
    from eventweave.nag import EventweaveChecks

    app = App()
    stack = OrdersStack(app, "Orders")
    Validations.of(app).add_plugins(EventweaveChecks(app))
    # a finding you accept, acknowledged the cdk-nag way, with its reason:
    Validations.of(stack.audit_queue).acknowledge(
        Acknowledgment(id="Eventweave-QueueRedrivePolicy", reason="audit copies; losing one is acceptable"))
    app.synth()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .model import Model, Resource
from .rule import ERROR, PACK, WARNING, Finding, Problem, Rule
from .rules import RULES, evaluate

if TYPE_CHECKING:
    from .pack import EventweaveChecks

__all__ = [
    "ERROR",
    "PACK",
    "RULES",
    "WARNING",
    "EventweaveChecks",
    "Finding",
    "Model",
    "Problem",
    "Resource",
    "Rule",
    "evaluate",
]


def __getattr__(name: str) -> Any:
    # The pack imports aws_cdk and cdk_nag (and starts jsii); `eventweave check` and the rules need neither.
    if name == "EventweaveChecks":
        from .pack import EventweaveChecks

        return EventweaveChecks
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""What a contract rule is, what it reports, and the finding a user reads.

A rule is a function of one resource and the :class:`~eventweave.nag.model.Model` of the whole app: it returns a
:class:`Problem` (what is wrong, the fix in plain CDK, the fix in eventweave terms) or None. The pack turns a problem
into a cdk-nag violation (``Eventweave-<id>``, acknowledgeable the cdk-nag way) and a :class:`Finding`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from .model import Model, Resource

__all__ = ["ERROR", "PACK", "WARNING", "Finding", "Level", "Problem", "Rule"]

PACK = "Eventweave"
"""The pack name: rule ids are ``Eventweave-<id>``."""

Level = Literal["error", "warning"]
ERROR: Level = "error"
"""What AWS refuses to create, or what loses data."""
WARNING: Level = "warning"
"""What works, but retries too much, delivers twice, or can run away."""


@dataclass(frozen=True)
class Problem:
    """What one resource gets wrong, and how to fix it."""

    what: str
    """What is wrong, naming the resources involved (``model.display``)."""
    cdk: str
    """The fix in plain CDK: the property to set."""
    eventweave: str
    """The fix in eventweave terms: the pattern or construct that does it."""


@dataclass(frozen=True)
class Rule:
    """One contract check.

    :param id: the suffix of the rule id (``QueueRedrivePolicy`` -> ``Eventweave-QueueRedrivePolicy``).
    :param level: :data:`ERROR` or :data:`WARNING`.
    :param info: one line: what the rule checks.
    :param explanation: why, with the AWS documentation it comes from.
    :param types: the resource types it looks at.
    :param check: ``check(resource, model)`` -> a :class:`Problem`, or None when the resource is fine.
    """

    id: str
    level: Level
    info: str
    explanation: str
    types: frozenset[str]
    check: Callable[[Resource, Model], Problem | None]

    @property
    def rule_id(self) -> str:
        return f"{PACK}-{self.id}"

    def message(self, problem: Problem, where: str) -> str:
        """The finding's text: what is wrong (at ``where``), the fix in CDK, the fix with eventweave."""
        return f"{where}: {problem.what} Fix (CDK): {problem.cdk} With eventweave: {problem.eventweave}"


@dataclass(frozen=True)
class Finding:
    """A finding as ``eventweave check`` prints it (and its JSON, one object per finding)."""

    rule: str
    """``Eventweave-QueueRedrivePolicy``, or a cdk-nag rule such as ``AwsSolutions-SQS3``."""
    resource: str
    """The construct path (or the logical id when no construct path is known)."""
    level: str
    """``error`` or ``warning``."""
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "resource": self.resource, "level": self.level, "message": self.message}

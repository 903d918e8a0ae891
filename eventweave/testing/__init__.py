"""Ephemeral-stack testing: a pytest plugin (entry point ``eventweave``) and the helpers its fixtures return.

Needs the ``local`` extra for the default target. Nothing here ships inside a Lambda function.
"""

from __future__ import annotations

from .scenario import Check, Scenario, Summary, Trace
from .stack import EphemeralStack, synthesize, synthesize_stack, wait_until

__all__ = ["Check", "EphemeralStack", "Scenario", "Summary", "Trace", "synthesize", "synthesize_stack", "wait_until"]

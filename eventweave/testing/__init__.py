"""Testing: a pytest plugin (entry point ``eventweave``: ``ephemeral_stack``, ``lambda_context``), the helpers its
fixtures return, and Lambda event factories for handler unit tests (:mod:`eventweave.testing.events`).

Needs the ``local`` extra for the default target. Nothing here ships inside a Lambda function.
"""

from __future__ import annotations

from .scenario import Check, Scenario, Summary, Trace
from .stack import EphemeralStack, synthesize, synthesize_stack, wait_until

__all__ = ["Check", "EphemeralStack", "Scenario", "Summary", "Trace", "synthesize", "synthesize_stack", "wait_until"]

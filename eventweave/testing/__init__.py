"""Ephemeral-stack testing: a pytest plugin (entry point ``eventweave``) and the helpers its fixtures return.

Needs the ``local`` extra for the default target. Nothing here ships inside a Lambda function.
"""

from __future__ import annotations

from .stack import EphemeralStack, synthesize, wait_until

__all__ = ["EphemeralStack", "synthesize", "wait_until"]

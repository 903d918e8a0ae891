"""ShowcaseStack: every eventweave pattern once, with small handlers (see handlers.py next to this file)."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Stack
from constructs import Construct

from eventweave.patterns import QueueWorker

from .handlers import ApplyLedgerEntry, Charge


class ShowcaseStack(Stack):
    """One stack using every pattern; `app.py` synthesizes it and the construct tests check it.

    Example::

        app = App()
        ShowcaseStack(app, "EventweaveShowcase")
        app.synth()
    """

    def __init__(self, scope: Construct, id: str, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        self.billing = QueueWorker(self, "Billing", handler=Charge, max_concurrency=5, timeout=Duration.seconds(20))
        self.ledger = QueueWorker(self, "Ledger", handler=ApplyLedgerEntry)

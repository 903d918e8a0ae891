"""L3 patterns (extra ``cdk``): whole topologies, each paired with a handler base class of the runtime.

Example::

    from eventweave.patterns import QueueWorker

    worker = QueueWorker(self, "Billing", handler=Charge)     # Charge is an SqsHandler
"""

from .queue_worker import QueueWorker

__all__ = ["QueueWorker"]

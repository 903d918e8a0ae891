"""CDK building blocks (extra ``cdk``): queues, functions and tables that eventweave's patterns are made of.

Example::

    from eventweave.constructs import DurableQueue, EventFunction

    queue = DurableQueue(self, "Orders", consumer_timeout=Duration.seconds(30))
    worker = EventFunction(self, "Charge", handler=Charge, dead_letter=queue.dead_letter_queue)
"""

from .function import DEFAULT_RUNTIME, EventFunction
from .handler_ref import HandlerRef
from .nag import REASONS, acknowledge, add_checks
from .queue import DEFAULT_MAX_RECEIVE_COUNT, DurableQueue
from .tables import IdempotencyTable, JobTable

__all__ = [
    "DEFAULT_MAX_RECEIVE_COUNT",
    "DEFAULT_RUNTIME",
    "REASONS",
    "DurableQueue",
    "EventFunction",
    "HandlerRef",
    "IdempotencyTable",
    "JobTable",
    "acknowledge",
    "add_checks",
]

"""L3 patterns (extra ``cdk``): whole topologies, each paired with a handler base class of the runtime.

| pattern | handler |
|---|---|
| :class:`QueueWorker` | ``SqsHandler`` / ``SqsFifoHandler`` |
| :class:`TopicFanOut` | ``SqsHandler`` / ``SqsFifoHandler`` per subscriber |
| :class:`TopicFunction`, :class:`RuleFunction` | ``SnsHandler``, ``EventBridgeHandler`` |
| :class:`EventBusRouter` | ``EventBridgeHandler`` / ``SqsHandler`` per route |
| :class:`StreamProcessor` | ``KinesisHandler`` / ``DynamoDBStreamHandler`` |
| :class:`FanOutFanIn` | ``Ventilator`` + ``FanInWorker`` |
| :class:`DecoupledInvocation` | ``RequestWorker`` (front built in) |
| :class:`AsyncFunction` | ``InvokeHandler`` / ``DestinationHandler`` |

Example::

    from eventweave.patterns import QueueWorker

    worker = QueueWorker(self, "Billing", handler=Charge)     # Charge is an SqsHandler
"""

from .async_function import AsyncFunction, FailureQueue, FunctionDestination
from .decoupled_invocation import DecoupledInvocation, RequestApi
from .direct_pub_sub import RuleFunction, TopicFunction
from .event_bus_router import EventBusRouter, Route, TopicTarget
from .fan_out_fan_in import FanOutFanIn, JobCompletion
from .queue_worker import QueueWorker
from .stream_processor import StreamProcessor
from .topic_fan_out import FanOutSubscriber, SecureTopic, Subscriber, SubscriptionDeadLetterQueue, TopicFanOut

__all__ = [
    "AsyncFunction",
    "DecoupledInvocation",
    "EventBusRouter",
    "FailureQueue",
    "FanOutFanIn",
    "FanOutSubscriber",
    "FunctionDestination",
    "JobCompletion",
    "QueueWorker",
    "RequestApi",
    "Route",
    "RuleFunction",
    "SecureTopic",
    "StreamProcessor",
    "Subscriber",
    "SubscriptionDeadLetterQueue",
    "TopicFanOut",
    "TopicFunction",
    "TopicTarget",
]

"""orders: ``OrderPlaced`` on an EventBridge bus; billing charges once, shipping and notifications fan out from a topic,
poison lands in a DLQ and a failure log records what happened (see README.md)."""

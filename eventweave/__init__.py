"""eventweave: event-driven AWS serverless topologies with typed Lambda handlers.

The package is split by where code runs:

* ``eventweave.handlers``: the runtime that ships inside every Lambda function (lean, no CDK), and
  ``eventweave.coordination``: the fan-out/fan-in and decoupled-request runtimes built on it, shipped alongside.
* ``eventweave.constructs`` / ``eventweave.patterns``: CDK building blocks and L3 patterns (extra ``cdk``).
* ``eventweave.local`` / ``eventweave.testing``: the embedded local cloud and the pytest plugin (extra ``local``).

Importing this top-level package imports nothing else, so it costs nothing on a cold start.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]

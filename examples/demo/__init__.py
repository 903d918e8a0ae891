"""``make demo``: the four example services on the embedded local cloud, each driven through its scenario.

Synthesizes the repository's app (``app.py``, bundling skipped), starts :class:`eventweave.local.cloud.LocalCloud`,
deploys the example stacks, runs each example's ``scenario.run`` (happy path plus a failure path), prints what flowed
where and a summary table, and exits 0 only if every scenario reached its expected end state.

Example::

    python -m examples.demo                  # all four
    python -m examples.demo --only orders -v # one, with every invocation line
"""

from __future__ import annotations

from .runner import SERVICES, main

__all__ = ["SERVICES", "main"]

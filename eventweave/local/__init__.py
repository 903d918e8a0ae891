"""The embedded local cloud: moto as the data plane, eventweave running Lambda's delivery semantics.

Needs the ``local`` extra (``pip install 'eventweave[local]'``). Nothing here ships inside a Lambda function.

Example::

    from eventweave.local import LocalCloud

    with LocalCloud() as cloud:
        stack = cloud.deploy("cdk.out", "EventweaveOrders")
        ...
        cloud.journal.follow(correlation_id)   # every invocation that carried it

Names are imported on first use: every execution environment's process imports this package and must not pay for moto.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cloud import DeployedStack, LocalCloud
    from .gateway import DataPlane
    from .trace import Invocation, Journal

__all__ = ["DataPlane", "DeployedStack", "Invocation", "Journal", "LocalCloud"]

_WHERE = {
    "LocalCloud": ".cloud",
    "DeployedStack": ".cloud",
    "DataPlane": ".gateway",
    "Invocation": ".trace",
    "Journal": ".trace",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

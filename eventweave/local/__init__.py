"""The embedded local cloud: moto as the data plane, eventweave running Lambda's delivery semantics.

Needs the ``local`` extra (``pip install 'eventweave[local]'``). Nothing here ships inside a Lambda function.
"""

from __future__ import annotations

__all__: list[str] = []

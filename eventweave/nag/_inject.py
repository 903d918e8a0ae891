"""Register rule packs on every ``aws_cdk.App`` of a process from outside the app (how ``eventweave check`` works).

``eventweave check`` runs ``python app.py`` with a folder on ``PYTHONPATH`` whose only file is a ``sitecustomize``
that calls :func:`bootstrap`. Python imports it at startup, before ``app.py``: it patches ``App.__init__`` so that
each new app gets the packs named in ``EVENTWEAVE_CHECK_PACKS`` as validation plugins, then hands over to the
``sitecustomize`` the environment had before (if any). The app itself needs no change.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from typing import Any

__all__ = ["ENV_PACKS", "PACKS", "SITECUSTOMIZE", "bootstrap", "install"]

ENV_PACKS = "EVENTWEAVE_CHECK_PACKS"
"""Comma-separated pack names (keys of :data:`PACKS`)."""

PACKS = ("eventweave", "aws-solutions", "serverless")

SITECUSTOMIZE = (
    "# Written by `eventweave check`: registers its rule packs on every aws_cdk.App of this process.\n"
    "from eventweave.nag._inject import bootstrap\n"
    "\n"
    "bootstrap(__file__)\n"
)

_MARK = "_eventweave_check_installed"


def bootstrap(sitecustomize_file: str) -> None:
    """Run from the generated ``sitecustomize``: step aside for the previous one, then :func:`install`."""
    install()
    here = os.path.dirname(os.path.abspath(sitecustomize_file))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    ours = sys.modules.pop("sitecustomize", None)
    if importlib.util.find_spec("sitecustomize") is not None:
        importlib.import_module("sitecustomize")  # the environment's own, now that ours is off the path
    elif ours is not None:
        sys.modules["sitecustomize"] = ours


def install(packs: str | None = None) -> None:
    """Patch ``aws_cdk.App`` so every new app validates with ``packs`` (default: ``$EVENTWEAVE_CHECK_PACKS``)."""
    names = [p.strip() for p in (os.environ.get(ENV_PACKS, "") if packs is None else packs).split(",") if p.strip()]
    unknown = sorted(set(names) - set(PACKS))
    if unknown:
        raise ValueError(f"{ENV_PACKS}: unknown pack(s) {unknown}; known: {list(PACKS)}")
    if not names:
        return
    import aws_cdk

    if getattr(aws_cdk.App, _MARK, False):
        return
    original = aws_cdk.App.__init__

    def __init__(self: aws_cdk.App, *args: Any, **kwargs: Any) -> None:  # noqa: N807 - replaces App.__init__
        original(self, *args, **kwargs)
        aws_cdk.Validations.of(self).add_plugins(*_packs(self, names))

    aws_cdk.App.__init__ = __init__  # type: ignore[method-assign]
    setattr(aws_cdk.App, _MARK, True)


def _packs(app: Any, names: list[str]) -> list[Any]:
    plugins: list[Any] = []
    for name in names:
        if name == "eventweave":
            from eventweave.nag import EventweaveChecks

            plugins.append(EventweaveChecks(app))
        elif name == "aws-solutions":
            from cdk_nag import AwsSolutionsChecks

            plugins.append(AwsSolutionsChecks(app))
        elif name == "serverless":
            from cdk_nag import ServerlessChecks

            plugins.append(ServerlessChecks(app))
    return plugins

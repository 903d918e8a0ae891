"""What a local function may import from the host's packages: what Lambda would give it, nothing else.

In Lambda a Python function imports its asset, its layers, the standard library and the packages the runtime
provides (boto3 and its dependencies, the runtime interface client). Locally the environment runs on the host's
interpreter, whose site-packages hold far more; a dependency forgotten in ``requirements=`` would import fine here and
fail in Lambda. So each environment gets the list of top-level modules it may take from the host, and its import
path refuses the rest with ``No module named ...`` (``Runtime.ImportModuleError`` when the handler module needs it).

The list: the runtime's packages; for an eventweave function (synthesized with ``eventweave:requirements``
metadata), ``eventweave`` and the distributions its requirements name, with their dependencies, resolved from the
host's installed metadata. The asset's and layers' own top-level modules are added by the environment itself
(:mod:`eventweave.local._environment_process`), which sees them on its path.

Example::

    importable_modules(("pydantic==2.11.7",))   # frozenset({"boto3", "botocore", ..., "pydantic", "pydantic_core"})
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from importlib import metadata

__all__ = ["RUNTIME_DISTRIBUTIONS", "importable_modules"]

RUNTIME_DISTRIBUTIONS = ("boto3", "awslambdaric")
"""What Lambda's Python runtimes provide besides the standard library (boto3 with botocore, s3transfer, jmespath,
python-dateutil, urllib3, six; the runtime interface client and its dependencies)."""

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")


def importable_modules(requirements: Iterable[str] | None) -> frozenset[str]:
    """Top-level module names a function may import from the host: the runtime's, plus (``requirements`` not
    ``None``: an eventweave function) ``eventweave`` and the closure of ``requirements``."""
    names = set(_closure(tuple((name, ()) for name in RUNTIME_DISTRIBUTIONS)))
    if requirements is not None:
        names.add("eventweave")
        wanted = []
        for requirement in requirements:
            match = _NAME.match(requirement)
            if match:
                extras = tuple(e.strip() for e in (match.group(2) or "").split(",") if e.strip())
                wanted.append((match.group(1), extras))
        names.update(_closure(tuple(wanted)))
    return frozenset(names)


@functools.lru_cache(maxsize=64)
def _closure(roots: tuple[tuple[str, tuple[str, ...]], ...]) -> frozenset[str]:
    """The top-level modules of ``roots`` (distribution, extras) and of everything they require, as installed."""
    seen: set[str] = set()
    modules: set[str] = set()
    todo = list(roots)
    while todo:
        name, extras = todo.pop()
        key = _canonical(name) + "[" + ",".join(sorted(extras)) + "]"
        if key in seen:
            continue
        seen.add(key)
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # not installed on the host: nothing of it can be imported here either
        modules.update(_top_level(distribution))
        for line in distribution.requires or []:
            requirement, _, marker = line.partition(";")
            if marker and not _marker_holds(marker, extras):
                continue
            match = _NAME.match(requirement)
            if match:
                sub = tuple(e.strip() for e in (match.group(2) or "").split(",") if e.strip())
                todo.append((match.group(1), sub))
    return frozenset(modules)


def _top_level(distribution: metadata.Distribution) -> set[str]:
    text = distribution.read_text("top_level.txt")
    if text:
        return {line.strip() for line in text.splitlines() if line.strip()}
    tops: set[str] = set()
    for file in distribution.files or []:
        parts = file.parts
        if not parts or parts[0].endswith((".dist-info", ".egg-info", ".data")) or parts[0] in ("..", "bin"):
            continue
        first = parts[0]
        if len(parts) == 1:
            if first.endswith(".py"):
                tops.add(first[:-3])
            elif first.endswith((".so", ".pyd")):
                tops.add(first.split(".", 1)[0])
        elif first != "__pycache__":
            tops.add(first)
    return tops


def _marker_holds(marker: str, extras: tuple[str, ...]) -> bool:
    try:
        from packaging.markers import Marker
    except ImportError:  # without packaging, keep the requirement: allowing too much beats a false ImportError
        return True
    try:
        parsed = Marker(marker)
    except ValueError:
        return True
    return any(parsed.evaluate({"extra": extra}) for extra in (*extras, ""))


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()

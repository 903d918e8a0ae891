"""The process one local Lambda execution environment runs: ``python -I -u .../_environment_process.py``.

It runs as a script in isolated mode, so neither its working directory (the asset, which may hold a runtime-only
``eventweave/`` of its own) nor the host's ``eventweave`` package is on the path before the function's code is.

It sets up the import path as Lambda's Python runtime would and hands over to AWS's runtime interface client
(``awslambdaric``), which imports the handler (the cold start) and then serves invocations from the Lambda
service's Runtime API (:mod:`eventweave.local.runtime_api`) at ``AWS_LAMBDA_RUNTIME_API``; stdout and stderr are the
function's own logs, as in Lambda.

Imports: the code directory is appended to ``sys.path`` *after* the interpreter's own paths. An asset built for
Lambda carries its dependencies compiled for Lambda's platform (arm64, CPython 3.14), which cannot load on the host;
the host's copies of those packages win, and the user's own modules, which exist only in the asset, come from it.
A top-level module that is neither in the standard library, nor in the asset or a layer, nor in
``EVENTWEAVE_IMPORTABLE`` (what Lambda's runtime provides and, for an eventweave function, its requirements; see
:mod:`eventweave.local.importable`) is refused as Lambda would: ``No module named ...``.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType


def _code_path(code_dir: Path, module: str) -> Path:
    """The folder to import ``module`` from: the code directory, or a shim when the asset holds a package's contents.

    An asset synthesized without bundling is the handler package's own folder (``examples/`` rather than a folder
    holding ``examples/``); a symlink named after the package makes ``examples.x.y`` importable from it.
    """
    top = module.split(".", 1)[0]
    if (code_dir / top).exists() or (code_dir / f"{top}.py").exists() or not (code_dir / "__init__.py").exists():
        return code_dir
    # One shim per code directory, shared by every worker of it (and left for the next run): workers that time out
    # are killed, so a per-worker folder could never be cleaned up reliably.
    digest = hashlib.sha256(str(code_dir.resolve()).encode()).hexdigest()[:16]
    shim = Path(tempfile.gettempdir()) / f"eventweave-code-{digest}"
    shim.mkdir(exist_ok=True)
    link = shim / top
    try:
        link.symlink_to(code_dir.resolve(), target_is_directory=True)
    except FileExistsError:
        if link.resolve() != code_dir.resolve():
            raise RuntimeError(f"{link} points to {link.resolve()}, not {code_dir}; remove it") from None
    return shim


def _layer_paths() -> list[Path]:
    """The import folders of the function's layers, after its own code as in Lambda: ``python/`` and
    ``python/lib/python3.X/site-packages/`` of each layer that has them."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    roots = [Path(root) for root in os.environ.pop("EVENTWEAVE_LAYER_DIRS", "").split(os.pathsep) if root]
    candidates = [
        path for root in roots for path in (root / "python", root / "python" / "lib" / version / "site-packages")
    ]
    return [path for path in candidates if path.is_dir()]


_PACKAGE_FOLDERS = ("site-packages", "dist-packages")


class _OnlyWhatLambdaProvides(importlib.abc.MetaPathFinder):
    """Refuses top-level imports of host packages Lambda would not provide (see the module docstring)."""

    def __init__(self, allowed: set[str], standard: list[str]) -> None:
        self.allowed = allowed
        self.standard = standard
        """The interpreter's own library folders (not site-packages): what is there is the standard library,
        private modules such as ``_sysconfigdata_*`` included."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if path is not None or fullname in self.allowed or fullname in sys.stdlib_module_names:
            return None  # a submodule, or allowed: the regular finders look for it
        if fullname in sys.builtin_module_names or importlib.machinery.PathFinder.find_spec(fullname, self.standard):
            return None
        raise ModuleNotFoundError(f"No module named '{fullname}'", name=fullname)


def _tops(folder: Path) -> set[str]:
    """The top-level module names a folder on ``sys.path`` provides."""
    names: set[str] = set()
    try:
        entries = list(folder.iterdir())
    except OSError:
        return names
    for entry in entries:
        if entry.is_dir():
            if entry.name.isidentifier():
                names.add(entry.name)
        elif entry.suffix == ".py":
            names.add(entry.stem)
        elif entry.suffix in (".so", ".pyd"):
            names.add(entry.name.split(".", 1)[0])
    return names


def _import_path(handler: str, code_dir: Path) -> None:
    """``sys.path`` as the function sees it: the interpreter's own paths, then its code, then its layers; imports
    of the host's other packages refused."""
    module_name = handler.rpartition(".")[0]
    cwd = os.getcwd()
    sys.path[:] = [p for p in sys.path if p not in ("", cwd, str(code_dir), str(Path(__file__).parent))]
    own = [_code_path(code_dir, module_name), *_layer_paths()]
    sys.path.extend(str(path) for path in own)
    listed = os.environ.pop("EVENTWEAVE_IMPORTABLE", None)
    if listed is not None:
        allowed = {name for name in listed.split(",") if name}
        for folder in own:
            allowed |= _tops(folder)
        own_paths = {str(folder) for folder in own}
        standard = [p for p in sys.path if p not in own_paths and not p.rstrip("/").endswith(_PACKAGE_FOLDERS)]
        sys.meta_path.insert(0, _OnlyWhatLambdaProvides(allowed, standard))


def main() -> int:
    """Run the function's handler under awslambdaric until the Lambda service stops this environment."""
    handler = os.environ["_HANDLER"]
    _import_path(handler, Path(os.environ.get("LAMBDA_TASK_ROOT", ".")))
    from awslambdaric import bootstrap
    from awslambdaric.lambda_runtime_client import LambdaRuntimeClient

    bootstrap.run(handler, LambdaRuntimeClient(os.environ["AWS_LAMBDA_RUNTIME_API"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

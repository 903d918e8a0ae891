"""The process one local Lambda execution environment runs: ``python -m eventweave.local._environment_process``.

It sets up the import path as Lambda's Python runtime would and hands over to AWS's runtime interface client
(``awslambdaric``), which imports the handler (the cold start) and then serves invocations from the Lambda
service's Runtime API (:mod:`eventweave.local.runtime_api`) at ``AWS_LAMBDA_RUNTIME_API``; stdout and stderr are the
function's own logs, as in Lambda.

Imports: the code directory is appended to ``sys.path`` *after* the interpreter's own paths. An asset built for
Lambda carries its dependencies compiled for Lambda's platform (arm64, CPython 3.14), which cannot load on the host;
the host's copies of those packages win, and the user's own modules, which exist only in the asset, come from it.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path


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


def _import_path(handler: str, code_dir: Path) -> None:
    """``sys.path`` as the function sees it: the interpreter's own paths, then its code, then its layers."""
    module_name = handler.rpartition(".")[0]
    cwd = os.getcwd()
    sys.path[:] = [p for p in sys.path if p not in ("", cwd, str(code_dir))]
    sys.path.append(str(_code_path(code_dir, module_name)))
    sys.path.extend(str(path) for path in _layer_paths())


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

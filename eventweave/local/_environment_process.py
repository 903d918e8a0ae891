"""The process one local Lambda execution environment runs: ``python -m eventweave.local._environment_process``.

It imports the handler once (the cold start) and then serves invocations from the Lambda service over two pipes
(length-prefixed JSON), so stdout and stderr stay free for the function's own logs, as in Lambda.

Imports: the code directory is appended to ``sys.path`` *after* the interpreter's own paths. An asset built for
Lambda carries its dependencies compiled for Lambda's platform (arm64, CPython 3.14), which cannot load on the host;
the host's copies of those packages win, and the user's own modules, which exist only in the asset, come from it.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import struct
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

_HEADER = struct.Struct(">I")


def read_message(fd: int) -> dict[str, Any] | None:
    """One length-prefixed JSON message from ``fd``; ``None`` at end of file."""
    header = _read_exactly(fd, _HEADER.size)
    if header is None:
        return None
    body = _read_exactly(fd, _HEADER.unpack(header)[0])
    if body is None:
        return None
    message: dict[str, Any] = json.loads(body)
    return message


def write_message(fd: int, message: dict[str, Any]) -> None:
    """Write one length-prefixed JSON message to ``fd``."""
    body = json.dumps(message).encode()
    data = _HEADER.pack(len(body)) + body
    while data:
        written = os.write(fd, data)
        data = data[written:]


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = os.read(fd, remaining)
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


class LambdaContext:
    """The context object Lambda passes to a handler."""

    def __init__(self, request: dict[str, Any]) -> None:
        env = os.environ
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = str(request.get("function_arn", ""))
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.aws_request_id = str(request["request_id"])
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms = int(request["deadline_ms"])

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _error(error_type: str, message: str, trace: list[str] | None = None) -> dict[str, Any]:
    return {"errorMessage": message, "errorType": error_type, "stackTrace": trace or []}


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


def _load(handler: str, code_dir: Path) -> tuple[Any, dict[str, Any] | None]:
    module_name, _, attribute = handler.rpartition(".")
    cwd = os.getcwd()
    sys.path[:] = [p for p in sys.path if p not in ("", cwd, str(code_dir))]
    sys.path.append(str(_code_path(code_dir, module_name)))
    sys.path.extend(str(path) for path in _layer_paths())
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        return None, _error(
            "Runtime.ImportModuleError",
            f"Unable to import module '{module_name}': {error}",
            traceback.format_exception(error),
        )
    function = getattr(module, attribute, None)
    if not callable(function):
        return None, _error("Runtime.HandlerNotFound", f"Handler '{attribute}' missing on module '{module_name}'")
    return function, None


def main() -> int:
    """Serve invocations until the Lambda service closes the request pipe."""
    requests, responses = (int(fd) for fd in os.environ.pop("EVENTWEAVE_RUNNER_FDS").split(","))
    code_dir = Path(os.environ.get("LAMBDA_TASK_ROOT", "."))
    function, import_error = _load(os.environ["_HANDLER"], code_dir)
    write_message(responses, {"ready": True})
    while True:
        request = read_message(requests)
        if request is None:
            return 0
        if import_error is not None:
            # Lambda discards an environment whose init failed; the next invoke runs init again in a new one.
            write_message(responses, {"error": import_error, "init_failed": True})
            return 1
        try:
            result = function(json.loads(request["payload"]), LambdaContext(request))
        except Exception as error:
            trace = traceback.format_exception(error)
            message = _error(type(error).__name__, str(error), [line.rstrip("\n") for line in trace])
            print(f"[ERROR] {type(error).__name__}: {error}", file=sys.stderr, flush=True)
            write_message(responses, {"error": message})
            continue
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
        try:
            payload = json.dumps(result)
        except (TypeError, ValueError) as error:
            write_message(responses, {"error": _error("Runtime.MarshalError", f"Unable to marshal response: {error}")})
            continue
        write_message(responses, {"payload": payload})


if __name__ == "__main__":
    raise SystemExit(main())

"""Docker-free packaging of a handler's code for Lambda (arm64 or x86_64, CPython 3.x).

The asset holds the user's top-level package, the eventweave *runtime* (the :data:`RUNTIME_PACKAGES`,
``eventweave/handlers`` and ``eventweave/coordination``, only: no CDK code, no local cloud, no test plugin), and the
runtime's dependencies installed for Lambda's platform with ``pip install --platform manylinux2014_<arch>
--only-binary=:all:``. Dependency versions are pinned to what is installed on the synthesizing machine, so what was
tested is what ships, and the asset hash is computed from file contents and those pins: it changes exactly when the
code or a pinned version changes.

Installed dependencies are cached under ``$EVENTWEAVE_CACHE_DIR`` (default ``~/.cache/eventweave``) by the hash of
the pin set, so only the first synth on a machine downloads wheels (from PyPI).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

__all__ = [
    "RUNTIME_PACKAGES",
    "RUNTIME_REQUIREMENTS",
    "bundle",
    "pinned_requirements",
    "runtime_excludes",
    "source_hash",
]

# boto3 is provided by the Lambda runtime; shipping it would only add cold-start bytes.
RUNTIME_REQUIREMENTS = ("pydantic", "aws-lambda-powertools")
# The subpackages of eventweave that run inside Lambda: the handler engine and the runtimes built on it. Never the CDK
# side (constructs, patterns), the local cloud or the pytest plugin.
RUNTIME_PACKAGES = ("handlers", "coordination", "wire")
_RUNTIME_TOP_FILES = ("__init__.py", "py.typed")
_SKIP_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", "tests", "cdk.out", ".venv", "node_modules"}
_SKIP_SUFFIXES = (".pyc", ".pyo")
_SKIP_FILES = {"conftest.py"}  # pytest's, never imported by a handler


def pinned_requirements(extra: tuple[str, ...] = ()) -> list[str]:
    """``name==version`` of the runtime requirements as installed here, plus ``extra`` as given."""
    pins = [f"{name}=={metadata.version(name)}" for name in RUNTIME_REQUIREMENTS]
    return pins + list(extra)


def _files(root: Path) -> list[Path]:
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
        out.extend(
            Path(dirpath) / name
            for name in sorted(filenames)
            if not name.endswith(_SKIP_SUFFIXES) and name not in _SKIP_FILES
        )
    return out


def _runtime_root() -> Path:
    return Path(__file__).resolve().parent.parent  # the eventweave package directory


def _runtime_files() -> list[tuple[Path, str]]:
    root = _runtime_root()
    files = [(root / name, f"eventweave/{name}") for name in _RUNTIME_TOP_FILES]
    for package in RUNTIME_PACKAGES:
        files += [(f, f"eventweave/{f.relative_to(root).as_posix()}") for f in _files(root / package)]
    return files


def runtime_excludes() -> list[str]:
    """Patterns (gitignore syntax, anchored at the package) that leave only the runtime of the eventweave directory.

    Example::

        runtime_excludes()    # ["/cli.py", "/constructs", "/local", "/patterns", "/testing"]
    """
    keep = {*_RUNTIME_TOP_FILES, *RUNTIME_PACKAGES}
    return sorted(f"/{entry.name}" for entry in _runtime_root().iterdir() if entry.name not in keep)


def _user_files(code_root: Path, package: str) -> list[tuple[Path, str]]:
    if package == "eventweave":
        return []  # a built-in handler (e.g. RequestFront): the runtime files are all it needs, never the CDK side
    base = code_root / package
    if base.is_file() or (code_root / f"{package}.py").is_file():
        single = code_root / f"{package}.py"
        return [(single, single.name)]
    return [(f, f.relative_to(code_root).as_posix()) for f in _files(base)]


def source_hash(code_root: Path, package: str, requirements: list[str], platform: str) -> str:
    """Content hash of everything that goes into the asset (paths, bytes, pins, platform)."""
    digest = hashlib.sha256()
    digest.update(platform.encode())
    for requirement in sorted(requirements):
        digest.update(requirement.encode() + b"\0")
    for path, name in sorted(_runtime_files() + _user_files(code_root, package), key=lambda item: item[1]):
        digest.update(name.encode() + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def _cache_dir() -> Path:
    return Path(os.environ.get("EVENTWEAVE_CACHE_DIR") or Path.home() / ".cache" / "eventweave")


def _install_dependencies(requirements: list[str], platform: str, python_version: str) -> Path:
    key = hashlib.sha256("|".join([platform, python_version, *sorted(requirements)]).encode()).hexdigest()[:24]
    target = _cache_dir() / "deps" / key
    if (target / ".complete").exists():
        return target
    partial = target.with_name(key + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--target",
        str(partial),
        "--platform",
        platform,
        "--implementation",
        "cp",
        "--python-version",
        python_version,
        "--only-binary=:all:",
        *requirements,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 - fixed argv
    if result.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        raise RuntimeError(
            f"could not install {' '.join(requirements)} for Lambda ({platform}, CPython {python_version}); pip said:\n"
            f"{result.stderr.strip()[-2000:]}\nEvery dependency needs a binary wheel for that platform "
            "(--only-binary=:all:): pin a version that publishes one, or choose the other architecture"
        )
    (partial / ".complete").write_text("ok")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


def bundle(
    code_root: Path,
    package: str,
    *,
    requirements: list[str],
    platform: str,
    python_version: str,
) -> tuple[Path, str]:
    """Build (or reuse) the asset directory; returns ``(directory, asset hash)``."""
    asset_hash = source_hash(code_root, package, requirements, f"{platform}/{python_version}")
    out = _cache_dir() / "assets" / asset_hash
    if (out / ".eventweave-asset").exists():
        return out, asset_hash
    deps = _install_dependencies(requirements, platform, python_version)
    staging = out.with_name(asset_hash + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(deps, staging, ignore=shutil.ignore_patterns(".complete", "__pycache__"))
    for path, name in _runtime_files() + _user_files(code_root, package):
        destination = staging / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)
    (staging / ".eventweave-asset").write_text(asset_hash)
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    return out, asset_hash

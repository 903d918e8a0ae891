"""Find where a handler class lives, so a construct can package its code and point Lambda at it."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eventweave.handlers.base import BaseHandler, HandlerContract

__all__ = ["HandlerRef"]


@dataclass(frozen=True)
class HandlerRef:
    """A handler class plus what Lambda needs to load it: the module, the entry attribute and the code root.

    The module must define the entry point, e.g. ``handler = Charge.lambda_handler()``; the code shipped is the
    top-level package that contains the module (``billing/`` for ``billing.charge``), found from the module's file.

    Example::

        ref = HandlerRef.of(Charge)
        ref.entry        # "billing.charge.handler"
        ref.contract     # HandlerContract(source="sqs", idempotent=True, ...)
    """

    handler_class: type[BaseHandler[Any, Any]]
    module: str
    attribute: str
    code_root: Path
    """Directory that holds the top-level package of ``module`` (what goes on ``sys.path`` in Lambda)."""

    @property
    def entry(self) -> str:
        return f"{self.module}.{self.attribute}"

    @property
    def package(self) -> str:
        return self.module.split(".", 1)[0]

    @property
    def contract(self) -> HandlerContract:
        return self.handler_class.contract()

    @classmethod
    def of(cls, handler_class: type[BaseHandler[Any, Any]], *, attribute: str | None = None) -> HandlerRef:
        if not (isinstance(handler_class, type) and issubclass(handler_class, BaseHandler)):
            raise TypeError(f"expected an eventweave handler class, got {handler_class!r}")
        module_name = handler_class.__module__
        module = sys.modules.get(module_name)
        file = getattr(module, "__file__", None)
        if module is None or file is None or module_name == "__main__":
            raise ValueError(
                f"{handler_class.__qualname__} is defined in {module_name!r}, which is not an importable module file; "
                "define handlers in a module of a package (e.g. billing/charge.py) so Lambda can import it"
            )
        if attribute is None:
            attribute = _find_entry(module, handler_class)
        elif not callable(getattr(module, attribute, None)):
            raise ValueError(f"{module_name}.{attribute} is not an entry point of {handler_class.__qualname__}")
        depth = module_name.count(".")
        path = Path(file).resolve().parent
        if Path(file).name == "__init__.py":
            depth += 1
        code_root = path
        for _ in range(depth):
            code_root = code_root.parent
        return cls(handler_class, module_name, attribute, code_root)


def _find_entry(module: Any, handler_class: type[Any]) -> str:
    for name, value in vars(module).items():
        if getattr(value, "handler_class", None) is handler_class and callable(value):
            return str(name)
    raise ValueError(
        f"module {module.__name__} has no entry point for {handler_class.__qualname__}: add "
        f"`handler = {handler_class.__qualname__}.lambda_handler()` at module level (or pass attribute=...)"
    )

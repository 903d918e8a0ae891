"""Event pattern and schedule expression syntax, as EventBridge (and Lambda's filter criteria) check it."""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["pattern_problem", "schedule_problem"]

_OPERATORS = frozenset(
    {"prefix", "suffix", "anything-but", "numeric", "exists", "cidr", "equals-ignore-case", "wildcard"}
)
_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_CRON = re.compile(r"^cron\(\s*(\S+\s+){5}\S+\s*\)$")
_AT = re.compile(r"^at\(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\)$")


def pattern_problem(pattern: Any) -> str | None:
    """Why ``pattern`` (JSON text or an object) is not a valid event pattern; ``None`` when it is.

    The structure is checked by moto's EventBridge parser (an object whose leaves are non-empty arrays), plus the
    operator names inside arrays (``prefix``, ``numeric``, ``anything-but``...).
    """
    from moto.events.models import EventPatternParser

    text = pattern if isinstance(pattern, str) else json.dumps(pattern)
    try:
        parsed = EventPatternParser(text).parse()
    except Exception as error:
        return str(getattr(error, "message", None) or error)
    if not isinstance(parsed, dict):
        return "Filter is not an object"
    return _operators(parsed)


def _operators(node: dict[str, Any]) -> str | None:
    for key, value in node.items():
        if key == "$or" and isinstance(value, list):
            for branch in value:
                problem = _operators(branch) if isinstance(branch, dict) else "$or must hold objects"
                if problem:
                    return problem
            continue
        if isinstance(value, dict):
            problem = _operators(value)
            if problem:
                return problem
            continue
        for matcher in value if isinstance(value, list) else []:
            if isinstance(matcher, dict):
                unknown = [name for name in matcher if name not in _OPERATORS]
                if unknown:
                    return f"Unrecognized match type {unknown[0]}"
            elif isinstance(matcher, list):
                return "Match value must be String, number, true, false, or null"
    return None


def schedule_problem(expression: str, *, allow_at: bool = False) -> str | None:
    """Why ``expression`` is not a ``rate(...)`` / ``cron(...)`` (/ ``at(...)``) expression; ``None`` when it is."""
    text = expression.strip()
    match = _RATE.match(text)
    if match:
        value, unit = int(match.group(1)), match.group(2)
        if value < 1:
            return "rate value must be a positive integer"
        if (value == 1) != (not unit.endswith("s")):
            return f"use 'rate(1 {unit.rstrip('s')})' for one unit and plural units for more"
        return None
    if _CRON.match(text):
        return None
    if allow_at and _AT.match(text):
        return None
    return "not a rate(), cron() or at() expression" if allow_at else "not a rate() or cron() expression"

"""CloudFormation intrinsic functions, evaluated against what the local deployer has created so far."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["NO_VALUE", "Resolver", "TemplateError", "dependencies"]

NO_VALUE = object()
"""``AWS::NoValue``: the property is removed."""

_SUB = re.compile(r"\$\{([^}!][^}]*)\}")


class TemplateError(ValueError):
    """A template the local cloud cannot evaluate; the message names the place in the template."""


def dependencies(value: Any) -> set[str]:
    """Logical ids (and parameter names) that ``value`` refers to with Ref, Fn::GetAtt or Fn::Sub."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if len(node) == 1:
                ((key, arg),) = node.items()
                if key == "Ref" and isinstance(arg, str) and not arg.startswith("AWS::"):
                    found.add(arg)
                elif key == "Fn::GetAtt":
                    target = arg[0] if isinstance(arg, list) else str(arg).split(".", 1)[0]
                    found.add(target)
                elif key == "Fn::Sub":
                    text = arg[0] if isinstance(arg, list) else arg
                    local = set(arg[1]) if isinstance(arg, list) and len(arg) > 1 else set()
                    for name in _SUB.findall(text if isinstance(text, str) else ""):
                        ref = name.split(".", 1)[0]
                        if not ref.startswith("AWS::") and ref not in local:
                            found.add(ref)
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(value)
    return found


class Resolver:
    """Evaluates intrinsics with ``refs`` (logical id -> Ref value), ``attrs`` (logical id -> attributes), the
    pseudo parameters, parameter defaults, conditions and exports.

    Example::

        r = Resolver(refs={"Q": "https://..."}, attrs={"Q": {"Arn": "arn:aws:sqs:..."}}, region="us-east-1",
                     account_id="123456789012", stack_name="app")
        r.resolve({"Fn::Join": ["", ["x-", {"Ref": "AWS::Region"}]]})  # "x-us-east-1"
    """

    def __init__(
        self,
        *,
        refs: Mapping[str, Any],
        attrs: Mapping[str, Mapping[str, Any]],
        region: str,
        account_id: str,
        stack_name: str,
        stack_id: str = "",
        conditions: Mapping[str, Any] | None = None,
        exports: Mapping[str, Any] | None = None,
        attribute_fallback: Callable[[str, str], Any] | None = None,
        mappings: Mapping[str, Any] | None = None,
    ) -> None:
        self.refs = refs
        self.attrs = attrs
        self.pseudo = {
            "AWS::Region": region,
            "AWS::AccountId": account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": stack_name,
            "AWS::StackId": stack_id or f"arn:aws:cloudformation:{region}:{account_id}:stack/{stack_name}/local",
            "AWS::NotificationARNs": [],
        }
        self.conditions = dict(conditions or {})
        self.exports = exports or {}
        self.mappings = mappings or {}
        self.attribute_fallback = attribute_fallback
        self._condition_values: dict[str, bool] = {}

    def resolve(self, value: Any, where: str = "") -> Any:
        """``value`` with every intrinsic evaluated; ``AWS::NoValue`` entries removed."""
        if isinstance(value, list):
            items = [self.resolve(v, f"{where}[{i}]") for i, v in enumerate(value)]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref" or key.startswith("Fn::") or key == "Condition":
                return self._intrinsic(key, arg, where)
        out = {}
        for key, child in value.items():
            resolved = self.resolve(child, f"{where}.{key}" if where else key)
            if resolved is not NO_VALUE:
                out[key] = resolved
        return out

    def condition(self, name: str) -> bool:
        """The value of a template condition."""
        if name not in self._condition_values:
            if name not in self.conditions:
                raise TemplateError(f"condition {name!r} is not defined in Conditions")
            self._condition_values[name] = bool(self.resolve(self.conditions[name], f"Conditions.{name}"))
        return self._condition_values[name]

    def _intrinsic(self, key: str, arg: Any, where: str) -> Any:
        if key == "Ref":
            return self._ref(arg, where)
        if key == "Fn::GetAtt":
            target, _, attribute = (f"{arg[0]}.{arg[1]}" if isinstance(arg, list) else str(arg)).partition(".")
            return self._get_att(target, attribute, where)
        if key == "Fn::Join":
            sep, items = arg
            parts = self.resolve(items, where)
            return str(sep).join(str(p) for p in parts)
        if key == "Fn::Sub":
            return self._sub(arg, where)
        if key == "Fn::Select":
            index, items = arg
            return self.resolve(items, where)[int(self.resolve(index, where))]
        if key == "Fn::Split":
            sep, text = arg
            return str(self.resolve(text, where)).split(sep)
        if key == "Fn::If":
            name, yes, no = arg
            return self.resolve(yes if self.condition(name) else no, where)
        if key == "Fn::Equals":
            a, b = (self.resolve(x, where) for x in arg)
            return a == b
        if key == "Fn::And":
            return all(self.resolve(x, where) for x in arg)
        if key == "Fn::Or":
            return any(self.resolve(x, where) for x in arg)
        if key == "Fn::Not":
            return not self.resolve(arg[0], where)
        if key == "Condition":
            return self.condition(arg)
        if key == "Fn::GetAZs":
            region = self.resolve(arg, where) or self.pseudo["AWS::Region"]
            return [f"{region}{zone}" for zone in "abc"]
        if key == "Fn::Base64":
            return base64.b64encode(str(self.resolve(arg, where)).encode()).decode()
        if key == "Fn::ImportValue":
            name = self.resolve(arg, where)
            if name not in self.exports:
                raise TemplateError(f"{where}: Fn::ImportValue {name!r}: no stack in the local cloud exports it")
            return self.exports[name]
        if key == "Fn::ToJsonString":
            return json.dumps(self.resolve(arg, where), separators=(",", ":"))
        if key == "Fn::FindInMap":
            return self._find_in_map(arg, where)
        if key == "Fn::Length":
            items = self.resolve(arg, where)
            if not isinstance(items, list):
                raise TemplateError(f"{where}: Fn::Length takes a list")
            return len(items)
        raise TemplateError(f"{where}: the intrinsic function {key} is not supported by the local cloud")

    def _find_in_map(self, arg: Any, where: str) -> Any:
        name, top, second, *rest = arg
        default = rest[0].get("DefaultValue", NO_VALUE) if rest and isinstance(rest[0], dict) else NO_VALUE
        keys = [str(self.resolve(k, where)) for k in (name, top, second)]
        try:
            return self.mappings[keys[0]][keys[1]][keys[2]]
        except (KeyError, TypeError):
            if default is not NO_VALUE:
                return self.resolve(default, where)
            raise TemplateError(f"{where}: Fn::FindInMap {keys}: no such entry in Mappings") from None

    def _ref(self, name: str, where: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.refs:
            return self.refs[name]
        raise TemplateError(f"{where}: Ref {name!r}: no such resource or parameter (or it is not created yet)")

    def _get_att(self, target: str, attribute: str, where: str) -> Any:
        values = self.attrs.get(target)
        if values is not None and attribute in values:
            return values[attribute]
        if self.attribute_fallback is not None:
            value = self.attribute_fallback(target, attribute)
            if value is not None:
                return value
        raise TemplateError(f"{where}: Fn::GetAtt {target}.{attribute}: the local cloud does not provide it")

    def _sub(self, arg: Any, where: str) -> str:
        text, extra = (arg[0], self.resolve(arg[1], where)) if isinstance(arg, list) else (arg, {})

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in extra:
                return str(extra[name])
            if "." in name and not name.startswith("AWS::"):
                target, attribute = name.split(".", 1)
                return str(self._get_att(target, attribute, where))
            return str(self._ref(name, where))

        return _SUB.sub(replace, text).replace("${!", "${")

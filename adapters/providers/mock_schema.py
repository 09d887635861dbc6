"""An instance of a JSON Schema: the mock provider's tool arguments and JSON Schema answers.

Deterministic, and valid for the keywords a tool schema uses in practice:
``type`` (the first non-null one of a list), ``properties`` (every property is
given a value), ``required``, ``items``/``prefixItems``, ``enum``, ``const``,
``anyOf``/``oneOf`` (the first), ``allOf`` (merged), local ``$ref``, the
numeric bounds and ``multipleOf``, string lengths and common formats. Strings
are named after their property (``"mock city"``); ``pattern`` is not honoured.
"""

from __future__ import annotations

import math
from typing import Any, TypeGuard

MAX_DEPTH = 16
_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00",
    "email": "mock@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "hostname": "example.com",
}


def instance_of(schema: object, *, name: str = "value") -> Any:
    """A value that ``schema`` accepts."""
    return _Instances(schema).of(schema, name, 0)


class _Instances:
    def __init__(self, root: object) -> None:
        self._root = root

    def of(self, schema: object, name: str, depth: int) -> Any:
        if not isinstance(schema, dict) or depth > MAX_DEPTH:
            return f"mock {name}"
        if isinstance(schema.get("$ref"), str):
            return self.of(self._resolve(schema["$ref"]), name, depth + 1)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return schema["enum"][0]
        for keyword in ("anyOf", "oneOf"):
            if isinstance(schema.get(keyword), list) and schema[keyword]:
                return self.of(schema[keyword][0], name, depth + 1)
        if isinstance(schema.get("allOf"), list):
            return self.of(_merged(schema), name, depth + 1)
        return self._typed(schema, _type_of(schema), name, depth)

    def _typed(self, schema: dict[str, Any], kind: str, name: str, depth: int) -> Any:
        if kind == "object":
            return self._object(schema, depth)
        if kind == "array":
            return self._array(schema, name, depth)
        if kind in ("integer", "number"):
            return _number(schema, integer=kind == "integer")
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        return _string(schema, name)

    def _object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        properties = schema.get("properties")
        properties = properties if isinstance(properties, dict) else {}
        value = {key: self.of(sub, key, depth + 1) for key, sub in properties.items()}
        for key in schema.get("required") or ():
            if isinstance(key, str) and key not in value:
                value[key] = f"mock {key}"
        return value

    def _array(self, schema: dict[str, Any], name: str, depth: int) -> list[Any]:
        prefix = schema.get("prefixItems")
        prefix = prefix if isinstance(prefix, list) else []
        items = schema.get("items", {})
        if isinstance(items, list):  # draft 4 tuple validation
            prefix, items = items, {}
        count = max(_int(schema.get("minItems"), 1), len(prefix))
        if "maxItems" in schema:
            count = min(count, _int(schema.get("maxItems"), count))
        return [self.of(prefix[i] if i < len(prefix) else items, f"{name} {i + 1}", depth + 1) for i in range(count)]

    def _resolve(self, ref: str) -> object:
        if not ref.startswith("#"):
            return {}
        node: object = self._root
        path = ref[1:].strip("/")
        for step in path.split("/") if path else ():
            key = step.replace("~1", "/").replace("~0", "~")
            node = node.get(key, {}) if isinstance(node, dict) else {}
        return node


def _type_of(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        return str(kinds[0]) if kinds else "null"
    if isinstance(kind, str):
        return kind
    if "properties" in schema or "required" in schema:
        return "object"
    return "array" if "items" in schema or "prefixItems" in schema else "string"


def _merged(schema: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {key: value for key, value in schema.items() if key != "allOf"}
    for part in schema["allOf"]:
        if not isinstance(part, dict):
            continue
        for key, value in part.items():
            if key == "properties" and isinstance(value, dict):
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required" and isinstance(value, list):
                merged["required"] = [*merged.get("required", []), *value]
            else:
                merged.setdefault(key, value)
    return merged


def _string(schema: dict[str, Any], name: str) -> str:
    value = _FORMATS.get(str(schema.get("format", "")), f"mock {name}")
    value = value.ljust(_int(schema.get("minLength"), 0), "x")
    if "maxLength" in schema:
        value = value[: _int(schema["maxLength"], len(value))]
    return value


def _number(schema: dict[str, Any], *, integer: bool) -> int | float:
    low, low_open = _limit(schema, "minimum", "exclusiveMinimum")
    high, high_open = _limit(schema, "maximum", "exclusiveMaximum")
    multiple = schema.get("multipleOf")
    step = multiple if _is_number(multiple) and multiple > 0 else (1 if integer else 0)
    nudge = step or 1
    value: float
    if low is None:
        value = 0 if high is None or high > 0 or (high == 0 and not high_open) else high - nudge
    elif low_open:
        value = low + nudge if high is None or low + nudge < high else (low + high) / 2
    else:
        value = low
    if step:
        value = math.ceil(value / step) * step
        if low_open and low is not None and value <= low:
            value += step
    return int(value) if integer else float(value)


def _limit(schema: dict[str, Any], inclusive: str, exclusive: str) -> tuple[float | None, bool]:
    """A bound and whether it is exclusive (a number since draft 6, a boolean beside the bound in draft 4)."""
    if _is_number(schema.get(inclusive)):
        return schema[inclusive], schema.get(exclusive) is True
    if _is_number(schema.get(exclusive)):
        return schema[exclusive], True
    return None, False


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _int(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else default

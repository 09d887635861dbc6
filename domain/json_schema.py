"""A structural check of a JSON Schema (docs/api.md#tools).

Tool parameters and a ``json_schema`` output format are sent to the provider,
which refuses a malformed schema with an error that names neither the tool nor
the field. So the gateway checks, before anything is sent, that every keyword
it knows has a value of the right shape (``type`` a type name or a list of them,
``properties`` an object of schemas, ``required`` a list of distinct strings,
``enum`` a non-empty list, ...), recursively, and names the path of the first
one that has not. Unknown keywords pass: JSON Schema allows them and vendors
use them for annotations. This is not a validator of instances, and it does
not resolve ``$ref``; a dependency that does both was not worth its weight
for a check of shape.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.errors import InvalidRequest

TYPES = frozenset({"null", "boolean", "object", "array", "number", "string", "integer"})
# Deeper than any real schema; keeps a hostile one from exhausting the stack.
MAX_DEPTH = 64

_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SUBSCHEMAS = (
    "additionalProperties",
    "additionalItems",
    "unevaluatedProperties",
    "unevaluatedItems",
    "contains",
    "propertyNames",
    "not",
    "if",
    "then",
    "else",
)
_COUNTS = (
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "minContains",
    "maxContains",
)
_NUMBERS = ("minimum", "maximum")
_STRINGS = ("$ref", "$id", "$schema", "$anchor", "$comment", "pattern", "format", "title", "description")
_BOOLEANS = ("uniqueItems", "readOnly", "writeOnly", "deprecated")


def check_schema(schema: object, field: str, *, depth: int = 0) -> None:
    """Raise ``InvalidRequest`` naming ``field`` and the path inside it where ``schema`` is not a JSON Schema."""
    if isinstance(schema, bool):
        return
    if not isinstance(schema, dict):
        raise InvalidRequest(f"{field} must be a JSON Schema (an object or a boolean)")
    if depth > MAX_DEPTH:
        raise InvalidRequest(f"{field} is nested more than {MAX_DEPTH} levels deep")
    for keyword, value in schema.items():
        check = _CHECKS.get(keyword)
        if check is not None:
            check(value, f"{field}.{keyword}", depth + 1)


def check_object_schema(schema: dict[str, Any], field: str) -> None:
    """A schema of tool arguments: a JSON Schema whose instances are objects."""
    check_schema(schema, field)
    if schema.get("type", "object") != "object":
        raise InvalidRequest(f'{field}.type must be "object": tool arguments are a JSON object')


def _type(value: object, field: str, depth: int) -> None:
    names = value if isinstance(value, list) else [value]
    if not names or any(not isinstance(n, str) or n not in TYPES for n in names) or len(set(names)) != len(names):
        raise InvalidRequest(f"{field} must be one of {', '.join(sorted(TYPES))}, or a list of distinct ones")


def _schema_map(value: object, field: str, depth: int) -> None:
    if not isinstance(value, dict):
        raise InvalidRequest(f"{field} must be an object whose values are schemas")
    for name, subschema in value.items():
        check_schema(subschema, f"{field}.{name}", depth=depth)


def _schema_list(value: object, field: str, depth: int) -> None:
    if not isinstance(value, list) or not value:
        raise InvalidRequest(f"{field} must be a non-empty list of schemas")
    for i, subschema in enumerate(value):
        check_schema(subschema, f"{field}[{i}]", depth=depth)


def _subschema(value: object, field: str, depth: int) -> None:
    check_schema(value, field, depth=depth)


def _items(value: object, field: str, depth: int) -> None:
    if isinstance(value, list):  # draft 4 tuple validation
        _schema_list(value, field, depth)
    else:
        check_schema(value, field, depth=depth)


def _required(value: object, field: str, depth: int) -> None:
    if not isinstance(value, list) or any(not isinstance(v, str) for v in value) or len(set(value)) != len(value):
        raise InvalidRequest(f"{field} must be a list of distinct property names")


def _enum(value: object, field: str, depth: int) -> None:
    if not isinstance(value, list) or not value:
        raise InvalidRequest(f"{field} must be a non-empty list")


def _count(value: object, field: str, depth: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidRequest(f"{field} must be a non-negative integer")


def _number(value: object, field: str, depth: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRequest(f"{field} must be a number")


def _exclusive_bound(value: object, field: str, depth: int) -> None:
    if not isinstance(value, bool):  # a boolean in draft 4, a number since
        _number(value, field, depth)


def _multiple_of(value: object, field: str, depth: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise InvalidRequest(f"{field} must be a number greater than 0")


def _string(value: object, field: str, depth: int) -> None:
    if not isinstance(value, str):
        raise InvalidRequest(f"{field} must be a string")


def _boolean(value: object, field: str, depth: int) -> None:
    if not isinstance(value, bool):
        raise InvalidRequest(f"{field} must be true or false")


_Check = Callable[[object, str, int], None]
_CHECKS: dict[str, _Check] = {
    "type": _type,
    "items": _items,
    "required": _required,
    "enum": _enum,
    "exclusiveMinimum": _exclusive_bound,
    "exclusiveMaximum": _exclusive_bound,
    "multipleOf": _multiple_of,
    **dict.fromkeys(_SCHEMA_MAPS, _schema_map),
    **dict.fromkeys(_SCHEMA_LISTS, _schema_list),
    **dict.fromkeys(_SUBSCHEMAS, _subschema),
    **dict.fromkeys(_COUNTS, _count),
    **dict.fromkeys(_NUMBERS, _number),
    **dict.fromkeys(_STRINGS, _string),
    **dict.fromkeys(_BOOLEANS, _boolean),
}

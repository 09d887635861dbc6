"""Request validation for the fake Bedrock, against botocore's own ``bedrock-runtime`` model.

The fake must refuse what the real service refuses, so that a test passing
against it says something about the real one: unknown members, wrong JSON
types, missing required members, values outside the modelled ``min``/``max``
and enums, unions with other than one member set. On top of the model, the
rules Bedrock enforces that the model cannot express (``tests.vendors.bedrock_rules``:
the conversation's shape, tool calls and results paired, model features,
Claude's thinking), and some models take no ``system`` block.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, Shape, StructureShape

from tests.vendors.bedrock_rules import RequestInvalid, check_conversation, check_model_features, check_thinking

__all__ = ["RequestInvalid", "input_shape", "validate_request"]

_NUMBER_TYPES = {"integer": int, "long": int, "float": (int, float), "double": (int, float)}
# Model families that answer "doesn't support system messages" (Titan Text, Mistral 7B/8x7B Instruct).
NO_SYSTEM_PREFIXES = ("amazon.titan-text", "mistral.mistral-7b", "mistral.mixtral-8x7b")


@functools.cache
def input_shape(operation: str) -> StructureShape:
    model = botocore.session.get_session().get_service_model("bedrock-runtime")
    shape = model.operation_model(operation).input_shape
    assert isinstance(shape, StructureShape)
    return shape


def check_shape(operation: str, body: Any) -> None:
    """Only the input shape of ``operation`` (botocore's model), with Bedrock's wording."""
    _check(input_shape(operation), body, "", body_level=True)


def validate_request(operation: str, model_id: str, body: Any, signatures: Mapping[str, str] | None = None) -> None:
    """Raise ``RequestInvalid`` with Bedrock's wording if ``body`` is not a valid ``operation`` input.

    ``signatures``: the reasoning text each signature the model gave was made for; Claude takes a reasoning
    block back only with that signature and that text, unchanged.
    """
    _check(input_shape(operation), body, "", body_level=True)
    check_conversation(body.get("messages", []), body.get("toolConfig"))
    check_model_features(model_id, body)
    check_thinking(model_id, body, signatures or {})
    if "system" in body and model_id.removeprefix("us.").startswith(NO_SYSTEM_PREFIXES):
        raise RequestInvalid("This model doesn't support system messages. Try again without a system message.")


def _fail(path: str, constraint: str) -> RequestInvalid:
    return RequestInvalid(
        f"1 validation error detected: Value at '{path or '#'}' failed to satisfy constraint: {constraint}"
    )


def _check(shape: Shape, value: Any, path: str, *, body_level: bool = False) -> None:
    kind = shape.type_name
    if kind == "structure" and getattr(shape, "is_document_type", False):
        return
    checker = _CHECKERS.get(kind, _check_scalar)
    checker(shape, value, path, body_level)


def _check_structure(shape: Shape, value: Any, path: str, body_level: bool) -> None:
    assert isinstance(shape, StructureShape)
    if not isinstance(value, dict):
        raise _fail(path, "Member must be an object")
    members = {
        name: member
        for name, member in shape.members.items()
        if not (body_level and member.serialization.get("location"))  # uri/header members are not in the body
    }
    for key in value:
        if key not in members:
            raise RequestInvalid(
                f"Malformed input request: #{'/' + path if path else ''}: extraneous key [{key}] is not permitted"
            )
    for name in shape.required_members:
        if name in members and name not in value:
            raise _fail(_join(path, name), "Member must not be null")
    if getattr(shape, "is_tagged_union", False) and len(value) != 1:
        raise _fail(path, "Member must have exactly one member set")
    for key, item in value.items():
        _check(members[key], item, _join(path, key))


def _check_list(shape: Shape, value: Any, path: str, body_level: bool) -> None:
    assert isinstance(shape, ListShape)
    if not isinstance(value, list):
        raise _fail(path, "Member must be a list")
    _check_length(shape, len(value), path)
    for index, item in enumerate(value):
        _check(shape.member, item, f"{path}.{index + 1}.member")


def _check_map(shape: Shape, value: Any, path: str, body_level: bool) -> None:
    assert isinstance(shape, MapShape)
    if not isinstance(value, dict):
        raise _fail(path, "Member must be a map")
    for key, item in value.items():
        _check(shape.key, key, f"{path}.key")
        _check(shape.value, item, f"{path}.{key}")


def _check_scalar(shape: Shape, value: Any, path: str, body_level: bool) -> None:
    kind = shape.type_name
    if kind == "string":
        if not isinstance(value, str):
            raise _fail(path, "Member must be a string")
        if shape.enum and value not in shape.enum:
            raise _fail(path, f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
        _check_length(shape, len(value), path)
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise _fail(path, "Member must be a boolean")
    elif kind in _NUMBER_TYPES:
        if isinstance(value, bool) or not isinstance(value, _NUMBER_TYPES[kind]):
            raise _fail(path, f"Member must be a number of type {kind}")
        _check_range(shape, value, path)
    elif kind in ("blob", "timestamp") and not isinstance(value, (str, int, float)):
        raise _fail(path, f"Member must be a {kind}")


def _check_length(shape: Shape, length: int, path: str) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and length < low:
        raise _fail(path, f"Member must have length greater than or equal to {low}")
    if high is not None and length > high:
        raise _fail(path, f"Member must have length less than or equal to {high}")


def _check_range(shape: Shape, number: float, path: str) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and number < low:
        raise _fail(path, f"Member must have value greater than or equal to {low}")
    if high is not None and number > high:
        raise _fail(path, f"Member must have value less than or equal to {high}")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


_CHECKERS = {"structure": _check_structure, "list": _check_list, "map": _check_map}

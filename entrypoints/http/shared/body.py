"""Strict JSON request bodies.

Litestar's own body parsing coerces types (``"100"`` becomes ``100``); the
gateway refuses wrong types instead, so bodies are decoded here with a strict
msgspec decoder per type. ``documented`` puts the same type into the OpenAPI
document, which would otherwise not see a body read this way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec
from litestar import Request
from litestar.openapi.spec import OpenAPIMediaType, Operation, RequestBody, Schema

from domain.errors import InvalidRequest
from entrypoints.json_depth import TOO_DEEP_MESSAGE, json_too_deep

T = TypeVar("T")


class JsonBody(Generic[T]):
    def __init__(self, body_type: type[T]) -> None:
        self._decoder = msgspec.json.Decoder(body_type)

    async def read(self, request: Request[Any, Any, Any]) -> T:
        return self.decode(await request.body())

    def decode(self, raw: bytes) -> T:
        if not raw.strip():
            raise InvalidRequest("request body is empty: send a JSON object")
        if json_too_deep(raw):
            raise InvalidRequest(f"malformed JSON: {TOO_DEEP_MESSAGE}")
        try:
            return self._decoder.decode(raw)
        except msgspec.ValidationError as exc:
            raise InvalidRequest(f"invalid request body: {exc}") from None
        except msgspec.DecodeError as exc:
            raise InvalidRequest(f"malformed JSON: {exc}") from None


def documented(body_type: type[Any]) -> type[Operation]:
    """An OpenAPI operation class that documents ``body_type`` as the JSON request body."""
    schema = msgspec.json.schema(body_type)
    definitions = schema.pop("$defs", {})
    root = definitions.get(body_type.__name__, schema)

    @dataclass
    class WithBody(Operation):
        def __post_init__(self) -> None:
            self.request_body = RequestBody(
                required=True,
                content={"application/json": OpenAPIMediaType(schema=Schema(**_schema_fields(root)))},
            )

    return WithBody


def _schema_fields(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {name: Schema(description=str(prop)) for name, prop in raw.get("properties", {}).items()},
        "required": raw.get("required"),
        "description": raw.get("description"),
    }

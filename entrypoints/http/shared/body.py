"""Strict JSON request bodies.

Litestar's own body parsing coerces types (``"100"`` becomes ``100``); the
gateway refuses wrong types instead, so bodies are decoded here with a strict
msgspec decoder per type. ``documented`` (from ``openapi``, where a route's
whole document is made) puts the same type into the OpenAPI document, which
would otherwise not see a body read this way.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import msgspec
from litestar import Request

from domain.errors import InvalidRequest
from entrypoints.http.shared.openapi import documented
from entrypoints.json_depth import TOO_DEEP_MESSAGE, json_too_deep

__all__ = ["JsonBody", "documented"]

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

"""What travels over the socket: request messages in, the SSE chunk objects out (docs/api.md#websocket).

Every frame of an answer carries the request's ``id`` when it had one; error
frames always carry ``id`` (``null`` when the message could not be read far
enough to find it).
"""

from __future__ import annotations

from typing import Any

import msgspec

from domain.errors import DomainError, InvalidRequest
from domain.models import StreamEvent
from entrypoints.json_depth import TOO_DEEP_MESSAGE, json_too_deep
from entrypoints.native_json import GenerateBody, error_chunk_json, stream_event_json

_encode = msgspec.json.Encoder().encode


class WsRequest(GenerateBody, frozen=True, kw_only=True):
    """A generation request plus what browsers cannot send as headers."""

    id: Any = None
    userId: str | None = None
    sessionId: str | None = None


class BadFrame(InvalidRequest):
    """A message that is not a valid request; remembers the ``id`` if one could be read."""

    def __init__(self, message: str, ident: object = None) -> None:
        super().__init__(message)
        self.ident = ident


def decode_request(raw: str | bytes) -> WsRequest:
    if json_too_deep(raw):
        raise BadFrame(f"invalid JSON: {TOO_DEEP_MESSAGE}")
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise BadFrame(f"invalid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise BadFrame("a request must be a JSON object")
    try:
        return msgspec.convert(value, WsRequest)
    except msgspec.ValidationError as exc:
        raise BadFrame(f"invalid request: {exc}", value.get("id")) from None


def _text(payload: dict[str, object]) -> str:
    return _encode(payload).decode()


def event_frame(event: StreamEvent, ident: object) -> str:
    payload = stream_event_json(event)
    if ident is not None:
        payload["id"] = ident
    return _text(payload)


def error_frame(error: DomainError, request_id: str, ident: object) -> str:
    return _text({**error_chunk_json(error, request_id), "id": ident})

"""Errors in OpenAI's shape, so that the ``openai`` SDK raises its own exception classes (docs/api.md#openai-errors).

    {"error": {"message": "...", "type": "invalid_request_error", "param": null, "code": "model_not_found"}}

The SDK picks its class by status (400 ``BadRequestError``, 401
``AuthenticationError``, 403 ``PermissionDeniedError``, 404 ``NotFoundError``,
429 ``RateLimitError``, 5xx ``InternalServerError``); ``type`` and ``code`` follow
OpenAI's spelling where it has one (``invalid_api_key``, ``model_not_found``,
``rate_limit_exceeded``) and are the gateway's own code otherwise. Statuses are
the native API's except an unknown model, which OpenAI answers 404.

``OPENAI_ERRORS`` is the dialect's ``ErrorStyle``: the route table names the
dialect of the ``/v1`` paths, so the shared layers' refusals (401/403/429 from
the guard, 400 for a path, 413/408 for a body) come out in this shape too.
``stream_error_frame`` is a failure once a stream has started: a ``data:``
event holding the same error object, after which the stream ends.
"""

from __future__ import annotations

import re

import msgspec

from domain import errors
from entrypoints.http.shared.errors import status_of
from entrypoints.http.shared.openapi import ErrorShape
from entrypoints.http.shared.sse import frame

_encode = msgspec.json.Encoder().encode

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    408: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}
_CODES = {
    "unknown_model": "model_not_found",
    "unauthenticated": "invalid_api_key",
    "rate_limited": "rate_limit_exceeded",
    "upstream_rate_limited": "rate_limit_exceeded",
}
_PARAMS = {"unknown_model": "model"}
_DECODED_FIELD = re.compile(r"at `\$\.([^`]+)`")
_OPENAI_NAMES = {
    "maxTokens": "max_tokens",
    "topP": "top_p",
    "toolChoice": "tool_choice",
    "responseFormat.schema": "response_format.json_schema.schema",
    "responseFormat": "response_format",
    "callId": "tool_call_id",
}
_NATIVE_NAME = re.compile(r"\b(?:" + "|".join(re.escape(name) for name in _OPENAI_NAMES) + r")\b")


def error_type(status: int) -> str:
    if status in _TYPES:
        return _TYPES[status]
    return "server_error" if status >= 500 else "invalid_request_error"


def in_openai_terms(message: str) -> str:
    """A message of the shared rules, which name fields as the native API spells them, in OpenAI's names."""
    return (
        _NATIVE_NAME.sub(lambda found: _OPENAI_NAMES[found.group(0)], message)
        if _NATIVE_NAME.search(message)
        else message
    )


def error_object(status: int, code: str, message: str) -> dict[str, object]:
    """The ``error`` member of an answer with this status and gateway code; ``param`` names the field a strict
    decoding refused (``... - at `$.messages[0].content```), as OpenAI does, when the message says which."""
    message = in_openai_terms(message)
    field = _DECODED_FIELD.search(message)
    param = field.group(1) if field else _PARAMS.get(code)
    return {"message": message, "type": error_type(status), "param": param, "code": _CODES.get(code, code)}


class OpenAIErrors:
    """The ``ErrorStyle`` of the OpenAI dialect."""

    def status_of(self, error: errors.DomainError) -> int:
        if isinstance(error, errors.UnknownModel):
            return 404
        return status_of(error)

    def body(self, status: int, code: str, message: str, request_id: str) -> bytes:
        return _encode({"error": error_object(status, code, message)})


OPENAI_ERRORS = OpenAIErrors()


class ErrorObjectDoc(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorDoc(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The error body as ``OpenAIErrors.body`` writes it, for the OpenAPI document."""

    error: ErrorObjectDoc


OPENAI_ERROR_SHAPE = ErrorShape.of(ErrorDoc)  # beside OPENAI_ERRORS in app.py, by the dialect's name


def stream_error_frame(error: errors.DomainError) -> bytes:
    """A failure after the stream's 200: ``data: {"error": {...}}``; the SDK raises it as an ``APIError``."""
    return frame({"error": error_object(OPENAI_ERRORS.status_of(error), error.code, error.message)})

"""Errors in Anthropic's shape, so that the ``anthropic`` SDK raises its own classes (docs/api.md#anthropic-errors).

    {"type": "error", "error": {"type": "not_found_error", "message": "..."}, "request_id": "..."}

The SDK picks its class by status (400 ``BadRequestError``, 401
``AuthenticationError``, 403 ``PermissionDeniedError``, 404 ``NotFoundError``,
413 ``RequestTooLargeError``, 429 ``RateLimitError``, 529 ``OverloadedError``,
other 5xx ``InternalServerError``); ``type`` is Anthropic's name for the status.
Statuses are the native API's except:

- an unknown model: 404 ``not_found_error``, as Anthropic answers it;
- the gateway or the upstream unable to take the call now (a full worker
  pool, an open circuit breaker, a gateway shutting down): 529
  ``overloaded_error``, which Anthropic's clients retry after a pause;
- an upstream timeout: 504 ``timeout_error``.

``ANTHROPIC_ERRORS`` is the dialect's ``ErrorStyle`` (the shared layers'
refusals on these paths come out in this shape too); ``stream_error_frame`` is
a failure once a stream has started: an ``error`` event, after which the
stream ends.
"""

from __future__ import annotations

import msgspec

from domain import errors
from entrypoints.http.shared.errors import status_of
from entrypoints.http.shared.openapi import ErrorShape

_encode = msgspec.json.Encoder().encode

OVERLOADED = 529
_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    OVERLOADED: "overloaded_error",
}
# Refusals that say "not now": the client's retry with back-off is the right answer to each.
_OVERLOADED = (errors.Overloaded, errors.CircuitOpen, errors.ShuttingDown)


def error_type(status: int) -> str:
    if status in _TYPES:
        return _TYPES[status]
    return "api_error" if status >= 500 else "invalid_request_error"


def error_object(status: int, message: str) -> dict[str, object]:
    return {"type": error_type(status), "message": message}


class AnthropicErrors:
    """The ``ErrorStyle`` of the Anthropic dialect."""

    def status_of(self, error: errors.DomainError) -> int:
        if isinstance(error, errors.UnknownModel):
            return 404
        if isinstance(error, _OVERLOADED):
            return OVERLOADED
        return status_of(error)

    def body(self, status: int, code: str, message: str, request_id: str) -> bytes:
        return _encode({"type": "error", "error": error_object(status, message), "request_id": request_id})


ANTHROPIC_ERRORS = AnthropicErrors()


class ErrorObjectDoc(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    type: str
    message: str


class ErrorDoc(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The error body as ``AnthropicErrors.body`` writes it, for the OpenAPI document."""

    type: str
    error: ErrorObjectDoc
    request_id: str


ANTHROPIC_ERROR_SHAPE = ErrorShape.of(ErrorDoc)  # beside ANTHROPIC_ERRORS in app.py, by the dialect's name


def stream_error_frame(error: errors.DomainError) -> bytes:
    """A failure after the stream's 200: ``event: error``; the SDK raises it as an ``APIStatusError``."""
    body = {"type": "error", "error": error_object(ANTHROPIC_ERRORS.status_of(error), error.message)}
    return b"event: error\ndata: " + _encode(body) + b"\n\n"

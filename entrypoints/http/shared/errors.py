"""The one HTTP error writer (docs/api.md#errors).

Every error answer has the body ``{"error", "code", "requestId"}``. ``error_answer``
and ``domain_error_answer`` are pure: they turn an error into an ``ErrorAnswer``
(status, headers, body bytes) and nothing else. Every HTTP layer sends that:

- the raw-ASGI layers (paths, CORS, the guard, ``FastGenerate``, the request-id
  layer's last net) through ``send_error``;
- Litestar's exception handlers through ``error_response`` (``litestar_errors``);
- the connection caps (``entrypoints.connection_limits``) write it on the socket
  themselves, before any ASGI app runs.

The two senders are where an error is answered, so they, not the pure
functions, note its code for ``mcp_errors_total`` and the access log.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import msgspec

from domain import errors
from entrypoints.asgi import Send
from entrypoints.request_context import current_request_id
from entrypoints.telemetry.record import note_error

log = logging.getLogger("mcp.http")
_encode = msgspec.json.Encoder().encode
Headers = tuple[tuple[bytes, bytes], ...]
JSON_TYPE = b"application/json"

_STATUS: tuple[tuple[type[errors.DomainError], int], ...] = (
    (errors.InvalidRequest, 400),
    (errors.PayloadTooLarge, 413),
    (errors.NotFound, 404),
    (errors.Unauthenticated, 401),
    (errors.PermissionDenied, 403),
    (errors.RateLimited, 429),
    (errors.Overloaded, 503),
    (errors.StorageUnavailable, 503),
    (errors.ShuttingDown, 503),
    (errors.UpstreamBadRequest, 400),
    (errors.UpstreamRateLimited, 429),
    (errors.UpstreamTimeout, 504),
    (errors.CircuitOpen, 503),
    (errors.UpstreamError, 502),
)


@dataclass(frozen=True, slots=True)
class ErrorAnswer:
    """An error as it goes on the wire; ``headers`` are those beyond the JSON content type and the length."""

    status: int
    code: str
    headers: Headers
    body: bytes

    def with_headers(self, extra: Headers) -> ErrorAnswer:
        return ErrorAnswer(self.status, self.code, (*self.headers, *extra), self.body)

    def wire_headers(self) -> list[tuple[bytes, bytes]]:
        """Every header of the answer, for a writer without a framework: content type and length first."""
        return [(b"content-type", JSON_TYPE), (b"content-length", str(len(self.body)).encode()), *self.headers]


def status_of(error: errors.DomainError) -> int:
    for cls, status in _STATUS:
        if isinstance(error, cls):
            return status
    return 500


def error_answer(
    status: int, code: str, message: str, request_id: str, *, retry_after: float | None = None, headers: Headers = ()
) -> ErrorAnswer:
    """``retry_after``: seconds, sent as ``Retry-After`` in whole seconds, at least 1."""
    if retry_after:
        headers = ((b"retry-after", str(max(1, math.ceil(retry_after))).encode()), *headers)
    body = _encode({"error": message, "code": code, "requestId": request_id})
    return ErrorAnswer(status, code, headers, body)


def domain_error_answer(error: errors.DomainError, request_id: str) -> ErrorAnswer:
    status = status_of(error)
    retry_after = error.retry_after
    if not retry_after and status in (429, 503):
        retry_after = 1.0  # always say when to come back, even when the upstream gave no hint (Bedrock never does)
    return error_answer(status, error.code, error.message, request_id, retry_after=retry_after)


def answer_domain_error(error: errors.DomainError) -> ErrorAnswer:
    """The current request's answer to ``error``; a failure of the gateway or the upstream (5xx) is logged."""
    answer = domain_error_answer(error, current_request_id())
    if answer.status >= 500:
        log.warning("request failed: %s", error.message, extra={"code": error.code, "status": answer.status})
    return answer


async def send_error(send: Send, answer: ErrorAnswer) -> None:
    """The raw-ASGI layers' one way to answer an error."""
    note_error(answer.code)  # the error code for mcp_errors_total and the access log
    await send({"type": "http.response.start", "status": answer.status, "headers": answer.wire_headers()})
    await send({"type": "http.response.body", "body": answer.body})

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

**Each API dialect writes errors its own way** (``ErrorStyle``): the native
``{"error", "code", "requestId"}``, OpenAI's ``{"error": {"message", "type",
"param", "code"}}``, Anthropic's ``{"type": "error", "error": {...}}``. The
style is the request's: ``RequestIdMiddleware`` looks up the dialect of the
path in the route table and makes that style current (``use_error_style``)
before any other layer runs, so the refusals of the shared layers (a bad path,
CORS, the guard's 401/403/429, a body too large), Litestar's 404/405 and the
last-resort 500 all come out in the shape the client's SDK reads. The
connection caps find it in ``scope["state"]`` (``ERROR_STYLE_STATE``).
"""

from __future__ import annotations

import logging
import math
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol

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


class ErrorStyle(Protocol):
    """How one API dialect writes an error answer. ``code`` is always the gateway's own (``DomainError.code``
    or a layer's, e.g. ``method_not_allowed``): it is what the metrics count, whatever the body says."""

    def status_of(self, error: errors.DomainError) -> int:
        """The HTTP status of a domain error in this dialect."""
        ...

    def body(self, status: int, code: str, message: str, request_id: str) -> bytes:
        """The JSON body of an error answer with this status."""
        ...


class NativeErrors:
    """The native API's ``{"error", "code", "requestId"}`` (docs/api.md#errors)."""

    def status_of(self, error: errors.DomainError) -> int:
        return status_of(error)

    def body(self, status: int, code: str, message: str, request_id: str) -> bytes:
        return _encode({"error": message, "code": code, "requestId": request_id})


NATIVE_ERRORS: ErrorStyle = NativeErrors()
ERROR_STYLE_STATE = "error_style"  # the key of the request's style in ``scope["state"]``
_style_var: ContextVar[ErrorStyle] = ContextVar("error_style", default=NATIVE_ERRORS)


def use_error_style(style: ErrorStyle) -> None:
    """Make ``style`` the current request's (``RequestIdMiddleware`` does it from the path's dialect)."""
    _style_var.set(style)


def current_error_style() -> ErrorStyle:
    return _style_var.get()


def error_answer(
    status: int,
    code: str,
    message: str,
    request_id: str,
    *,
    retry_after: float | None = None,
    headers: Headers = (),
    style: ErrorStyle | None = None,
) -> ErrorAnswer:
    """``retry_after``: seconds, sent as ``Retry-After`` in whole seconds, at least 1. ``style``: the request's
    current one unless given."""
    if retry_after:
        headers = ((b"retry-after", str(max(1, math.ceil(retry_after))).encode()), *headers)
    body = (style or _style_var.get()).body(status, code, message, request_id)
    return ErrorAnswer(status, code, headers, body)


def domain_error_answer(error: errors.DomainError, request_id: str, *, style: ErrorStyle | None = None) -> ErrorAnswer:
    style = style or _style_var.get()
    status = style.status_of(error)
    retry_after = error.retry_after
    if not retry_after and status in (429, 503, 529):  # 529: Anthropic's "overloaded"
        retry_after = 1.0  # always say when to come back, even when the upstream gave no hint (Bedrock never does)
    return error_answer(status, error.code, error.message, request_id, retry_after=retry_after, style=style)


def answer_domain_error(error: errors.DomainError, *, style: ErrorStyle | None = None) -> ErrorAnswer:
    """The current request's answer to ``error``; a failure of the gateway or the upstream (5xx) is logged."""
    answer = domain_error_answer(error, current_request_id(), style=style)
    if answer.status >= 500:
        log.warning("request failed: %s", error.message, extra={"code": error.code, "status": answer.status})
    return answer


async def send_error(send: Send, answer: ErrorAnswer) -> None:
    """The raw-ASGI layers' one way to answer an error."""
    note_error(answer.code)  # the error code for mcp_errors_total and the access log
    await send({"type": "http.response.start", "status": answer.status, "headers": answer.wire_headers()})
    await send({"type": "http.response.body", "body": answer.body})

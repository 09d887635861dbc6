"""Litestar's exception handlers: each turns what a route raised into the one ``ErrorAnswer`` (``errors``).

Domain errors map by class, framework validation errors become 400, and
anything unexpected is a logged 500 without internals.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.status_codes import HTTP_413_REQUEST_ENTITY_TOO_LARGE

from domain.errors import DomainError
from entrypoints.http.shared.errors import ErrorAnswer, answer_domain_error, error_answer
from entrypoints.request_context import current_request_id
from entrypoints.telemetry.record import note_error

log = logging.getLogger("mcp.http")
AnyRequest = Request[Any, Any, Any]


def error_response(answer: ErrorAnswer) -> Response[bytes]:
    """Litestar's one way to answer an error: the same status, headers and body as ``send_error``."""
    note_error(answer.code)  # the error code for mcp_errors_total and the access log
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in answer.headers}
    return Response(answer.body, status_code=answer.status, headers=headers, media_type="application/json")


def fault_response(message: str, code: str, status: int) -> Response[bytes]:
    return error_response(error_answer(status, code, message, current_request_id()))


def handle_domain_error(_: AnyRequest, exc: DomainError) -> Response[bytes]:
    return error_response(answer_domain_error(exc))


def handle_http_exception(_: AnyRequest, exc: HTTPException) -> Response[bytes]:
    if isinstance(exc, ValidationException):
        return fault_response(_validation_message(exc), "invalid_request", 400)
    if exc.status_code == HTTP_413_REQUEST_ENTITY_TOO_LARGE:
        return fault_response("request body is too large", "payload_too_large", 413)
    if isinstance(exc, NotFoundException):
        return fault_response("no such route", "not_found", 404)
    if exc.status_code == 405:  # RFC 9110: a 405 says which methods the route has (Litestar's router lists them)
        allow = (exc.headers or {}).get("allow", "")
        answer = error_answer(405, "method_not_allowed", exc.detail, current_request_id())
        return error_response(answer.with_headers(((b"allow", allow.encode("latin-1")),)))
    return fault_response(exc.detail, "http_error", exc.status_code)


def handle_unexpected(_: AnyRequest, exc: Exception) -> Response[bytes]:
    log.exception("unexpected error", exc_info=exc)
    return fault_response("internal error", "internal_error", 500)


def _validation_message(exc: ValidationException) -> str:
    extra = exc.extra if isinstance(exc.extra, list) else []
    details = "; ".join(str(item.get("message", item)) if isinstance(item, dict) else str(item) for item in extra)
    if details:
        return f"invalid request body: {details}"
    return "invalid request body: " + str(exc.detail)

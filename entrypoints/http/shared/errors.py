"""The one place where errors become HTTP answers (docs/api.md#errors).

Every error has the shape ``{"error", "code", "requestId"}``; domain errors map
by class, framework validation errors become 400, and anything unexpected is a
logged 500 without internals.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.status_codes import HTTP_413_REQUEST_ENTITY_TOO_LARGE

from domain import errors
from entrypoints.request_context import current_request_id
from entrypoints.telemetry.record import note_error

log = logging.getLogger("mcp.http")

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


def status_of(error: errors.DomainError) -> int:
    for cls, status in _STATUS:
        if isinstance(error, cls):
            return status
    return 500


def error_body(message: str, code: str) -> dict[str, object]:
    return {"error": message, "code": code, "requestId": current_request_id()}


def error_response(message: str, code: str, status: int, retry_after: float | None = None) -> Response[object]:
    headers = {"Retry-After": str(max(1, math.ceil(retry_after)))} if retry_after else None
    note_error(code)  # the error code for mcp_errors_total and the access log
    return Response(error_body(message, code), status_code=status, headers=headers)


def domain_error_response(error: errors.DomainError) -> Response[object]:
    status = status_of(error)
    if status >= 500:
        log.warning("request failed: %s", error.message, extra={"code": error.code, "status": status})
    retry_after = error.retry_after
    if not retry_after and status in (429, 503):
        retry_after = 1.0  # always say when to come back, even when the upstream gave no hint (Bedrock never does)
    return error_response(error.message, error.code, status, retry_after)


def handle_domain_error(_: Request[Any, Any, Any], exc: errors.DomainError) -> Response[object]:
    return domain_error_response(exc)


def handle_http_exception(_: Request[Any, Any, Any], exc: HTTPException) -> Response[object]:
    if isinstance(exc, ValidationException):
        return error_response(_validation_message(exc), "invalid_request", 400)
    if exc.status_code == HTTP_413_REQUEST_ENTITY_TOO_LARGE:
        return error_response("request body is too large", "payload_too_large", 413)
    if isinstance(exc, NotFoundException):
        return error_response("no such route", "not_found", 404)
    code = "method_not_allowed" if exc.status_code == 405 else "http_error"
    return error_response(exc.detail, code, exc.status_code)


def handle_unexpected(_: Request[Any, Any, Any], exc: Exception) -> Response[object]:
    log.exception("unexpected error", exc_info=exc)
    return error_response("internal error", "internal_error", 500)


def _validation_message(exc: ValidationException) -> str:
    extra = exc.extra if isinstance(exc.extra, list) else []
    details = "; ".join(str(item.get("message", item)) if isinstance(item, dict) else str(item) for item in extra)
    if details:
        return f"invalid request body: {details}"
    return "invalid request body: " + str(exc.detail)

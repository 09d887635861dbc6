"""ASGI wrapper around the HTTP app: request ids and security headers on every answer.

Written as plain ASGI rather than a framework middleware because it runs on
every request and must stay cheap. Being outermost, it is also the last net:
an exception that escapes every layer (a bug in an error handler included) is
logged and answered with the gateway's error shape and the request id, never
with the ASGI server's bare ``text/plain`` 500.
"""

from __future__ import annotations

import logging

from domain.models import Caller
from entrypoints.asgi import ASGIApp, Message, Receive, Scope, Send
from entrypoints.http.shared.client_address import NO_PROXIES, TrustedProxies, client_address
from entrypoints.http.shared.errors import error_answer, send_error
from entrypoints.request_context import accept_request_id, bind_request, caller_var

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (
        b"content-security-policy",
        b"default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
    ),
)
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")

log = logging.getLogger("mcp.http")


class RequestIdMiddleware:
    """``proxies``: whose ``X-Forwarded-For`` names the client (the HTTP port's ``TRUSTED_PROXIES``)."""

    def __init__(self, app: ASGIApp, *, tls: bool, proxies: TrustedProxies = NO_PROXIES) -> None:
        self._app = app
        self._extra = (*SECURITY_HEADERS, HSTS) if tls else SECURITY_HEADERS
        self._proxies = proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self._app(scope, receive, send)
            return
        request_id = accept_request_id(_header(scope, b"x-request-id"))
        bind_request(request_id=request_id)
        # The guard adds the key, when keys are on.
        caller_var.set(Caller(address=client_address(scope, self._proxies)))
        scope.setdefault("state", {})["request_id"] = request_id
        header = (b"x-request-id", request_id.encode("ascii"))  # an accepted id is ASCII: the bytes it came as
        extra = self._extra
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", ()), header, *extra]
            await send(message)

        try:
            await self._app(scope, receive, send_with_headers)
        except Exception:
            if started or scope["type"] != "http":
                raise  # too late for an answer of our own: the server closes the connection
            log.exception("unexpected error")
            await send_error(send_with_headers, error_answer(500, "internal_error", "internal error", request_id))


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None

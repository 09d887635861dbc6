"""ASGI wrapper around the HTTP app: request ids and security headers on every answer.

Written as plain ASGI rather than a framework middleware because it runs on
every request and must stay cheap. Being outermost, it is also the last net:
an exception that escapes every layer (a bug in an error handler included) is
logged and answered with the gateway's error shape and the request id, never
with the ASGI server's bare ``text/plain`` 500.

It also decides the request's error shape: the dialect of the path (the route
table's) names one of ``error_styles``, which becomes current for every layer
inside (``errors.use_error_style``) and is left in ``scope["state"]`` for the
connection caps, which answer outside the request's task.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from domain.models import Caller
from entrypoints.asgi import ASGIApp, Message, Receive, Scope, Send
from entrypoints.http.shared.client_address import NO_PROXIES, TrustedProxies, client_address
from entrypoints.http.shared.errors import ERROR_STYLE_STATE, ErrorStyle, error_answer, send_error, use_error_style
from entrypoints.http.shared.route_table import dialect_of
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
    """``proxies``: whose ``X-Forwarded-For`` names the client (the HTTP port's ``TRUSTED_PROXIES``);
    ``error_styles``: the error shape of each dialect other than the native one, by the route table's name."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        tls: bool,
        proxies: TrustedProxies = NO_PROXIES,
        error_styles: Mapping[str, ErrorStyle] | None = None,
    ) -> None:
        self._app = app
        self._extra = (*SECURITY_HEADERS, HSTS) if tls else SECURITY_HEADERS
        self._proxies = proxies
        self._styles = dict(error_styles or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self._app(scope, receive, send)
            return
        request_id = accept_request_id(_header(scope, b"x-request-id"))
        bind_request(request_id=request_id)
        # The guard adds the key, when keys are on.
        caller_var.set(Caller(address=client_address(scope, self._proxies)))
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        if self._styles:
            style = self._styles.get(dialect_of(scope["path"]))
            if style is not None:
                use_error_style(style)
                state[ERROR_STYLE_STATE] = style
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

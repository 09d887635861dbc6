"""Raw-ASGI CORS layer (docs/api.md#cors), installed only when CORS is configured.

Requests without ``Origin``, or from the gateway's own origin, pass untouched.
A preflight (``OPTIONS`` with ``Access-Control-Request-Method``) from an
allowed origin is answered here with 204, before any API-key check (browsers
never send credentials on a preflight). A request from an origin that is not
allowed gets 403 ``origin_not_allowed`` in the error shape of docs/api.md#errors.
Allowed requests get ``Access-Control-Allow-Origin`` and friends on the answer.
"""

from __future__ import annotations

from entrypoints.asgi import ASGIApp, Message, Receive, Scope, Send
from entrypoints.cors_policy import CorsPolicy
from entrypoints.http.shared.errors import error_answer, send_error
from entrypoints.request_context import current_request_id

Headers = list[tuple[bytes, bytes]]


class CorsMiddleware:
    def __init__(self, app: ASGIApp, policy: CorsPolicy) -> None:
        self._app = app
        self._policy = policy
        common: Headers = [(b"vary", b"Origin")]
        if policy.credentials:
            common.append((b"access-control-allow-credentials", b"true"))
        self._preflight: Headers = [
            *common,
            (b"access-control-allow-methods", policy.allow_methods.encode()),
            (b"access-control-allow-headers", policy.allow_headers.encode()),
            (b"access-control-max-age", str(policy.max_age).encode()),
        ]
        self._simple: Headers = [*common]
        if policy.expose_headers:
            self._simple.append((b"access-control-expose-headers", policy.expose_headers.encode()))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        origin = host = None
        preflight = False
        for key, value in scope.get("headers", ()):
            if key == b"origin":
                origin = value.decode("latin-1")
            elif key == b"host":
                host = value.decode("latin-1")
            elif key == b"access-control-request-method":
                preflight = scope["method"] == "OPTIONS"
        if not origin or origin == f"{scope.get('scheme', 'http')}://{host}":
            await self._app(scope, receive, send)
            return
        if not self._policy.allows(origin):
            refusal = f"origin {origin!r} is not allowed (CORS)"
            await send_error(send, error_answer(403, "origin_not_allowed", refusal, current_request_id()))
            return
        allow_origin = (b"access-control-allow-origin", self._policy.allow_origin_value(origin).encode("latin-1"))
        if preflight:
            headers = [allow_origin, *self._preflight, (b"content-length", b"0")]
            await send({"type": "http.response.start", "status": 204, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        extra = [allow_origin, *self._simple]

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await self._app(scope, receive, send_with_cors)

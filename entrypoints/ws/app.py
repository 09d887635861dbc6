"""The small ASGI app of the WebSocket port: ``/ws`` and nothing else."""

from __future__ import annotations

import msgspec

from entrypoints.asgi import ASGIApp, Receive, Scope, Send
from entrypoints.bootstrap.container import Container
from entrypoints.config import Settings
from entrypoints.http.shared.request_id import RequestIdMiddleware
from entrypoints.http.shared.route_table import canonical_path
from entrypoints.ws.endpoint import WS_PATH, WsEndpoint

_NOT_FOUND = msgspec.json.encode({"error": "no such route; the WebSocket endpoint is /ws", "code": "not_found"})


def create_ws_app(container: Container, settings: Settings) -> ASGIApp:
    endpoint = WsEndpoint.from_container(container, settings)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if canonical_path(scope.get("path", "")) == WS_PATH:  # as the HTTP port's router resolves it
            await endpoint(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})  # refused upgrade: 403
        elif scope["type"] == "http":
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 404, "headers": headers})
            await send({"type": "http.response.body", "body": _NOT_FOUND})

    return RequestIdMiddleware(app, tls=settings.enable_tls)

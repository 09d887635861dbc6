"""The ``/ws`` handler as a plain ASGI app, mounted on the WebSocket port and on the HTTP port.

The upgrade is refused (HTTP 403) when the origin check or the auth hook says
no; otherwise the socket is served by a ``WsConnection``. Ping/pong and the
maximum frame size are the ASGI server's (``AsgiListener``: 20 s pings,
``WS_MAX_FRAME_BYTES``, close code 1009 for a frame over the limit).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import msgspec

from domain.api_keys import ANONYMOUS, Principal, key_header
from domain.errors import DomainError, Overloaded, PermissionDenied, Unauthenticated
from entrypoints.asgi import Receive, Scope, Send
from entrypoints.bootstrap.container import Container
from entrypoints.config import Settings
from entrypoints.http.shared.errors import error_answer
from entrypoints.request_context import current_caller, current_request_id
from entrypoints.telemetry.observer import Telemetry
from entrypoints.ws.access import ws_message_gate, ws_upgrade_authorizer
from entrypoints.ws.connection import MessageGate, MessageGuard, SessionDefaults, WsConnection, WsDeps
from entrypoints.ws.origin import OriginPolicy

log = logging.getLogger("mcp.ws")

WS_PATH = "/ws"


@dataclass(frozen=True, slots=True)
class Handshake:
    """What the upgrade request said. ``authorization``/``api_key`` are for the auth hook, never logged."""

    origin: str | None
    host: str | None
    query: Mapping[str, str] = field(default_factory=dict)
    authorization: str = ""
    api_key: str = ""

    @classmethod
    def read(cls, scope: Scope) -> Handshake:
        headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope.get("headers", ())}
        return cls(
            origin=headers.get("origin"),
            host=headers.get("host"),
            query=dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"))),
            authorization=headers.get("authorization", ""),
            api_key=key_header(headers),
        )


UpgradeAuthorizer = Callable[[Handshake], Awaitable[Principal | None]]


async def authorize_upgrade(handshake: Handshake) -> Principal | None:
    """THE hook for API-key checks on WebSocket (docs/api.md#authentication): every upgrade passes here first.

    Raise ``Unauthenticated`` or ``PermissionDenied`` to refuse the upgrade (HTTP 403); return to allow.
    Browsers cannot set headers on a WebSocket, so a key may also arrive in ``handshake.query``.
    Until API keys are configured, every upgrade is allowed.
    """
    return None


class WsEndpoint:
    def __init__(
        self,
        deps: WsDeps,
        policy: OriginPolicy,
        *,
        authorize: UpgradeAuthorizer = authorize_upgrade,
        gate: MessageGate | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._deps = deps
        self._policy = policy
        self._authorize = authorize
        self._gate = gate
        self._telemetry = telemetry

    @classmethod
    def from_container(cls, container: Container, settings: Settings) -> WsEndpoint:
        deps = WsDeps(
            catalogue=container.catalogue(), limits=container.limits(), generate_stream=container.generate_stream()
        )
        access = container.access()  # API keys at the upgrade, a rate-limit token per message (docs/api.md#rate-limits)
        return cls(
            deps,
            OriginPolicy.from_settings(settings),
            authorize=ws_upgrade_authorizer(access),
            gate=ws_message_gate(access) if access.limits_enabled else None,
            telemetry=container.telemetry(),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await _upgrade_required(send)
            return
        if (await receive())["type"] != "websocket.connect":
            return
        handshake = Handshake.read(scope)
        principal = await self._admit(handshake)
        if isinstance(principal, DomainError):
            await _refuse_upgrade(scope, send, principal)
            return
        await send({"type": "websocket.accept"})
        session = SessionDefaults(
            user_id=handshake.query.get("userId", ""), session_id=handshake.query.get("sessionId", "")
        )
        # The address RequestIdMiddleware found: X-Forwarded-For from a trusted proxy on the HTTP port, else the peer.
        guard = MessageGuard(
            principal=principal, client=current_caller().address, gate=self._gate, telemetry=self._telemetry
        )
        await WsConnection(self._deps, receive, send, session, guard).run()

    async def _admit(self, handshake: Handshake) -> Principal | DomainError:
        """The caller's principal, or the reason the upgrade is refused."""
        if not self._policy.allows(handshake.origin, handshake.host):
            log.info("websocket upgrade refused: origin not allowed", extra={"origin": handshake.origin})
            return PermissionDenied("origin not allowed")
        try:
            return await self._authorize(handshake) or ANONYMOUS
        except DomainError as exc:
            log.info("websocket upgrade refused: %s", exc.message, extra={"code": exc.code})
            return exc


async def _refuse_upgrade(scope: Scope, send: Send, error: DomainError) -> None:
    """401/403 in the error shape of docs/api.md#errors where the server can answer the handshake, else a plain 403."""
    if "websocket.http.response" not in scope.get("extensions", {}):
        await send({"type": "websocket.close", "code": 1008})  # before accept: the server answers 403
        return
    status = 401 if isinstance(error, Unauthenticated) else 503 if isinstance(error, Overloaded) else 403
    answer = error_answer(status, error.code, error.message, current_request_id(), retry_after=error.retry_after)
    await send({"type": "websocket.http.response.start", "status": status, "headers": answer.wire_headers()})
    await send({"type": "websocket.http.response.body", "body": answer.body})


async def _upgrade_required(send: Send) -> None:
    body = msgspec.json.encode({"error": "this endpoint speaks WebSocket only", "code": "upgrade_required"})
    headers = [(b"content-type", b"application/json"), (b"upgrade", b"websocket"), (b"connection", b"upgrade")]
    await send({"type": "http.response.start", "status": 426, "headers": headers})
    await send({"type": "http.response.body", "body": body})

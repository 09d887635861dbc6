"""The gRPC listener: ``proto.AIService`` plus server reflection (v1 and v1alpha) on one port.

Reflection passes the same key check as the service (``reflection.py``).

It runs in the gateway's event loop next to the ASGI listeners. On ``stop`` it
refuses new calls (UNAVAILABLE, retriable), waits up to
``SHUTDOWN_GRACE_SECONDS`` for the calls in flight, streams included, and only
then closes the server, which cancels whatever is still running.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl

from grpclib.server import Server

from entrypoints.bootstrap.container import Container
from entrypoints.config import Settings
from entrypoints.grpc.access import grpc_call_authorizer
from entrypoints.grpc.calls import Authorizer, CallRunner, CallTracker
from entrypoints.grpc.codec import SizeLimitedProtoCodec
from entrypoints.grpc.reflection import with_reflection
from entrypoints.grpc.service import AIService, GrpcDeps

log = logging.getLogger("mcp.grpc")


def server_ssl_context(settings: Settings) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(settings.tls_cert_path, settings.tls_key_path)
    context.set_alpn_protocols(["h2"])  # gRPC clients insist on HTTP/2 being negotiated
    return context


class GrpcListener:
    """grpclib's server on ``settings.grpc_port``; ``authorize`` is the API-key hook of every call."""

    def __init__(self, container: Container, settings: Settings, *, authorize: Authorizer | None = None) -> None:
        self.name = "grpc"
        self.port = settings.grpc_port
        self._settings = settings
        self._tracker = CallTracker()
        if authorize is None:  # docs/api.md#authentication, #rate-limits
            authorize = grpc_call_authorizer(container.access(), client=lambda call: call.peer)
        runner = CallRunner(
            self._tracker,
            authorize,
            telemetry=container.telemetry(),
            write_timeout=settings.client_write_timeout_seconds,
        )
        service = AIService(GrpcDeps.from_container(container), runner)
        self._services = with_reflection(service, runner)
        self._stopping = asyncio.Event()

    async def serve(self) -> None:
        settings = self._settings
        server = Server(self._services, codec=SizeLimitedProtoCodec(settings.grpc_max_message_bytes))
        await server.start(
            settings.host,
            self.port,
            ssl=server_ssl_context(settings) if settings.enable_tls else None,
            reuse_address=True,
            reuse_port=settings.workers > 1 or os.environ.get("MCP_REUSE_PORT") == "1",
        )
        await self._stopping.wait()
        _stop_accepting(server)
        drained = await self._tracker.drain(settings.shutdown_grace_seconds)
        if not drained:
            log.warning(
                "gRPC calls still running after the grace period are cancelled", extra={"calls": self._tracker.active}
            )
        server.close()
        await server.wait_closed()

    def stop(self) -> None:
        self._stopping.set()


def _stop_accepting(server: Server) -> None:
    """Close the listening socket now, and keep the connections (and their calls) until the drain ends.

    With ``WORKERS`` > 1 the port is shared (SO_REUSEPORT): while a stopping worker still listens, the
    kernel keeps handing it about half of the new connections, and every call on them was refused with
    UNAVAILABLE for the whole grace period (found by ``python -m bench.chaos``, fault ``sigterm``). Closed,
    new connections go to the workers that stay. grpclib's ``Server.close`` would also cancel the calls in
    flight, so the asyncio server underneath is closed directly (``Server._server``, grpclib 0.4).
    """
    listening = getattr(server, "_server", None)
    close = getattr(listening, "close", None)  # uvloop's Server is not an asyncio.AbstractServer
    if callable(close):
        close()

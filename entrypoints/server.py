"""Runs every listener in one asyncio event loop (docs/api.md#listeners).

The ASGI server is driven programmatically so that HTTP, WebSocket and gRPC
share the loop, the container and the shutdown: on SIGTERM/SIGINT the
listeners stop accepting, in-flight requests and streams get up to
``SHUTDOWN_GRACE_SECONDS`` to finish, then pools and clients are closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

import uvicorn

from entrypoints.asgi import ASGIApp
from entrypoints.bootstrap.container import Container, build_container, close_container, open_container
from entrypoints.collector import tune_collector
from entrypoints.config import Settings
from entrypoints.connection_limits import ConnectionLimits, limited_protocol
from entrypoints.write_deadline import HttpWriteDeadline, websocket_protocol, with_write_deadline

log = logging.getLogger("mcp.server")


class _QuietSignalsServer(uvicorn.Server):
    """uvicorn, minus its own signal handling: the gateway stops all listeners together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Listener(Protocol):
    """A server on one port that runs until told to stop."""

    name: str
    port: int

    async def serve(self) -> None:
        """Accept and serve until ``stop``; return once in-flight work has drained."""
        ...

    def stop(self) -> None:
        """Stop accepting; let in-flight requests finish within the grace period."""
        ...


class AsgiListener:
    """One ASGI app on one port, served by uvicorn."""

    def __init__(
        self,
        name: str,
        app: ASGIApp,
        port: int,
        settings: Settings,
        *,
        lifespan: Callable[[], contextlib.AbstractAsyncContextManager[None]] | None = None,
    ) -> None:
        self.name = name
        self._lifespan = lifespan or contextlib.nullcontext
        self.port = port
        tls: dict[str, Any] = {}
        write_timeout = settings.client_write_timeout_seconds
        if settings.enable_tls:
            tls = {"ssl_certfile": settings.tls_cert_path, "ssl_keyfile": settings.tls_key_path}
        config = uvicorn.Config(
            app,
            host=settings.host,
            port=port,
            loop="none",
            # httptools with the head/body/connection caps, websockets-sansio that drains on shutdown; both drop a
            # client that stops reading after the write timeout
            http=with_write_deadline(
                HttpWriteDeadline, limited_protocol(ConnectionLimits.from_settings(settings)), write_timeout
            ),
            ws=websocket_protocol(write_timeout),
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
            proxy_headers=False,  # uvicorn would believe X-Forwarded-For from 127.0.0.1; see http/client_address
            date_header=False,
            ws_max_size=settings.ws_max_frame_bytes,
            ws_ping_interval=20.0,
            ws_ping_timeout=20.0,
            timeout_keep_alive=30,
            timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
            backlog=4096,
            **tls,
        )
        self.server = _QuietSignalsServer(config)
        self._reuse_port = settings.workers > 1 or _reuse_port_requested()
        self._settings = settings

    async def serve(self) -> None:
        sockets = [_reuse_port_socket(self._settings.host, self.port)] if self._reuse_port else None
        async with self._lifespan():  # what the app runs beside its requests (the MCP session manager)
            await self.server.serve(sockets=sockets)

    def stop(self) -> None:
        self.server.should_exit = True


def _reuse_port_requested() -> bool:
    import os

    return os.environ.get("MCP_REUSE_PORT") == "1"


def _reuse_port_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


ListenerFactory = Callable[[Container, Settings], Sequence[Listener]]


async def serve(settings: Settings, build_listeners: ListenerFactory, container: Container | None = None) -> None:
    container = container or build_container(settings)
    await open_container(container)
    listeners = build_listeners(container, settings)
    tune_collector(settings)
    stop_requested = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop_requested.set)
    tasks = [asyncio.create_task(listener.serve(), name=listener.name) for listener in listeners]
    for listener in listeners:
        log.info("listening", extra={"listener": listener.name, "port": listener.port})
    stopper = asyncio.create_task(stop_requested.wait())
    done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
    log.info("shutting down", extra={"grace_seconds": settings.shutdown_grace_seconds})
    for listener in listeners:
        listener.stop()
    await asyncio.gather(*tasks, return_exceptions=True)
    stopper.cancel()
    await close_container(container)
    for task in done:
        if task is not stopper and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
    log.info("stopped")

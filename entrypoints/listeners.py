"""Which listeners the process runs: HTTP always; WebSocket and gRPC when their ports are set."""

from __future__ import annotations

from collections.abc import Sequence

from entrypoints.bootstrap.container import Container
from entrypoints.config import Settings
from entrypoints.grpc.listener import GrpcListener
from entrypoints.http.app import create_http_app
from entrypoints.http.mcp.deps import build_mcp_surface
from entrypoints.http.shared.layers import create_metrics_app
from entrypoints.server import AsgiListener, Listener
from entrypoints.ws.app import create_ws_app


def build_listeners(container: Container, settings: Settings) -> Sequence[Listener]:
    mcp = build_mcp_surface(container, settings)
    http_app = create_http_app(container, settings, mcp=mcp)
    listeners: list[Listener] = [AsgiListener("http", http_app, settings.http_port, settings, lifespan=mcp.running)]
    if settings.ws_port:
        listeners.append(AsgiListener("ws", create_ws_app(container, settings), settings.ws_port, settings))
    if settings.metrics_port:
        listeners.append(
            AsgiListener("metrics", create_metrics_app(container, settings), settings.metrics_port, settings)
        )
    if settings.grpc_port:
        listeners.append(GrpcListener(container, settings))
    return listeners

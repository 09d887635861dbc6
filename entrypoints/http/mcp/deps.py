"""What ``/mcp`` needs from the container, and the surface built from it."""

from __future__ import annotations

from dataclasses import dataclass

from application.embed import Embed
from application.generate import Generate
from application.list_models import ListModels
from application.sessions import GetSession
from application.tool_registry import ToolRegistry
from domain.catalogue import Catalogue
from domain.embedding_catalogue import EmbeddingCatalogue
from domain.validation import RequestLimits
from entrypoints.bootstrap.container import VERSION, Container, resolve
from entrypoints.config import Settings, split_list
from entrypoints.http.mcp.endpoint import McpSurface, SessionManager
from entrypoints.http.mcp.gateway_tools import GatewayTools
from entrypoints.http.mcp.tools import McpTools
from entrypoints.telemetry.tool_calls import ObservedToolCalls, ToolCallTelemetry


@dataclass(frozen=True, slots=True)
class McpDeps:
    catalogue: Catalogue
    limits: RequestLimits
    generate: Generate
    list_models: ListModels
    get_session: GetSession
    embed: Embed
    embedding_catalogue: EmbeddingCatalogue
    tool_registry: ToolRegistry
    tool_calls: ObservedToolCalls
    tool_call_telemetry: ToolCallTelemetry


def build_mcp_surface(container: Container, settings: Settings) -> McpSurface:
    deps = resolve(McpDeps, container)
    gateway = GatewayTools(
        catalogue=deps.catalogue,
        limits=deps.limits,
        generate=deps.generate,
        list_models=deps.list_models,
        get_session=deps.get_session,
        embed=deps.embed,
        embedding_catalogue=deps.embedding_catalogue,
    )
    tools = McpTools(
        gateway=gateway, registry=deps.tool_registry, calls=deps.tool_calls, telemetry=deps.tool_call_telemetry
    )

    def build() -> SessionManager:
        from entrypoints.http.mcp.surface import build_session_manager

        return build_session_manager(
            tools,
            gateway,
            version=VERSION,
            allowed_hosts=split_list(settings.mcp_allowed_hosts),
            allowed_origins=split_list(settings.mcp_allowed_origins),
            max_body_bytes=settings.max_request_bytes,
        )

    return McpSurface(build, max_body_bytes=settings.max_request_bytes)

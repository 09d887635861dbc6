"""The upstream MCP servers of ``MCP_SERVERS``: adapters built, supervised from start to shutdown.

The SDK-backed adapter (``adapters.mcp``) is imported only when a server is
configured, so a gateway without upstreams does not load the MCP SDK at start.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from adapters.observability.prometheus import PrometheusMetrics
from application.tool_registry import ToolRegistry
from domain.tool_servers import ToolServer
from entrypoints.config import Settings
from entrypoints.mcp_servers import parse_mcp_servers


def build_tool_registry(settings: Settings) -> ToolRegistry:
    configs = parse_mcp_servers(settings.mcp_servers)
    servers: list[ToolServer] = []
    if configs:
        from adapters.mcp.client import McpToolServer

        servers = [McpToolServer(config, health_interval=settings.mcp_health_interval_seconds) for config in configs]
    return ToolRegistry(servers)


async def tool_registry(settings: Settings, metrics: PrometheusMetrics) -> AsyncIterator[ToolRegistry]:
    """Each server connected in its own task from the start; all of them stopped (stdio processes ended) at the end."""
    registry = build_tool_registry(settings)
    if registry.configured:
        metrics.add_upstreams(registry.statuses)
    registry.start()
    try:
        yield registry
    finally:
        await registry.close()

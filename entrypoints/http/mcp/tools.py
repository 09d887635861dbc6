"""What ``tools/list`` shows and where ``tools/call`` goes: the gateway's tools, then the upstreams'.

The listing is the gateway's own tools in a fixed order, then each upstream
server's tools as ``<server>__<tool>`` by server and tool name
(``application.tool_registry``), filtered by what the caller's key may use. A
call never raises: a refusal or a failure, the gateway's or an upstream's, is a
tool result with ``isError`` and a message (``<code>: <message>``), so an MCP
client sees it as the tool's answer, never as a broken transport. Every call is
observed (``entrypoints.telemetry.tool_calls``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from application.tool_registry import ToolRegistry
from domain.errors import DomainError
from domain.models import Caller
from domain.tool_servers import ProgressSink, ToolOutcome
from entrypoints.http.mcp.gateway_tools import GATEWAY_SERVER, GatewayTools
from entrypoints.telemetry.tool_calls import ObservedToolCalls, ToolCallTelemetry

log = logging.getLogger("mcp.http")


@dataclass(frozen=True, slots=True)
class ListedTool:
    name: str
    description: str
    input_schema: dict[str, Any]
    title: str | None = None
    output_schema: dict[str, Any] | None = None
    annotations: dict[str, Any] | None = None


def error_outcome(error: DomainError) -> ToolOutcome:
    return ToolOutcome(content=({"type": "text", "text": f"{error.code}: {error.message}"},), is_error=True)


class McpTools:
    def __init__(
        self, *, gateway: GatewayTools, registry: ToolRegistry, calls: ObservedToolCalls, telemetry: ToolCallTelemetry
    ) -> None:
        self._gateway = gateway
        self._registry = registry
        self._calls = calls
        self._telemetry = telemetry

    def listing(self, caller: Caller) -> list[ListedTool]:
        own = [
            ListedTool(
                name=tool.name,
                title=tool.title,
                description=tool.description,
                input_schema=tool.input_schema,
                output_schema=tool.output_schema,
            )
            for tool in self._gateway.tools
        ]
        upstream = [
            ListedTool(
                name=name,
                title=tool.title,
                description=tool.description,
                input_schema=tool.input_schema,
                output_schema=tool.output_schema,
                annotations=tool.annotations,
            )
            for name, tool in self._registry.tools_for(caller)
        ]
        return own + upstream

    def input_schema(self, name: str) -> dict[str, Any] | None:
        """A tool's input schema for the SDK's header check (not scoped to a caller: calls are checked anyway)."""
        for tool in self._gateway.tools:
            if tool.name == name:
                return tool.input_schema
        for qualified, upstream in self._registry.tools_for(Caller(admin=True)):
            if qualified == name:
                return upstream.input_schema
        return None

    async def call(
        self,
        name: str,
        arguments: dict[str, Any],
        *,
        caller: Caller,
        headers: Mapping[str, str],
        progress: ProgressSink | None = None,
    ) -> ToolOutcome:
        try:
            if self._gateway.knows(name):
                call = self._gateway.call(name, arguments, headers)
                return await self._telemetry.observe(GATEWAY_SERVER, name, call)
            return await self._calls.call(name, arguments, caller=caller, progress=progress)
        except DomainError as exc:
            return error_outcome(exc)
        except Exception as exc:  # a bug must not break the client's connection: logged, answered as a tool error
            log.exception("mcp tool call failed", exc_info=exc)
            return ToolOutcome(content=({"type": "text", "text": "internal_error: internal error"},), is_error=True)

"""Tool servers: the upstream MCP servers the gateway lists and calls tools of (docs/api.md#mcp).

A configured server has a name (``MCP_SERVERS``'s key), a transport (a command
on stdio, or a Streamable HTTP URL), glob patterns that narrow which of its tools
are offered, and a timeout per call. Its tools are offered under
``<server>__<tool>``, so two servers may both have a ``search``; the order of a
listing is by server name, then tool name, whatever order the upstreams answer
in, so that a client's tool prompt (and a provider's prompt cache) stays the same.

Tools, their results and their progress are plain data here (JSON-shaped
dicts), so the application never sees an SDK type.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from fnmatch import fnmatchcase
from typing import Any, Literal, Protocol

import msgspec

SEPARATOR = "__"
# A server name becomes a prefix of tool names and a metric label: short, no separator inside.
SERVER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,31}")
# What MCP clients accept in a tool name (the spec's recommended characters), with room for the prefix.
MAX_TOOL_NAME = 128
DEFAULT_TIMEOUT_SECONDS = 30.0

Transport = Literal["stdio", "http"]
State = Literal["starting", "up", "down"]
ProgressSink = Callable[[float, float | None, str | None], Awaitable[None]]


class ToolServerConfig(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of ``MCP_SERVERS``, checked."""

    name: str
    transport: Transport
    command: str = ""
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = msgspec.field(default_factory=dict)
    url: str = ""
    headers: Mapping[str, str] = msgspec.field(default_factory=dict)
    allowed_tools: tuple[str, ...] = ()  # empty: every tool
    denied_tools: tuple[str, ...] = ()
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    def offers(self, tool: str) -> bool:
        """Whether the server's own tool ``tool`` passes its allow and deny patterns."""
        if self.allowed_tools and not any(fnmatchcase(tool, pattern) for pattern in self.allowed_tools):
            return False
        return not any(fnmatchcase(tool, pattern) for pattern in self.denied_tools)


class McpToolset(msgspec.Struct, frozen=True, kw_only=True):
    """A generation request's ``{"type": "mcp", "server": ..., "allowedTools": [...]}``: offer that server's tools."""

    server: str
    allowed_tools: tuple[str, ...] = ()  # glob patterns over the server's own tool names; empty: every tool
    field: str = ""  # where the request named the server, as its door spells it (for a refusal naming it)
    url: str = ""  # a server the client gives by URL (MCP_ALLOW_CLIENT_SERVERS); ``server`` is then its label
    url_field: str = ""  # where the request gave the URL

    def offers(self, tool: str) -> bool:
        return not self.allowed_tools or any(fnmatchcase(tool, pattern) for pattern in self.allowed_tools)


class UpstreamTool(msgspec.Struct, frozen=True, kw_only=True):
    """A tool as its server declared it; ``name`` is the server's own name for it."""

    name: str
    description: str = ""
    title: str | None = None
    input_schema: dict[str, Any] = msgspec.field(default_factory=lambda: {"type": "object"})
    output_schema: dict[str, Any] | None = None
    annotations: dict[str, Any] | None = None


class ToolOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """What a tool call returned: MCP content blocks as JSON, structured content, and whether it is an error."""

    content: tuple[dict[str, Any], ...] = ()
    structured: dict[str, Any] | None = None
    is_error: bool = False

    @property
    def text(self) -> str:
        """The text blocks, joined: what a model or a log line reads of the result."""
        return "\n".join(str(block.get("text", "")) for block in self.content if block.get("type") == "text")


class ToolServerStatus(msgspec.Struct, frozen=True, kw_only=True):
    """An upstream as ``GET /api/v1/mcp/servers`` reports it."""

    name: str
    transport: Transport
    state: State
    tool_count: int
    last_error: str = ""
    restarts: int = 0
    failures: int = 0


class ToolServerEvents(Protocol):
    """What a connected tool server tells whoever supervises it."""

    def tools_changed(self, tools: tuple[UpstreamTool, ...]) -> None:
        """The server's tool list, at connection and each time it announces a change."""
        ...


class ToolServer(Protocol):
    """One upstream MCP server, connected by an adapter (stdio process or Streamable HTTP).

    ``serve`` connects, reports the tool list through ``events`` and keeps the
    connection until it fails (it raises) or the task is cancelled (it closes
    the connection, and ends a stdio process). ``call_tool`` works while
    ``serve`` is connected; it raises ``UpstreamError`` when the server is
    unreachable or failed (and ``serve`` then ends, so that the connection is
    made again), and returns a ``ToolOutcome`` with ``is_error`` for a failure
    the tool itself reported. Cancelling the awaiting task cancels the upstream
    call (MCP's ``notifications/cancelled``); the caller bounds its time.
    """

    @property
    def config(self) -> ToolServerConfig: ...

    async def serve(self, events: ToolServerEvents) -> None: ...

    async def call_tool(
        self, tool: str, arguments: dict[str, Any], *, progress: ProgressSink | None = None
    ) -> ToolOutcome: ...


def qualified_name(server: str, tool: str) -> str:
    return f"{server}{SEPARATOR}{tool}"


def split_qualified(name: str) -> tuple[str, str] | None:
    """``<server>__<tool>`` → ``(server, tool)``; ``None`` for a name without a server prefix."""
    server, separator, tool = name.partition(SEPARATOR)
    if not separator or not tool or not SERVER_NAME.fullmatch(server):
        return None
    return server, tool


class ClientToolSession(Protocol):
    """A connection to an MCP server the client named by URL, for one request (``ClientToolServers``)."""

    async def list_tools(self) -> tuple[UpstreamTool, ...]: ...

    async def call_tool(self, tool: str, arguments: dict[str, Any]) -> ToolOutcome:
        """The tool's outcome (``is_error`` for its own failure); ``UpstreamError`` when the server fails."""
        ...


class ClientToolServers(Protocol):
    """Connects to a server by the URL a request gave, behind the request-forgery guard (docs/security.md).

    ``connect`` raises ``InvalidRequest`` naming ``field`` for a URL it refuses
    (scheme, credentials, an address that is not public) and ``UpstreamError``
    when the server cannot be reached; the connection closes with the context.
    """

    def connect(self, url: str, *, field: str) -> AbstractAsyncContextManager[ClientToolSession]: ...

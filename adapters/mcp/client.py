"""``McpToolServer``: one upstream MCP server through the official ``mcp`` SDK's client.

A stdio server is a process the adapter starts (``command``/``args``/``env``),
its stderr read line by line into the gateway's log (``stderr_log``); a
Streamable HTTP server is a URL with optional headers. Either way the
connection uses the initialize handshake, which every 2025 and 2026 server
speaks and which carries ``notifications/tools/list_changed`` on the open
connection; the list is fetched again when one arrives.

``serve`` holds the connection: it fetches the tool list again every
``health_interval`` seconds and ends (raises) when that or a call finds the
connection broken, so the supervisor (``application.tool_registry``) connects again. SDK types stay
in here: tools and results leave as the plain data of ``domain.tool_servers``,
and every SDK or transport failure is an ``UpstreamError``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, TextIO, cast

import anyio
import httpx2
import mcp_types as types
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types.jsonrpc import CONNECTION_CLOSED, REQUEST_TIMEOUT

from adapters.mcp.stderr_log import stderr_log
from domain.errors import UpstreamError, UpstreamTimeout
from domain.tool_servers import ProgressSink, ToolOutcome, ToolServerConfig, ToolServerEvents, UpstreamTool

# What a transport raises when the connection is gone (RuntimeError: a stream used after the SDK closed it).
BROKEN_CONNECTION = (
    OSError,
    EOFError,
    httpx2.HTTPError,
    anyio.ClosedResourceError,
    anyio.BrokenResourceError,
    anyio.EndOfStream,
    RuntimeError,
)
_CALL_TIMEOUT_MARGIN = 1.0
_PAGE_LIMIT = 20  # pages of tools/list read at most (a server that pages forever is cut off)


class ConnectionBroken(Exception):
    """The connection to the upstream failed; the supervisor makes it again."""


class McpToolServer:
    def __init__(self, config: ToolServerConfig, *, health_interval: float = 10.0) -> None:
        self._config = config
        self._health_interval = health_interval
        self._client: Client | None = None
        self._broken = asyncio.Event()
        self._changed = asyncio.Event()
        self._broken_reason = ""

    @property
    def config(self) -> ToolServerConfig:
        return self._config

    async def serve(self, events: ToolServerEvents) -> None:
        self._broken.clear()
        async with self._connected() as client:
            self._client = client
            try:
                events.tools_changed(await self._list_tools(client))
                await self._watch(client, events)
            finally:
                self._client = None

    async def call_tool(
        self, tool: str, arguments: dict[str, Any], *, progress: ProgressSink | None = None
    ) -> ToolOutcome:
        client = self._client
        if client is None:
            raise UpstreamError(f"the MCP server {self._config.name!r} is not connected")

        try:
            # The caller bounds the call (the server's timeoutSeconds); the SDK's own limit only backs it up.
            result = await client.call_tool(
                tool,
                arguments,
                read_timeout_seconds=self._config.timeout_seconds + _CALL_TIMEOUT_MARGIN,
                progress_callback=_relay(progress) if progress else None,
            )
        except MCPError as exc:
            if exc.code == REQUEST_TIMEOUT:  # a slow tool, not a broken connection
                raise UpstreamTimeout(f"the MCP server {self._config.name!r} did not answer in time") from None
            if exc.code == CONNECTION_CLOSED:
                self._mark_broken(exc.error.message)
                raise UpstreamError(f"the MCP server {self._config.name!r} failed: {exc.error.message}") from None
            return ToolOutcome(content=(_text(f"error {exc.code}: {exc.error.message}"),), is_error=True)
        except BROKEN_CONNECTION as exc:
            self._mark_broken(str(exc) or type(exc).__name__)
            raise UpstreamError(f"the MCP server {self._config.name!r} failed: {self._broken_reason}") from None
        return tool_outcome(result)

    # The connection ---------------------------------------------------------
    @contextlib.asynccontextmanager
    async def _connected(self) -> AsyncIterator[Client]:
        config = self._config
        async with contextlib.AsyncExitStack() as stack:
            if config.transport == "stdio":
                errlog = await stack.enter_async_context(stderr_log(config.name))
                params = StdioServerParameters(command=config.command, args=list(config.args), env=dict(config.env))
                transport: Any = stdio_client(params, errlog=cast(TextIO, errlog))
            else:
                http = await stack.enter_async_context(
                    httpx2.AsyncClient(
                        headers=dict(config.headers), timeout=httpx2.Timeout(config.timeout_seconds, read=None)
                    )
                )
                transport = streamable_http_client(config.url, http_client=http)
            client = Client(
                transport,
                mode="legacy",
                cache=None,
                read_timeout_seconds=config.timeout_seconds,
                message_handler=self._on_message,
            )
            yield await stack.enter_async_context(client)

    async def _watch(self, client: Client, events: ToolServerEvents) -> None:
        while True:
            waiters = [asyncio.ensure_future(self._broken.wait()), asyncio.ensure_future(self._changed.wait())]
            try:
                await asyncio.wait(waiters, timeout=self._health_interval, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()
            if self._broken.is_set():
                raise ConnectionBroken(self._broken_reason or "the connection broke")
            # A change announced, or the health check: fetching the list proves the server answers (ping is gone
            # from the 2026 revision) and catches a change a server did not announce.
            self._changed.clear()
            events.tools_changed(await self._list_tools(client))

    async def _list_tools(self, client: Client) -> tuple[UpstreamTool, ...]:
        tools: list[UpstreamTool] = []
        cursor: str | None = None
        for _ in range(_PAGE_LIMIT):
            try:
                page = await client.list_tools(cursor=cursor)
            except (MCPError, *BROKEN_CONNECTION) as exc:
                raise ConnectionBroken(f"tools/list failed: {exc}") from None
            tools.extend(upstream_tool(tool) for tool in page.tools)
            cursor = page.next_cursor
            if not cursor:
                break
        return tuple(tools)

    async def _on_message(self, message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            self._changed.set()
        elif isinstance(message, Exception):
            self._mark_broken(str(message) or type(message).__name__)

    def _mark_broken(self, reason: str) -> None:
        self._broken_reason = reason
        self._broken.set()


class _relay:
    """The SDK's progress callback, handing each notification to the gateway's sink."""

    def __init__(self, sink: ProgressSink) -> None:
        self._sink = sink

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        await self._sink(progress, total, message)


def upstream_tool(tool: types.Tool) -> UpstreamTool:
    annotations = tool.annotations.model_dump(by_alias=True, exclude_none=True) if tool.annotations else None
    return UpstreamTool(
        name=tool.name,
        description=tool.description or "",
        title=tool.title,
        input_schema=dict(tool.input_schema),
        output_schema=dict(tool.output_schema) if tool.output_schema is not None else None,
        annotations=annotations,
    )


def tool_outcome(result: types.CallToolResult) -> ToolOutcome:
    content = tuple(block.model_dump(by_alias=True, exclude_none=True, mode="json") for block in result.content)
    structured = result.structured_content if isinstance(result.structured_content, dict) else None
    return ToolOutcome(content=content, structured=structured, is_error=result.is_error)


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}

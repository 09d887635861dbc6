"""The upstream MCP servers, supervised: their tool lists, their state, and calls to them (docs/api.md#mcp).

Each configured server runs in a task of its own (``start``): it connects,
reports its tools, and when its connection fails (a stdio process that exits, an
HTTP server that stops answering) it is marked down, its tools leave the list,
the failure is logged and counted, and it is connected again after a backoff
that doubles up to ``max_backoff`` (reset once a connection has lasted
``stable_seconds``). One server that is down or slow never holds up the list or
the others: a listing reads only what each server last reported, never waits
on an upstream.

A listing is in a fixed order (server name, then tool name) whatever order the
upstreams answer in, and only shows a caller the tools it may call
(``domain.tool_access``); a call to anything else is refused before any
upstream is asked, with the same answer whether the tool exists or not.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from domain.errors import NotFound, PermissionDenied, UpstreamError, UpstreamTimeout
from domain.models import Caller
from domain.tool_access import may_use_tool
from domain.tool_servers import (
    MAX_TOOL_NAME,
    ProgressSink,
    State,
    ToolOutcome,
    ToolServer,
    ToolServerStatus,
    UpstreamTool,
    qualified_name,
    split_qualified,
)

log = logging.getLogger("mcp.tools")

Sleep = Callable[[float], Awaitable[None]]
MAX_ERROR_CHARS = 300


class _Supervised:
    """One server, and what it last reported: the ``ToolServerEvents`` its adapter talks to."""

    def __init__(self, server: ToolServer) -> None:
        self.server = server
        self.config = server.config
        self.state: State = "starting"
        self.tools: dict[str, UpstreamTool] = {}  # by qualified name, offered ones only
        self.last_error = ""
        self.restarts = 0
        self.failures = 0

    def tools_changed(self, tools: tuple[UpstreamTool, ...]) -> None:
        offered = {}
        for tool in tools:
            name = qualified_name(self.config.name, tool.name)
            if self.config.offers(tool.name) and len(name) <= MAX_TOOL_NAME:
                offered[name] = tool
        self.tools = dict(sorted(offered.items()))
        if self.state != "up":
            log.info("mcp server up", extra={"mcp_server": self.config.name, "tools": len(self.tools)})
        self.state = "up"

    def went_down(self, error: str) -> None:
        self.state, self.tools, self.last_error = "down", {}, error[:MAX_ERROR_CHARS]
        self.failures += 1
        log.warning("mcp server down", extra={"mcp_server": self.config.name, "error": self.last_error})

    def status(self) -> ToolServerStatus:
        return ToolServerStatus(
            name=self.config.name,
            transport=self.config.transport,
            state=self.state,
            tool_count=len(self.tools),
            last_error=self.last_error,
            restarts=self.restarts,
            failures=self.failures,
        )


class ToolRegistry:
    def __init__(
        self,
        servers: Sequence[ToolServer],
        *,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        initial_backoff: float = 0.5,
        max_backoff: float = 30.0,
        stable_seconds: float = 60.0,
    ) -> None:
        self._servers = {server.config.name: _Supervised(server) for server in servers}
        self._sleep, self._clock = sleep, clock
        self._initial_backoff, self._max_backoff, self._stable = initial_backoff, max_backoff, stable_seconds
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def configured(self) -> bool:
        return bool(self._servers)

    def start(self) -> None:
        """Connect every server, each in its own supervising task (call once, on the running loop)."""
        for entry in self._servers.values():
            self._tasks.append(asyncio.create_task(self._supervise(entry), name=f"mcp-{entry.config.name}"))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    def statuses(self) -> tuple[ToolServerStatus, ...]:
        return tuple(entry.status() for _, entry in sorted(self._servers.items()))

    def tools_for(self, caller: Caller) -> list[tuple[str, UpstreamTool]]:
        """The tools ``caller`` may call, as ``(qualified name, tool)``, by server then tool name."""
        return [
            (name, tool)
            for _, entry in sorted(self._servers.items())
            for name, tool in entry.tools.items()
            if may_use_tool(caller, name)
        ]

    def has_server(self, name: str) -> bool:
        return name in self._servers

    def offers_tools(self, name: str) -> bool:
        """Whether the server is up with at least one tool offered (to some key)."""
        entry = self._servers.get(name)
        return entry is not None and entry.state == "up" and bool(entry.tools)

    def is_up(self, name: str) -> bool:
        entry = self._servers.get(name)
        return entry is not None and entry.state == "up"

    def knows(self, qualified: str) -> bool:
        """Whether an up server offers this tool now (metric labels stay bounded by what is configured)."""
        server_and_tool = split_qualified(qualified)
        entry = self._servers.get(server_and_tool[0]) if server_and_tool else None
        return entry is not None and qualified in entry.tools

    async def call(
        self, qualified: str, arguments: dict[str, Any], *, caller: Caller, progress: ProgressSink | None = None
    ) -> ToolOutcome:
        """Call a tool by its qualified name; ``PermissionDenied``, ``NotFound``, ``UpstreamError``."""
        if not may_use_tool(caller, qualified):
            raise PermissionDenied(f"this API key may not use the tool {qualified!r}")
        server_and_tool = split_qualified(qualified)
        entry = self._servers.get(server_and_tool[0]) if server_and_tool else None
        if entry is None or server_and_tool is None:
            raise NotFound(f"unknown tool {qualified!r}")
        if entry.state != "up":
            raise UpstreamError(
                f"the MCP server {entry.config.name!r} is not available: {entry.last_error or 'starting'}"
            )
        if qualified not in entry.tools:
            raise NotFound(f"unknown tool {qualified!r}")
        try:
            async with asyncio.timeout(entry.config.timeout_seconds):
                return await entry.server.call_tool(server_and_tool[1], arguments, progress=progress)
        except TimeoutError:
            raise UpstreamTimeout(
                f"the tool {qualified!r} did not answer within {entry.config.timeout_seconds:g}s"
            ) from None

    async def _supervise(self, entry: _Supervised) -> None:
        delay = self._initial_backoff
        while True:
            started = self._clock()
            try:
                await entry.server.serve(entry)
                error = "the connection closed"
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure of one upstream is its own, never the gateway's
                error = describe_failure(exc)
            entry.went_down(error)
            if self._clock() - started >= self._stable:
                delay = self._initial_backoff
            await self._sleep(delay)
            delay = min(delay * 2, self._max_backoff)
            entry.restarts += 1
            entry.state = "starting"


def describe_failure(exc: BaseException) -> str:
    """A failure in words, the first of a task group's failures rather than the group's summary."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return str(exc) or type(exc).__name__

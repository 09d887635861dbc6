"""McpToolServer (adapters/mcp) against real MCP servers: the tests' HTTP server and mcp-server-time on stdio.

What only the adapter does: ``tools/list_changed`` makes it list again (the
health check is an hour away here, so nothing else could), a stdio server's
stderr reaches the log, and a call cancelled or timed out leaves the
connection usable for the next.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Iterator

import pytest

from adapters.mcp.client import McpToolServer
from application.tool_registry import ToolRegistry
from domain.errors import UpstreamTimeout
from domain.models import Caller
from domain.tool_servers import ToolServerConfig
from tests.support.mcp_peers import HttpUpstream

ANYONE = Caller()
HOUR = 3600.0


@pytest.fixture(scope="module")
def upstream() -> Iterator[HttpUpstream]:
    with HttpUpstream() as running:
        yield running


async def until(probe: object, what: str) -> None:
    for _ in range(300):
        if probe():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} not reached")


@pytest.fixture
async def web(upstream: HttpUpstream) -> AsyncIterator[ToolRegistry]:
    config = ToolServerConfig(name="web", transport="http", url=upstream.url, timeout_seconds=1.0)
    registry = ToolRegistry([McpToolServer(config, health_interval=HOUR)])
    registry.start()
    await until(lambda: registry.is_up("web"), "web up")
    yield registry
    await registry.close()


def _names(registry: ToolRegistry) -> list[str]:
    return [name for name, _ in registry.tools_for(ANYONE)]


async def test_a_tools_list_changed_notification_makes_it_list_again(web: ToolRegistry) -> None:
    assert "web__grown" not in _names(web)
    await web.call("web__grow", {}, caller=ANYONE)
    await until(lambda: "web__grown" in _names(web), "the grown tool listed")
    assert (await web.call("web__grown", {}, caller=ANYONE)).structured == {"result": "I was added later"}


async def test_a_cancelled_or_timed_out_call_leaves_the_connection_usable(web: ToolRegistry) -> None:
    pending = asyncio.ensure_future(web.call("web__slow", {"steps": 100}, caller=ANYONE))
    await asyncio.sleep(0.2)
    pending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pending
    with pytest.raises(UpstreamTimeout):
        await web.call("web__slow", {"steps": 100}, caller=ANYONE)  # 5 s of work, 1 s allowed
    assert (await web.call("web__add", {"a": 1, "b": 2}, caller=ANYONE)).structured == {"result": 3}
    assert web.statuses()[0].failures == 0


async def test_a_stdio_servers_stderr_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    config = ToolServerConfig(
        name="time",
        transport="stdio",
        command=sys.executable,
        args=("-m", "mcp_server_time", "--local-timezone", "UTC"),
    )
    registry = ToolRegistry([McpToolServer(config, health_interval=HOUR)])
    with caplog.at_level(logging.INFO, logger="mcp.tools.stderr"):
        registry.start()
        await until(lambda: registry.is_up("time"), "time up")
        outcome = await registry.call("time__get_current_time", {"timezone": "Nowhere/Atlantis"}, caller=ANYONE)
        await until(lambda: any(r.name == "mcp.tools.stderr" for r in caplog.records), "a stderr line logged")
        await registry.close()
    assert outcome.is_error and "Nowhere/Atlantis" in outcome.text
    assert all(getattr(r, "mcp_server", "") == "time" for r in caplog.records if r.name == "mcp.tools.stderr")

"""ToolRegistry with hand-written tool servers: order, filters, grants, failures, backoff, timeouts."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from application.tool_registry import ToolRegistry, describe_failure
from domain.errors import NotFound, PermissionDenied, UpstreamError, UpstreamTimeout
from domain.models import Caller
from domain.tool_servers import ProgressSink, ToolOutcome, ToolServerConfig, ToolServerEvents, UpstreamTool

ANYONE = Caller()
ADMIN = Caller(key_id="k-admin", admin=True)


def user(*patterns: str) -> Caller:
    return Caller(key_id="k-user", tool_patterns=patterns)


class FakeToolServer:
    """Connects after ``refusals`` failed attempts, reports ``tools``, stays up until ``drop``."""

    def __init__(self, name: str, tools: list[str], *, refusals: int = 0, **config: Any) -> None:
        self.config = ToolServerConfig(name=name, transport="stdio", command="fake", **config)
        self.tools = tuple(UpstreamTool(name=tool) for tool in tools)
        self.refusals = refusals
        self.connects = 0
        self._dropped = asyncio.Event()
        self.up = asyncio.Event()

    async def serve(self, events: ToolServerEvents) -> None:
        self.connects += 1
        if self.connects <= self.refusals:
            raise ConnectionRefusedError(f"attempt {self.connects} refused")
        events.tools_changed(self.tools)
        self.up.set()
        await self._dropped.wait()
        self._dropped.clear()
        self.up.clear()
        raise ExceptionGroup("task group", [EOFError("the process exited")])

    def drop(self) -> None:
        self._dropped.set()

    async def call_tool(
        self, tool: str, arguments: dict[str, Any], *, progress: ProgressSink | None = None
    ) -> ToolOutcome:
        if tool == "hang":
            await asyncio.sleep(3600)
        if progress is not None:
            await progress(1, 1, "done")
        return ToolOutcome(content=({"type": "text", "text": f"{self.config.name}.{tool}({arguments})"},))


class RecordedSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)


async def settle() -> None:
    for _ in range(50):
        await asyncio.sleep(0)


async def started(*servers: FakeToolServer, sleep: RecordedSleep | None = None, **options: Any) -> ToolRegistry:
    registry = ToolRegistry(servers, sleep=sleep or RecordedSleep(), **options)
    registry.start()
    await settle()
    return registry


async def test_the_listing_is_by_server_then_tool_whatever_order_the_servers_report() -> None:
    registry = await started(FakeToolServer("zeta", ["b", "a"]), FakeToolServer("alpha", ["z", "m"]))
    assert [name for name, _ in registry.tools_for(ANYONE)] == ["alpha__m", "alpha__z", "zeta__a", "zeta__b"]
    await registry.close()


async def test_allowed_and_denied_patterns_narrow_what_a_server_offers() -> None:
    server = FakeToolServer(
        "fs", ["read_a", "read_secret", "write_a"], allowed_tools=("read_*",), denied_tools=("*secret*",)
    )
    registry = await started(server)
    assert [name for name, _ in registry.tools_for(ADMIN)] == ["fs__read_a"]
    with pytest.raises(NotFound):
        await registry.call("fs__write_a", {}, caller=ADMIN)
    await registry.close()


async def test_a_key_lists_and_calls_only_what_its_patterns_grant_and_a_refusal_says_nothing_of_existence() -> None:
    registry = await started(FakeToolServer("a", ["x", "y"]), FakeToolServer("b", ["x"]))
    assert [name for name, _ in registry.tools_for(user("a"))] == ["a__x", "a__y"]
    assert [name for name, _ in registry.tools_for(user("a__y", "b__*"))] == ["a__y", "b__x"]
    assert registry.tools_for(user()) == []
    assert [name for name, _ in registry.tools_for(user("*"))] == ["a__x", "a__y", "b__x"]
    with pytest.raises(PermissionDenied) as existing:
        await registry.call("b__x", {}, caller=user("a"))
    with pytest.raises(PermissionDenied) as missing:
        await registry.call("b__nothing", {}, caller=user("a"))
    assert str(existing.value).replace("b__x", "?") == str(missing.value).replace("b__nothing", "?")
    outcome = await registry.call("a__x", {"n": 1}, caller=user("a"))
    assert outcome.text == "a.x({'n': 1})"
    await registry.close()


async def test_a_server_that_fails_is_down_with_its_error_and_the_others_stay_listed() -> None:
    broken, fine = FakeToolServer("broken", ["t"], refusals=10**6), FakeToolServer("fine", ["t"])
    registry = await started(broken, fine, max_backoff=4.0)
    statuses = {status.name: status for status in registry.statuses()}
    assert statuses["broken"].state != "up" and statuses["broken"].last_error.startswith("attempt")
    assert statuses["fine"].state == "up" and statuses["fine"].tool_count == 1
    assert [name for name, _ in registry.tools_for(ANYONE)] == ["fine__t"]
    with pytest.raises(UpstreamError, match="not available"):
        await registry.call("broken__t", {}, caller=ANYONE)
    await registry.close()


async def test_reconnects_back_off_doubling_up_to_the_cap_and_a_dropped_connection_comes_back() -> None:
    sleep = RecordedSleep()
    server = FakeToolServer("flaky", ["t"], refusals=5)
    registry = await started(server, sleep=sleep, initial_backoff=0.5, max_backoff=4.0)
    assert sleep.delays[:5] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert server.up.is_set() and registry.statuses()[0].restarts == 5
    server.drop()
    await settle()
    status = registry.statuses()[0]
    assert status.state == "up" and status.failures == 6
    assert status.last_error == "the process exited"  # the task group's first failure, not its summary
    await registry.close()


async def test_a_call_past_the_servers_timeout_is_an_upstream_timeout() -> None:
    registry = await started(FakeToolServer("slow", ["hang"], timeout_seconds=0.05))
    with pytest.raises(UpstreamTimeout, match=r"0\.05s"):
        await registry.call("slow__hang", {}, caller=ANYONE)
    await registry.close()


async def test_progress_is_handed_to_the_callers_sink() -> None:
    registry = await started(FakeToolServer("p", ["t"]))
    seen: list[tuple[float, float | None, str | None]] = []

    async def sink(done: float, total: float | None, message: str | None) -> None:
        seen.append((done, total, message))

    await registry.call("p__t", {}, caller=ANYONE, progress=sink)
    assert seen == [(1, 1, "done")]
    await registry.close()


def test_a_failure_is_described_by_the_first_error_inside_its_groups() -> None:
    nested = ExceptionGroup("outer", [ExceptionGroup("inner", [OSError("no such file")])])
    assert describe_failure(nested) == "no such file"
    assert describe_failure(TimeoutError()) == "TimeoutError"

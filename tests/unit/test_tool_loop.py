"""ToolLoop: MCP tools offered to the model, its calls run, the results fed back, rounds bounded."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest

from application.generate import Generate
from application.generate_stream import GenerateStream
from application.tool_loop import ToolLoop, ToolRound
from application.tool_registry import ToolRegistry
from domain.content import ToolCallDelta, ToolCallPart, ToolResultPart
from domain.errors import InvalidRequest, PermissionDenied, UpstreamTimeout
from domain.models import Answer, Caller, GenerationRequest, StreamDelta, StreamEnd, StreamEvent, Usage
from domain.tool_servers import (
    ClientToolSession,
    McpToolset,
    ProgressSink,
    ToolOutcome,
    ToolServerConfig,
    ToolServerEvents,
    UpstreamTool,
)
from tests.unit.usecases import request

USER_WITH_WEB = Caller(key_id="k", tool_patterns=("web",))


class ScriptedGenerate(Generate):
    """Answers with the scripted tool calls in turn, then with text; remembers every request."""

    def __init__(self, *calls: tuple[str, str]) -> None:
        self._calls = list(calls)
        self.requests: list[GenerationRequest] = []

    async def execute(self, request: GenerationRequest) -> Answer:
        self.requests.append(request)
        usage = Usage(prompt_tokens=10, completion_tokens=2)
        if self._calls:
            name, arguments = self._calls.pop(0)
            call = ToolCallPart(id=f"call-{len(self.requests)}", name=name, arguments=arguments)
            return Answer(
                content="", model="mock-1", provider="mock", usage=usage, tool_calls=(call,), finish_reason="tool_calls"
            )
        return Answer(content="final", model="mock-1", provider="mock", usage=usage)


class WebServer:
    config = ToolServerConfig(name="web", transport="http", url="http://web/mcp")

    async def serve(self, events: ToolServerEvents) -> None:
        events.tools_changed((UpstreamTool(name="echo", input_schema={"type": "object"}), UpstreamTool(name="admin")))
        await asyncio.Event().wait()

    async def call_tool(
        self, tool: str, arguments: dict[str, Any], *, progress: ProgressSink | None = None
    ) -> ToolOutcome:
        if arguments.get("fail"):
            raise UpstreamTimeout("too slow")
        return ToolOutcome(content=({"type": "text", "text": f"echo {arguments}"},))


async def loop_with(generate: ScriptedGenerate, *, max_rounds: int = 3) -> tuple[ToolLoop, ToolRegistry]:
    registry = ToolRegistry([WebServer()])
    registry.start()
    for _ in range(20):
        await asyncio.sleep(0)
    return ToolLoop(generate=generate, registry=registry, calls=registry, max_rounds=max_rounds), registry


WEB = (McpToolset(server="web"),)


async def test_the_models_calls_are_run_and_it_is_asked_again_with_the_results() -> None:
    generate = ScriptedGenerate(("web__echo", '{"text": "hi"}'))
    loop, registry = await loop_with(generate)
    answer = await loop.execute(request("say hi", caller=USER_WITH_WEB), WEB)
    first, second = generate.requests
    assert [tool.name for tool in first.tools] == ["web__admin", "web__echo"]
    assert second.prompt == "" and [m.role for m in second.messages] == ["user", "assistant", "tool"]
    result = second.messages[-1].parts[0]
    assert isinstance(result, ToolResultPart) and result.content == "echo {'text': 'hi'}" and not result.is_error
    assert (answer.content, answer.tool_rounds, answer.usage.total) == ("final", 1, 24)
    await registry.close()


async def test_with_a_session_the_next_round_sends_only_the_results() -> None:
    generate = ScriptedGenerate(("web__echo", "{}"))
    loop, registry = await loop_with(generate)
    await loop.execute(request("hi", caller=USER_WITH_WEB, user_id="u", session_id="s"), WEB)
    assert [m.role for m in generate.requests[1].messages] == ["tool"]
    await registry.close()


async def test_rounds_stop_at_the_limit_with_the_last_tool_call_answer() -> None:
    generate = ScriptedGenerate(*[("web__echo", "{}")] * 5)
    loop, registry = await loop_with(generate, max_rounds=2)
    answer = await loop.execute(request(caller=USER_WITH_WEB), WEB)
    assert len(generate.requests) == 3 and answer.tool_rounds == 2 and answer.tool_calls
    await registry.close()


async def test_a_call_of_the_clients_own_tool_goes_back_to_the_client() -> None:
    generate = ScriptedGenerate(("get_weather", "{}"))
    loop, registry = await loop_with(generate)
    answer = await loop.execute(request(caller=USER_WITH_WEB), WEB)
    assert answer.tool_rounds == 0 and answer.tool_calls[0].name == "get_weather" and len(generate.requests) == 1
    await registry.close()


async def test_failures_are_results_the_model_reads() -> None:
    generate = ScriptedGenerate(("web__echo", '{"fail": true}'), ("web__echo", "[1, 2]"))
    loop, registry = await loop_with(generate)
    await loop.execute(request(caller=USER_WITH_WEB), WEB)
    failed, malformed = (r.messages[-1].parts[0] for r in generate.requests[1:])
    assert isinstance(failed, ToolResultPart) and failed.is_error and failed.content == "upstream_timeout: too slow"
    assert isinstance(malformed, ToolResultPart) and malformed.is_error and "not a JSON object" in malformed.content
    await registry.close()


async def test_only_configured_servers_and_the_tools_the_key_may_use_are_offered() -> None:
    generate = ScriptedGenerate()
    loop, registry = await loop_with(generate)
    with pytest.raises(InvalidRequest, match="no MCP server named 'nowhere'"):
        await loop.execute(request(caller=USER_WITH_WEB), (McpToolset(server="nowhere"),))
    with pytest.raises(PermissionDenied, match=r"tools\[0\].server_label: this API key may use no tool of .*'web'"):
        without_grant = McpToolset(server="web", field="tools[0].server_label")
        await loop.execute(request(caller=Caller(key_id="k")), (without_grant,))  # a key without ;tools=
    await loop.execute(request(caller=USER_WITH_WEB), (McpToolset(server="web", allowed_tools=("ec*",)),))
    assert len(generate.requests) == 1  # the refused request reached no model
    assert [tool.name for tool in generate.requests[0].tools] == ["web__echo"]
    assert msgspec.structs.asdict(generate.requests[0].tools[0])["parameters"] == {"type": "object"}
    await registry.close()


class FakeClientServers:
    """A server a request names by URL: ``echo`` and ``drop``; remembers what was connected and whether it closed."""

    def __init__(self) -> None:
        self.connected: list[tuple[str, str]] = []
        self.closed = 0

    @contextlib.asynccontextmanager
    async def connect(self, url: str, *, field: str) -> AsyncIterator[ClientToolSession]:
        self.connected.append((url, field))
        try:
            yield _FakeSession()
        finally:
            self.closed += 1


class _FakeSession:
    async def list_tools(self) -> tuple[UpstreamTool, ...]:
        return (UpstreamTool(name="echo"), UpstreamTool(name="drop"))

    async def call_tool(self, tool: str, arguments: dict[str, Any]) -> ToolOutcome:
        return ToolOutcome(content=({"type": "text", "text": f"client {tool} {arguments}"},))


MINE = McpToolset(server="mine", url="https://mcp.example/mcp", url_field="tools[1].server_url", field="tools[1].label")


async def test_a_server_named_by_url_is_offered_called_and_closed_when_client_servers_are_allowed() -> None:
    generate = ScriptedGenerate(("mine__echo", '{"text": "hi"}'))
    registry = ToolRegistry([WebServer()])
    servers = FakeClientServers()
    loop = ToolLoop(generate=generate, registry=registry, calls=registry, max_rounds=3, client_servers=servers)
    narrowed = msgspec.structs.replace(MINE, allowed_tools=("ech*",))
    answer = await loop.execute(request("say hi", caller=Caller(key_id="k", tool_patterns=("mine",))), (narrowed,))
    assert [tool.name for tool in generate.requests[0].tools] == ["mine__echo"]
    result = generate.requests[1].messages[-1].parts[0]
    assert isinstance(result, ToolResultPart) and result.content == "client echo {'text': 'hi'}"
    assert answer.tool_rounds == 1 and servers.connected == [("https://mcp.example/mcp", "tools[1].server_url")]
    assert servers.closed == 1


async def test_a_server_named_by_url_is_refused_when_off_without_a_grant_or_under_a_configured_name() -> None:
    generate = ScriptedGenerate()
    loop, registry = await loop_with(generate)
    with pytest.raises(InvalidRequest, match=r"^tools\[1\]\.server_url: .*MCP_ALLOW_CLIENT_SERVERS is off"):
        await loop.execute(request(caller=USER_WITH_WEB), (MINE,))
    servers = FakeClientServers()
    allowing = ToolLoop(generate=generate, registry=registry, calls=registry, max_rounds=3, client_servers=servers)
    with pytest.raises(PermissionDenied, match=r"^tools\[1\]\.label: this API key may use no tool of .*'mine'"):
        await allowing.execute(request(caller=USER_WITH_WEB), (MINE,))
    taken = msgspec.structs.replace(MINE, server="web")
    with pytest.raises(InvalidRequest, match=r"^tools\[1\]\.label: 'web' is already in use"):
        await allowing.execute(request(caller=Caller()), (taken,))
    assert generate.requests == [] and servers.closed == len(servers.connected) == 1
    await registry.close()


class ScriptedStream(GenerateStream):
    """Streams each answer of a ``ScriptedGenerate``: its text as one delta, each call as one fragment, the end."""

    def __init__(self, generate: ScriptedGenerate) -> None:
        self._generate = generate

    async def execute(self, request: GenerationRequest) -> AsyncIterator[StreamEvent]:
        answer = await self._generate.execute(request)
        yield StreamDelta(content=f"round {len(self._generate.requests)}. ", index=0)
        for i, call in enumerate(answer.tool_calls):
            fragment = ToolCallDelta(index=i, id=call.id, name=call.name, arguments=call.arguments)
            yield StreamDelta(content="", index=1 + i, tool_calls=(fragment,))
        yield StreamEnd(index=1 + len(answer.tool_calls), answer=answer)


async def streamed(loop: ToolLoop, toolsets: tuple[McpToolset, ...]) -> list[StreamEvent | ToolRound]:
    return [event async for event in loop.stream(request("say hi", caller=USER_WITH_WEB), toolsets)]


async def test_a_stream_runs_the_rounds_and_says_each_one() -> None:
    generate = ScriptedGenerate(("web__echo", '{"text": "hi"}'))
    registry = ToolRegistry([WebServer()])
    registry.start()
    for _ in range(20):
        await asyncio.sleep(0)
    loop = ToolLoop(
        generate=generate, registry=registry, calls=registry, max_rounds=3, generate_stream=ScriptedStream(generate)
    )
    events = await streamed(loop, WEB)
    first, tool_round, second, end = events
    assert isinstance(first, StreamDelta) and first.content == "round 1. " and not first.tool_calls
    assert isinstance(tool_round, ToolRound) and tool_round.round == 1 and tool_round.calls[0].name == "web__echo"
    assert tool_round.results[0].content == "echo {'text': 'hi'}"
    assert isinstance(second, StreamDelta) and (second.content, second.index) == ("round 2. ", 1)
    assert isinstance(end, StreamEnd) and end.index == 2
    assert (end.answer.content, end.answer.tool_rounds, end.answer.usage.total) == ("final", 1, 24)
    await registry.close()


async def test_a_streamed_call_the_gateway_does_not_run_reaches_the_client_as_it_came() -> None:
    generate = ScriptedGenerate(*[("web__echo", "{}")] * 3)
    registry = ToolRegistry([WebServer()])
    registry.start()
    for _ in range(20):
        await asyncio.sleep(0)
    loop = ToolLoop(
        generate=generate, registry=registry, calls=registry, max_rounds=1, generate_stream=ScriptedStream(generate)
    )
    events = await streamed(loop, WEB)
    kinds = [type(event).__name__ for event in events]
    assert kinds == ["StreamDelta", "ToolRound", "StreamDelta", "StreamDelta", "StreamEnd"]  # the limit: calls kept
    held = events[3]
    assert isinstance(held, StreamDelta) and held.tool_calls[0].name == "web__echo" and held.index == 2
    end = events[-1]
    assert isinstance(end, StreamEnd) and end.answer.tool_rounds == 1 and end.answer.tool_calls
    await registry.close()

"""ToolLoop: MCP tools offered to the model, its calls run, the results fed back, rounds bounded."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest

from application.generate import Generate
from application.tool_loop import ToolLoop
from application.tool_registry import ToolRegistry
from domain.content import ToolCallPart, ToolResultPart
from domain.errors import InvalidRequest, UpstreamTimeout
from domain.models import Answer, Caller, GenerationRequest, Usage
from domain.tool_servers import McpToolset, ProgressSink, ToolOutcome, ToolServerConfig, ToolServerEvents, UpstreamTool
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
    await loop.execute(request(caller=Caller(key_id="k")), WEB)  # a key without ;tools=
    await loop.execute(request(caller=USER_WITH_WEB), (McpToolset(server="web", allowed_tools=("ec*",)),))
    assert [tool.name for tool in generate.requests[0].tools] == []
    assert [tool.name for tool in generate.requests[1].tools] == ["web__echo"]
    assert msgspec.structs.asdict(generate.requests[1].tools[0])["parameters"] == {"type": "object"}
    await registry.close()

"""Use-case: a generation whose model may call upstream MCP tools, the gateway running them (docs/api.md#mcp).

The request names configured MCP servers (``McpToolset``s, optionally narrowed
by ``allowedTools``); their tools that the caller's key may use are offered to
the model beside the request's own tools, as ``<server>__<tool>`` with the
upstream's schema. When the model answers with calls of those tools only, the
gateway runs them (each through the same access check, timeout, metrics and
span as a call through ``/mcp``), gives the results back as tool messages, and
asks again, up to ``max_rounds`` rounds; the last answer is returned with the
usage of every round added up and ``tool_rounds`` set. An answer that calls a
tool of the client's own (not an MCP tool) is returned as it is, for the
client to run, as without MCP. A failing tool is a result with ``is_error``
that the model reads, never a failed request.

Each round is one ``Generate`` call, so the cache, the session (each round is a
turn of it) and the generation metrics and spans apply per round.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Protocol

import msgspec

from application.generate import Generate
from application.tool_registry import ToolRegistry
from domain.content import TextPart, ToolCallPart, ToolResultPart, ToolSpec
from domain.errors import DomainError, InvalidRequest, UpstreamError
from domain.models import Answer, Caller, GenerationRequest, Message, Usage
from domain.tool_servers import McpToolset, ProgressSink, ToolOutcome, UpstreamTool, qualified_name


class ToolCalls(Protocol):
    """What runs one upstream tool call (``ToolRegistry.call``, or it observed)."""

    async def call(
        self, qualified: str, arguments: dict[str, Any], *, caller: Caller, progress: ProgressSink | None = None
    ) -> ToolOutcome: ...


class ToolLoop:
    def __init__(self, *, generate: Generate, registry: ToolRegistry, calls: ToolCalls, max_rounds: int) -> None:
        self._generate = generate
        self._registry = registry
        self._calls = calls
        self._max_rounds = max_rounds

    async def execute(self, request: GenerationRequest, toolsets: tuple[McpToolset, ...]) -> Answer:
        offered = self._offered(request.caller, toolsets)
        request = msgspec.structs.replace(request, tools=(*request.tools, *(_spec(n, t) for n, t in offered.items())))
        usage, rounds = Usage(), 0
        while True:
            answer = await self._generate.execute(request)
            usage = _added(usage, answer.usage)
            calls = answer.tool_calls
            if not calls or any(call.name not in offered for call in calls) or rounds >= self._max_rounds:
                return msgspec.structs.replace(answer, usage=usage, tool_rounds=rounds)
            results = await asyncio.gather(*(self._run(call, request.caller) for call in calls))
            rounds += 1
            request = _next_round(request, answer, results)

    def _offered(self, caller: Caller, toolsets: tuple[McpToolset, ...]) -> dict[str, UpstreamTool]:
        visible = dict(self._registry.tools_for(caller))
        offered: dict[str, UpstreamTool] = {}
        for index, toolset in enumerate(toolsets):
            if not self._registry.has_server(toolset.server):
                raise InvalidRequest(
                    f"tools[{index}].server: no MCP server named {toolset.server!r} is configured "
                    "(only the servers of MCP_SERVERS can be named)"
                )
            prefix = qualified_name(toolset.server, "")
            tools = {
                name: tool for name, tool in visible.items() if name.startswith(prefix) and toolset.offers(tool.name)
            }
            if not tools and not self._registry.is_up(toolset.server):
                raise UpstreamError(f"the MCP server {toolset.server!r} is not available")
            offered.update(tools)
        return offered

    async def _run(self, call: ToolCallPart, caller: Caller) -> ToolResultPart:
        try:
            arguments = json.loads(call.arguments or "{}")
            if not isinstance(arguments, dict):
                raise ValueError("not an object")
        except ValueError:
            refusal = "invalid_request: the arguments are not a JSON object"
            return ToolResultPart(call_id=call.id, content=refusal, is_error=True)
        try:
            outcome = await self._calls.call(call.name, arguments, caller=caller)
        except DomainError as exc:
            return ToolResultPart(call_id=call.id, content=f"{exc.code}: {exc.message}", is_error=True)
        return ToolResultPart(call_id=call.id, content=_result_text(outcome), is_error=outcome.is_error)


def _spec(name: str, tool: UpstreamTool) -> ToolSpec:
    return ToolSpec(name=name, description=tool.description or tool.title or name, parameters=tool.input_schema)


def _result_text(outcome: ToolOutcome) -> str:
    """What the model reads: the text blocks, else the structured content as JSON."""
    if outcome.text:
        return outcome.text
    if outcome.structured is not None:
        return json.dumps(outcome.structured, ensure_ascii=False)
    return "(no result)"


def _next_round(request: GenerationRequest, answer: Answer, results: list[ToolResultPart]) -> GenerationRequest:
    """The next request: the tool results after the model's calls (a session already holds the calls)."""
    tool_messages = tuple(Message(role="tool", parts=(result,)) for result in results)
    if request.has_session:
        return msgspec.structs.replace(request, prompt="", messages=tool_messages)
    text = (TextPart(text=answer.content),) if answer.content else ()
    called = Message(role="assistant", parts=(*answer.reasoning, *text, *answer.tool_calls))
    return msgspec.structs.replace(request, prompt="", messages=(*request.turn, called, *tool_messages))


def _added(total: Usage, more: Usage) -> Usage:
    fields = {name: getattr(total, name) + getattr(more, name) for name in Usage.__struct_fields__}
    return Usage(**fields)

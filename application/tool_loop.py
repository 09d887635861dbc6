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
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any, Protocol

import msgspec

from application.closing import closing_iterator
from application.generate import Generate
from application.generate_stream import GenerateStream
from application.tool_registry import ToolRegistry
from domain.content import TextPart, ToolCallPart, ToolResultPart, ToolSpec
from domain.errors import DomainError, InvalidRequest, PermissionDenied, UpstreamError
from domain.models import Answer, Caller, GenerationRequest, Message, StreamDelta, StreamEnd, StreamEvent, Usage
from domain.option_rules import check_tool_choice
from domain.tool_access import may_use_tool
from domain.tool_servers import (
    MAX_TOOL_NAME,
    ClientToolServers,
    ClientToolSession,
    McpToolset,
    ProgressSink,
    ToolOutcome,
    UpstreamTool,
    qualified_name,
)

_ClientTools = dict[str, tuple[ClientToolSession, str]]  # an offered tool of a client's server: its session, name


class ToolCalls(Protocol):
    """What runs one upstream tool call (``ToolRegistry.call``, or it observed)."""

    async def call(
        self, qualified: str, arguments: dict[str, Any], *, caller: Caller, progress: ProgressSink | None = None
    ) -> ToolOutcome: ...


class ToolRound(msgspec.Struct, frozen=True, kw_only=True):
    """In a streamed loop, between two rounds: the MCP tool calls the gateway ran, and their results."""

    round: int
    calls: tuple[ToolCallPart, ...]
    results: tuple[ToolResultPart, ...]


class LoopOutcome(msgspec.Struct, frozen=True, kw_only=True):
    answer: Answer
    offered: tuple[tuple[str, UpstreamTool], ...]  # the MCP tools offered to the model, by qualified name
    rounds: tuple[ToolRound, ...]


class ToolLoop:
    def __init__(
        self,
        *,
        generate: Generate,
        registry: ToolRegistry,
        calls: ToolCalls,
        max_rounds: int,
        client_servers: ClientToolServers | None = None,
        generate_stream: GenerateStream | None = None,
    ) -> None:
        self._generate = generate
        self._generate_stream = generate_stream
        self._registry = registry
        self._calls = calls
        self._max_rounds = max_rounds
        self._client_servers = client_servers  # None: a server URL from the client is refused

    async def execute(self, request: GenerationRequest, toolsets: tuple[McpToolset, ...]) -> Answer:
        return (await self.run(request, toolsets)).answer

    async def run(self, request: GenerationRequest, toolsets: tuple[McpToolset, ...]) -> LoopOutcome:
        """The last answer, with what a door may show of the loop: the tools offered and each round run."""
        configured = tuple(toolset for toolset in toolsets if not toolset.url)
        offered = self._offered(request.caller, configured)
        async with contextlib.AsyncExitStack() as stack:
            sessions = await self._client_tools(request.caller, toolsets, offered, stack)
            request = _with_tools(request, offered)
            usage, done = Usage(), list[ToolRound]()
            while True:
                answer = await self._generate.execute(request)
                usage = _added(usage, answer.usage)
                if not self._continues(answer, offered, len(done)):
                    answer = msgspec.structs.replace(answer, usage=usage, tool_rounds=len(done))
                    return LoopOutcome(answer=answer, offered=tuple(offered.items()), rounds=tuple(done))
                results = await self._run_all(answer, request.caller, sessions)
                done.append(ToolRound(round=len(done) + 1, calls=answer.tool_calls, results=tuple(results)))
                request = _next_round(request, answer, results)

    async def stream(
        self, request: GenerationRequest, toolsets: tuple[McpToolset, ...]
    ) -> AsyncIterator[StreamEvent | ToolRound]:
        """The same rounds, each streamed (``GenerateStream``): text and reasoning as they come; a round's tool-call
        fragments held until its end, then sent on if the loop ends there (the client's own calls, or the limit),
        else a ``ToolRound`` with the calls the gateway ran and their results; one ``StreamEnd`` with every round's
        usage last. Indexes run on across rounds."""
        if self._generate_stream is None:
            raise InvalidRequest("tools: MCP tools are not run on a stream here")
        configured = tuple(toolset for toolset in toolsets if not toolset.url)
        offered = self._offered(request.caller, configured)
        async with contextlib.AsyncExitStack() as stack:
            sessions = await self._client_tools(request.caller, toolsets, offered, stack)
            request = _with_tools(request, offered)
            usage, rounds, index = Usage(), 0, 0
            while True:
                held: list[StreamDelta] = []
                answer: Answer | None = None
                events = self._generate_stream.execute(request)
                async with closing_iterator(events):
                    async for event in events:
                        if isinstance(event, StreamEnd):
                            answer = event.answer
                        elif event.tool_calls:
                            held.append(event)
                        else:
                            yield msgspec.structs.replace(event, index=index)
                            index += 1
                if answer is None:
                    raise UpstreamError("the model's stream ended without an answer")
                usage = _added(usage, answer.usage)
                if not self._continues(answer, offered, rounds):
                    for delta in held:
                        yield msgspec.structs.replace(delta, index=index)
                        index += 1
                    yield StreamEnd(
                        index=index, answer=msgspec.structs.replace(answer, usage=usage, tool_rounds=rounds)
                    )
                    return
                results = await self._run_all(answer, request.caller, sessions)
                rounds += 1
                yield ToolRound(round=rounds, calls=answer.tool_calls, results=tuple(results))
                request = _next_round(request, answer, results)

    def _continues(self, answer: Answer, offered: dict[str, UpstreamTool], rounds: int) -> bool:
        """Whether the gateway runs this answer's calls: all of offered MCP tools, and rounds left."""
        calls = answer.tool_calls
        return bool(calls) and all(call.name in offered for call in calls) and rounds < self._max_rounds

    async def _run_all(self, answer: Answer, caller: Caller, sessions: _ClientTools) -> list[ToolResultPart]:
        return list(await asyncio.gather(*(self._run(call, caller, sessions) for call in answer.tool_calls)))

    async def _client_tools(
        self,
        caller: Caller,
        toolsets: tuple[McpToolset, ...],
        offered: dict[str, UpstreamTool],
        stack: contextlib.AsyncExitStack,
    ) -> _ClientTools:
        """Connect to the servers the client gave by URL (``MCP_ALLOW_CLIENT_SERVERS``), list and offer their tools.

        The same per-key grants apply, over ``<label>__<tool>``; a label may not be a configured server's name."""
        sessions: _ClientTools = {}
        for index, toolset in enumerate(toolsets):
            if not toolset.url:
                continue
            url_field = toolset.url_field or f"tools[{index}].url"
            if self._client_servers is None:
                raise InvalidRequest(
                    f"{url_field}: a server URL from the client is not accepted (MCP_ALLOW_CLIENT_SERVERS is off); "
                    "name a configured MCP server"
                )
            label_field = toolset.field or f"tools[{index}].server"
            if self._registry.has_server(toolset.server) or any(
                name.startswith(qualified_name(toolset.server, "")) for name in offered
            ):
                raise InvalidRequest(
                    f"{label_field}: {toolset.server!r} is already in use; give the URL a label of its own"
                )
            session = await stack.enter_async_context(self._client_servers.connect(toolset.url, field=url_field))
            listed = {qualified_name(toolset.server, tool.name): tool for tool in await session.list_tools()}
            granted = {name: tool for name, tool in listed.items() if may_use_tool(caller, name)}
            if listed and not granted:
                raise PermissionDenied(
                    f"{label_field}: this API key may use no tool of the MCP server {toolset.server!r} "
                    "(the tools= grant of its API_KEYS entry)"
                )
            for name, tool in granted.items():
                if toolset.offers(tool.name) and len(name) <= MAX_TOOL_NAME:
                    offered[name] = tool
                    sessions[name] = (session, tool.name)
        return sessions

    def _offered(self, caller: Caller, toolsets: tuple[McpToolset, ...]) -> dict[str, UpstreamTool]:
        visible = dict(self._registry.tools_for(caller))
        offered: dict[str, UpstreamTool] = {}
        for index, toolset in enumerate(toolsets):
            field = toolset.field or f"tools[{index}].server"
            if not self._registry.has_server(toolset.server):
                raise InvalidRequest(
                    f"{field}: no MCP server named {toolset.server!r} is configured "
                    "(only the servers of MCP_SERVERS can be named)"
                )
            prefix = qualified_name(toolset.server, "")
            granted = {name: tool for name, tool in visible.items() if name.startswith(prefix)}
            if not granted and self._registry.offers_tools(toolset.server):  # said, not silently left out
                raise PermissionDenied(
                    f"{field}: this API key may use no tool of the MCP server {toolset.server!r} "
                    "(the tools= grant of its API_KEYS entry)"
                )
            tools = {name: tool for name, tool in granted.items() if toolset.offers(tool.name)}
            if not tools and not self._registry.is_up(toolset.server):
                raise UpstreamError(f"the MCP server {toolset.server!r} is not available")
            offered.update(tools)
        return offered

    async def _run(self, call: ToolCallPart, caller: Caller, sessions: _ClientTools) -> ToolResultPart:
        try:
            arguments = json.loads(call.arguments or "{}")
            if not isinstance(arguments, dict):
                raise ValueError("not an object")
        except ValueError:
            refusal = "invalid_request: the arguments are not a JSON object"
            return ToolResultPart(call_id=call.id, content=refusal, is_error=True)
        try:
            client_tool = sessions.get(call.name)
            if client_tool is not None:
                session, tool = client_tool
                outcome = await session.call_tool(tool, arguments)
            else:
                outcome = await self._calls.call(call.name, arguments, caller=caller)
        except DomainError as exc:
            return ToolResultPart(call_id=call.id, content=f"{exc.code}: {exc.message}", is_error=True)
        return ToolResultPart(call_id=call.id, content=_result_text(outcome), is_error=outcome.is_error)


def _with_tools(request: GenerationRequest, offered: dict[str, UpstreamTool]) -> GenerationRequest:
    request = msgspec.structs.replace(request, tools=(*request.tools, *(_spec(n, t) for n, t in offered.items())))
    check_tool_choice(request.tool_choice, request.tools)  # a choice may name, or require, an MCP tool
    return request


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

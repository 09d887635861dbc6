"""``POST /api/v1/generate`` and ``/generate/stream``: the native dialect's hot routes, answered by ``FastRoutes``.

These are the gateway's busiest routes; they skip Litestar's per-request
machinery (``http/shared/fast_routes``, which reads and checks the body, builds
the context from the headers and answers errors in the native shape). Here:
the native body → ``GenerationRequest``, the use-case, and the answer as
``native_json`` spells it. ``declared_routes`` declares both routes to Litestar,
for the OpenAPI document and the 405 to other methods only.
"""

from __future__ import annotations

import msgspec
from litestar.handlers import HTTPRouteHandler

from domain.errors import DomainError
from entrypoints.asgi import Receive, Send
from entrypoints.documented_limits import SESSION_HEADERS
from entrypoints.http.native.answers import render_stream_event
from entrypoints.http.native.deps import HttpDeps
from entrypoints.http.native.documents import (
    GENERATION_ERRORS,
    SESSION_LINKS,
    SSE_ANSWER,
    AnswerDoc,
    ok,
)
from entrypoints.http.shared.answer_headers import overhead_header
from entrypoints.http.shared.body import JsonBody
from entrypoints.http.shared.disconnect import unless_client_leaves
from entrypoints.http.shared.errors import NATIVE_ERRORS, error_answer, send_error
from entrypoints.http.shared.fast_routes import (
    JSON_CONTENT,
    FastRoute,
    Headers,
    declared_post,
    request_context_from,
    send_json,
)
from entrypoints.http.shared.sse import EventPump, first_frame, relay_sse
from entrypoints.native_json import GenerateBody, answer_json
from entrypoints.request_context import current_request_id

GENERATE_PATH = "/api/v1/generate"
STREAM_PATH = "/api/v1/generate/stream"
_encode = msgspec.json.Encoder().encode


class NativeGeneration:
    """The responders of the two routes."""

    def __init__(self, deps: HttpDeps) -> None:
        self._deps = deps

    async def generate(self, data: GenerateBody, headers: Headers, receive: Receive, send: Send) -> None:
        deps = self._deps
        toolsets = data.mcp_toolsets()
        if toolsets:  # MCP servers named: the gateway runs their tools' calls (application.tool_loop)
            generation = deps.build(data.without_mcp_tools().fields(), request_context_from(headers))
            answer = await unless_client_leaves(receive, deps.tool_loop.execute(generation, toolsets))
        else:
            generation = deps.build(data.fields(), request_context_from(headers))
            answer = await unless_client_leaves(receive, deps.generate.execute(generation))
        await send_json(send, 200, _encode(answer_json(answer)), [JSON_CONTENT, overhead_header(answer)])

    async def stream(self, data: GenerateBody, headers: Headers, receive: Receive, send: Send) -> None:
        """SSE as the Litestar route sends it: the first event decides between an error status and a 200."""
        deps = self._deps
        toolsets = data.mcp_toolsets()
        if toolsets:  # each round streamed, the gateway's runs of MCP tools as toolRound events
            generation = deps.build(data.without_mcp_tools().fields(), request_context_from(headers))
            events = deps.tool_loop.stream(generation, toolsets)
        else:
            generation = deps.build(data.fields(), request_context_from(headers))
            events = deps.generate_stream.execute(generation)
        pump = EventPump(events, render_stream_event)
        first = await first_frame(pump, receive)
        if isinstance(first, DomainError):
            raise first
        if first is None:
            await send_error(send, error_answer(500, "internal_error", "stream produced nothing", current_request_id()))
            return
        await relay_sse(first, pump, receive, send)


def native_fast_routes(deps: HttpDeps) -> list[FastRoute[GenerateBody]]:
    responders = NativeGeneration(deps)
    body = JsonBody(GenerateBody)
    return [
        FastRoute(GENERATE_PATH, body, responders.generate, NATIVE_ERRORS),
        FastRoute(STREAM_PATH, body, responders.stream, NATIVE_ERRORS),
    ]


def declared_routes() -> list[HTTPRouteHandler]:
    """The two routes as Litestar knows them (``fast_routes.declared_post``)."""
    return [
        declared_post(
            GENERATE_PATH,
            GenerateBody,
            summary="Generate one answer",
            name="generate",
            answers=(ok(AnswerDoc, links=SESSION_LINKS),),
            errors=GENERATION_ERRORS,
            headers=SESSION_HEADERS,
        ),
        declared_post(
            STREAM_PATH,
            GenerateBody,
            summary="Stream one answer as Server-Sent Events",
            name="generate_stream",
            answers=(SSE_ANSWER,),
            errors=GENERATION_ERRORS,
            headers=SESSION_HEADERS,
        ),
    ]

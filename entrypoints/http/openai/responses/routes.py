"""The Responses API's routes: ``POST /v1/responses`` (raw ASGI), and the stored responses (Litestar):
``GET``/``DELETE /v1/responses/{id}`` and ``GET /v1/responses/{id}/input_items``.

``POST`` maps the body (``mapping``), reads ``previous_response_id`` into the
request's history (``ResponseChains``), calls ``Generate`` or
``GenerateStream`` like every other door, and keeps the finished response
unless ``store`` is false. Errors are OpenAI's (``openai/errors.py``: the
Responses API has the same error body), so the route table names the ``openai``
dialect for these paths.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from litestar import Request, delete, get
from litestar.handlers import HTTPRouteHandler
from litestar.params import Parameter

from application.tool_loop import ToolRound
from domain.content import AUTO_TOOLS
from domain.errors import DomainError, InvalidRequest
from domain.models import GenerationRequest, StreamEnd, StreamEvent
from domain.stored_responses import new_response_id
from domain.tool_servers import McpToolset
from domain.validation import build_request, check_id
from entrypoints.asgi import Receive, Send
from entrypoints.documented_limits import ID_SCHEMA, SESSION_HEADERS
from entrypoints.http.openai.mapping import mcp_toolsets_of
from entrypoints.http.openai.responses.deps import ResponsesDeps
from entrypoints.http.openai.responses.errors import RESPONSES_ERRORS
from entrypoints.http.openai.responses.events import ResponseEvents
from entrypoints.http.openai.responses.mapping import (
    ResponseHead,
    generate_fields,
    input_items_json,
    mcp_items,
    output_items,
)
from entrypoints.http.openai.responses.shapes import ResponseBody
from entrypoints.http.shared.answer_headers import cache_header, overhead_header
from entrypoints.http.shared.body import JsonBody
from entrypoints.http.shared.disconnect import unless_client_leaves
from entrypoints.http.shared.fast_routes import (
    JSON_CONTENT,
    FastRoute,
    Headers,
    declared_post,
    request_context_from,
    send_json,
)
from entrypoints.http.shared.openapi import Answer, JsonSchema, documented, sse_answer
from entrypoints.http.shared.sse import EventPump, first_frame, relay_sse
from entrypoints.request_context import current_caller

RESPONSES_PATH = "/v1/responses"
_encode = msgspec.json.Encoder().encode
_decode_items = msgspec.json.Decoder(list[dict[str, Any]]).decode
AnyRequest = Request[Any, Any, Any]


class CreateResponse:
    def __init__(self, deps: ResponsesDeps) -> None:
        self._deps = deps

    async def respond(self, body: ResponseBody, headers: Headers, receive: Receive, send: Send) -> None:
        deps = self._deps
        context = request_context_from(headers)
        if body.previous_response_id is not None and context.session_id:
            raise InvalidRequest("previous_response_id and X-Session-ID are two histories: send one of them")
        fields = generate_fields(body, deps.catalogue)
        toolsets = mcp_toolsets_of(body.tools)
        choice = fields.tool_choice
        if toolsets:  # the MCP tools join the tools in the loop, which checks the choice against them all
            fields = msgspec.structs.replace(fields, tool_choice=AUTO_TOOLS)
        generation = build_request(fields, catalogue=deps.catalogue, limits=deps.limits, context=context)
        if toolsets:
            generation = msgspec.structs.replace(generation, tool_choice=choice)
        if body.previous_response_id is not None:
            previous = check_id(body.previous_response_id, "previous_response_id")
            history = await deps.response_chains.history_of(previous, generation.caller)
            generation = msgspec.structs.replace(generation, history=history)
        assert body.input is not None  # generate_fields refused a request without input
        response_id = new_response_id()
        head = ResponseHead(id=response_id, created_at=int(time.time()), body=body, generation=generation)
        items = _encode(input_items_json(body.input, response_id)) if body.store is not False else b""
        if body.stream:
            await self._stream(head, generation, toolsets, items, receive, send)
            return
        if toolsets:  # configured MCP servers named: the gateway runs their tools' calls (application.tool_loop)
            outcome = await unless_client_leaves(receive, deps.tool_loop.run(generation, toolsets))
            answer = outcome.answer
            output = [*mcp_items(outcome, response_id), *output_items(answer, response_id)]
        else:
            answer = await unless_client_leaves(receive, deps.generate.execute(generation))
            output = output_items(answer, response_id)
        document = _encode(head.answered(answer, output, int(time.time())))
        if body.store is not False:
            await deps.response_chains.keep(response_id, generation, answer, document=document, input_items=items)
        await send_json(send, 200, document, [JSON_CONTENT, cache_header(answer), overhead_header(answer)])

    async def _stream(
        self,
        head: ResponseHead,
        generation: GenerationRequest,
        toolsets: tuple[McpToolset, ...],
        items: bytes,
        receive: Receive,
        send: Send,
    ) -> None:
        """Typed events; the first event decides between an error answer and a 200."""
        render = ResponseEvents(head)
        deps = self._deps
        events = deps.tool_loop.stream(generation, toolsets) if toolsets else deps.generate_stream.execute(generation)
        source = self._kept(events, render, head, generation, items)
        pump = EventPump(source, render, render.error)
        first = await first_frame(pump, receive)
        if isinstance(first, DomainError):
            raise first
        if first is None:
            raise DomainError("stream produced nothing")
        await relay_sse(first, pump, receive, send)

    async def _kept(
        self,
        events: AsyncIterator[StreamEvent | ToolRound],
        render: ResponseEvents,
        head: ResponseHead,
        generation: GenerationRequest,
        items: bytes,
    ) -> AsyncIterator[StreamEvent | ToolRound]:
        """The use-case's events; at the end, the finished response is stored before its last frames go out."""
        async for event in events:
            if isinstance(event, StreamEnd) and head.body.store is not False:
                document = render.conclude(event.answer)
                await self._deps.response_chains.keep(
                    head.id, generation, event.answer, document=document, input_items=items
                )
            yield event


# What the document says of the routes: a response object, or with ``stream: true`` the typed events.
_RESPONSE: JsonSchema = {
    "type": "object",
    "required": ["id", "object", "created_at", "status", "model", "output"],
    "properties": {"object": {"const": "response"}, "output": {"type": "array"}},
}
_PAGE: JsonSchema = {
    "type": "object",
    "required": ["object", "data", "has_more"],
    "properties": {"object": {"const": "list"}, "data": {"type": "array"}, "has_more": {"type": "boolean"}},
}
_DELETED: JsonSchema = {
    "type": "object",
    "required": ["id", "object", "deleted"],
    "properties": {"object": {"const": "response.deleted"}, "deleted": {"const": True}},
}
CREATE_ANSWERS = (
    Answer(200, "The response (`stream` false or absent)", _RESPONSE),
    sse_answer("With `stream: true`: typed `response.*` events, each with its `sequence_number`"),
)
_BY_ID = {"response_id": ID_SCHEMA}


def responses_fast_routes(deps: ResponsesDeps) -> list[FastRoute[ResponseBody]]:
    create = CreateResponse(deps)
    return [FastRoute(RESPONSES_PATH, JsonBody(ResponseBody), create.respond, RESPONSES_ERRORS)]


def build_responses_routes(deps: ResponsesDeps) -> list[HTTPRouteHandler]:
    chains = deps.response_chains

    @get(
        RESPONSES_PATH + "/{response_id:str}",
        summary="A stored response (its creator's key, or an admin key)",
        operation_class=documented(answers=(Answer(200, "The response", _RESPONSE),), errors=frozenset({404}),
                                   parameters=_BY_ID),
    )  # fmt: skip
    async def retrieve_response(response_id: str) -> Any:
        stored = await chains.read(check_id(response_id, "response_id"), current_caller())
        return msgspec.Raw(stored.document)

    @delete(
        RESPONSES_PATH + "/{response_id:str}",
        status_code=200,
        summary="Delete a stored response",
        operation_class=documented(answers=(Answer(200, "Deleted", _DELETED),), errors=frozenset({404}),
                                   parameters=_BY_ID),
    )  # fmt: skip
    async def delete_response(response_id: str) -> dict[str, object]:
        await chains.delete(check_id(response_id, "response_id"), current_caller())
        return {"id": response_id, "object": "response.deleted", "deleted": True}

    @get(
        RESPONSES_PATH + "/{response_id:str}/input_items",
        summary="The input items of a stored response, a page at a time",
        operation_class=documented(answers=(Answer(200, "A page of input items", _PAGE),), errors=frozenset({404}),
                                   parameters=_BY_ID),
    )  # fmt: skip
    async def list_input_items(
        response_id: str,
        limit: int = Parameter(default=20, ge=1, le=100),
        order: str = Parameter(default="desc", pattern="^(asc|desc)$"),
        after: str | None = Parameter(default=None, max_length=200),
    ) -> dict[str, object]:
        stored = await chains.read(check_id(response_id, "response_id"), current_caller())
        return input_items_page(_decode_items(stored.input_items), limit=limit, order=order, after=after)

    summary = "Create a response (OpenAI Responses API)"
    create = declared_post(
        RESPONSES_PATH,
        ResponseBody,
        summary=summary,
        name="responses",
        answers=CREATE_ANSWERS,
        errors=frozenset({400, 404, 429, 502, 503, 504}),
        headers=SESSION_HEADERS,
    )
    return [create, retrieve_response, delete_response, list_input_items]


def input_items_page(items: list[dict[str, Any]], *, limit: int, order: str, after: str | None) -> dict[str, object]:
    """OpenAI's cursor page: ``desc`` (newest first) by default, ``after`` an item id of the previous page."""
    ordered = items if order == "asc" else items[::-1]
    if after is not None:
        position = next((i for i, item in enumerate(ordered) if item.get("id") == after), None)
        if position is None:
            raise InvalidRequest(f"after: no input item '{after}' in this response")
        ordered = ordered[position + 1 :]
    page = ordered[:limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
        "has_more": len(ordered) > limit,
        "limit": limit,
        "order": order,
        "after": after,
    }

"""The OpenAI dialect's routes: ``POST /v1/chat/completions`` (raw ASGI) and ``GET /v1/models[/{id}]`` (Litestar).

Chat completions is a ``FastRoute`` (``http/shared/fast_routes``): decode the
body, map it (``mapping``), call ``Generate`` and encode a ``chat.completion``,
or ``GenerateStream`` and relay its events as ``chat.completion.chunk``s (``chunks``).
Errors leave in OpenAI's shape (``errors.OPENAI_ERRORS``). The answer carries
``X-Cache: hit|miss`` and ``X-Gateway-Overhead-Ms``.
"""

from __future__ import annotations

import time
from typing import Any

import msgspec
from litestar import Response, get
from litestar.handlers import HTTPRouteHandler

from domain.content import AUTO_TOOLS
from domain.embedding_catalogue import EmbeddingCatalogue
from domain.errors import DomainError, InvalidRequest, UnknownModel
from domain.models import GenerationRequest, ModelInfo
from domain.tool_servers import McpToolset
from domain.validation import build_request
from entrypoints.asgi import Receive, Send
from entrypoints.documented_limits import PATH_SEGMENT, SESSION_HEADERS
from entrypoints.http.openai.chunks import ChunkRenderer
from entrypoints.http.openai.deps import OpenAIDeps
from entrypoints.http.openai.errors import OPENAI_ERRORS, stream_error_frame
from entrypoints.http.openai.mapping import completion_id, completion_json, generate_fields, mcp_toolsets_of
from entrypoints.http.openai.shapes import ChatCompletionBody
from entrypoints.http.shared.answer_headers import cache_header, overhead_header
from entrypoints.http.shared.body import JsonBody, documented
from entrypoints.http.shared.disconnect import unless_client_leaves
from entrypoints.http.shared.fast_routes import (
    JSON_CONTENT,
    FastRoute,
    Headers,
    declared_post,
    request_context_from,
    send_json,
)
from entrypoints.http.shared.openapi import Answer, JsonSchema, sse_answer
from entrypoints.http.shared.sse import EventPump, first_frame, relay_sse

CHAT_PATH = "/v1/chat/completions"
MODELS_PATH = "/v1/models"
_encode = msgspec.json.Encoder().encode


class ChatCompletions:
    def __init__(self, deps: OpenAIDeps) -> None:
        self._deps = deps

    async def respond(self, body: ChatCompletionBody, headers: Headers, receive: Receive, send: Send) -> None:
        deps = self._deps
        fields = generate_fields(body, deps.catalogue)
        toolsets = mcp_toolsets_of(body.tools)
        choice = fields.tool_choice
        if toolsets:  # the MCP tools join the tools in the loop, which checks the choice against them all
            fields = msgspec.structs.replace(fields, tool_choice=AUTO_TOOLS)
        generation = build_request(
            fields, catalogue=deps.catalogue, limits=deps.limits, context=request_context_from(headers)
        )
        if toolsets:
            generation = msgspec.structs.replace(generation, tool_choice=choice)
        if body.stream:
            await self._stream(generation, body, toolsets, receive, send)
            return
        if body.stream_options is not None:
            raise InvalidRequest("stream_options: only allowed when stream is true")
        if toolsets:  # configured MCP servers named: the gateway runs their tools' calls (application.tool_loop)
            answer = await unless_client_leaves(receive, deps.tool_loop.execute(generation, toolsets))
        else:
            answer = await unless_client_leaves(receive, deps.generate.execute(generation))
        payload = _encode(completion_json(answer, int(time.time())))
        await send_json(send, 200, payload, [JSON_CONTENT, cache_header(answer), overhead_header(answer)])

    async def _stream(
        self,
        generation: GenerationRequest,
        body: ChatCompletionBody,
        toolsets: tuple[McpToolset, ...],
        receive: Receive,
        send: Send,
    ) -> None:
        """``chat.completion.chunk`` events; the first event decides between an error answer and a 200."""
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        render = ChunkRenderer(
            completion_id=completion_id(generation.request_id),
            created=int(time.time()),
            model=generation.model,
            include_usage=include_usage,
        )
        deps = self._deps
        events = deps.tool_loop.stream(generation, toolsets) if toolsets else deps.generate_stream.execute(generation)
        pump = EventPump(events, render, stream_error_frame)
        first = await first_frame(pump, receive)
        if isinstance(first, DomainError):
            raise first
        if first is None:
            raise DomainError("stream produced nothing")
        await relay_sse(first, pump, receive, send)


# What the document says of the chat route: a JSON completion, or with ``stream: true`` SSE chunks ending in
# ``data: [DONE]`` (so an event's data is not always JSON).
_COMPLETION: JsonSchema = {
    "type": "object",
    "required": ["id", "object", "created", "model", "choices"],
    "properties": {"object": {"const": "chat.completion"}, "choices": {"type": "array"}},
}
CHAT_ANSWERS = (
    Answer(200, "The completion (`stream` false or absent)", _COMPLETION),
    sse_answer("With `stream: true`: `chat.completion.chunk` events, then `data: [DONE]`"),
)


def openai_fast_routes(deps: OpenAIDeps) -> list[FastRoute[ChatCompletionBody]]:
    chat = ChatCompletions(deps)
    return [FastRoute(CHAT_PATH, JsonBody(ChatCompletionBody), chat.respond, OPENAI_ERRORS)]


def model_object(model: ModelInfo) -> dict[str, object]:
    return {"id": model.id, "object": "model", "created": 0, "owned_by": model.provider}


def embedding_model_objects(catalogue: EmbeddingCatalogue) -> list[dict[str, object]]:
    """The embedding models, each id once: the provider its bare id resolves to (the first configured)."""
    first = {model.id: model for model in reversed(catalogue.models)}
    return [
        {"id": model.id, "object": "model", "created": 0, "owned_by": model.provider}
        for model in catalogue.models
        if first[model.id] is model
    ]


def build_openai_routes(deps: OpenAIDeps) -> list[HTTPRouteHandler]:
    """The Litestar routes of the dialect: the models, and the declaration of the chat route."""

    @get(MODELS_PATH, summary="The models of the configured providers, in OpenAI's list shape")
    async def list_models() -> dict[str, object]:
        models = [model_object(m) for m in deps.list_models.execute()]
        return {"object": "list", "data": models + embedding_model_objects(deps.embedding_catalogue)}

    @get(
        MODELS_PATH + "/{model:path}",
        summary="One model by catalogue id, alias or provider/model",
        # OpenAPI has a path parameter be one segment; `provider/model` (two) is in docs/api.md.
        operation_class=documented(errors=frozenset({404}), parameters={"model": PATH_SEGMENT}),
    )
    async def retrieve_model(model: str) -> Response[Any]:
        try:
            resolution = deps.catalogue.resolve_name(model.lstrip("/"))
        except UnknownModel:
            embedding = deps.embedding_catalogue.find(model.lstrip("/"))
            if embedding is None:
                raise
            return Response({"id": embedding.id, "object": "model", "created": 0, "owned_by": embedding.provider})
        if resolution.info is not None:
            return Response(model_object(resolution.info))
        return Response({"id": resolution.model, "object": "model", "created": 0, "owned_by": resolution.provider})

    chat = declared_post(
        CHAT_PATH,
        ChatCompletionBody,
        summary="Chat completion (OpenAI)",
        name="chat_completions",
        answers=CHAT_ANSWERS,
        errors=frozenset({400, 404, 429, 502, 503, 504}),
        headers=SESSION_HEADERS,
    )
    return [chat, list_models, retrieve_model]

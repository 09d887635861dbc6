"""The gateway's own MCP tools and resources, as thin mappings onto the use-cases (docs/api.md#mcp-tools).

``generate`` takes the native request's fields (``entrypoints.native_json``:
``prompt`` or ``messages``, ``model``, ``provider``, ``system``, ``maxTokens``,
``temperature``, ...) plus ``sessionId``/``userId``, and answers with the native
answer as its structured content; ``embed`` runs the ``Embed`` use-case (the
texts of ``input``, ``model``, ``dimensions``, ``inputType``) and answers with the
vectors in the order of the texts; ``list_models`` and ``get_session`` answer as
``GET /api/v1/models`` and ``GET /api/v1/sessions/{id}`` do, under the same
ownership rule. Arguments are decoded strictly, so a wrong type is a tool error
naming the field; unknown fields are ignored. Nothing here knows the SDK: tools
are described as JSON Schema, results are ``ToolOutcome``s.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from application.embed import Embed
from application.generate import Generate
from application.list_models import ListModels
from application.sessions import GetSession
from domain.catalogue import Catalogue
from domain.embedding_catalogue import EmbeddingCatalogue
from domain.embeddings import INPUT_TYPES, EmbeddingFields
from domain.errors import InvalidRequest, NotFound
from domain.models import Caller
from domain.tool_servers import ToolOutcome
from domain.validation import RequestContext, RequestLimits, build_request
from entrypoints.native_json import GenerateBody, answer_json, model_json, session_json
from entrypoints.request_context import bind_request, current_caller, current_request_id

GATEWAY_SERVER = "gateway"  # the ``server`` label of the gateway's own tools
DEFAULT_MCP_USER = "mcp"  # the end-user id of a session named without a userId
CATALOGUE_URI = "gateway://models"
SESSION_URI_PREFIX = "gateway://sessions/"
SESSION_URI_TEMPLATE = SESSION_URI_PREFIX + "{sessionId}"


class GenerateArgs(GenerateBody, frozen=True, kw_only=True, forbid_unknown_fields=False):
    sessionId: str | None = None
    userId: str | None = None


class EmbedArgs(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=False):
    input: str | list[str]
    model: str = ""
    dimensions: int | None = None
    inputType: str = ""


class SessionArgs(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=False):
    sessionId: str
    userId: str | None = None


@dataclass(frozen=True, slots=True)
class GatewayTool:
    name: str
    title: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None = None


_SESSION_FIELDS = {
    "sessionId": {"type": "string", "description": "Continue (or start) this session: 1-128 of A-Z a-z 0-9 . _ : @ -"},
    "userId": {"type": "string", "description": f"The end user the session belongs to (default {DEFAULT_MCP_USER!r})"},
}
GENERATE = GatewayTool(
    name="generate",
    title="Generate an answer",
    description=(
        "Ask one of the gateway's models. Give a prompt, or messages (the native API's messages), and optionally "
        "model, provider, system, maxTokens, temperature and a sessionId to continue a conversation."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "prompt": {"type": "string", "description": "The question (or give messages)"},
            "messages": {"type": "array", "items": {"type": "object"}, "description": "role/content messages"},
            "model": {"type": "string", "description": "A model id or alias (list_models); default per provider"},
            "provider": {"type": "string", "description": "aws, azure, openai or mock; default from the model"},
            "system": {"type": "string", "description": "A system prompt"},
            "maxTokens": {"type": "integer", "minimum": 1},
            "temperature": {"type": "number", "minimum": 0, "maximum": 2},
            **_SESSION_FIELDS,
        },
    },
    output_schema={
        "type": "object",
        "properties": {
            "content": {"type": "string"},
            "model": {"type": "string"},
            "provider": {"type": "string"},
            "tokensUsed": {"type": "integer"},
            "promptTokens": {"type": "integer"},
            "completionTokens": {"type": "integer"},
            "cached": {"type": "boolean"},
            "finishReason": {"type": "string"},
            "requestId": {"type": "string"},
            "sessionId": {"type": "string"},
            "toolCalls": {"type": "array", "items": {"type": "object"}},
        },
        "required": ["content", "model", "provider"],
    },
)
EMBED = GatewayTool(
    name="embed",
    title="Embed texts",
    description="Vectors for one text or a list of texts, in their order, from one of the gateway's embedding models.",
    input_schema={
        "type": "object",
        "properties": {
            "input": {
                "description": "A text, or a list of texts",
                "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
            },
            "model": {"type": "string", "description": "An embedding model id or alias, or provider/model"},
            "dimensions": {"type": "integer", "minimum": 1, "description": "The vector size, if the model offers it"},
            "inputType": {"type": "string", "enum": list(INPUT_TYPES), "description": "What the texts are for"},
        },
        "required": ["input"],
    },
    output_schema={
        "type": "object",
        "properties": {
            "model": {"type": "string"},
            "provider": {"type": "string"},
            "vectors": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
            "dimensions": {"type": "integer"},
            "inputTokens": {"type": "integer"},
        },
        "required": ["model", "provider", "vectors"],
    },
)
LIST_MODELS = GatewayTool(
    name="list_models",
    title="List the models",
    description="The models of the configured providers, with their ids, aliases, providers and limits.",
    input_schema={"type": "object", "properties": {}},
    output_schema={
        "type": "object",
        "properties": {"models": {"type": "array", "items": {"type": "object"}}, "count": {"type": "integer"}},
        "required": ["models", "count"],
    },
)
GET_SESSION = GatewayTool(
    name="get_session",
    title="Read a session",
    description="A session's transcript; only the API key (and end user) that created it may read it.",
    input_schema={"type": "object", "properties": dict(_SESSION_FIELDS), "required": ["sessionId"]},
    output_schema={
        "type": "object",
        "properties": {"sessionId": {"type": "string"}, "messages": {"type": "array", "items": {"type": "object"}}},
        "required": ["sessionId", "messages"],
    },
)

ToolHandler = Callable[[dict[str, Any], Mapping[str, str]], Awaitable[ToolOutcome]]


def structured(body: dict[str, Any]) -> ToolOutcome:
    """A result as MCP wants it: the JSON as text for clients that read text, and as structured content."""
    return ToolOutcome(content=({"type": "text", "text": json.dumps(body, ensure_ascii=False)},), structured=body)


class GatewayTools:
    """``generate``, ``list_models``, ``get_session``: each one call of its use-case."""

    def __init__(
        self,
        *,
        catalogue: Catalogue,
        limits: RequestLimits,
        generate: Generate,
        list_models: ListModels,
        get_session: GetSession,
        embed: Embed,
        embedding_catalogue: EmbeddingCatalogue,
    ) -> None:
        self._catalogue, self._limits = catalogue, limits
        self._generate, self._list_models, self._get_session = generate, list_models, get_session
        self._embed, self._embedding_catalogue = embed, embedding_catalogue
        self._handlers: dict[str, tuple[GatewayTool, ToolHandler]] = {
            GENERATE.name: (GENERATE, self._call_generate),
            EMBED.name: (EMBED, self._call_embed),
            LIST_MODELS.name: (LIST_MODELS, self._call_list_models),
            GET_SESSION.name: (GET_SESSION, self._call_get_session),
        }

    @property
    def tools(self) -> tuple[GatewayTool, ...]:
        return tuple(tool for tool, _ in self._handlers.values())

    def knows(self, name: str) -> bool:
        return name in self._handlers

    async def call(self, name: str, arguments: dict[str, Any], headers: Mapping[str, str]) -> ToolOutcome:
        """``DomainError`` for a refusal or a failure; the door turns it into a tool error."""
        return await self._handlers[name][1](arguments, headers)

    async def _call_generate(self, arguments: dict[str, Any], headers: Mapping[str, str]) -> ToolOutcome:
        args = _decode(arguments, GenerateArgs)
        session_id = (args.sessionId or "").strip()
        user_id = _end_user(args.userId, headers) if session_id else ""
        context = _context(user_id, session_id, headers, current_caller())
        request = build_request(args.fields(), catalogue=self._catalogue, limits=self._limits, context=context)
        return structured(answer_json(await self._generate.execute(request)))

    async def _call_embed(self, arguments: dict[str, Any], headers: Mapping[str, str]) -> ToolOutcome:
        args = _decode(arguments, EmbedArgs)
        texts = (args.input,) if isinstance(args.input, str) else tuple(args.input)
        fields = EmbeddingFields(texts=texts, model=args.model, dimensions=args.dimensions, input_type=args.inputType)
        request = self._embedding_catalogue.build(fields, _context("", "", headers, current_caller()))
        embedded = await self._embed.execute(request)
        return structured(
            {
                "model": embedded.model,
                "provider": embedded.provider,
                "vectors": [list(vector) for vector in embedded.vectors],
                "dimensions": len(embedded.vectors[0]) if embedded.vectors else 0,
                "inputTokens": embedded.input_tokens,
            }
        )

    async def _call_list_models(self, arguments: dict[str, Any], headers: Mapping[str, str]) -> ToolOutcome:
        return structured(self.models_json())

    async def _call_get_session(self, arguments: dict[str, Any], headers: Mapping[str, str]) -> ToolOutcome:
        args = _decode(arguments, SessionArgs)
        return structured(await self.session_json(args.sessionId, args.userId, headers))

    # Resources -----------------------------------------------------------------
    def models_json(self) -> dict[str, Any]:
        models = self._list_models.execute()
        return {"models": [model_json(model) for model in models], "count": len(models)}

    async def session_json(self, session_id: str, user_id: str | None, headers: Mapping[str, str]) -> dict[str, Any]:
        caller = current_caller()
        end_user = _end_user(user_id, headers)
        session = await self._get_session.execute(session_id, user_id=end_user, caller=caller)
        return session_json(session)

    async def read_resource(self, uri: str, headers: Mapping[str, str]) -> dict[str, Any]:
        if uri == CATALOGUE_URI:
            return self.models_json()
        if uri.startswith(SESSION_URI_PREFIX):
            return await self.session_json(uri[len(SESSION_URI_PREFIX) :], None, headers)
        raise NotFound(f"unknown resource {uri!r}")


def _decode(arguments: dict[str, Any], kind: type[Any]) -> Any:
    try:
        return msgspec.convert(arguments, kind, strict=True)
    except msgspec.ValidationError as exc:
        raise InvalidRequest(f"invalid arguments: {exc}") from None


def _end_user(user_id: str | None, headers: Mapping[str, str]) -> str:
    """The end user: the argument, else ``X-User-ID``, else ``mcp`` (a session needs one; see module doc)."""
    return (user_id or "").strip() or headers.get("x-user-id", "").strip() or DEFAULT_MCP_USER


def _context(user_id: str, session_id: str, headers: Mapping[str, str], caller: Caller) -> RequestContext:
    request_id = current_request_id()
    bind_request(request_id=request_id, user_id=user_id, session_id=session_id)
    return RequestContext(
        request_id=request_id,
        user_id=user_id,
        session_id=session_id,
        skip_cache_read="no-cache" in headers.get("cache-control", "").lower(),
        caller=caller,
    )

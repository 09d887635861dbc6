"""The Anthropic dialect's routes: ``POST /v1/messages`` and ``POST /v1/messages/count_tokens`` (raw ASGI).

Messages is a ``FastRoute`` (``http/shared/fast_routes``): decode the body,
map it (``mapping``), call ``Generate`` and encode a ``message``, or
``GenerateStream`` and relay its events as Anthropic's typed events
(``events``). Errors leave in Anthropic's shape (``errors.ANTHROPIC_ERRORS``).
The answer carries ``X-Cache: hit|miss`` and ``X-Gateway-Overhead-Ms``.

``anthropic-version`` is accepted whatever its value and ``anthropic-beta`` is
ignored: the gateway speaks one version of the API (docs/api.md#anthropic-messages-api).

Count tokens is a ``FastRoute`` too, so that it passes the same key check and
rate limit: the request is validated as a generation would be (the model
resolved, the conversation checked) and counted by the ``CountTokens``
use-case: the provider's own count where it has one (Bedrock), else an
estimate; ``x-token-count-estimated: true|false`` says which.
"""

from __future__ import annotations

import msgspec
from litestar.handlers import HTTPRouteHandler

from domain.errors import DomainError
from domain.models import GenerationRequest
from domain.validation import build_request
from entrypoints.asgi import Receive, Send
from entrypoints.documented_limits import SESSION_HEADERS
from entrypoints.http.anthropic.deps import AnthropicDeps
from entrypoints.http.anthropic.errors import ANTHROPIC_ERRORS, stream_error_frame
from entrypoints.http.anthropic.events import PING, EventRenderer
from entrypoints.http.anthropic.mapping import count_fields, generate_fields, message_id, message_json
from entrypoints.http.anthropic.shapes import CountTokensBody, MessagesBody
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
from entrypoints.http.shared.openapi import Answer, JsonSchema, sse_answer
from entrypoints.http.shared.sse import EventPump, first_frame, relay_sse

MESSAGES_PATH = "/v1/messages"
COUNT_TOKENS_PATH = "/v1/messages/count_tokens"
ESTIMATED_HEADER = (b"x-token-count-estimated", b"true")
EXACT_HEADER = (b"x-token-count-estimated", b"false")
_encode = msgspec.json.Encoder().encode


class Messages:
    def __init__(self, deps: AnthropicDeps) -> None:
        self._deps = deps

    async def respond(self, body: MessagesBody, headers: Headers, receive: Receive, send: Send) -> None:
        deps = self._deps
        fields = generate_fields(body, deps.catalogue)
        generation = build_request(
            fields, catalogue=deps.catalogue, limits=deps.limits, context=request_context_from(headers)
        )
        if body.stream:
            await self._stream(generation, receive, send)
            return
        answer = await unless_client_leaves(receive, deps.generate.execute(generation))
        payload = _encode(message_json(answer))
        await send_json(send, 200, payload, [JSON_CONTENT, cache_header(answer), overhead_header(answer)])

    async def _stream(self, generation: GenerationRequest, receive: Receive, send: Send) -> None:
        """Anthropic's events; the first one decides between an error answer and a 200."""
        render = EventRenderer(message_id=message_id(generation.request_id), model=generation.model)
        pump = EventPump(self._deps.generate_stream.execute(generation), render, stream_error_frame, ping=PING)
        first = await first_frame(pump, receive)
        if isinstance(first, DomainError):
            raise first
        if first is None:
            raise DomainError("stream produced nothing")
        await relay_sse(first, pump, receive, send, heartbeat=self._deps.settings.anthropic_ping_seconds)


class CountTokens:
    def __init__(self, deps: AnthropicDeps) -> None:
        self._deps = deps

    async def respond(self, body: CountTokensBody, headers: Headers, receive: Receive, send: Send) -> None:
        deps = self._deps
        request = build_request(
            count_fields(body, deps.catalogue),
            catalogue=deps.catalogue,
            limits=deps.limits,
            context=request_context_from(headers),
        )
        count = await unless_client_leaves(receive, deps.count_tokens.execute(request))
        answer_headers = [JSON_CONTENT, ESTIMATED_HEADER if count.estimated else EXACT_HEADER]
        await send_json(send, 200, _encode({"input_tokens": count.input_tokens}), answer_headers)


def anthropic_fast_routes(deps: AnthropicDeps) -> list[FastRoute[MessagesBody] | FastRoute[CountTokensBody]]:
    return [
        FastRoute(MESSAGES_PATH, JsonBody(MessagesBody), Messages(deps).respond, ANTHROPIC_ERRORS),
        FastRoute(COUNT_TOKENS_PATH, JsonBody(CountTokensBody), CountTokens(deps).respond, ANTHROPIC_ERRORS),
    ]


# What the document says of the routes: a JSON message, or with ``stream: true`` Anthropic's typed events.
_MESSAGE: JsonSchema = {
    "type": "object",
    "required": ["id", "type", "role", "content", "model", "stop_reason", "usage"],
    "properties": {"type": {"const": "message"}, "content": {"type": "array"}},
}
_EVENT: JsonSchema = {"type": "object", "required": ["type"], "properties": {"type": {"type": "string"}}}
MESSAGES_ANSWERS = (
    Answer(200, "The message (`stream` false or absent)", _MESSAGE),
    sse_answer("With `stream: true`: `message_start` ... `message_stop` events (and `ping`, `error`)", _EVENT),
)
_COUNT: JsonSchema = {
    "type": "object",
    "required": ["input_tokens"],
    "properties": {"input_tokens": {"type": "integer", "minimum": 1}},
}
COUNT_ANSWERS = (Answer(200, "The input tokens (`x-token-count-estimated`: whether they are an estimate)", _COUNT),)


def build_anthropic_routes() -> list[HTTPRouteHandler]:
    """The declarations of the fast routes (OpenAPI, 405 for other methods)."""
    return [
        declared_post(
            MESSAGES_PATH,
            MessagesBody,
            summary="Create a message (Anthropic)",
            name="anthropic_messages",
            answers=MESSAGES_ANSWERS,
            errors=frozenset({400, 404, 429, 502, 503, 504, 529}),
            headers=SESSION_HEADERS,
        ),
        declared_post(
            COUNT_TOKENS_PATH,
            CountTokensBody,
            summary="Count a message's input tokens (Anthropic; the provider's count or an estimate)",
            name="anthropic_count_tokens",
            answers=COUNT_ANSWERS,
            errors=frozenset({400, 404}),
            headers=SESSION_HEADERS,
        ),
    ]

"""What the native door documents of its routes (``/schema/openapi.json``): answers, headers, parameters.

The answer Structs describe the JSON that ``native_json``, ``generate`` and
``admin`` write; they are never encoded. The schema fuzzing checks every answer
against them (``tests/schema_fuzz``), so a field added to an answer without its
line here fails there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from entrypoints.documented_limits import ID_SCHEMA
from entrypoints.http.shared.openapi import GATEWAY_ERROR, JSON, Answer, JsonSchema, json_schema, sse_answer


class ToolCallDoc(msgspec.Struct, frozen=True):
    id: str
    name: str
    arguments: str


class AnswerDoc(msgspec.Struct, frozen=True):
    """One generated answer (docs/api.md#answer)."""

    content: str
    model: str
    provider: str
    tokensUsed: int
    promptTokens: int
    completionTokens: int
    cached: bool
    finishReason: str | None
    processingTime: str
    durationMs: float
    requestId: str
    sessionId: str | None
    metadata: dict[str, Any]
    toolCalls: list[ToolCallDoc] = []
    reasoning: list[dict[str, Any]] = []
    cacheReadInputTokens: int = 0
    cacheWriteInputTokens: int = 0
    reasoningTokens: int = 0


class BatchAnswerDoc(msgspec.Struct, frozen=True):
    """A batch's answers, in request order: each an answer with its ``index``, or ``{index, error, code}``."""

    responses: list[dict[str, Any]]
    count: int
    succeeded: int
    failed: int
    totalTokens: int
    totalTokensProvider: int
    totalTokensCache: int
    processingTime: str
    rate: str
    parallelProcessing: bool


class ValidDoc(msgspec.Struct, frozen=True):
    valid: bool


class InvalidPromptDoc(msgspec.Struct, frozen=True):
    valid: bool
    error: str
    code: str


class ModelDoc(msgspec.Struct, frozen=True):
    id: str
    name: str
    provider: str
    maxTokens: int
    contextWindow: int
    description: str
    capabilities: list[str]
    aliases: list[str]


class ModelsDoc(msgspec.Struct, frozen=True):
    models: list[ModelDoc]
    count: int


class StoredMessageDoc(msgspec.Struct, frozen=True):
    role: str
    content: str | list[dict[str, Any]]
    model: str | None
    tokens: int | None
    timestamp: float | int | str | None


class SessionDoc(msgspec.Struct, frozen=True):
    sessionId: str
    userId: str
    createdAt: float | int | str | None
    updatedAt: float | int | str | None
    messageCount: int
    messages: list[StoredMessageDoc]


class SessionDeletedDoc(msgspec.Struct, frozen=True):
    deleted: bool
    sessionId: str


class InvalidatedDoc(msgspec.Struct, frozen=True):
    message: str
    cache_key: str
    blacklisted: bool


class BlacklistClearedDoc(msgspec.Struct, frozen=True):
    cache_key: str
    cleared: bool


class HealthDoc(msgspec.Struct, frozen=True):
    status: str
    version: str


class LiveDoc(msgspec.Struct, frozen=True):
    status: str


class ReadyDoc(msgspec.Struct, frozen=True):
    ready: bool
    cache: bool
    sessions: bool


def ok(body_type: Any, description: str = "The answer", links: Mapping[str, JsonSchema] | None = None) -> Answer:
    return Answer(200, description, json_schema(body_type), links=links or {})


# The session an answer was stored in (both session headers sent), read back and deleted by its owner.
_OWNED_SESSION = {"path.session_id": "$response.body#/sessionId", "header.X-User-ID": "$request.header.X-User-ID"}
SESSION_LINKS: dict[str, JsonSchema] = {
    "ReadTheSession": {"operationId": "readSession", "parameters": _OWNED_SESSION},
    "DeleteTheSession": {"operationId": "deleteSession", "parameters": _OWNED_SESSION},
}


def _any_of(*schemas: JsonSchema) -> JsonSchema:
    return {"anyOf": list(schemas)}


SSE_ANSWER = sse_answer(
    "Server-Sent Events: `data: {json}` frames, the last one with `finished: true` (or an error frame)",
    {"type": "object"},
)
GENERATION_ERRORS = frozenset({400, 404, 429, 502, 503, 504})
OWNER_HEADER: tuple[tuple[str, JsonSchema, bool, str], ...] = (
    ("X-User-ID", ID_SCHEMA, True, "The session's owner (an admin key may leave it out)"),
)
VALIDATE_ANSWERS = (
    ok(ValidDoc, "The prompt would be taken"),
    Answer(
        400,
        "The prompt is refused (`valid: false`), or the body is malformed (the error shape)",
        _any_of(json_schema(InvalidPromptDoc), GATEWAY_ERROR.schema),
        JSON,
    ),
)
READY_ANSWERS = (
    ok(ReadyDoc, "The cache and session stores answer"),
    Answer(503, "A store does not answer", json_schema(ReadyDoc)),
)

"""The JSON shapes every transport shares (docs/api.md#generation-request, #answer, #stream).

Request bodies decode into these Structs; answers encode from domain values
through the functions below, so HTTP, SSE, WebSocket and batch all speak the
same fields.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from domain.accounting import answer_metadata, format_seconds
from domain.errors import DomainError
from domain.models import Answer, ModelInfo
from domain.validation import GenerateFields


class GenerateBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=False):
    """A generation request. ``system`` and ``systemPrompt`` are the same field; ``system`` wins."""

    prompt: str | None = None
    model: str | None = None
    provider: str | None = None
    maxTokens: int | None = None
    temperature: float | None = None
    system: str | None = None
    systemPrompt: str | None = None

    def fields(self) -> GenerateFields:
        return GenerateFields(
            prompt=self.prompt,
            model=self.model,
            provider=self.provider,
            max_tokens=self.maxTokens,
            temperature=self.temperature,
            system=self.system,
            system_prompt=self.systemPrompt,
        )


class BatchBody(msgspec.Struct, frozen=True, kw_only=True):
    requests: list[GenerateBody]


class ValidateBody(msgspec.Struct, frozen=True, kw_only=True):
    prompt: str | None = None


class InvalidateBody(msgspec.Struct, frozen=True, kw_only=True):
    cache_key: Annotated[str, msgspec.Meta(min_length=1)]
    reason: str = ""


def answer_json(answer: Answer) -> dict[str, object]:
    usage = answer.usage
    return {
        "content": answer.content,
        "model": answer.model,
        "provider": answer.provider,
        "tokensUsed": usage.total,
        "promptTokens": usage.prompt_tokens,
        "completionTokens": usage.completion_tokens,
        "cached": answer.cached,
        "finishReason": answer.finish_reason,
        "processingTime": format_seconds(answer.duration_ms / 1000.0),
        "durationMs": round(answer.duration_ms, 3),
        "requestId": answer.request_id,
        "sessionId": answer.session_id,
        "metadata": answer_metadata(answer),
    }


def chunk_json(content: str, index: int) -> dict[str, object]:
    return {"content": content, "index": index, "finished": False}


def final_chunk_json(answer: Answer, index: int) -> dict[str, object]:
    usage = answer.usage
    return {
        "content": "",
        "index": index,
        "finished": True,
        "totalTokens": usage.total,
        "promptTokens": usage.prompt_tokens,
        "completionTokens": usage.completion_tokens,
        "processingTime": format_seconds(answer.duration_ms / 1000.0),
        "durationMs": round(answer.duration_ms, 3),
        "model": answer.model,
        "provider": answer.provider,
        "cached": answer.cached,
        "finishReason": answer.finish_reason,
        "requestId": answer.request_id,
        "sessionId": answer.session_id,
        "metadata": answer_metadata(answer),
    }


def error_chunk_json(error: DomainError, request_id: str) -> dict[str, object]:
    return {"error": error.message, "code": error.code, "finished": True, "requestId": request_id}


def model_json(model: ModelInfo) -> dict[str, object]:
    return {
        "id": model.id,
        "name": model.name,
        "provider": model.provider,
        "maxTokens": model.max_output_tokens,
        "contextWindow": model.context_window,
        "description": model.description,
        "capabilities": list(model.capabilities),
        "aliases": list(model.aliases),
    }

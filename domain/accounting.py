"""Token accounting (docs/api.md#answer, #batch).

A fresh answer costs what the provider reported. A cache hit costs nothing now;
its historical cost travels along as ``cached_usage`` so that clients can still
see what the answer once cost.
"""

from __future__ import annotations

import msgspec

from domain.models import ZERO_USAGE, Answer, CacheEntry, Completion, GenerationRequest


def fresh_answer(
    completion: Completion,
    request: GenerationRequest,
    *,
    provider: str,
    key: str,
    duration_ms: float,
    upstream_ms: float,
) -> Answer:
    """The answer a provider just gave, whole or assembled from a stream, costing what it reported."""
    return Answer(
        content=completion.content,
        model=completion.model or request.model,
        provider=provider,
        usage=completion.usage,
        finish_reason=completion.finish_reason,
        stop_sequence=completion.stop_sequence,
        duration_ms=duration_ms,
        request_id=request.request_id,
        session_id=request.session_id,
        cache_key=key,
        upstream_ms=upstream_ms,
        tool_calls=completion.tool_calls,
        reasoning=completion.reasoning,
    )


def answer_from_cache(entry: CacheEntry, request: GenerationRequest, *, key: str, duration_ms: float) -> Answer:
    return Answer(
        content=entry.content,
        model=entry.model,
        provider="cache",
        usage=ZERO_USAGE,
        cached=True,
        cached_usage=entry.usage,
        finish_reason=entry.finish_reason,
        stop_sequence=entry.stop_sequence,
        duration_ms=duration_ms,
        request_id=request.request_id,
        session_id=request.session_id,
        cache_key=key,
        cached_at=entry.cached_at,
        original_provider=entry.provider,
        tool_calls=entry.tool_calls,
        reasoning=entry.reasoning,
    )


def entry_from_answer(answer: Answer, *, now: float) -> CacheEntry:
    return CacheEntry(
        content=answer.content,
        model=answer.model,
        provider=answer.provider,
        usage=answer.usage,
        finish_reason=answer.finish_reason,
        stop_sequence=answer.stop_sequence,
        cached_at=now,
        tool_calls=answer.tool_calls,
        reasoning=answer.reasoning,
    )


def answer_metadata(answer: Answer) -> dict[str, object]:
    """The ``metadata`` object of an answer: current and historical token counts."""
    metadata: dict[str, object] = {
        "prompt_tokens": answer.usage.prompt_tokens,
        "completion_tokens": answer.usage.completion_tokens,
        "prompt_tokens_cache": answer.cached_usage.prompt_tokens,
        "completion_tokens_cache": answer.cached_usage.completion_tokens,
    }
    if answer.cache_key:
        metadata["cache_key"] = answer.cache_key
    if answer.cached:
        metadata["original_tokens"] = answer.cached_usage.total
        metadata["original_provider"] = answer.original_provider
        metadata["cached_at"] = int(answer.cached_at)
    return metadata


class BatchTotals(msgspec.Struct, kw_only=True):
    """Token totals of a batch: what providers charged now, and what cache hits once cost."""

    succeeded: int = 0
    failed: int = 0
    provider_tokens: int = 0
    cache_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.provider_tokens + self.cache_tokens

    def add(self, answer: Answer | None) -> None:
        if answer is None:
            self.failed += 1
            return
        self.succeeded += 1
        self.provider_tokens += answer.usage.total
        self.cache_tokens += answer.cached_usage.total if answer.cached else 0


def format_seconds(seconds: float) -> str:
    """Seconds with a unit (``"2.8s"``), finer below one second (docs/api.md#conventions)."""
    return f"{seconds:.1f}s" if seconds >= 1 else f"{seconds:.3f}s"


def format_rate(count: int, seconds: float) -> str:
    return f"{count / seconds:.2f} req/s" if seconds > 0 else "0.00 req/s"

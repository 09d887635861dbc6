"""Use-case: one answer streamed as it is produced (SSE, WebSocket, gRPC ``GenerateStream``).

A cache hit is replayed word by word. A fresh stream is stored in the cache
and the session only when it completes normally; a stream cut short by the
client cancels the provider call and stores nothing.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from application.closing import closing_iterator
from application.pipeline import GenerationPipeline
from domain.accounting import answer_from_cache, fresh_answer
from domain.models import (
    ZERO_USAGE,
    CacheEntry,
    Completion,
    GenerationRequest,
    ProviderCall,
    StreamDelta,
    StreamEnd,
    StreamEvent,
)

_WORD_WITH_TRAILING_SPACE = re.compile(r"\s*\S+\s*|\s+")


class GenerateStream:
    def __init__(self, *, pipeline: GenerationPipeline) -> None:
        self._pipeline = pipeline

    async def execute(self, request: GenerationRequest) -> AsyncIterator[StreamEvent]:
        pipeline = self._pipeline
        started = pipeline.clock.monotonic()
        async with pipeline.conversations.turn(request) as session:
            prepared = await pipeline.prepare(request, session)
            if prepared.cached is not None:
                events = self._replay(prepared.cached, request, prepared.key, started)
            else:
                events = self._relay(request, prepared.call, prepared.key, started)
            # A consumer that stops early must close the inner generators at once, not at GC time.
            async with closing_iterator(events):
                async for event in events:
                    if isinstance(event, StreamEnd):
                        await pipeline.finish(request, event.answer)
                    yield event

    async def _replay(
        self, entry: CacheEntry, request: GenerationRequest, key: str, started: float
    ) -> AsyncIterator[StreamEvent]:
        pieces = _WORD_WITH_TRAILING_SPACE.findall(entry.content)
        for index, piece in enumerate(pieces):
            yield StreamDelta(content=piece, index=index)
        answer = answer_from_cache(entry, request, key=key, duration_ms=self._pipeline.elapsed_ms(started))
        yield StreamEnd(index=len(pieces), answer=answer)

    async def _relay(
        self, request: GenerationRequest, call: ProviderCall, key: str, started: float
    ) -> AsyncIterator[StreamEvent]:
        pipeline = self._pipeline
        provider = pipeline.provider(request)
        parts: list[str] = []
        usage, finish_reason = ZERO_USAGE, "stop"
        async with pipeline.pool.slot():
            upstream_started = pipeline.clock.monotonic()
            async with closing_iterator(provider.stream(call)) as chunks:
                async for chunk in chunks:
                    if chunk.text:
                        yield StreamDelta(content=chunk.text, index=len(parts))
                        parts.append(chunk.text)
                    usage = chunk.usage or usage
                    finish_reason = chunk.finish_reason or finish_reason
            upstream_ms = pipeline.elapsed_ms(upstream_started)
        completion = Completion(content="".join(parts), model=request.model, usage=usage, finish_reason=finish_reason)
        answer = fresh_answer(
            completion,
            request,
            provider=provider.name,
            key=key,
            duration_ms=pipeline.elapsed_ms(started),
            upstream_ms=upstream_ms,
        )
        yield StreamEnd(index=len(parts), answer=answer)

"""Use-case: one answer streamed as it is produced (SSE, WebSocket, gRPC ``GenerateStream``).

A cache hit is replayed word by word (its reasoning first, its tool calls
last, each whole). A fresh stream relays text, tool-call fragments and
reasoning fragments as they come, and assembles them into the answer; it is
stored in the cache and the session only when it completes normally; a stream
cut short by the client cancels the provider call and stores nothing.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from application.closing import closing_iterator
from application.pipeline import GenerationPipeline
from domain.accounting import answer_from_cache
from domain.content import ReasoningDelta, ToolCallDelta
from domain.models import (
    ZERO_USAGE,
    CacheEntry,
    Completion,
    GenerationRequest,
    ProviderCall,
    ProviderChunk,
    StreamDelta,
    StreamEnd,
    StreamEvent,
)
from domain.stream_assembly import ReasoningAssembly, ToolCallAssembly

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
        deltas = _cached_deltas(entry)
        for delta in deltas:
            yield delta
        answer = answer_from_cache(entry, request, key=key, duration_ms=self._pipeline.elapsed_ms(started))
        yield StreamEnd(index=len(deltas), answer=answer)

    async def _relay(
        self, request: GenerationRequest, call: ProviderCall, key: str, started: float
    ) -> AsyncIterator[StreamEvent]:
        pipeline = self._pipeline
        provider = pipeline.provider(request)
        answer = _Assembly()
        async with pipeline.pool.slot():
            upstream_started = pipeline.clock.monotonic()
            async with closing_iterator(provider.stream(call)) as chunks:
                async for chunk in chunks:
                    for delta in answer.add(chunk):
                        yield delta
            upstream_ms = pipeline.elapsed_ms(upstream_started)
        yield StreamEnd(
            index=answer.sent,
            answer=pipeline.answered(
                answer.completion(request.model),
                request,
                provider=provider.name,
                key=key,
                started=started,
                upstream_ms=upstream_ms,
            ),
        )


class _Assembly:
    """A streamed answer as it arrives: the deltas to relay, and the whole answer they add up to."""

    def __init__(self) -> None:
        self.sent = 0
        self._text: list[str] = []
        self._calls = ToolCallAssembly()
        self._reasoning = ReasoningAssembly()
        self._usage, self._finish_reason = ZERO_USAGE, "stop"
        self._stop_sequence: str | None = None

    def add(self, chunk: ProviderChunk) -> list[StreamDelta]:
        deltas: list[StreamDelta] = []
        if chunk.reasoning is not None:
            self._reasoning.add(chunk.reasoning)
            deltas.append(StreamDelta(content="", index=self.sent, reasoning=chunk.reasoning))
        if chunk.text:
            self._text.append(chunk.text)
            deltas.append(StreamDelta(content=chunk.text, index=self.sent + len(deltas)))
        if chunk.tool_calls:
            for fragment in chunk.tool_calls:
                self._calls.add(fragment)
            deltas.append(StreamDelta(content="", index=self.sent + len(deltas), tool_calls=chunk.tool_calls))
        self.sent += len(deltas)
        self._usage = chunk.usage or self._usage
        self._finish_reason = chunk.finish_reason or self._finish_reason
        self._stop_sequence = chunk.stop_sequence or self._stop_sequence
        return deltas

    def completion(self, model: str) -> Completion:
        return Completion(
            content="".join(self._text),
            model=model,
            usage=self._usage,
            finish_reason=self._finish_reason,
            stop_sequence=self._stop_sequence,
            tool_calls=self._calls.calls(),
            reasoning=self._reasoning.blocks(),
        )


def _cached_deltas(entry: CacheEntry) -> list[StreamDelta]:
    deltas: list[StreamDelta] = []
    for block in entry.reasoning:
        reasoning = ReasoningDelta(text=block.text, signature=block.signature, redacted=block.redacted)
        deltas.append(StreamDelta(content="", index=len(deltas), reasoning=reasoning))
    for piece in _WORD_WITH_TRAILING_SPACE.findall(entry.content):
        deltas.append(StreamDelta(content=piece, index=len(deltas)))
    for i, call in enumerate(entry.tool_calls):
        whole = ToolCallDelta(index=i, id=call.id, name=call.name, arguments=call.arguments)
        deltas.append(StreamDelta(content="", index=len(deltas), tool_calls=(whole,)))
    return deltas

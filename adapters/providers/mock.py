"""The offline ``mock`` provider (docs/api.md#providers).

Deterministic: the answer is derived from the conversation, so the same call
always gives the same answer (``mock_answers``: text, tool calls, JSON,
reasoning). It streams word by word, pausing ``latency_ms`` before each word,
then its tool calls in fragments, and reports real token counts of what it
sent and returned (one token per whitespace-separated word).

A prompt cache as the vendors keep one: a system prompt of at least
``CACHED_PREFIX_MIN_WORDS`` words is written to the cache the first time
(``cache_write_input_tokens``) and read from it afterwards
(``cache_read_input_tokens``), so that cache usage can be shown offline. The
cache remembers the digests of the last ``CACHED_PREFIXES`` such prompts of
this process.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import AsyncIterator

import msgspec

from adapters.providers.mock_answers import MockAnswer, answer
from domain.content import ReasoningDelta, ToolCallDelta
from domain.models import Completion, ProviderCall, ProviderChunk, Usage

# Tool-call arguments stream in pieces this long, so that clients assemble them as they must for real providers.
ARGUMENT_FRAGMENT_CHARS = 8
REASONING_FRAGMENT_CHARS = 16
# Claude's smallest cacheable prefix is 1024 tokens; the mock counts a word as a token.
CACHED_PREFIX_MIN_WORDS = 1024
CACHED_PREFIXES = 256


class MockProvider:
    """An offline provider for first runs, demos and tests."""

    def __init__(self, *, latency_ms: float = 0.0) -> None:
        self._delay = max(0.0, latency_ms) / 1000.0
        self._prompt_cache: OrderedDict[bytes, None] = OrderedDict()

    @property
    def name(self) -> str:
        return "mock"

    async def generate(self, call: ProviderCall) -> Completion:
        result = answer(call)
        if self._delay:
            await asyncio.sleep(self._delay)
        return Completion(
            content=result.text,
            model=call.model,
            usage=self._cached(call, result.usage(call)),
            finish_reason=result.finish_reason,
            stop_sequence=result.stop_sequence,
            tool_calls=result.tool_calls,
            reasoning=result.reasoning,
        )

    async def stream(self, call: ProviderCall) -> AsyncIterator[ProviderChunk]:
        result = answer(call)
        for chunk in _chunks(result):
            if self._delay and chunk.text:
                await asyncio.sleep(self._delay)
            yield chunk
        usage = self._cached(call, result.usage(call))
        yield ProviderChunk(usage=usage, finish_reason=result.finish_reason, stop_sequence=result.stop_sequence)

    def _cached(self, call: ProviderCall, usage: Usage) -> Usage:
        """``usage`` with the system prompt's words read from or written to the prompt cache, when it is cached."""
        words = len(call.system.split())
        if words < CACHED_PREFIX_MIN_WORDS:
            return usage
        digest = hashlib.sha256(call.system.encode()).digest()
        if digest in self._prompt_cache:
            self._prompt_cache.move_to_end(digest)
            return msgspec.structs.replace(usage, cache_read_input_tokens=words)
        self._prompt_cache[digest] = None
        if len(self._prompt_cache) > CACHED_PREFIXES:
            self._prompt_cache.popitem(last=False)
        return msgspec.structs.replace(usage, cache_write_input_tokens=words)


def _chunks(result: MockAnswer) -> list[ProviderChunk]:
    chunks: list[ProviderChunk] = []
    for block in result.reasoning:
        text = block.text  # in slices, not words: the signature covers the exact text
        chunks += [
            ProviderChunk(reasoning=ReasoningDelta(text=text[i : i + REASONING_FRAGMENT_CHARS]))
            for i in range(0, len(text), REASONING_FRAGMENT_CHARS)
        ]
        chunks.append(ProviderChunk(reasoning=ReasoningDelta(signature=block.signature, redacted=block.redacted)))
    chunks += [ProviderChunk(text=piece) for piece in result.pieces]
    for index, call in enumerate(result.tool_calls):
        chunks.append(ProviderChunk(tool_calls=(ToolCallDelta(index=index, id=call.id, name=call.name),)))
        arguments = call.arguments
        chunks += [
            ProviderChunk(
                tool_calls=(ToolCallDelta(index=index, arguments=arguments[i : i + ARGUMENT_FRAGMENT_CHARS]),)
            )
            for i in range(0, len(arguments), ARGUMENT_FRAGMENT_CHARS)
        ]
    return chunks

"""The offline ``mock`` provider (docs/api.md#providers).

Deterministic: the answer is derived from the conversation, so the same call
always gives the same text. It streams word by word, pausing ``latency_ms``
before each word, and reports real token counts of what it sent and returned
(one token per whitespace-separated word).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from domain.models import Completion, ProviderCall, ProviderChunk, Usage


class MockProvider:
    """An offline provider for first runs, demos and tests."""

    def __init__(self, *, latency_ms: float = 0.0) -> None:
        self._delay = max(0.0, latency_ms) / 1000.0

    @property
    def name(self) -> str:
        return "mock"

    async def generate(self, call: ProviderCall) -> Completion:
        words, finish_reason = _answer_words(call)
        if self._delay:
            await asyncio.sleep(self._delay)
        return Completion(
            content=" ".join(words), model=call.model, usage=_usage(call, words), finish_reason=finish_reason
        )

    async def stream(self, call: ProviderCall) -> AsyncIterator[ProviderChunk]:
        words, finish_reason = _answer_words(call)
        for index, word in enumerate(words):
            if self._delay:
                await asyncio.sleep(self._delay)
            yield ProviderChunk(text=word if index == 0 else " " + word)
        yield ProviderChunk(usage=_usage(call, words), finish_reason=finish_reason)


def _answer_words(call: ProviderCall) -> tuple[list[str], str]:
    prompt = call.messages[-1].content if call.messages else ""
    turn = sum(1 for message in call.messages if message.role == "user")
    words = ["Mock", "answer", f"(turn {turn}):", *prompt.split()]
    if call.system:
        words += ["[system:", *call.system.split(), "]"]
    if len(words) > call.max_tokens:
        return words[: call.max_tokens], "length"
    return words, "stop"


def _usage(call: ProviderCall, words: list[str]) -> Usage:
    sent = sum(len(message.content.split()) for message in call.messages) + len(call.system.split())
    return Usage(prompt_tokens=sent, completion_tokens=len(words))

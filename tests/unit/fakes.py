"""Hand-written fakes for the application's ports, for fast unit tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from domain.errors import UpstreamError
from domain.models import Completion, ProviderCall, ProviderChunk, Usage


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.wall = now
        self.mono = 0.0

    def now(self) -> float:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


class ScriptedProvider:
    """A provider that answers ``reply`` and records every call it received."""

    def __init__(self, reply: str = "the answer", *, fail: Exception | None = None, gate: asyncio.Event | None = None):
        self.reply = reply
        self.fail = fail
        self.gate = gate
        self.calls: list[ProviderCall] = []
        self.cancelled = 0

    @property
    def name(self) -> str:
        return "scripted"

    async def generate(self, call: ProviderCall) -> Completion:
        self.calls.append(call)
        await self._wait()
        if self.fail:
            raise self.fail
        return Completion(content=self.reply, model=call.model, usage=Usage(prompt_tokens=11, completion_tokens=3))

    async def stream(self, call: ProviderCall) -> AsyncIterator[ProviderChunk]:
        self.calls.append(call)
        try:
            for index, word in enumerate(self.reply.split()):
                await self._wait()
                if self.fail and index == 1:
                    raise self.fail
                yield ProviderChunk(text=word if index == 0 else " " + word)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        yield ProviderChunk(usage=Usage(prompt_tokens=11, completion_tokens=3), finish_reason="stop")

    async def _wait(self) -> None:
        if self.gate is not None:
            await self.gate.wait()


def failing(message: str = "upstream broke") -> UpstreamError:
    return UpstreamError(message)

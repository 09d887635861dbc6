"""Hand-written fakes of the ports (a clock, a provider), shared by the unit and contract tests.

Wire-level fakes of the vendors' services are elsewhere: ``tests/vendors/``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Sequence

from domain.errors import UpstreamError
from domain.models import Completion, ProviderCall, ProviderChunk, Usage


class FakeClock:
    """The ``Clock`` port, moved by hand: ``advance`` moves the wall and the monotonic clock together."""

    def __init__(self, now: float = 1_000_000.0, *, mono: float = 0.0) -> None:
        self.wall = now
        self.mono = mono

    def now(self) -> float:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


class ScriptedProvider:
    """A provider that answers ``reply`` and records every call it received.

    A stream yields ``chunks`` (by default the reply word by word) and then one
    final chunk with the usage. ``errors`` are raised one per call, in order,
    until none are left (a stream raises it before chunk ``fail_after``);
    ``fail`` is raised by every call. ``gate`` holds each call until it is set.
    """

    def __init__(
        self,
        reply: str = "the answer",
        *,
        errors: Iterable[Exception] = (),
        fail: Exception | None = None,
        fail_after: int = 1,
        chunks: Sequence[str] | None = None,
        usage: Usage | None = None,
        gate: asyncio.Event | None = None,
    ) -> None:
        self.reply = reply
        self.errors = list(errors)
        self.fail = fail
        self.fail_after = fail_after
        self.chunks = chunks
        self.usage = usage or Usage(prompt_tokens=11, completion_tokens=3)
        self.gate = gate
        self.calls: list[ProviderCall] = []
        self.cancelled = 0
        self.closed_streams = 0

    @property
    def name(self) -> str:
        return "scripted"

    async def generate(self, call: ProviderCall) -> Completion:
        self.calls.append(call)
        await self._wait()
        error = self._next_error()
        if error is not None:
            raise error
        return Completion(content=self.reply, model=call.model, usage=self.usage)

    async def stream(self, call: ProviderCall) -> AsyncIterator[ProviderChunk]:
        self.calls.append(call)
        try:
            for index, piece in enumerate(self._pieces()):
                await self._wait()
                if index == self.fail_after and (error := self._next_error()) is not None:
                    raise error
                yield ProviderChunk(text=piece)
            yield ProviderChunk(usage=self.usage, finish_reason="stop")
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.closed_streams += 1

    def _pieces(self) -> Sequence[str]:
        if self.chunks is not None:
            return self.chunks
        return [word if index == 0 else " " + word for index, word in enumerate(self.reply.split())]

    def _next_error(self) -> Exception | None:
        return self.errors.pop(0) if self.errors else self.fail

    async def _wait(self) -> None:
        if self.gate is not None:
            await self.gate.wait()


def failing(message: str = "upstream broke") -> UpstreamError:
    return UpstreamError(message)

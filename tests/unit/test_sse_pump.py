"""The SSE pump's heartbeat: a silent stream gets ``: ping`` comments, a busy one none."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from entrypoints.http.shared.sse import PING, EventPump


async def _words(pause: float, *words: str) -> AsyncIterator[str]:
    for word in words:
        await asyncio.sleep(pause)
        yield word


async def _drain(pump: EventPump, heartbeat: float) -> list[bytes]:
    return [frame async for frame in pump.rest(heartbeat=heartbeat)]


async def test_a_stream_silent_for_longer_than_the_heartbeat_gets_pings_between_its_frames() -> None:
    pump = EventPump(_words(0.25, "a", "b"), str.encode)
    assert await pump.first() == b"a"
    frames = await _drain(pump, heartbeat=0.05)
    assert frames[-1] == b"b"
    assert PING in frames[:-1]


async def test_a_stream_that_keeps_talking_gets_no_ping() -> None:
    pump = EventPump(_words(0.0, "a", "b", "c"), str.encode)
    assert await pump.first() == b"a"
    assert await _drain(pump, heartbeat=5.0) == [b"b", b"c"]

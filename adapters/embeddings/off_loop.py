"""Large answers are decoded off the event loop.

One embeddings answer can be tens of megabytes of JSON floats (2048 vectors of 1536 dimensions are about
55 MB, a second or more to decode); decoded on the loop, it would stall every other request for that long.
Above ``LARGE_BYTES`` the decoding runs in a worker thread: it still holds the GIL, but the loop gets its
turns at every switch interval, so other requests go on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
LARGE_BYTES = 1 << 20


async def decoded(decode: Callable[[bytes], T], raw: bytes) -> T:
    if len(raw) < LARGE_BYTES:
        return decode(raw)
    return await asyncio.to_thread(decode, raw)

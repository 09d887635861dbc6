"""In-process response cache: a bounded LRU with a TTL per entry."""

from __future__ import annotations

from collections import OrderedDict

from domain.models import CacheEntry
from domain.ports import Clock


class MemoryCache:
    """A ``Cache`` kept in this process: the embedded default.

    Bounded to ``max_entries`` (least recently used go first); an entry past its
    TTL is a miss and is dropped when read. Never fails.
    """

    def __init__(self, *, max_entries: int, clock: Clock) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, CacheEntry]] = OrderedDict()

    async def get(self, key: str) -> CacheEntry | None:
        item = self._entries.get(key)
        if item is None:
            return None
        expires_at, entry = item
        if expires_at <= self._clock.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry

    async def set(self, key: str, entry: CacheEntry, ttl_seconds: int) -> None:
        if ttl_seconds <= 0:
            return
        self._entries[key] = (self._clock.monotonic() + ttl_seconds, entry)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    async def delete(self, key: str) -> bool:
        return self._entries.pop(key, None) is not None

    async def ping(self) -> bool:
        return True

    def __len__(self) -> int:
        return len(self._entries)

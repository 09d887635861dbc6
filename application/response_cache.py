"""When the response cache is read and written (docs/api.md#cache, #feedback).

One policy for single answers, streams and batches: a blacklisted key is
neither read nor written; ``Cache-Control: no-cache`` skips the read only;
only complete, non-empty answers are stored (an answer of tool calls alone is not empty).
"""

from __future__ import annotations

from domain.accounting import entry_from_answer
from domain.models import Answer, CacheEntry, GenerationRequest
from domain.ports import Cache, Clock, FeedbackRepo


class ResponseCache:
    def __init__(self, *, cache: Cache, feedback: FeedbackRepo, clock: Clock, ttl_seconds: int, enabled: bool) -> None:
        self._cache = cache
        self._feedback = feedback
        self._clock = clock
        self._ttl = ttl_seconds
        self.enabled = enabled
        self.hits = 0
        self.misses = 0

    async def lookup(self, request: GenerationRequest, key: str) -> CacheEntry | None:
        if not self.enabled or request.skip_cache_read or await self._feedback.is_blacklisted(key):
            return None
        entry = await self._cache.get(key)
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        await self._feedback.count_use(key)
        return entry

    async def store(self, key: str, answer: Answer) -> None:
        if not self.enabled or answer.cached or not (answer.content or answer.tool_calls):
            return
        # Asked again, not remembered from the lookup: a complaint may have retired the key meanwhile.
        if await self._feedback.is_blacklisted(key):
            return
        await self._cache.set(key, entry_from_answer(answer, now=self._clock.now()), self._ttl)

    async def remove(self, key: str) -> bool:
        return await self._cache.delete(key)

    def stats(self) -> dict[str, object]:
        looked_up = self.hits + self.misses
        return {
            "enabled": self.enabled,
            "hits": self.hits,
            "misses": self.misses,
            "hit_rate": round(self.hits / looked_up, 4) if looked_up else 0.0,
        }

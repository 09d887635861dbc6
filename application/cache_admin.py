"""Use-cases: cache statistics, manual invalidation, and lifting a blacklist (admin)."""

from __future__ import annotations

import msgspec

from application.feedback_loop import FeedbackLoop
from application.response_cache import ResponseCache
from domain.errors import InvalidRequest
from domain.feedback_reporters import reporter_of
from domain.models import ANYONE, CacheKeyQuality, Caller
from domain.ports import FeedbackRepo

MAX_STATS_LIMIT = 100


class CacheStats(msgspec.Struct, frozen=True, kw_only=True):
    counters: dict[str, object]
    problematic: list[CacheKeyQuality]
    limit: int
    feedback_enabled: bool


class GetCacheStats:
    def __init__(self, *, cache: ResponseCache, feedback: FeedbackLoop, repo: FeedbackRepo) -> None:
        self._cache = cache
        self._feedback = feedback
        self._repo = repo

    async def execute(self, limit: int) -> CacheStats:
        if not 1 <= limit <= MAX_STATS_LIMIT:
            raise InvalidRequest(f"limit must be between 1 and {MAX_STATS_LIMIT}, got {limit}")
        counters = {
            **self._cache.stats(),
            "reports": self._feedback.reports,
            "retired": self._feedback.retired,
            "reports_dropped": self._feedback.dropped,
        }
        return CacheStats(
            counters=counters,
            problematic=await self._repo.problematic(limit),
            limit=limit,
            feedback_enabled=self._feedback.enabled,
        )


class InvalidateCacheKey:
    def __init__(self, *, feedback: FeedbackLoop) -> None:
        self._feedback = feedback

    async def execute(self, cache_key: str, reason: str, *, by: Caller = ANYONE) -> None:
        """Retire ``cache_key`` at once; ``by`` (the admin who asked) is named in the retirement's log line."""
        if not cache_key.strip():
            raise InvalidRequest("cache_key is required")
        await self._feedback.retire(cache_key, reason=reason or "admin", rule="admin", reporters=[reporter_of(by)])


class ClearBlacklist:
    def __init__(self, *, repo: FeedbackRepo) -> None:
        self._repo = repo

    async def execute(self, cache_key: str) -> bool:
        if not cache_key.strip():
            raise InvalidRequest("cache_key is required")
        return await self._repo.clear_blacklist(cache_key)

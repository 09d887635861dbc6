"""In-process feedback record: the embedded default of ``FeedbackRepo``."""

from __future__ import annotations

from msgspec.structs import replace

from domain.models import CacheKeyQuality, FeedbackReport

BLACKLIST_AT_REPORTS = 3
QUALITY_STEP = 0.1


def next_quality(quality: CacheKeyQuality, *, now: float) -> CacheKeyQuality:
    """One more report on a key: the ``cache_stats`` rule (docs/api.md#cache-admin).

    Each report after the first lowers the quality by 0.1 (never below 0), and
    the third report blacklists the key.
    """
    reports = quality.problem_reports + 1
    score = quality.quality_score if reports == 1 else max(0.0, round(quality.quality_score - QUALITY_STEP, 2))
    return replace(
        quality,
        problem_reports=reports,
        quality_score=score,
        is_blacklisted=quality.is_blacklisted or reports >= BLACKLIST_AT_REPORTS,
        last_problem_at=now,
    )


class MemoryFeedbackRepo:
    """A ``FeedbackRepo`` kept in this process; lost on restart. Never fails.

    Clearing a blacklist keeps the key's history, so a key that already had
    three reports is blacklisted again by the next one.
    """

    def __init__(self) -> None:
        self._stats: dict[str, CacheKeyQuality] = {}
        self.reports: list[tuple[float, FeedbackReport]] = []
        self.blacklist_reasons: dict[str, str] = {}

    async def record(self, report: FeedbackReport, *, now: float) -> CacheKeyQuality:
        self.reports.append((now, report))
        quality = next_quality(self._quality(report.cache_key), now=now)
        self._stats[report.cache_key] = quality
        return quality

    async def blacklist(self, cache_key: str, *, reason: str, now: float) -> None:
        self._stats[cache_key] = replace(self._quality(cache_key), is_blacklisted=True)
        self.blacklist_reasons[cache_key] = reason

    async def clear_blacklist(self, cache_key: str) -> bool:
        quality = self._stats.get(cache_key)
        if quality is None or not quality.is_blacklisted:
            return False
        self._stats[cache_key] = replace(quality, is_blacklisted=False)
        self.blacklist_reasons.pop(cache_key, None)
        return True

    async def is_blacklisted(self, cache_key: str) -> bool:
        return self._quality(cache_key).is_blacklisted

    async def count_use(self, cache_key: str) -> None:
        quality = self._quality(cache_key)
        self._stats[cache_key] = replace(quality, total_uses=quality.total_uses + 1)

    async def problematic(self, limit: int) -> list[CacheKeyQuality]:
        reported = [quality for quality in self._stats.values() if quality.problem_reports > 0]
        reported.sort(key=lambda q: (-q.problem_reports, -q.problem_rate_percent, q.cache_key))
        return reported[: max(limit, 0)]

    def _quality(self, cache_key: str) -> CacheKeyQuality:
        return self._stats.get(cache_key) or CacheKeyQuality(cache_key=cache_key)

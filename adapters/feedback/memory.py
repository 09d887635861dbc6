"""In-process feedback record: the embedded default of ``FeedbackRepo``."""

from __future__ import annotations

import bisect
from itertools import islice

from msgspec.structs import replace

from domain.models import CacheKeyQuality, FeedbackReport

QUALITY_STEP = 0.1


def next_quality(quality: CacheKeyQuality, *, now: float) -> CacheKeyQuality:
    """One more reporter on a key: the quality rule of the ``cache_stats`` upsert.

    Each reporter after the first lowers the quality by 0.1 (never below 0).
    """
    reports = quality.problem_reports + 1
    score = quality.quality_score if reports == 1 else max(0.0, round(quality.quality_score - QUALITY_STEP, 2))
    return replace(quality, problem_reports=reports, quality_score=score, last_problem_at=now)


class MemoryFeedbackRepo:
    """A ``FeedbackRepo`` kept in this process; lost on restart. Never fails.

    Clearing a blacklist keeps the key's history (its reporters and count).
    """

    def __init__(self) -> None:
        self._stats: dict[str, CacheKeyQuality] = {}
        self._reporters: dict[str, dict[str, float]] = {}  # key -> its reporters (earliest first) and when
        self._times: dict[str, list[float]] = {}  # reporter -> when each of its reports was recorded, in order
        self.reports: list[tuple[float, FeedbackReport]] = []
        self.blacklist_reasons: dict[str, str] = {}

    async def record(self, report: FeedbackReport, *, now: float) -> CacheKeyQuality | None:
        reporters = self._reporters.setdefault(report.cache_key, {})
        if report.reporter in reporters:
            return None
        reporters[report.reporter] = now
        bisect.insort(self._times.setdefault(report.reporter, []), now)
        self.reports.append((now, report))
        quality = next_quality(self._quality(report.cache_key), now=now)
        self._stats[report.cache_key] = quality
        return quality

    async def reports_since(self, reporter: str, since: float) -> int:
        times = self._times.get(reporter, [])
        return len(times) - bisect.bisect_left(times, since)

    async def reporters(self, cache_key: str, limit: int) -> list[str]:
        return list(islice(self._reporters.get(cache_key, {}), max(limit, 0)))

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

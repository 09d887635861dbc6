"""A feedback record that cannot fail a request's cache path (docs/api.md#feedback).

Every cached request asks the feedback record whether its key is blacklisted.
With the record in PostgreSQL, a database that is down would otherwise turn
stateless requests into 503s (docs/api.md#sessions: stateless requests are not affected).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from domain.errors import StorageUnavailable
from domain.models import CacheKeyQuality, FeedbackReport
from domain.ports import FeedbackRepo

logger = logging.getLogger(__name__)


class FailSafeFeedbackRepo:
    """``FeedbackRepo`` around another, whose per-request checks survive the record being down.

    ``is_blacklisted`` answers ``True`` when the record cannot say: the request
    then neither reads nor writes the cache, as for a blacklisted key, so an
    unreachable record never lets a retired answer be served. A failed
    ``count_use`` is a lost tally. After a failure both answer at once, without
    asking, for ``retry_seconds``, so a record that is down does not slow every
    request. Failures are logged and counted in ``errors``. Reports, the
    reporter reads, blacklisting and the admin reads still raise
    ``StorageUnavailable``.
    """

    def __init__(
        self,
        inner: FeedbackRepo,
        *,
        retry_seconds: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self._retry_seconds = retry_seconds
        self._monotonic = monotonic
        self._down_until = float("-inf")
        self.errors = 0

    async def is_blacklisted(self, cache_key: str) -> bool:
        if self._resting():
            return True
        try:
            return await self._inner.is_blacklisted(cache_key)
        except StorageUnavailable as exc:
            self._failed("blacklist check, cache bypassed", exc)
            return True

    async def count_use(self, cache_key: str) -> None:
        if self._resting():
            return
        try:
            await self._inner.count_use(cache_key)
        except StorageUnavailable as exc:
            self._failed("use count lost", exc)

    async def record(self, report: FeedbackReport, *, now: float) -> CacheKeyQuality | None:
        return await self._inner.record(report, now=now)

    async def reports_since(self, reporter: str, since: float) -> int:
        return await self._inner.reports_since(reporter, since)

    async def reporters(self, cache_key: str, limit: int) -> list[str]:
        return await self._inner.reporters(cache_key, limit)

    async def blacklist(self, cache_key: str, *, reason: str, now: float) -> None:
        await self._inner.blacklist(cache_key, reason=reason, now=now)

    async def clear_blacklist(self, cache_key: str) -> bool:
        return await self._inner.clear_blacklist(cache_key)

    async def problematic(self, limit: int) -> list[CacheKeyQuality]:
        return await self._inner.problematic(limit)

    def _resting(self) -> bool:
        return self._monotonic() < self._down_until

    def _failed(self, what: str, exc: StorageUnavailable) -> None:
        self.errors += 1
        self._down_until = self._monotonic() + self._retry_seconds
        logger.warning("feedback record unavailable (%s): %s", what, exc.message)

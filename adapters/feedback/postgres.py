"""The feedback record in PostgreSQL (docs/api.md#feedback), tables of migrations 0002 and 0003.

``record`` inserts the complaint unless its reporter already reported the key
(a unique index on ``(cache_key, reporter)``), and only then upserts the key's
``cache_stats`` row, in one transaction: each reporter after the first lowers
the quality by 0.10, as the first version's trigger did per report. Written as the
insert's conflict clause and the upsert itself, so concurrent reports are
counted exactly, each reporter once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from domain.errors import StorageUnavailable
from domain.models import CacheKeyQuality, FeedbackReport

_Conn = psycopg.AsyncConnection[Any]

_COLUMNS = """cache_key, total_uses, problem_reports, quality_score::float8, is_blacklisted,
    extract(epoch FROM last_problem_at)::float8"""

_INSERT_REPORT = """
INSERT INTO cache_feedback (cache_key, reporter, user_id, session_id, detection_method, problem_keywords,
    original_prompt, problem_prompt, severity_score, confidence, action, created_at)
VALUES (%(cache_key)s, %(reporter)s, %(user_id)s, %(session_id)s, %(method)s, %(keywords)s,
    %(original_prompt)s, %(problem_prompt)s, %(severity)s, %(confidence)s, %(action)s, to_timestamp(%(now)s))
ON CONFLICT (cache_key, reporter) WHERE reporter <> '' DO NOTHING
RETURNING id
"""

_COUNT_REPORT = f"""
INSERT INTO cache_stats AS s (cache_key, problem_reports, last_problem_at)
VALUES (%(cache_key)s, 1, to_timestamp(%(now)s))
ON CONFLICT (cache_key) DO UPDATE SET
    problem_reports = s.problem_reports + 1,
    last_problem_at = EXCLUDED.last_problem_at,
    quality_score = CASE WHEN s.problem_reports = 0 THEN s.quality_score
                         ELSE greatest(0, s.quality_score - 0.10) END,
    updated_at = now()
RETURNING {_COLUMNS}
"""

_REPORTS_SINCE = """
SELECT count(*) FROM cache_feedback WHERE reporter = %s AND reporter <> '' AND created_at >= to_timestamp(%s)
"""

_REPORTERS = """
SELECT reporter FROM cache_feedback WHERE cache_key = %s AND reporter <> '' ORDER BY id LIMIT %s
"""

_BLACKLIST = """
INSERT INTO cache_stats AS s (cache_key, is_blacklisted, blacklist_reason, blacklisted_at)
VALUES (%(cache_key)s, true, %(reason)s, to_timestamp(%(now)s))
ON CONFLICT (cache_key) DO UPDATE SET
    is_blacklisted = true, blacklist_reason = EXCLUDED.blacklist_reason,
    blacklisted_at = EXCLUDED.blacklisted_at, updated_at = now()
"""

_CLEAR = """
UPDATE cache_stats SET is_blacklisted = false, blacklist_reason = '', blacklisted_at = NULL, updated_at = now()
WHERE cache_key = %s AND is_blacklisted
"""

_COUNT_USE = """
INSERT INTO cache_stats AS s (cache_key, total_uses) VALUES (%s, 1)
ON CONFLICT (cache_key) DO UPDATE SET total_uses = s.total_uses + 1, updated_at = now()
"""

_PROBLEMATIC = f"""
SELECT {_COLUMNS} FROM cache_quality_report
WHERE problem_reports > 0
ORDER BY problem_reports DESC, problem_rate_percent DESC, cache_key
LIMIT %s
"""


class PostgresFeedbackRepo:
    """``FeedbackRepo`` in PostgreSQL; any database failure raises ``StorageUnavailable``.

    Clearing a blacklist keeps the key's history (its reporters and count).
    """

    def __init__(self, pool: AsyncConnectionPool, *, hot_path_wait_seconds: float | None = None) -> None:
        self._pool = pool
        # ``is_blacklisted`` and ``count_use`` run on every cached request: they wait at most
        # this long for a pooled connection (``None``: the pool's own timeout).
        self._hot_wait = hot_path_wait_seconds

    async def record(self, report: FeedbackReport, *, now: float) -> CacheKeyQuality | None:
        verdict = report.verdict
        params = {
            "cache_key": report.cache_key,
            "reporter": report.reporter,
            "user_id": report.user_id,
            "session_id": report.session_id,
            "method": verdict.method or "keywords",
            "keywords": ",".join(verdict.keywords),
            "original_prompt": report.original_prompt,
            "problem_prompt": report.problem_prompt,
            "severity": verdict.severity,
            "confidence": verdict.confidence,
            "action": verdict.action,
            "now": now,
        }
        async with self._connection("record feedback") as conn, conn.transaction():
            if await (await conn.execute(_INSERT_REPORT, params)).fetchone() is None:
                return None  # this reporter had reported this key already
            row = await (await conn.execute(_COUNT_REPORT, params)).fetchone()
        if row is None:  # cannot happen: an upsert with RETURNING returns its row
            raise StorageUnavailable("feedback storage (PostgreSQL) returned no row for a report")
        return _quality(row)

    async def reports_since(self, reporter: str, since: float) -> int:
        async with self._connection("count a reporter's reports") as conn:
            row = await (await conn.execute(_REPORTS_SINCE, (reporter, since))).fetchone()
        return int(row[0]) if row else 0

    async def reporters(self, cache_key: str, limit: int) -> list[str]:
        async with self._connection("read a key's reporters") as conn:
            rows = await (await conn.execute(_REPORTERS, (cache_key, max(limit, 0)))).fetchall()
        return [row[0] for row in rows]

    async def blacklist(self, cache_key: str, *, reason: str, now: float) -> None:
        async with self._connection("blacklist a cache key") as conn:
            await conn.execute(_BLACKLIST, {"cache_key": cache_key, "reason": reason, "now": now})

    async def clear_blacklist(self, cache_key: str) -> bool:
        async with self._connection("clear a blacklist entry") as conn:
            return (await conn.execute(_CLEAR, (cache_key,))).rowcount > 0

    async def is_blacklisted(self, cache_key: str) -> bool:
        async with self._connection("read the blacklist", wait=self._hot_wait) as conn:
            cursor = await conn.execute("SELECT is_blacklisted FROM cache_stats WHERE cache_key = %s", (cache_key,))
            row = await cursor.fetchone()
        return bool(row and row[0])

    async def count_use(self, cache_key: str) -> None:
        async with self._connection("count a cache use", wait=self._hot_wait) as conn:
            await conn.execute(_COUNT_USE, (cache_key,))

    async def problematic(self, limit: int) -> list[CacheKeyQuality]:
        async with self._connection("read cache quality") as conn:
            rows = await (await conn.execute(_PROBLEMATIC, (max(limit, 0),))).fetchall()
        return [_quality(row) for row in rows]

    @asynccontextmanager
    async def _connection(self, action: str, *, wait: float | None = None) -> AsyncIterator[_Conn]:
        try:
            async with self._pool.connection(timeout=wait) as conn:
                yield conn
        except psycopg.Error as exc:
            raise StorageUnavailable(
                f"feedback storage (PostgreSQL) unavailable, could not {action}: {type(exc).__name__}"
            ) from exc


def _quality(row: Sequence[Any]) -> CacheKeyQuality:
    cache_key, total_uses, problem_reports, quality_score, is_blacklisted, last_problem_at = row
    return CacheKeyQuality(
        cache_key=cache_key,
        total_uses=total_uses,
        problem_reports=problem_reports,
        quality_score=round(quality_score, 2),
        is_blacklisted=is_blacklisted,
        last_problem_at=last_problem_at,
    )

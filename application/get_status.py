"""Use-case: the gateway's state for ``/api/v1/status`` and gRPC ``GetStatus``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

import msgspec

from application.pool import WorkerPool
from application.response_cache import ResponseCache
from domain.catalogue import Catalogue
from domain.ports import Cache, Clock, SessionRepo

HEALTH_CHECK_SECONDS = 1.0


class Backend(msgspec.Struct, frozen=True, kw_only=True):
    backend: str
    healthy: bool


class Status(msgspec.Struct, frozen=True, kw_only=True):
    version: str
    uptime_seconds: float
    timestamp: int
    providers: tuple[str, ...]
    models: int
    circuits: dict[str, str]
    cache: Backend
    cache_enabled: bool
    sessions: Backend
    pool: dict[str, object]

    @property
    def healthy(self) -> bool:
        return self.cache.healthy and self.sessions.healthy


class GetStatus:
    def __init__(
        self,
        *,
        version: str,
        started_at: float,
        clock: Clock,
        catalogue: Catalogue,
        circuits: Callable[[], Mapping[str, str]],
        cache: Cache,
        cache_backend: str,
        response_cache: ResponseCache,
        sessions: SessionRepo,
        session_backend: str,
        pool: WorkerPool,
    ) -> None:
        self._version = version
        self._started_at = started_at
        self._clock = clock
        self._catalogue = catalogue
        self._circuits = circuits
        self._cache = (cache_backend, cache)
        self._response_cache = response_cache
        self._sessions = (session_backend, sessions)
        self._pool = pool

    @property
    def version(self) -> str:
        return self._version

    def clock_now(self) -> float:
        return self._clock.now()

    async def execute(self) -> Status:
        cache_ok, sessions_ok = await asyncio.gather(_ping(self._cache[1].ping), _ping(self._sessions[1].ping))
        now = self._clock.now()
        return Status(
            version=self._version,
            uptime_seconds=round(now - self._started_at, 3),
            timestamp=int(now),
            providers=self._catalogue.providers,
            models=len(self._catalogue.models),
            circuits=dict(self._circuits()),
            cache=Backend(backend=self._cache[0], healthy=cache_ok),
            cache_enabled=self._response_cache.enabled,
            sessions=Backend(backend=self._sessions[0], healthy=sessions_ok),
            pool=self._pool.stats(),
        )


async def _ping(check: Callable[[], Awaitable[bool]]) -> bool:
    try:
        return await asyncio.wait_for(check(), HEALTH_CHECK_SECONDS)
    except Exception:  # a health check that fails or hangs means unhealthy, whatever the cause
        return False

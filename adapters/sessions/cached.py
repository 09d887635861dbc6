"""A Redis copy in front of the session store of record (``USE_REDIS_CACHE``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from domain.errors import StorageUnavailable
from domain.models import Message, Session
from domain.ports import SessionRepo

logger = logging.getLogger(__name__)


class SessionCopy(Protocol):
    """Where read-through copies of sessions are kept (``RedisSessionRepo`` is one)."""

    async def get(self, session_id: str) -> Session | None: ...

    async def put(self, session: Session) -> None: ...

    async def delete(self, session_id: str) -> bool: ...


class CachedSessionRepo:
    """``SessionRepo``: reads from the copy, falls back to ``primary`` and back-fills the copy.

    Writes go to ``primary`` first (its failures are the request's), then
    refresh the copy. The copy failing never fails a request: it is logged,
    counted in ``errors``, and the session is marked so that this process reads
    it from ``primary`` until its copy has been rewritten. Locks are the
    primary's.
    """

    def __init__(self, primary: SessionRepo, cache: SessionCopy) -> None:
        self._primary = primary
        self._cache = cache
        # Sessions whose copy may be stale because refreshing it failed.
        self._stale: set[str] = set()
        self.errors = 0

    async def get(self, session_id: str) -> Session | None:
        if session_id not in self._stale:
            try:
                cached = await self._cache.get(session_id)
            except StorageUnavailable as exc:
                self._failed("read", session_id, exc)
            else:
                if cached is not None:
                    return cached
        session = await self._primary.get(session_id)
        if session is not None:
            await self._refresh(session)
        return session

    async def append(
        self, session_id: str, user_id: str, messages: Sequence[Message], *, max_messages: int, now: float
    ) -> Session:
        session = await self._primary.append(session_id, user_id, messages, max_messages=max_messages, now=now)
        await self._refresh(session)
        return session

    async def delete(self, session_id: str) -> bool:
        deleted = await self._primary.delete(session_id)
        try:
            await self._cache.delete(session_id)
            self._stale.discard(session_id)
        except StorageUnavailable as exc:
            self._failed("delete", session_id, exc)
        return deleted

    def lock(self, session_id: str) -> AbstractAsyncContextManager[None]:
        return self._primary.lock(session_id)

    async def ping(self) -> bool:
        return await self._primary.ping()

    async def _refresh(self, session: Session) -> None:
        try:
            await self._cache.put(session)
            self._stale.discard(session.id)
        except StorageUnavailable as exc:
            self._failed("refresh", session.id, exc)

    def _failed(self, action: str, session_id: str, exc: StorageUnavailable) -> None:
        self.errors += 1
        self._stale.add(session_id)
        logger.warning("session cache %s failed, using the session store of record: %s", action, exc.message)

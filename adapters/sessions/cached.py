"""A copy of each session in front of the session store of record (``USE_REDIS_CACHE``).

The copy is shared by every process, and every process may change a session,
so the copy must never outlive a change made anywhere, even when a GET reads
the store of record just before a turn or a DELETE lands and writes what it
read afterwards. The rules:

* a change (append, delete) is announced to the copy before it reaches the
  store of record (``begin_change``: the copy is dropped, its generation
  advances, and the session is marked "changing" for a while), and finished
  afterwards (``end_change``: the new copy is written unless another change
  overlapped, the generation advances again);
* a GET that misses fills the copy only if the generation it saw before
  reading the store of record is still current and nothing is changing
  (``fill`` compares atomically), so a GET racing a DELETE cannot bring the
  session back, nor a GET racing a turn put back the older history;
* when a change cannot be finished (Redis failed after the store of record
  was written), the "changing" mark, which lives in Redis and so is seen by
  every process, keeps every process reading the store of record until the
  mark expires, and the copy was already dropped;
* when a change cannot even be announced (this process cannot reach Redis),
  the process remembers the session and announces the change (drops the copy,
  advances the generation) as soon as it reaches Redis again, before it uses
  the copy for anything else.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from domain.errors import StorageUnavailable
from domain.models import Message, Session
from domain.ports import SessionRepo

logger = logging.getLogger(__name__)

# Sessions whose change this process could not announce, kept at most (a warning beyond).
MAX_UNANNOUNCED = 10_000


@dataclass(frozen=True)
class CopyRead:
    """What the copy holds for a session: ``session`` when it may be used, else ``None``.

    ``version`` is what ``fill`` needs to store a session read from the store
    of record afterwards; ``None`` when the copy must not be filled now (a
    change is under way).
    """

    session: Session | None
    version: int | None


class SessionCopy(Protocol):
    """Where the shared copies of sessions are kept (``RedisSessionCopy``); failures raise ``StorageUnavailable``."""

    async def peek(self, session_id: str) -> CopyRead: ...

    async def fill(self, session: Session, version: int) -> bool:
        """Store ``session`` read after ``peek`` gave ``version``; ``False`` when it changed meanwhile."""
        ...

    async def begin_change(self, session_id: str) -> int:
        """Drop the copy and mark the session as changing; returns the change's generation."""
        ...

    async def end_change(self, session_id: str, generation: int, session: Session | None) -> None:
        """Clear this change's mark and store ``session`` (``None``: deleted) unless another change overlapped."""
        ...

    async def invalidate(self, session_ids: Sequence[str]) -> None:
        """Drop the copies and advance their generations (for changes made while Redis was unreachable)."""
        ...


class CachedSessionRepo:
    """``SessionRepo``: reads from the copy, falls back to ``primary`` and fills the copy.

    Changes go to ``primary`` between ``begin_change`` and ``end_change``. The
    copy failing never fails a request: it is logged and counted in
    ``errors``, and the request is served by ``primary``. Locks are the
    primary's.
    """

    def __init__(self, primary: SessionRepo, copy: SessionCopy) -> None:
        self._primary = primary
        self._copy = copy
        # Sessions with changes not announced to the copy yet, oldest first, each with the
        # number of its latest such change (so that one made while announcing is kept).
        self._unannounced: dict[str, int] = {}
        self._changes = 0
        self.errors = 0

    async def get(self, session_id: str) -> Session | None:
        read = await self._peek(session_id)
        if read is not None and read.session is not None:
            return read.session
        session = await self._primary.get(session_id)
        if session is not None and read is not None and read.version is not None:
            try:
                await self._copy.fill(session, read.version)
            except StorageUnavailable as exc:
                self._failed("fill", exc)
        return session

    async def append(
        self, session_id: str, user_id: str, messages: Sequence[Message], *, max_messages: int, now: float
    ) -> Session:
        generation = await self._begin(session_id)
        try:
            session = await self._primary.append(session_id, user_id, messages, max_messages=max_messages, now=now)
        except BaseException:
            await self._end(session_id, generation, None)
            raise
        await self._end(session_id, generation, session)
        return session

    async def delete(self, session_id: str) -> bool:
        generation = await self._begin(session_id)
        try:
            return await self._primary.delete(session_id)
        finally:
            await self._end(session_id, generation, None)

    def lock(self, session_id: str) -> AbstractAsyncContextManager[None]:
        return self._primary.lock(session_id)

    async def ping(self) -> bool:
        return await self._primary.ping()

    async def _peek(self, session_id: str) -> CopyRead | None:
        """The copy's state, or ``None`` when the copy cannot be used now."""
        if not await self._announced():
            return None
        try:
            return await self._copy.peek(session_id)
        except StorageUnavailable as exc:
            self._failed("read", exc)
            return None

    async def _begin(self, session_id: str) -> int | None:
        if await self._announced():
            try:
                return await self._copy.begin_change(session_id)
            except StorageUnavailable as exc:
                self._failed("announce a change to", exc)
        self._remember_unannounced(session_id)
        return None

    async def _end(self, session_id: str, generation: int | None, session: Session | None) -> None:
        if generation is None:
            return  # not announced: announced later, with the copy dropped
        try:
            await self._copy.end_change(session_id, generation, session)
        except StorageUnavailable as exc:
            # The copy was dropped and the session stays marked as changing (in Redis, for
            # every process) until the mark expires; then the store of record refills it.
            self._failed("finish a change of", exc)

    async def _announced(self) -> bool:
        """Announce the changes Redis missed; ``False`` (do not use the copy now) while that fails."""
        if not self._unannounced:
            return True
        pending = dict(self._unannounced)
        try:
            await self._copy.invalidate(list(pending))
        except StorageUnavailable as exc:
            self._failed("announce earlier changes to", exc)
            return False
        for session_id, change in pending.items():
            if self._unannounced.get(session_id) == change:
                del self._unannounced[session_id]
        return True

    def _remember_unannounced(self, session_id: str) -> None:
        self._changes += 1
        self._unannounced.pop(session_id, None)
        self._unannounced[session_id] = self._changes
        if len(self._unannounced) > MAX_UNANNOUNCED:
            del self._unannounced[next(iter(self._unannounced))]
            logger.error("too many session changes missed by the session cache: the copy of one may stay stale")

    def _failed(self, action: str, exc: StorageUnavailable) -> None:
        self.errors += 1
        logger.warning("session cache could not %s the session, using the store of record: %s", action, exc.message)

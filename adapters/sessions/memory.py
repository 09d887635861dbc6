"""In-process session store: the embedded default, bounded like the memory cache."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from weakref import WeakValueDictionary

from adapters.clock.system import SystemClock
from domain.models import Message, Session
from domain.ports import Clock


class MemorySessionRepo:
    """A ``SessionRepo`` kept in this process.

    At most ``max_sessions`` are kept (the least recently used go first), and a
    session expires ``ttl_seconds`` after its last use (read or turn): anyone
    able to start sessions could otherwise grow the process without end.
    ``lock`` serialises turns of one session within this process only; sessions
    are lost on restart. Never raises ``StorageUnavailable``.
    """

    def __init__(self, *, max_sessions: int = 10_000, ttl_seconds: float = 86_400, clock: Clock | None = None) -> None:
        if max_sessions < 1:
            raise ValueError("max_sessions must be at least 1")
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        self._max = max_sessions
        self._ttl = ttl_seconds
        self._clock = clock or SystemClock()
        # Least recently used first, so also soonest to expire: each session with its expiry (monotonic).
        self._sessions: OrderedDict[str, tuple[float, Session]] = OrderedDict()
        # Locks live only while some turn holds or awaits them.
        self._locks: WeakValueDictionary[str, asyncio.Lock] = WeakValueDictionary()

    async def get(self, session_id: str) -> Session | None:
        return self._live(session_id)

    async def append(
        self, session_id: str, user_id: str, messages: Sequence[Message], *, max_messages: int, now: float
    ) -> Session:
        current = self._live(session_id) or Session(id=session_id, user_id=user_id, created_at=now, updated_at=now)
        kept = (*current.messages, *messages)[-max_messages:] if max_messages > 0 else ()
        session = Session(
            id=session_id,
            user_id=current.user_id,
            messages=kept,
            created_at=current.created_at,
            updated_at=now,
        )
        self._sessions[session_id] = (self._clock.monotonic() + self._ttl, session)
        self._sessions.move_to_end(session_id)
        self._evict()
        return session

    async def delete(self, session_id: str) -> bool:
        self._evict()
        return self._sessions.pop(session_id, None) is not None

    @asynccontextmanager
    async def lock(self, session_id: str) -> AsyncIterator[None]:
        lock = self._locks.get(session_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[session_id] = lock
        async with lock:
            yield

    async def ping(self) -> bool:
        return True

    def __len__(self) -> int:
        self._evict()
        return len(self._sessions)

    def _live(self, session_id: str) -> Session | None:
        """The session unless it expired; using it makes it the most recently used and restarts its TTL."""
        self._evict()
        item = self._sessions.get(session_id)
        if item is None:
            return None
        self._sessions[session_id] = (self._clock.monotonic() + self._ttl, item[1])
        self._sessions.move_to_end(session_id)
        return item[1]

    def _evict(self) -> None:
        """Drop the expired sessions (all at the old end) and the least recently used beyond the bound."""
        now = self._clock.monotonic()
        while self._sessions and (len(self._sessions) > self._max or next(iter(self._sessions.values()))[0] <= now):
            self._sessions.popitem(last=False)

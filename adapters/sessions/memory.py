"""In-process session store: the embedded default."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from weakref import WeakValueDictionary

from domain.models import Message, Session


class MemorySessionRepo:
    """A ``SessionRepo`` kept in this process.

    ``lock`` serialises turns of one session within this process only; sessions
    are lost on restart. Never raises ``StorageUnavailable``.
    """

    def __init__(self) -> None:
        self._sessions: dict[str, Session] = {}
        # Locks live only while some turn holds or awaits them.
        self._locks: WeakValueDictionary[str, asyncio.Lock] = WeakValueDictionary()

    async def get(self, session_id: str) -> Session | None:
        return self._sessions.get(session_id)

    async def append(
        self, session_id: str, user_id: str, messages: Sequence[Message], *, max_messages: int, now: float
    ) -> Session:
        current = self._sessions.get(session_id) or Session(
            id=session_id, user_id=user_id, created_at=now, updated_at=now
        )
        kept = (*current.messages, *messages)[-max_messages:] if max_messages > 0 else ()
        session = Session(
            id=session_id,
            user_id=current.user_id,
            messages=kept,
            created_at=current.created_at,
            updated_at=now,
        )
        self._sessions[session_id] = session
        return session

    async def delete(self, session_id: str) -> bool:
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
        return len(self._sessions)

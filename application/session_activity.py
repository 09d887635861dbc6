"""Which conversations are in use, for ``mcp_sessions_active`` and ``mcp_sessions_total`` (docs/api.md#metrics).

A decorator around the ``SessionRepo``: every stored turn marks its session as
seen; a session whose turn created it counts once in ``created``. A session is
*active* while it had a turn within ``window_seconds`` in this process. The
figures are this process's: Prometheus sums them over replicas.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager

from domain.models import Message, Session
from domain.ports import Clock, SessionRepo

# Timestamps may come back from a store through a text or microsecond format.
_SAME_INSTANT = 1e-5


class SessionActivity:
    """A ``SessionRepo`` that remembers when each session last had a turn."""

    def __init__(
        self, repo: SessionRepo, *, clock: Clock, window_seconds: float = 900.0, max_tracked: int = 100_000
    ) -> None:
        self._repo = repo
        self._clock = clock
        self._window = window_seconds
        self._max = max_tracked
        self._last_turn: dict[str, float] = {}
        self.created = 0

    def active(self) -> int:
        """Sessions with a turn in the last ``window_seconds``; older ones are forgotten here."""
        horizon = self._clock.monotonic() - self._window
        while self._last_turn:
            oldest = next(iter(self._last_turn))  # ordered by last turn: stop at the first recent one
            if self._last_turn[oldest] >= horizon:
                break
            del self._last_turn[oldest]
        return len(self._last_turn)

    async def append(
        self, session_id: str, user_id: str, messages: Sequence[Message], *, max_messages: int, now: float
    ) -> Session:
        session = await self._repo.append(session_id, user_id, messages, max_messages=max_messages, now=now)
        if abs(session.created_at - now) < _SAME_INSTANT:
            self.created += 1
        self._seen(session_id)
        return session

    def _seen(self, session_id: str) -> None:
        self._last_turn.pop(session_id, None)  # re-inserted last: the dict stays ordered by last turn
        if len(self._last_turn) >= self._max:
            del self._last_turn[next(iter(self._last_turn))]
        self._last_turn[session_id] = self._clock.monotonic()

    async def get(self, session_id: str) -> Session | None:
        return await self._repo.get(session_id)

    async def delete(self, session_id: str) -> bool:
        self._last_turn.pop(session_id, None)
        return await self._repo.delete(session_id)

    def lock(self, session_id: str) -> AbstractAsyncContextManager[None]:
        return self._repo.lock(session_id)

    async def ping(self) -> bool:
        return await self._repo.ping()

"""Sessions in PostgreSQL (docs/api.md#sessions), tables of ``migrations/0001_sessions.sql``.

Turn serialisation uses a session-level advisory lock,
``pg_advisory_lock(<namespace>, hashtext(session_id))``, held on one pooled
connection for the length of the turn, rather than a row lock, because:

* the session row does not exist before the first turn, so there is nothing to
  lock yet;
* a row lock lives in a transaction that would stay open ("idle in
  transaction") while the provider answers, holding a snapshot and blocking
  vacuum for seconds or minutes;
* a session-level lock dies with its connection, so a crashed process never
  leaves a session locked.

The turn's own reads and writes reuse the connection that holds the lock, so a
turn needs one pooled connection, not two, and a full pool cannot deadlock on
itself. Within one process, turns on the same session first queue on an
``asyncio.Lock``, so only one of them occupies a connection while waiting.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any
from weakref import WeakValueDictionary

import psycopg
from psycopg_pool import AsyncConnectionPool

from adapters.backends.postgres_pool import create_pg_pool
from adapters.sessions.cached import CachedSessionRepo
from domain.errors import StorageUnavailable
from domain.models import Message, Session

__all__ = ["CachedSessionRepo", "PostgresSessionRepo", "create_pg_pool"]

logger = logging.getLogger(__name__)

_Conn = psycopg.AsyncConnection[Any]
# The store, session and connection of the turn whose lock the current task holds
# (tasks started inside the turn inherit it: they are part of the turn).
_turn: ContextVar[tuple[object, str, _Conn] | None] = ContextVar("postgres_session_turn", default=None)

_LOCK_KEYS = "hashtext('mcp-server-ai/session'), hashtext(%s)"

_UPSERT = """
INSERT INTO sessions AS s (id, user_id, created_at, updated_at, next_seq)
VALUES (%(id)s, %(user_id)s, to_timestamp(%(now)s), to_timestamp(%(now)s), %(count)s)
ON CONFLICT (id) DO UPDATE SET updated_at = EXCLUDED.updated_at, next_seq = s.next_seq + %(count)s
RETURNING s.next_seq
"""

_INSERT_MESSAGE = """
INSERT INTO session_messages (session_id, seq, role, content, model, tokens, cache_key, created_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, to_timestamp(%s))
"""

_TRIM = "DELETE FROM session_messages WHERE session_id = %s AND seq < %s"

# One statement, so the session and its messages come from one snapshot.
_SELECT = """
SELECT s.user_id, extract(epoch FROM s.created_at)::float8, extract(epoch FROM s.updated_at)::float8,
       m.role, m.content, m.model, m.tokens, m.cache_key, extract(epoch FROM m.created_at)::float8
FROM sessions s LEFT JOIN session_messages m ON m.session_id = s.id
WHERE s.id = %s
ORDER BY m.seq
"""


class PostgresSessionRepo:
    """``SessionRepo`` in PostgreSQL; any database failure raises ``StorageUnavailable``.

    ``append`` upserts the session row (which row-locks it), inserts the
    messages after the last sequence number and trims to ``max_messages``, all
    in one transaction. ``lock`` waits at most ``lock_wait_seconds``.
    """

    def __init__(self, pool: AsyncConnectionPool, *, lock_wait_seconds: float = 120.0) -> None:
        self._pool = pool
        self._lock_wait_ms = int(lock_wait_seconds * 1000)
        self._local_locks: WeakValueDictionary[str, asyncio.Lock] = WeakValueDictionary()

    async def get(self, session_id: str) -> Session | None:
        async with self._connection(session_id, "read") as conn:
            return await _select(conn, session_id)

    async def append(
        self, session_id: str, user_id: str, messages: Sequence[Message], *, max_messages: int, now: float
    ) -> Session:
        async with self._connection(session_id, "append to") as conn, conn.transaction():
            params = {"id": session_id, "user_id": user_id, "now": now, "count": len(messages)}
            row = await (await conn.execute(_UPSERT, params)).fetchone()
            next_seq = int(row[0]) if row else len(messages)
            first = next_seq - len(messages)
            rows = [(session_id, first + i, *_message_row(m)) for i, m in enumerate(messages)]
            async with conn.cursor() as cursor:
                await cursor.executemany(_INSERT_MESSAGE, rows)
            await conn.execute(_TRIM, (session_id, next_seq - max(max_messages, 0)))
            session = await _select(conn, session_id)
        if session is None:  # cannot happen: the row was written in this transaction
            raise StorageUnavailable("session storage (PostgreSQL) lost a session while appending to it")
        return session

    async def delete(self, session_id: str) -> bool:
        async with self._connection(session_id, "delete") as conn:
            cursor = await conn.execute("DELETE FROM sessions WHERE id = %s", (session_id,))
            return cursor.rowcount > 0

    @asynccontextmanager
    async def lock(self, session_id: str) -> AsyncIterator[None]:
        local = self._local_locks.get(session_id)
        if local is None:
            local = self._local_locks[session_id] = asyncio.Lock()
        async with local, self._connection(session_id, "lock", reuse_turn=False) as conn:
            await self._acquire(conn, session_id)
            token = _turn.set((self, session_id, conn))
            try:
                yield
            finally:
                _turn.reset(token)
                await _release(conn, session_id)

    async def ping(self) -> bool:
        """``True`` when the database answers and its session tables exist.

        A database that came up before its migrations ran answers ``SELECT 1``
        but cannot hold a session yet: readiness must not say it can.
        """
        try:
            async with self._pool.connection() as conn:
                await conn.execute("SELECT 1 FROM sessions, session_messages LIMIT 0")
            return True
        except psycopg.Error:
            return False

    async def _acquire(self, conn: _Conn, session_id: str) -> None:
        try:
            await conn.execute("SELECT set_config('lock_timeout', %s, false)", (f"{self._lock_wait_ms}ms",))
            await conn.execute(f"SELECT pg_advisory_lock({_LOCK_KEYS})", (session_id,))
            await conn.execute("RESET lock_timeout")
        except psycopg.errors.LockNotAvailable as exc:
            await conn.execute("RESET lock_timeout")
            raise StorageUnavailable(
                f"timed out after {self._lock_wait_ms / 1000:g} s waiting for another turn on this session"
            ) from exc
        except BaseException:
            # Cancelled or broken while waiting: the lock may have been granted anyway.
            # Closing the connection is the one sure way to let it go.
            await conn.close()
            raise

    @asynccontextmanager
    async def _connection(self, session_id: str, action: str, *, reuse_turn: bool = True) -> AsyncIterator[_Conn]:
        turn = _turn.get()
        try:
            if reuse_turn and turn is not None and turn[:2] == (self, session_id):
                yield turn[2]
                return
            async with self._pool.connection() as conn:
                if not conn.autocommit:
                    await conn.set_autocommit(True)
                yield conn
        except psycopg.Error as exc:
            raise StorageUnavailable(
                f"session storage (PostgreSQL) unavailable, could not {action} the session: {type(exc).__name__}"
            ) from exc


async def _release(conn: _Conn, session_id: str) -> None:
    try:
        await conn.execute(f"SELECT pg_advisory_unlock({_LOCK_KEYS})", (session_id,))
    except psycopg.Error as exc:
        # Raising would hide the turn's own outcome. Closing the connection ends
        # its server session, which lets the lock go if it is still held.
        logger.warning("could not release a session lock, closing its connection: %s", exc)
        await conn.close()
    except BaseException:
        await conn.close()
        raise


async def _select(conn: _Conn, session_id: str) -> Session | None:
    rows = await (await conn.execute(_SELECT, (session_id,))).fetchall()
    if not rows:
        return None
    user_id, created_at, updated_at = rows[0][:3]
    messages = tuple(_message(row[3:]) for row in rows if row[3] is not None)
    return Session(id=session_id, user_id=user_id, messages=messages, created_at=created_at, updated_at=updated_at)


def _message_row(message: Message) -> tuple[object, ...]:
    return (message.role, message.content, message.model, message.tokens, message.cache_key, message.created_at)


def _message(row: Sequence[Any]) -> Message:
    role, content, model, tokens, cache_key, created_at = row
    return Message(role=role, content=content, model=model, tokens=tokens, cache_key=cache_key, created_at=created_at)

"""Sessions in PostgreSQL (docs/api.md#sessions), tables of ``migrations/0001_sessions.sql``.

A rich message's content parts are one JSON value in ``parts``
(``migrations/0004_rich_messages.sql``); a text-only message has NULL there.

A pooled connection is held only for the statements of one operation, never
for a whole turn: the turn lock lives on connections of its own
(``PostgresSessionLocks``), because a turn lasts as long as the provider takes
to answer and the pool must stay free for everyone else meanwhile. The lock is
an advisory lock rather than a row lock, because:

* the session row does not exist before the first turn, so there is nothing to
  lock yet;
* a row lock lives in a transaction that would stay open ("idle in
  transaction") while the provider answers, holding a snapshot and blocking
  vacuum for seconds or minutes;
* a session-level lock dies with its connection, so a crashed process never
  leaves a session locked.

A write made under the lock first checks, in its own transaction, that the
lock is still held: a turn whose lock connection broke fails instead of
interleaving with a turn of another process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

import msgspec
import psycopg
from psycopg_pool import AsyncConnectionPool

from adapters.backends.postgres_pool import create_pg_pool
from adapters.sessions.cached import CachedSessionRepo
from adapters.sessions.postgres_locks import HeldLock, PostgresSessionLocks
from domain.content import Part
from domain.errors import StorageUnavailable
from domain.models import Message, Session

__all__ = ["CachedSessionRepo", "PostgresSessionLocks", "PostgresSessionRepo", "create_pg_pool"]

_Conn = psycopg.AsyncConnection[Any]
_parts_encoder = msgspec.json.Encoder()
_parts_decoder = msgspec.json.Decoder(tuple[Part, ...])
# The store, session and lock of the turn whose lock the current task holds
# (tasks started inside the turn inherit it: they are part of the turn).
_turn: ContextVar[tuple[object, str, HeldLock] | None] = ContextVar("postgres_session_turn", default=None)

_UPSERT = """
INSERT INTO sessions AS s (id, user_id, created_at, updated_at, next_seq)
VALUES (%(id)s, %(user_id)s, to_timestamp(%(now)s), to_timestamp(%(now)s), %(count)s)
ON CONFLICT (id) DO UPDATE SET updated_at = EXCLUDED.updated_at, next_seq = s.next_seq + %(count)s
RETURNING s.next_seq
"""

_INSERT_MESSAGE = """
INSERT INTO session_messages (session_id, seq, role, content, parts, model, tokens, cache_key, created_at)
VALUES (%s, %s, %s, %s, %s::jsonb, %s, %s, %s, to_timestamp(%s))
"""

_TRIM = "DELETE FROM session_messages WHERE session_id = %s AND seq < %s"

# One statement, so the session and its messages come from one snapshot.
_SELECT = """
SELECT s.user_id, extract(epoch FROM s.created_at)::float8, extract(epoch FROM s.updated_at)::float8,
       m.role, m.content, m.parts::text, m.model, m.tokens, m.cache_key, extract(epoch FROM m.created_at)::float8
FROM sessions s LEFT JOIN session_messages m ON m.session_id = s.id
WHERE s.id = %s
ORDER BY m.seq
"""


class PostgresSessionRepo:
    """``SessionRepo`` in PostgreSQL; any database failure raises ``StorageUnavailable``.

    ``append`` upserts the session row (which row-locks it), inserts the
    messages after the last sequence number and trims to ``max_messages``, all
    in one transaction. ``lock`` is ``locks.hold``: it waits as long as
    ``locks`` allows and holds no pooled connection, waiting or held.
    """

    def __init__(self, pool: AsyncConnectionPool, locks: PostgresSessionLocks) -> None:
        self._pool = pool
        self._locks = locks

    async def get(self, session_id: str) -> Session | None:
        async with self._connection("read") as conn:
            return await _select(conn, session_id)

    async def append(
        self, session_id: str, user_id: str, messages: Sequence[Message], *, max_messages: int, now: float
    ) -> Session:
        async with self._connection("append to") as conn, conn.transaction():
            await self._check_still_locked(conn, session_id)
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
        async with self._connection("delete") as conn, conn.transaction():
            await self._check_still_locked(conn, session_id)
            cursor = await conn.execute("DELETE FROM sessions WHERE id = %s", (session_id,))
            return cursor.rowcount > 0

    @asynccontextmanager
    async def lock(self, session_id: str) -> AsyncIterator[None]:
        async with self._locks.hold(session_id) as held:
            token = _turn.set((self, session_id, held))
            try:
                yield
            finally:
                _turn.reset(token)

    async def ping(self) -> bool:
        """``True`` when the database answers and its session tables exist, with the columns this version writes.

        A database that came up before its migrations ran answers ``SELECT 1``
        but cannot hold a session yet: readiness must not say it can.
        """
        try:
            async with self._pool.connection() as conn:
                await conn.execute("SELECT s.id, m.parts FROM sessions s, session_messages m LIMIT 0")
            return True
        except psycopg.Error:
            return False

    async def _check_still_locked(self, conn: _Conn, session_id: str) -> None:
        """In a write of the turn that holds this session's lock: refuse the write if the lock was lost."""
        turn = _turn.get()
        if turn is None or turn[:2] != (self, session_id) or await turn[2].still_held(conn):
            return
        raise StorageUnavailable(
            "session storage (PostgreSQL) lost this session's lock (its connection broke) before the turn was stored"
        )

    @asynccontextmanager
    async def _connection(self, action: str) -> AsyncIterator[_Conn]:
        try:
            async with self._pool.connection() as conn:
                if not conn.autocommit:
                    await conn.set_autocommit(True)
                yield conn
        except psycopg.Error as exc:
            raise StorageUnavailable(
                f"session storage (PostgreSQL) unavailable, could not {action} the session: {type(exc).__name__}"
            ) from exc


async def _select(conn: _Conn, session_id: str) -> Session | None:
    rows = await (await conn.execute(_SELECT, (session_id,))).fetchall()
    if not rows:
        return None
    user_id, created_at, updated_at = rows[0][:3]
    messages = tuple(_message(row[3:]) for row in rows if row[3] is not None)
    return Session(id=session_id, user_id=user_id, messages=messages, created_at=created_at, updated_at=updated_at)


def _message_row(message: Message) -> tuple[object, ...]:
    parts = _parts_encoder.encode(message.parts).decode() if message.parts else None
    return (message.role, message.content, parts, message.model, message.tokens, message.cache_key, message.created_at)


def _message(row: Sequence[Any]) -> Message:
    role, content, parts, model, tokens, cache_key, created_at = row
    return Message(
        role=role,
        content=content,
        parts=_parts_decoder.decode(parts) if parts else (),
        model=model,
        tokens=tokens,
        cache_key=cache_key,
        created_at=created_at,
    )

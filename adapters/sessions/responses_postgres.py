"""Stored responses in PostgreSQL (``SESSION_BACKEND=postgres``), the table of ``migrations/0005_stored_responses.sql``.

A read ignores an expired row; each write also deletes up to a few hundred
expired rows (by the expiry index), so the table does not grow with responses
nobody will read again, without a sweeper task. A pooled connection is held for
one statement at a time. Every database failure raises ``StorageUnavailable``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import psycopg
from psycopg_pool import AsyncConnectionPool

from domain.errors import StorageUnavailable
from domain.stored_responses import StoredResponse

SWEEP_BATCH = 200

_INSERT = """
INSERT INTO stored_responses (id, owner, created_at, expires_at, record)
VALUES (%(id)s, %(owner)s, to_timestamp(%(created_at)s), to_timestamp(%(expires_at)s), %(record)s)
ON CONFLICT (id) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at, record = EXCLUDED.record
"""
_SWEEP = """
DELETE FROM stored_responses WHERE id IN (
    SELECT id FROM stored_responses WHERE expires_at <= to_timestamp(%(now)s) LIMIT %(batch)s
)
"""
_SELECT = "SELECT record FROM stored_responses WHERE id = %(id)s AND expires_at > to_timestamp(%(now)s)"
_DELETE = "DELETE FROM stored_responses WHERE id = %(id)s"


class PostgresResponseStore:
    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self._pool = pool
        self._encode = msgspec.msgpack.Encoder().encode
        self._decoder = msgspec.msgpack.Decoder(StoredResponse)

    async def put(self, response: StoredResponse) -> None:
        row = {
            "id": response.id,
            "owner": response.owner,
            "created_at": response.created_at,
            "expires_at": response.expires_at,
            "record": self._encode(response),
        }
        async with self._connection("store") as conn, conn.transaction():
            await conn.execute(_SWEEP, {"now": response.created_at, "batch": SWEEP_BATCH})
            await conn.execute(_INSERT, row)

    async def get(self, response_id: str, *, now: float) -> StoredResponse | None:
        async with self._connection("read") as conn:
            cursor = await conn.execute(_SELECT, {"id": response_id, "now": now})
            row = await cursor.fetchone()
        if row is None:
            return None
        try:
            return self._decoder.decode(bytes(row[0]))
        except msgspec.DecodeError as exc:
            raise StorageUnavailable("response storage (PostgreSQL) holds an unreadable response") from exc

    async def delete(self, response_id: str) -> bool:
        async with self._connection("delete") as conn:
            cursor = await conn.execute(_DELETE, {"id": response_id})
            return cursor.rowcount > 0

    @asynccontextmanager
    async def _connection(self, action: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        try:
            async with self._pool.connection() as conn:
                if not conn.autocommit:
                    await conn.set_autocommit(True)
                yield conn
        except psycopg.Error as exc:
            raise StorageUnavailable(
                f"response storage (PostgreSQL) unavailable, could not {action} the response: {type(exc).__name__}"
            ) from exc

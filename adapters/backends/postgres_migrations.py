"""Schema migrations: ``migrations/NNNN_name.sql`` applied in order, each once.

Every file runs in its own transaction together with the row that records it in
``schema_migrations``, so a file is either applied and recorded or neither. The
whole run holds a PostgreSQL advisory lock: replicas that start together queue
on the lock, and the later ones find everything already recorded.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from domain.errors import StorageUnavailable

logger = logging.getLogger(__name__)

_FILE_NAME = re.compile(r"^(\d{4})_[A-Za-z0-9_\-]+\.sql$")
# One bigint key of the advisory lock space, named rather than a magic number.
_LOCK_KEY_SQL = "hashtextextended('mcp-server-ai/schema-migrations', 0)"

_CREATE_TABLE = b"""
CREATE TABLE IF NOT EXISTS schema_migrations (
    name        text        PRIMARY KEY,
    checksum    text        NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(StorageUnavailable):
    """A migration file is malformed or failed to apply; the database is left as before that file."""


@dataclass(frozen=True)
class Migration:
    name: str
    script: bytes

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.script).hexdigest()


def load_migrations(directory: Path | str) -> list[Migration]:
    """The ``NNNN_name.sql`` files of ``directory``, in order; other files are ignored."""
    files = sorted(path for path in Path(directory).iterdir() if _FILE_NAME.match(path.name))
    numbers = [path.name[:4] for path in files]
    duplicated = sorted({number for number in numbers if numbers.count(number) > 1})
    if duplicated:
        raise MigrationError(f"two migration files share the number {', '.join(duplicated)} in {directory}")
    return [Migration(name=path.name, script=path.read_bytes()) for path in files]


async def apply_migrations(conninfo_or_pool: str | AsyncConnectionPool, directory: Path | str) -> list[str]:
    """Apply every migration of ``directory`` not yet recorded; return the names applied now."""
    # Read before connecting: file access is blocking, and a bad file should fail before any lock is taken.
    migrations = load_migrations(directory)
    try:
        async with _connection(conninfo_or_pool) as conn, _migration_lock(conn):
            await conn.execute(_CREATE_TABLE)
            return await _apply_missing(conn, migrations)
    except (psycopg.OperationalError, PoolTimeout) as exc:
        raise StorageUnavailable(f"PostgreSQL is unreachable, cannot apply migrations: {exc}") from exc


@asynccontextmanager
async def _connection(conninfo_or_pool: str | AsyncConnectionPool) -> AsyncIterator[psycopg.AsyncConnection]:
    if isinstance(conninfo_or_pool, str):
        async with await psycopg.AsyncConnection.connect(conninfo_or_pool, autocommit=True) as conn:
            yield conn
        return
    async with conninfo_or_pool.connection() as conn:
        # The advisory lock must not open a transaction that each file's own would nest in.
        await conn.set_autocommit(True)
        yield conn


@asynccontextmanager
async def _migration_lock(conn: psycopg.AsyncConnection) -> AsyncIterator[None]:
    try:
        await conn.execute(f"SELECT pg_advisory_lock({_LOCK_KEY_SQL})")
    except BaseException:
        # Cancelled while waiting, the lock may have been granted anyway; closing the
        # connection is the one sure way not to hand a pooled connection back holding it.
        await conn.close()
        raise
    try:
        yield
    finally:
        if not conn.closed:
            await conn.execute(f"SELECT pg_advisory_unlock({_LOCK_KEY_SQL})")


async def _apply_missing(conn: psycopg.AsyncConnection, migrations: list[Migration]) -> list[str]:
    done = await _recorded(conn)
    applied = []
    for migration in migrations:
        if migration.name in done:
            if done[migration.name] != migration.checksum:
                logger.warning("migration %s changed after it was applied; the change is ignored", migration.name)
            continue
        await _apply(conn, migration)
        applied.append(migration.name)
    return applied


async def _recorded(conn: psycopg.AsyncConnection) -> dict[str, str]:
    cursor = await conn.execute("SELECT name, checksum FROM schema_migrations")
    return {name: checksum for name, checksum in await cursor.fetchall()}


async def _apply(conn: psycopg.AsyncConnection, migration: Migration) -> None:
    try:
        async with conn.transaction():
            # A script of several statements with no parameters goes over the simple query protocol.
            await conn.execute(migration.script)
            await conn.execute(
                "INSERT INTO schema_migrations (name, checksum) VALUES (%s, %s)",
                (migration.name, migration.checksum),
            )
    except psycopg.OperationalError:
        raise
    except psycopg.Error as exc:
        raise MigrationError(f"migration {migration.name} failed and was rolled back: {exc}") from exc
    logger.info("applied migration %s", migration.name)

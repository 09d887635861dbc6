"""Sessions stored in PostgreSQL before rich messages existed read back unchanged after ``0004_rich_messages``."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from adapters.backends.postgres_migrations import apply_migrations
from adapters.backends.postgres_pool import create_pg_pool
from adapters.sessions.postgres import PostgresSessionRepo
from domain.content import TextPart, ToolCallPart, ToolResultPart
from domain.models import Message
from tests.conftest import MIGRATIONS, open_session_locks, scratch_database

pytestmark = pytest.mark.postgres

T0 = 1_700_000_000.5


@pytest.fixture
def fresh_db(postgres_maintenance_url: str) -> Iterator[str]:
    with scratch_database(postgres_maintenance_url) as url:
        yield url


def migrations_before_rich_messages(directory: Path) -> Path:
    for path in sorted(MIGRATIONS.glob("000[123]_*.sql")):
        shutil.copy(path, directory / path.name)
    return directory


def write_old_turn(url: str) -> None:
    """A turn as the adapter wrote it before the ``parts`` column existed."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO sessions (id, user_id, created_at, updated_at, next_seq)"
            " VALUES ('old', 'alice', to_timestamp(%s), to_timestamp(%s), 2)",
            (T0, T0),
        )
        for seq, role, content, key in ((0, "user", "hola", ""), (1, "assistant", "¿qué tal?", "ai:k")):
            conn.execute(
                "INSERT INTO session_messages (session_id, seq, role, content, model, tokens, cache_key, created_at)"
                " VALUES ('old', %s, %s, %s, 'm', 3, %s, to_timestamp(%s))",
                (seq, role, content, key, T0),
            )


async def test_an_old_session_reads_back_unchanged_and_takes_rich_turns(fresh_db: str, tmp_path: Path) -> None:
    await apply_migrations(fresh_db, migrations_before_rich_messages(tmp_path))
    write_old_turn(fresh_db)
    await apply_migrations(fresh_db, MIGRATIONS)
    call = ToolCallPart(id="c1", name="f", arguments="{}")
    rich = [
        Message(role="user", content="again", created_at=T0),
        Message(role="assistant", parts=(TextPart(text="calling"), call), created_at=T0),
        Message(role="tool", parts=(ToolResultPart(call_id="c1", content="done"),), created_at=T0),
    ]
    pool = create_pg_pool(fresh_db, min_size=1, max_size=2, timeout=10.0)
    await pool.open(wait=True, timeout=10.0)
    try:
        async with open_session_locks(fresh_db) as locks:
            repo = PostgresSessionRepo(pool, locks)
            old = await repo.get("old")
            assert await repo.ping()
            async with repo.lock("old"):
                session = await repo.append("old", "alice", rich, max_messages=10, now=T0 + 1)
    finally:
        await pool.close()
    assert old is not None
    assert old.messages == (
        Message(role="user", content="hola", model="m", tokens=3, created_at=T0),
        Message(role="assistant", content="¿qué tal?", model="m", tokens=3, cache_key="ai:k", created_at=T0),
    )
    assert session.messages == (*old.messages, *rich)


async def test_ping_says_no_until_the_rich_messages_migration_ran(fresh_db: str, tmp_path: Path) -> None:
    await apply_migrations(fresh_db, migrations_before_rich_messages(tmp_path))
    pool = create_pg_pool(fresh_db, min_size=1, max_size=2, timeout=10.0)
    await pool.open(wait=True, timeout=10.0)
    try:
        async with open_session_locks(fresh_db) as locks:
            assert await PostgresSessionRepo(pool, locks).ping() is False
    finally:
        await pool.close()

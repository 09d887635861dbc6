"""The migration runner against a real PostgreSQL: each file once, in order, under a lock."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from adapters.backends.postgres_migrations import MigrationError, apply_migrations, load_migrations
from domain.errors import StorageUnavailable
from tests.conftest import MIGRATIONS, scratch_database


@pytest.fixture
def fresh_db(postgres_maintenance_url: str) -> Iterator[str]:
    with scratch_database(postgres_maintenance_url) as url:
        yield url


def schema_of(url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        columns = conn.execute(
            "SELECT table_name, column_name, data_type, column_default FROM information_schema.columns"
            " WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"
        ).fetchall()
        recorded = conn.execute("SELECT name, checksum, applied_at FROM schema_migrations ORDER BY name").fetchall()
    return [*columns, *recorded]


def recorded_names(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute("SELECT name FROM schema_migrations ORDER BY applied_at, name")]


def write(directory: Path, name: str, script: str) -> None:
    (directory / name).write_text(script, encoding="utf-8")


async def test_the_project_migrations_apply_in_order_and_are_recorded(fresh_db: str) -> None:
    applied = await apply_migrations(fresh_db, MIGRATIONS)

    expected = [migration.name for migration in load_migrations(MIGRATIONS)]
    assert applied == expected
    assert recorded_names(fresh_db) == expected


async def test_applying_twice_changes_nothing(fresh_db: str) -> None:
    await apply_migrations(fresh_db, MIGRATIONS)
    before = schema_of(fresh_db)

    assert await apply_migrations(fresh_db, MIGRATIONS) == []
    assert schema_of(fresh_db) == before


async def test_two_runners_started_at_once_apply_each_file_once(fresh_db: str, tmp_path: Path) -> None:
    # A slow first file keeps the first runner inside the lock while the second arrives.
    write(tmp_path, "0001_slow.sql", "SELECT pg_sleep(0.3); CREATE TABLE counted (n integer);")
    write(tmp_path, "0002_insert.sql", "INSERT INTO counted VALUES (1);")

    first, second = await asyncio.gather(apply_migrations(fresh_db, tmp_path), apply_migrations(fresh_db, tmp_path))

    assert sorted(first + second) == ["0001_slow.sql", "0002_insert.sql"]
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("SELECT count(*) FROM counted").fetchone() == (1,)
    assert recorded_names(fresh_db) == ["0001_slow.sql", "0002_insert.sql"]


async def test_a_new_file_is_applied_on_the_next_run(fresh_db: str, tmp_path: Path) -> None:
    write(tmp_path, "0001_first.sql", "CREATE TABLE first (n integer);")
    await apply_migrations(fresh_db, tmp_path)
    write(tmp_path, "0002_second.sql", "CREATE TABLE second (n integer);")

    assert await apply_migrations(fresh_db, tmp_path) == ["0002_second.sql"]


async def test_a_failing_file_is_rolled_back_unrecorded_and_stops_the_run(fresh_db: str, tmp_path: Path) -> None:
    write(tmp_path, "0001_good.sql", "CREATE TABLE good (n integer);")
    write(tmp_path, "0002_bad.sql", "CREATE TABLE half (n integer); SELECT * FROM no_such_table;")
    write(tmp_path, "0003_later.sql", "CREATE TABLE later (n integer);")

    with pytest.raises(MigrationError, match=r"0002_bad\.sql"):
        await apply_migrations(fresh_db, tmp_path)

    assert recorded_names(fresh_db) == ["0001_good.sql"]
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("SELECT to_regclass('half'), to_regclass('later')").fetchone() == (None, None)


async def test_a_file_changed_after_it_was_applied_is_reported_not_rerun(
    fresh_db: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(tmp_path, "0001_first.sql", "CREATE TABLE first (n integer);")
    await apply_migrations(fresh_db, tmp_path)
    write(tmp_path, "0001_first.sql", "CREATE TABLE first (n integer, m integer);")

    with caplog.at_level(logging.WARNING):
        assert await apply_migrations(fresh_db, tmp_path) == []

    assert "0001_first.sql changed" in caplog.text


def test_files_that_are_not_numbered_migrations_are_ignored(tmp_path: Path) -> None:
    write(tmp_path, "0001_first.sql", "SELECT 1;")
    write(tmp_path, "README.md", "notes")
    write(tmp_path, "draft.sql", "SELECT 2;")

    assert [migration.name for migration in load_migrations(tmp_path)] == ["0001_first.sql"]


def test_two_files_with_one_number_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "0001_first.sql", "SELECT 1;")
    write(tmp_path, "0001_other.sql", "SELECT 2;")

    with pytest.raises(MigrationError, match="0001"):
        load_migrations(tmp_path)


async def test_an_unreachable_database_is_a_clear_storage_error() -> None:
    with pytest.raises(StorageUnavailable, match="PostgreSQL is unreachable"):
        await apply_migrations("postgresql://postgres@127.0.0.1:1/nowhere?connect_timeout=2", MIGRATIONS)

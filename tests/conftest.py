"""Shared fixtures: the real Redis and PostgreSQL of this machine, isolated per test run.

Each test run gets its own Redis key prefix and its own PostgreSQL database
(``mcp_test_<uuid>``, created through the ``postgres`` maintenance database,
migrated, and dropped at the end). When a service is unreachable its tests skip
with the reason, except under ``CI=true`` where they fail: CI must not pass by
skipping the real services.

``TEST_REDIS_URL`` and ``TEST_POSTGRES_URL`` (the maintenance database) point
elsewhere when the defaults do not fit.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import LiteralString

import psycopg
import pytest
import redis
import redis.asyncio as aioredis
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg_pool import AsyncConnectionPool

from adapters.backends.postgres_migrations import apply_migrations
from adapters.backends.postgres_pool import create_pg_pool
from adapters.backends.redis_client import create_redis_client
from adapters.sessions.postgres_locks import PostgresSessionLocks

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
_TABLES = ("sessions", "session_messages", "cache_feedback", "cache_stats")


def service_unavailable(reason: str) -> None:
    """Skip the test, or fail it under ``CI=true``."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: the real services are required)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A Redis that answers, or the test is skipped (failed under CI)."""
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        service_unavailable(f"Redis is unreachable at {REDIS_URL}: {exc}")
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture(scope="session")
def redis_run_prefix(redis_url: str) -> Iterator[str]:
    """The key prefix of this test run; its keys are deleted at the end."""
    prefix = f"mcp-test:{uuid.uuid4().hex}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def redis_prefix(redis_run_prefix: str) -> str:
    """A key prefix of its own for each test."""
    return f"{redis_run_prefix}{uuid.uuid4().hex[:12]}:"


@asynccontextmanager
async def open_redis_client(url: str) -> AsyncIterator[aioredis.Redis]:
    """A client for ``url``, closed afterwards.

    A helper as well as a fixture: an async fixture cannot ask for another async
    fixture through ``request.getfixturevalue``, but it can enter this.
    """
    client = create_redis_client(url, socket_timeout=5.0, connect_timeout=2.0)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    async with open_redis_client(redis_url) as client:
        yield client


@pytest.fixture(scope="session")
def postgres_maintenance_url() -> str:
    """The maintenance database, when PostgreSQL answers; else skip (fail under CI)."""
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=2):
            pass
    except psycopg.Error as exc:
        service_unavailable(f"PostgreSQL is unreachable at {POSTGRES_URL}: {exc}")
    return POSTGRES_URL


@pytest.fixture(scope="session")
def postgres_url(postgres_maintenance_url: str) -> Iterator[str]:
    """A migrated database of its own for this test run, dropped at the end."""
    with scratch_database(postgres_maintenance_url) as url:
        # A thread of its own, because this fixture may be set up while a test's loop runs.
        with ThreadPoolExecutor(max_workers=1) as thread:
            thread.submit(asyncio.run, apply_migrations(url, MIGRATIONS)).result()
        yield url


@contextmanager
def scratch_database(maintenance_url: str) -> Iterator[str]:
    """An empty database of its own, dropped afterwards (even when still in use)."""
    name = f"mcp_test_{uuid.uuid4().hex}"
    _administer(maintenance_url, "CREATE DATABASE {}", name)
    try:
        yield make_conninfo(maintenance_url, dbname=name)
    finally:
        _administer(maintenance_url, "DROP DATABASE IF EXISTS {} WITH (FORCE)", name)


def _administer(maintenance_url: str, statement: LiteralString, name: str) -> None:
    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        conn.execute(sql.SQL(statement).format(sql.Identifier(name)))


@asynccontextmanager
async def open_pg_pool(url: str, *, max_size: int = 4) -> AsyncIterator[AsyncConnectionPool]:
    """An open pool on ``url`` with the tables emptied first, closed afterwards."""
    pool = create_pg_pool(url, min_size=1, max_size=max_size, timeout=10.0)
    await pool.open(wait=True, timeout=10.0)
    try:
        async with pool.connection() as conn:
            tables = sql.SQL(", ").join(sql.Identifier(table) for table in _TABLES)
            await conn.execute(sql.SQL("TRUNCATE {}").format(tables))
        yield pool
    finally:
        await pool.close()


@asynccontextmanager
async def open_session_locks(url: str, *, wait_seconds: float = 120.0) -> AsyncIterator[PostgresSessionLocks]:
    """The turn locks of PostgreSQL sessions on ``url``, their connections closed afterwards."""
    locks = PostgresSessionLocks(url, wait_seconds=wait_seconds)
    try:
        yield locks
    finally:
        await locks.aclose()


@pytest.fixture
async def pg_pool(postgres_url: str) -> AsyncIterator[AsyncConnectionPool]:
    async with open_pg_pool(postgres_url) as pool:
        yield pool

"""How PostgreSQL session turn locks use the database (issue 11, item 6); figures for docs/security.d.

    .venv/bin/python -m bench.session_locks [--url postgresql://postgres@127.0.0.1:5432/postgres]

Works in a scratch database of its own (created, migrated, dropped). Prints:

1. many concurrent turns that each wait ``--provider-seconds`` on a provider, on a pool of 5:
   the former design (the advisory lock pinned on a pooled connection for the turn) against
   the current one (``PostgresSessionLocks``: locks on a dedicated connection);
2. what one lock costs on the dedicated connection (take + release), and how many short turns
   per second 1, 2 or 4 lock connections carry;
3. the alternative of a lock row with a lease: one upsert and one delete per turn on the pool.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg_pool import AsyncConnectionPool

from adapters.backends.postgres_migrations import apply_migrations
from adapters.backends.postgres_pool import create_pg_pool
from adapters.sessions.postgres import PostgresSessionLocks, PostgresSessionRepo
from domain.errors import StorageUnavailable
from domain.models import Message

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
TURN = [Message(role="user", content="q"), Message(role="assistant", content="a")]


@asynccontextmanager
async def scratch(url: str) -> AsyncIterator[str]:
    name = f"mcp_bench_{uuid.uuid4().hex}"
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        database = make_conninfo(url, dbname=name)
        await apply_migrations(database, MIGRATIONS)
        yield database
    finally:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@asynccontextmanager
async def pool_of(url: str, size: int) -> AsyncIterator[AsyncConnectionPool]:
    pool = create_pg_pool(url, min_size=size, max_size=size, timeout=5.0)
    await pool.open(wait=True)
    try:
        yield pool
    finally:
        await pool.close()


async def pinned_turn(pool: AsyncConnectionPool, sid: str, provider_seconds: float) -> None:
    """The former design: the pooled connection holds the advisory lock while the provider answers."""
    async with pool.connection() as conn:
        await conn.execute("SELECT pg_advisory_lock(hashtext('bench'), hashtext(%s))", (sid,))
        await asyncio.sleep(provider_seconds)
        await conn.execute("SELECT pg_advisory_unlock(hashtext('bench'), hashtext(%s))", (sid,))


async def current_turn(repo: PostgresSessionRepo, sid: str, provider_seconds: float) -> None:
    async with repo.lock(sid):
        await repo.get(sid)
        await asyncio.sleep(provider_seconds)
        await repo.append(sid, "bench", TURN, max_messages=100, now=time.time())


async def run_turns(turns: int, turn: Callable[[str], Awaitable[None]]) -> tuple[float, int]:
    started = time.perf_counter()
    outcomes = await asyncio.gather(*(turn(f"s-{uuid.uuid4().hex}") for _ in range(turns)), return_exceptions=True)
    failed = sum(isinstance(o, StorageUnavailable | psycopg.Error) for o in outcomes)
    return time.perf_counter() - started, failed


async def concurrent_turns(url: str, turns: int, provider_seconds: float) -> None:
    print(f"1. {turns} concurrent turns, provider {provider_seconds:g} s each, pool of 5")
    async with pool_of(url, 5) as pool:
        wall, failed = await run_turns(turns, lambda sid: pinned_turn(pool, sid, provider_seconds))
        print(f"   lock pinned on a pooled connection: {wall:6.2f} s, {failed} failed (pool timeout 5 s)")
        locks = PostgresSessionLocks(url)
        repo = PostgresSessionRepo(pool, locks)
        wall, failed = await run_turns(turns, lambda sid: current_turn(repo, sid, provider_seconds))
        print(f"   locks on one dedicated connection:  {wall:6.2f} s, {failed} failed")
        await locks.aclose()


async def lock_cost(url: str, rounds: int) -> None:
    locks = PostgresSessionLocks(url)
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        async with locks.hold(f"s-{uuid.uuid4().hex}"):
            pass
        samples.append((time.perf_counter() - started) * 1e6)
    await locks.aclose()
    samples.sort()
    p50, p99 = statistics.median(samples), samples[int(len(samples) * 0.99)]
    print(f"2. take + release one lock, sequential: p50 {p50:.0f} us, p99 {p99:.0f} us")


async def short_turn_rate(url: str, connections: int, turns: int, concurrency: int) -> None:
    async with pool_of(url, 5) as pool:
        locks = PostgresSessionLocks(url, connections=connections)
        repo = PostgresSessionRepo(pool, locks)
        gate = asyncio.Semaphore(concurrency)

        async def turn(sid: str) -> None:
            async with gate:
                await current_turn(repo, sid, 0.0)

        wall, failed = await run_turns(turns, turn)
        await locks.aclose()
    print(f"   {connections} lock connection(s), {concurrency} at once: {turns / wall:7.0f} turns/s, {failed} failed")


async def lease_row_cost(url: str, rounds: int) -> None:
    async with pool_of(url, 5) as pool:
        async with pool.connection() as conn:
            await conn.execute("CREATE TABLE bench_leases (id text PRIMARY KEY, holder text, expires_at timestamptz)")
        samples = []
        for _ in range(rounds):
            sid, holder = f"s-{uuid.uuid4().hex}", uuid.uuid4().hex
            started = time.perf_counter()
            async with pool.connection() as conn:
                await conn.execute(
                    "INSERT INTO bench_leases VALUES (%s, %s, now() + interval '30 s') ON CONFLICT (id) DO UPDATE"
                    " SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at"
                    " WHERE bench_leases.expires_at < now()",
                    (sid, holder),
                )
            async with pool.connection() as conn:
                await conn.execute("DELETE FROM bench_leases WHERE id = %s AND holder = %s", (sid, holder))
            samples.append((time.perf_counter() - started) * 1e6)
    print(f"3. lease row (upsert + delete on the pool, WAL-logged): p50 {statistics.median(samples):.0f} us per turn")


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.session_locks")
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--turns", type=int, default=50)
    parser.add_argument("--provider-seconds", type=float, default=2.0)
    args = parser.parse_args()
    async with scratch(args.url) as url:
        await concurrent_turns(url, args.turns, args.provider_seconds)
        await lock_cost(url, 2000)
        for connections in (1, 2, 4):
            await short_turn_rate(url, connections, 3000, 64)
        await lease_row_cost(url, 2000)


if __name__ == "__main__":
    asyncio.run(main())

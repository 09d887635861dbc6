"""PostgreSQL session and feedback stores: locks across pools, failures, pool use."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from psycopg_pool import AsyncConnectionPool

from adapters.feedback.postgres import PostgresFeedbackRepo
from adapters.sessions.postgres import PostgresSessionLocks, PostgresSessionRepo, create_pg_pool
from domain.errors import StorageUnavailable
from domain.models import Message
from tests.conftest import open_pg_pool, open_session_locks

UNREACHABLE = "postgresql://postgres@127.0.0.1:1/nowhere?connect_timeout=1"

T0 = 1_700_000_000.5


def user(text: str) -> Message:
    return Message(role="user", content=text, created_at=T0)


@pytest.fixture
async def unreachable_pool() -> AsyncIterator[AsyncConnectionPool]:
    pool = create_pg_pool(UNREACHABLE, 0, 2, timeout=0.5)
    await pool.open(wait=False)
    yield pool
    await pool.close()


async def test_sessions_on_an_unreachable_database_raise_a_clear_storage_error(
    unreachable_pool: AsyncConnectionPool,
) -> None:
    locks = PostgresSessionLocks(UNREACHABLE, connect_timeout=0.5)
    repo = PostgresSessionRepo(unreachable_pool, locks)

    with pytest.raises(StorageUnavailable, match=r"session storage \(PostgreSQL\) unavailable"):
        await repo.get("s-1")
    with pytest.raises(StorageUnavailable):
        await repo.append("s-1", "alice", [user("hi")], max_messages=10, now=T0)
    with pytest.raises(StorageUnavailable):
        async with repo.lock("s-1"):
            pass
    assert await repo.ping() is False


async def test_feedback_on_an_unreachable_database_raises_a_clear_storage_error(
    unreachable_pool: AsyncConnectionPool,
) -> None:
    with pytest.raises(StorageUnavailable, match=r"feedback storage \(PostgreSQL\) unavailable"):
        await PostgresFeedbackRepo(unreachable_pool).is_blacklisted("ai:k")


async def test_a_turn_needs_no_more_than_one_pooled_connection(postgres_url: str) -> None:
    async with open_pg_pool(postgres_url, max_size=1) as pool, open_session_locks(postgres_url) as locks:
        repo = PostgresSessionRepo(pool, locks)

        async with asyncio.timeout(10), repo.lock("s-small-pool"):
            await repo.get("s-small-pool")
            await repo.append("s-small-pool", "alice", [user("hi")], max_messages=10, now=T0)

        assert await repo.get("s-small-pool") is not None


async def test_two_stores_on_separate_pools_serialise_turns_on_one_session(postgres_url: str) -> None:
    async with (
        open_pg_pool(postgres_url) as first_pool,
        open_pg_pool(postgres_url) as second_pool,
        open_session_locks(postgres_url) as first_locks,
        open_session_locks(postgres_url, wait_seconds=0.2) as impatient_locks,
    ):
        first = PostgresSessionRepo(first_pool, first_locks)
        impatient = PostgresSessionRepo(second_pool, impatient_locks)

        async with first.lock("s-shared"):
            with pytest.raises(StorageUnavailable, match="waiting for another turn"):
                async with impatient.lock("s-shared"):
                    pass

        async with asyncio.timeout(10), impatient.lock("s-shared"):
            pass


async def test_concurrent_turns_through_two_stores_lose_nothing_and_stay_paired(postgres_url: str) -> None:
    async with (
        open_pg_pool(postgres_url) as first_pool,
        open_pg_pool(postgres_url) as second_pool,
        open_session_locks(postgres_url) as first_locks,
        open_session_locks(postgres_url) as second_locks,
    ):
        stores = [PostgresSessionRepo(first_pool, first_locks), PostgresSessionRepo(second_pool, second_locks)]

        async def turn(n: int) -> None:
            store = stores[n % 2]
            async with store.lock("s-busy"):
                await asyncio.sleep(0.01)
                answer = Message(role="assistant", content=f"a{n}", created_at=T0)
                await store.append("s-busy", "alice", [user(f"q{n}"), answer], max_messages=100, now=T0 + n)

        await asyncio.gather(*(turn(n) for n in range(8)))

        session = await stores[0].get("s-busy")
        assert session is not None
        contents = [m.content for m in session.messages]
        assert sorted(contents) == sorted([f"q{n}" for n in range(8)] + [f"a{n}" for n in range(8)])
        assert all(contents[i][1:] == contents[i + 1][1:] for i in range(0, 16, 2))


async def test_a_turn_cancelled_while_waiting_does_not_keep_the_lock(postgres_url: str) -> None:
    async with (
        open_pg_pool(postgres_url) as first_pool,
        open_pg_pool(postgres_url) as second_pool,
        open_session_locks(postgres_url) as first_locks,
        open_session_locks(postgres_url) as second_locks,
    ):
        holder, waiter = PostgresSessionRepo(first_pool, first_locks), PostgresSessionRepo(second_pool, second_locks)
        entered = asyncio.Event()

        async def wait_for_turn() -> None:
            async with waiter.lock("s-cancel"):
                entered.set()

        async with holder.lock("s-cancel"):
            waiting = asyncio.create_task(wait_for_turn())
            await asyncio.sleep(0.2)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting

        assert not entered.is_set()
        async with asyncio.timeout(10), waiter.lock("s-cancel"):
            pass


async def test_appends_without_the_lock_are_still_atomic(postgres_url: str) -> None:
    async with open_pg_pool(postgres_url) as pool, open_session_locks(postgres_url) as locks:
        repo = PostgresSessionRepo(pool, locks)

        await asyncio.gather(
            *(repo.append("s-race", "alice", [user(f"m{n}")], max_messages=100, now=T0) for n in range(10))
        )

        session = await repo.get("s-race")
        assert session is not None
        assert sorted(m.content for m in session.messages) == sorted(f"m{n}" for n in range(10))


async def test_a_new_store_on_the_same_database_sees_earlier_sessions(postgres_url: str) -> None:
    async with open_pg_pool(postgres_url) as pool, open_session_locks(postgres_url) as locks:
        await PostgresSessionRepo(pool, locks).append("s-kept", "alice", [user("remember me")], max_messages=10, now=T0)
    async with asyncio.timeout(10), open_session_locks(postgres_url) as locks:
        pool = create_pg_pool(postgres_url, 1, 2, timeout=5)
        await pool.open(wait=True)
        try:
            session = await PostgresSessionRepo(pool, locks).get("s-kept")
        finally:
            await pool.close()

    assert session is not None
    assert [m.content for m in session.messages] == ["remember me"]

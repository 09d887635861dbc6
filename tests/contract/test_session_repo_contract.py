"""The ``SessionRepo`` contract, run against memory, Redis, PostgreSQL, and PostgreSQL behind a Redis copy.

``repo`` is one store; ``pair`` is two stores on one backend, as two gateway
processes would hold them (their own pools, clients and lock connections; for
memory, the one store a process has).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import pytest

from adapters.sessions.cached import CachedSessionRepo
from adapters.sessions.memory import MemorySessionRepo
from adapters.sessions.postgres import PostgresSessionRepo
from adapters.sessions.redis import RedisSessionRepo
from adapters.sessions.redis_copy import RedisSessionCopy
from domain.content import ImagePart, ReasoningPart, TextPart, ToolCallPart, ToolResultPart
from domain.models import Message
from domain.ports import SessionRepo
from tests.conftest import open_pg_pool, open_redis_client, open_session_locks

T0 = 1_700_000_000.5


BACKENDS = ["memory", "redis", "postgres", "postgres+redis"]


@asynccontextmanager
async def open_store(request: pytest.FixtureRequest, backend: str) -> AsyncIterator[SessionRepo]:
    """One store on ``backend``; the pool holds at most 4 connections, as the fixtures' pools do."""
    async with AsyncExitStack() as stack:
        if backend in ("redis", "postgres+redis"):
            client = await stack.enter_async_context(open_redis_client(request.getfixturevalue("redis_url")))
        if backend in ("postgres", "postgres+redis"):
            url = request.getfixturevalue("postgres_url")
            pool = await stack.enter_async_context(open_pg_pool(url))
            primary = PostgresSessionRepo(pool, await stack.enter_async_context(open_session_locks(url)))
        prefix = request.getfixturevalue("redis_prefix") if "redis" in backend else ""
        if backend == "memory":
            yield MemorySessionRepo()
        elif backend == "redis":
            yield RedisSessionRepo(client, ttl_seconds=600, key_prefix=prefix)
        elif backend == "postgres":
            yield primary
        else:
            yield CachedSessionRepo(primary, RedisSessionCopy(client, ttl_seconds=600, key_prefix=prefix))


@pytest.fixture(params=BACKENDS)
async def repo(request: pytest.FixtureRequest) -> AsyncIterator[SessionRepo]:
    async with open_store(request, request.param) as store:
        yield store


@pytest.fixture(params=BACKENDS)
async def pair(request: pytest.FixtureRequest) -> AsyncIterator[tuple[SessionRepo, SessionRepo]]:
    if request.param == "memory":
        store = MemorySessionRepo()
        yield store, store
        return
    async with open_store(request, request.param) as first, open_store(request, request.param) as second:
        yield first, second


def new_id() -> str:
    return f"s-{uuid.uuid4().hex}"


def user(text: str, at: float = T0) -> Message:
    return Message(role="user", content=text, created_at=at)


def assistant(text: str, at: float = T0, key: str = "ai:abc") -> Message:
    return Message(role="assistant", content=text, model="mock-model", tokens=7, cache_key=key, created_at=at)


async def test_an_unknown_session_is_none(repo: SessionRepo) -> None:
    assert await repo.get(new_id()) is None


async def test_the_first_append_creates_the_session_for_its_user(repo: SessionRepo) -> None:
    sid = new_id()

    session = await repo.append(sid, "alice", [user("hola")], max_messages=10, now=T0)

    assert session.id == sid
    assert session.user_id == "alice"
    assert session.messages == (user("hola"),)
    assert session.created_at == pytest.approx(T0)
    assert session.updated_at == pytest.approx(T0)
    assert await repo.get(sid) == session


async def test_every_message_field_survives_the_round_trip(repo: SessionRepo) -> None:
    sid = new_id()
    turn = [user("¿Qué es un closure?", T0 + 0.25), assistant("Una función con su entorno ✓", T0 + 1.5, "ai:k1")]

    await repo.append(sid, "alice", turn, max_messages=10, now=T0 + 2)

    stored = await repo.get(sid)
    assert stored is not None
    assert stored.messages == tuple(turn)


async def test_rich_messages_survive_the_round_trip_with_every_part(repo: SessionRepo) -> None:
    sid = new_id()
    image = ImagePart(media_type="image/png", data=b"\x89PNG\r\n\x1a\n\x00\xff")
    call = ToolCallPart(id="call_1", name="get_weather", arguments='{"city": "Lima"}')
    turn = [
        Message(
            role="user", parts=(TextPart(text="¿Y esta foto?"), image, ImagePart(url="https://x/y.png")), created_at=T0
        ),
        Message(
            role="assistant",
            parts=(ReasoningPart(text="hmm", signature="sig", redacted=b"\x00opaque"), TextPart(text="mira"), call),
            model="mock-model",
            tokens=9,
            cache_key="ai:k2",
            created_at=T0,
        ),
        Message(
            role="tool", parts=(ToolResultPart(call_id="call_1", parts=(TextPart(text="18"), image)),), created_at=T0
        ),
        Message(role="tool", parts=(ToolResultPart(call_id="call_2", content="boom", is_error=True),), created_at=T0),
    ]

    await repo.append(sid, "alice", turn, max_messages=10, now=T0 + 2)

    stored = await repo.get(sid)
    assert stored is not None
    assert stored.messages == tuple(turn)


async def test_appends_keep_their_order_and_the_creation_time(repo: SessionRepo) -> None:
    sid = new_id()
    await repo.append(sid, "alice", [user("one"), assistant("two")], max_messages=10, now=T0)

    session = await repo.append(sid, "alice", [user("three"), assistant("four")], max_messages=10, now=T0 + 60)

    assert [m.content for m in session.messages] == ["one", "two", "three", "four"]
    assert session.created_at == pytest.approx(T0)
    assert session.updated_at == pytest.approx(T0 + 60)
    assert await repo.get(sid) == session


async def test_only_the_last_max_messages_are_kept(repo: SessionRepo) -> None:
    sid = new_id()
    for turn in range(4):
        await repo.append(sid, "alice", [user(f"q{turn}"), assistant(f"a{turn}")], max_messages=5, now=T0 + turn)

    session = await repo.get(sid)

    assert session is not None
    assert [m.content for m in session.messages] == ["a1", "q2", "a2", "q3", "a3"]


async def test_the_session_keeps_the_user_who_created_it(repo: SessionRepo) -> None:
    sid = new_id()
    await repo.append(sid, "alice", [user("mine")], max_messages=10, now=T0)

    session = await repo.append(sid, "mallory", [user("also mine?")], max_messages=10, now=T0 + 1)

    assert session.user_id == "alice"


async def test_sessions_do_not_share_messages(repo: SessionRepo) -> None:
    first, second = new_id(), new_id()
    await repo.append(first, "alice", [user("for the first")], max_messages=10, now=T0)
    await repo.append(second, "bob", [user("for the second")], max_messages=10, now=T0)

    stored = await repo.get(first)

    assert stored is not None
    assert [m.content for m in stored.messages] == ["for the first"]


async def test_delete_removes_a_session_and_says_whether_it_existed(repo: SessionRepo) -> None:
    sid = new_id()
    await repo.append(sid, "alice", [user("bye")], max_messages=10, now=T0)

    assert await repo.delete(sid) is True
    assert await repo.get(sid) is None
    assert await repo.delete(sid) is False


async def test_a_deleted_session_starts_afresh(repo: SessionRepo) -> None:
    sid = new_id()
    await repo.append(sid, "alice", [user("old")], max_messages=10, now=T0)
    await repo.delete(sid)

    session = await repo.append(sid, "bob", [user("new")], max_messages=10, now=T0 + 5)

    assert session.user_id == "bob"
    assert [m.content for m in session.messages] == ["new"]
    assert session.created_at == pytest.approx(T0 + 5)


async def test_turns_holding_the_lock_run_one_at_a_time(repo: SessionRepo) -> None:
    sid = new_id()
    seen: list[int] = []

    async def turn(n: int) -> None:
        async with repo.lock(sid):
            before = await repo.get(sid)
            seen.append(len(before.messages) if before else 0)
            await asyncio.sleep(0.01)  # give another turn every chance to cut in
            await repo.append(sid, "alice", [user(f"q{n}"), assistant(f"a{n}")], max_messages=100, now=T0 + n)

    await asyncio.gather(*(turn(n) for n in range(6)))

    session = await repo.get(sid)
    assert session is not None
    assert sorted(seen) == [0, 2, 4, 6, 8, 10]
    contents = [m.content for m in session.messages]
    assert len(contents) == 12
    assert all(contents[i][1:] == contents[i + 1][1:] for i in range(0, 12, 2))


async def test_the_lock_of_one_session_does_not_block_another(repo: SessionRepo) -> None:
    first, second = new_id(), new_id()

    async with repo.lock(first):
        async with asyncio.timeout(10):
            async with repo.lock(second):
                await repo.append(second, "bob", [user("not blocked")], max_messages=10, now=T0)

    assert await repo.get(second) is not None


async def test_the_lock_is_free_again_after_a_failed_turn(repo: SessionRepo) -> None:
    sid = new_id()
    with pytest.raises(RuntimeError):
        async with repo.lock(sid):
            raise RuntimeError("the provider failed")

    async with asyncio.timeout(10), repo.lock(sid):
        await repo.append(sid, "alice", [user("next turn")], max_messages=10, now=T0)


async def test_a_working_store_answers_ping(repo: SessionRepo) -> None:
    assert await repo.ping() is True


async def test_many_turns_hold_their_locks_at_once_while_other_sessions_are_served(repo: SessionRepo) -> None:
    # A turn holds its lock while the provider answers, for minutes maybe: that must not hold one of
    # the store's few connections (the PostgreSQL pools here have 4), or other requests starve.
    turns, holding, answered = 12, asyncio.Semaphore(0), asyncio.Event()
    sessions = [new_id() for _ in range(turns)]

    async def turn(sid: str) -> None:
        async with repo.lock(sid):
            holding.release()
            await answered.wait()
            await repo.append(sid, "alice", [user("q"), assistant("a")], max_messages=10, now=T0)

    running = [asyncio.create_task(turn(sid)) for sid in sessions]
    try:
        async with asyncio.timeout(10):
            for _ in range(turns):
                await holding.acquire()
            other = new_id()
            await repo.append(other, "bob", [user("meanwhile")], max_messages=10, now=T0)
            assert await repo.get(other) is not None
    finally:
        answered.set()
        await asyncio.gather(*running)

    assert all([await repo.get(sid) for sid in sessions])


async def test_a_change_through_one_process_is_seen_by_the_other(pair: tuple[SessionRepo, SessionRepo]) -> None:
    first, second = pair
    sid = new_id()
    await first.append(sid, "alice", [user("one")], max_messages=10, now=T0)
    seen = await second.get(sid)  # a read that may leave a copy behind
    assert seen is not None and [m.content for m in seen.messages] == ["one"]

    await first.append(sid, "alice", [user("two")], max_messages=10, now=T0 + 1)
    seen = await second.get(sid)
    assert seen is not None and [m.content for m in seen.messages] == ["one", "two"]

    assert await first.delete(sid) is True
    assert await second.get(sid) is None
    assert await second.get(sid) is None


async def test_turns_through_two_processes_run_one_at_a_time(pair: tuple[SessionRepo, SessionRepo]) -> None:
    sid = new_id()
    seen: list[int] = []

    async def turn(n: int) -> None:
        store = pair[n % 2]
        async with store.lock(sid):
            before = await store.get(sid)
            seen.append(len(before.messages) if before else 0)
            await asyncio.sleep(0.01)
            await store.append(sid, "alice", [user(f"q{n}"), assistant(f"a{n}")], max_messages=100, now=T0 + n)

    async with asyncio.timeout(30):
        await asyncio.gather(*(turn(n) for n in range(6)))

    assert sorted(seen) == [0, 2, 4, 6, 8, 10]


async def test_sessions_whose_32_bit_hashes_collide_do_not_wait_for_each_other(
    pair: tuple[SessionRepo, SessionRepo],
) -> None:
    # PostgreSQL's hashtext() gives these two ids the same 32-bit value (the former advisory lock key).
    first, second = pair
    async with first.lock("s-45521"), asyncio.timeout(5), second.lock("s-51051"):
        await second.append("s-51051", "bob", [user("not blocked")], max_messages=10, now=T0)


async def test_an_id_with_slashes_and_accents_is_stored_and_locked_as_any_other(repo: SessionRepo) -> None:
    sid = f"s/{uuid.uuid4().hex}/ñandú:{{tag}}"
    async with asyncio.timeout(10), repo.lock(sid):
        await repo.append(sid, "alice", [user("hola")], max_messages=10, now=T0)

    stored = await repo.get(sid)
    assert stored is not None and stored.id == sid
    assert await repo.delete(sid) is True

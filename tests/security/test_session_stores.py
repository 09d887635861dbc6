"""Issue 11, items 6 and 14: the session stores under load, races and partial failures.

* PostgreSQL turn locks hold no pooled connection (50 streams on a pool of 5),
  use 64-bit keys, and a turn whose lock connection broke cannot store itself.
* The Redis copy in front of PostgreSQL never brings a deleted session or an
  older history back, and a change one process could not finish or announce
  is seen by every process.
* Memory sessions are bounded in number and expire when idle.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any
from urllib.parse import urlparse

import httpx
import psycopg
import pytest

from adapters.backends.redis_client import create_redis_client
from adapters.feedback.postgres import PostgresFeedbackRepo
from adapters.sessions.cached import CachedSessionRepo
from adapters.sessions.memory import MemorySessionRepo
from adapters.sessions.postgres import PostgresSessionLocks, PostgresSessionRepo
from adapters.sessions.postgres_locks import session_lock_key
from adapters.sessions.redis_copy import RedisSessionCopy
from domain.errors import StorageUnavailable
from domain.models import Message, Session
from domain.ports import SessionRepo
from entrypoints.bootstrap.adapter_choice import build_sessions
from entrypoints.config import ConfigError, load_settings
from tests.conftest import open_pg_pool, open_session_locks, scratch_database
from tests.fakes import FakeClock
from tests.support.server import ServerProcess
from tests.support.services import running
from tests.support.sse import aiter_events

T0 = 1_700_000_000.5


def new_id() -> str:
    return f"s-{uuid.uuid4().hex}"


def user(text: str) -> Message:
    return Message(role="user", content=text, created_at=T0)


def contents(session: Session | None) -> list[str]:
    assert session is not None
    return [m.content for m in session.messages]


# ---------------------------------------------------------------- item 6: locks off the statement pool


def fifty_streams_env(database: str) -> dict[str, str]:
    return {
        "SESSION_BACKEND": "postgres",
        "POSTGRES_URL": database,
        "POSTGRES_POOL_MAX": "5",
        "MOCK_LATENCY_MS": "400",  # four words per answer: each turn holds its lock for about 1.6 s
    }


async def stream_turn(client: httpx.AsyncClient, server: ServerProcess, session: str, prompt: str) -> dict[str, Any]:
    """One streamed turn; its final event (or the error body)."""
    headers = {"X-User-ID": "alice", "X-Session-ID": session}
    url = server.base_url + "/api/v1/generate/stream"
    async with client.stream("POST", url, json={"prompt": prompt}, headers=headers) as response:
        if response.status_code != 200:
            return {"status": response.status_code, "body": (await response.aread()).decode()}
        events = [event async for event in aiter_events(response)]
    return {"status": 200, **events[-1]}


async def fifty_streams_and_probes(server: ServerProcess) -> None:
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=200)) as client:
        assert (await client.post(server.base_url + "/api/v1/generate", json={"prompt": "cached"})).status_code == 200
        probe_session = new_id()
        headers = {"X-User-ID": "alice", "X-Session-ID": probe_session}
        await client.post(server.base_url + "/api/v1/generate", json={"prompt": "probe"}, headers=headers)

        same = new_id()
        turns = [(new_id(), f"distinct {i}") for i in range(45)] + [(same, f"same{i}") for i in range(5)]
        streams = [asyncio.create_task(stream_turn(client, server, sid, prompt)) for sid, prompt in turns]
        await asyncio.sleep(1.0)  # every distinct turn now holds its session lock, waiting on the provider

        # Meanwhile: a stateless request is answered from the cache (so its blacklist check answered,
        # or the fail-safe would have skipped the cache), and a session is read.
        hit = await client.post(server.base_url + "/api/v1/generate", json={"prompt": "cached"})
        read = await client.get(f"{server.base_url}/api/v1/sessions/{probe_session}", headers={"X-User-ID": "alice"})
        still_streaming = sum(not stream.done() for stream in streams)
        results = await asyncio.gather(*streams)

    assert hit.status_code == 200 and hit.json()["cached"] is True, hit.text
    assert read.status_code == 200 and read.json()["messageCount"] == 2, read.text
    assert still_streaming > 0
    assert [r["status"] for r in results] == [200] * 50, [r for r in results if r["status"] != 200][:3]
    assert all(r["finished"] is True and "error" not in r for r in results), [r for r in results if "error" in r][:3]

    async with httpx.AsyncClient(timeout=30) as client:
        stored = (await client.get(f"{server.base_url}/api/v1/sessions/{same}", headers={"X-User-ID": "alice"})).json()
    answers = [m["content"] for m in stored["messages"][1::2]]
    assert [a.split(")")[0] for a in answers] == [f"Mock answer (turn {n}" for n in range(1, 6)]


def test_fifty_session_streams_on_a_pool_of_five_all_succeed_while_other_requests_answer(
    postgres_maintenance_url: str,
) -> None:
    with (
        scratch_database(postgres_maintenance_url) as database,
        running(ServerProcess(fifty_streams_env(database))) as (server,),
    ):
        asyncio.run(fifty_streams_and_probes(server))


async def test_blacklist_checks_answer_while_more_turns_than_connections_hold_their_locks(postgres_url: str) -> None:
    async with open_pg_pool(postgres_url, max_size=2) as pool, open_session_locks(postgres_url) as locks:
        sessions = PostgresSessionRepo(pool, locks)
        feedback = PostgresFeedbackRepo(pool, hot_path_wait_seconds=0.5)
        async with AsyncExitStack() as turns:
            for _ in range(10):
                await turns.enter_async_context(sessions.lock(new_id()))

            assert await feedback.is_blacklisted("ai:any") is False
            assert await sessions.get(new_id()) is None


# ---------------------------------------------------------------- item 14: 64-bit lock keys, fenced writes


async def test_ids_that_shared_a_32_bit_lock_key_get_distinct_64_bit_keys(postgres_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(postgres_url) as conn:
        row = await (await conn.execute("SELECT hashtext('s-45521') = hashtext('s-51051')")).fetchone()
    assert row == (True,)  # the collision the contract suite relies on
    assert session_lock_key("s-45521") != session_lock_key("s-51051")
    assert all(-(2**63) <= session_lock_key(s) < 2**63 for s in ("", "s-1", "ñ" * 1000))


async def test_a_turn_whose_lock_connection_broke_cannot_store_itself(postgres_url: str) -> None:
    async with (
        open_pg_pool(postgres_url) as pool,
        open_session_locks(postgres_url) as ours,
        open_session_locks(postgres_url) as theirs,
    ):
        repo, other_process = PostgresSessionRepo(pool, ours), PostgresSessionRepo(pool, theirs)
        sid = new_id()
        async with repo.lock(sid):
            await terminate_lock_connections(pool)
            # Its lock is gone: another process may run a turn now, so this one must not land.
            async with asyncio.timeout(10), other_process.lock(sid):
                await other_process.append(sid, "alice", [user("theirs")], max_messages=10, now=T0)
            with pytest.raises(StorageUnavailable, match="lost this session's lock"):
                await repo.append(sid, "alice", [user("ours")], max_messages=10, now=T0)

        assert contents(await repo.get(sid)) == ["theirs"]
        async with asyncio.timeout(10), repo.lock(sid):  # a fresh lock connection serves the next turn
            await repo.append(sid, "alice", [user("next")], max_messages=10, now=T0)
        assert contents(await repo.get(sid)) == ["theirs", "next"]


async def test_a_lock_connection_the_server_ended_while_idle_is_replaced_without_failing_a_turn(
    postgres_url: str,
) -> None:
    async with open_pg_pool(postgres_url) as pool, open_session_locks(postgres_url) as locks:
        repo = PostgresSessionRepo(pool, locks)
        async with repo.lock(new_id()):
            pid = await lock_holder(pool)
        async with pool.connection() as conn:
            await conn.execute("SELECT pg_terminate_backend(%s)", (pid,))

        sid = new_id()
        async with asyncio.timeout(10), repo.lock(sid):
            await repo.append(sid, "alice", [user("still served")], max_messages=10, now=T0)
        assert contents(await repo.get(sid)) == ["still served"]


async def lock_holder(pool: Any) -> int:
    async with pool.connection() as conn:
        row = await (await conn.execute("SELECT pid FROM pg_locks WHERE locktype = 'advisory'")).fetchone()
    assert row is not None
    return int(row[0])


async def terminate_lock_connections(pool: Any) -> None:
    """End every server process that holds an advisory lock (as a dropped connection would)."""
    async with pool.connection() as conn:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND pid <> pg_backend_pid()"
        )


# ---------------------------------------------------------------- item 14: the Redis copy in front of PostgreSQL


class PausingReads:
    """The store of record with a read that stops after reading until ``resume`` (a slow GET)."""

    def __init__(self, inner: SessionRepo) -> None:
        self.inner = inner
        self.pause = False
        self.read_done = asyncio.Event()
        self.resume = asyncio.Event()

    async def get(self, session_id: str) -> Session | None:
        session = await self.inner.get(session_id)
        if self.pause:
            self.read_done.set()
            await self.resume.wait()
        return session

    async def append(
        self, session_id: str, user_id: str, messages: Sequence[Message], *, max_messages: int, now: float
    ) -> Session:
        return await self.inner.append(session_id, user_id, messages, max_messages=max_messages, now=now)

    async def delete(self, session_id: str) -> bool:
        return await self.inner.delete(session_id)

    def lock(self, session_id: str) -> AbstractAsyncContextManager[None]:
        return self.inner.lock(session_id)

    async def ping(self) -> bool:
        return await self.inner.ping()


class CutBeforeWrites(PausingReads):
    """The store of record of a process that loses Redis while it writes (after announcing the change)."""

    def __init__(self, inner: SessionRepo, proxy: CuttableProxy) -> None:
        super().__init__(inner)
        self.proxy = proxy

    async def append(
        self, session_id: str, user_id: str, messages: Sequence[Message], *, max_messages: int, now: float
    ) -> Session:
        await self.proxy.cut()
        return await self.inner.append(session_id, user_id, messages, max_messages=max_messages, now=now)


class CuttableProxy:
    """A TCP proxy in front of Redis that can drop every connection and refuse new ones, then come back."""

    def __init__(self, target_url: str) -> None:
        target = urlparse(target_url)
        self._target = (target.hostname or "127.0.0.1", target.port or 6379)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.refusing = False
        self.url = ""

    async def start(self) -> CuttableProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"redis://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/0"
        return self

    async def cut(self) -> None:
        self.refusing = True
        for writer in list(self._writers):
            writer.close()

    def restore(self) -> None:
        self.refusing = False

    async def close(self) -> None:
        await self.cut()
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refusing:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection(*self._target)
        self._writers |= {writer, up_writer}
        try:
            await asyncio.gather(_pump(reader, up_writer), _pump(up_reader, writer), return_exceptions=True)
        finally:
            self._writers -= {writer, up_writer}


async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    finally:
        sink.close()


@asynccontextmanager
async def cached_store(
    postgres_url: str, redis_url: str, prefix: str, wrap: Any = PausingReads, change_seconds: float = 30.0
) -> AsyncIterator[tuple[CachedSessionRepo, Any]]:
    """One process's ``CachedSessionRepo``: its store of record wrapped by ``wrap``."""
    async with open_pg_pool(postgres_url) as pool, open_session_locks(postgres_url) as locks:
        client = create_redis_client(redis_url, socket_timeout=2.0, connect_timeout=1.0)
        try:
            primary = wrap(PostgresSessionRepo(pool, locks))
            copy = RedisSessionCopy(client, ttl_seconds=600, key_prefix=prefix, change_seconds=change_seconds)
            yield CachedSessionRepo(primary, copy), primary
        finally:
            await client.aclose()


async def test_a_get_racing_a_delete_does_not_bring_the_session_back(
    postgres_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with (
        cached_store(postgres_url, redis_url, redis_prefix) as (repo, primary),
        cached_store(postgres_url, redis_url, redis_prefix) as (other_process, _),
    ):
        sid = new_id()
        await primary.inner.append(sid, "alice", [user("old")], max_messages=10, now=T0)  # no copy yet
        primary.pause = True
        reading = asyncio.create_task(repo.get(sid))
        await primary.read_done.wait()  # the GET has read the session, and not filled the copy yet

        assert await other_process.delete(sid) is True
        primary.resume.set()
        await reading
        primary.pause = False

        assert await repo.get(sid) is None
        assert await other_process.get(sid) is None


async def test_a_get_racing_a_turn_does_not_put_the_older_history_back(
    postgres_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with (
        cached_store(postgres_url, redis_url, redis_prefix) as (repo, primary),
        cached_store(postgres_url, redis_url, redis_prefix) as (other_process, _),
    ):
        sid = new_id()
        await primary.inner.append(sid, "alice", [user("one")], max_messages=10, now=T0)
        primary.pause = True
        reading = asyncio.create_task(repo.get(sid))
        await primary.read_done.wait()

        await other_process.append(sid, "alice", [user("two")], max_messages=10, now=T0)  # the same second
        primary.resume.set()
        assert contents(await reading) == ["one"]
        primary.pause = False

        assert contents(await other_process.get(sid)) == ["one", "two"]
        assert contents(await repo.get(sid)) == ["one", "two"]


@pytest.fixture
async def redis_proxy(redis_url: str) -> AsyncIterator[CuttableProxy]:
    proxy = await CuttableProxy(redis_url).start()
    yield proxy
    await proxy.close()


async def test_a_change_whose_copy_could_not_be_refreshed_is_seen_by_every_process(
    postgres_url: str, redis_url: str, redis_prefix: str, redis_proxy: CuttableProxy
) -> None:
    def cut_before_writes(inner: SessionRepo) -> CutBeforeWrites:
        return CutBeforeWrites(inner, redis_proxy)

    async with (
        cached_store(postgres_url, redis_proxy.url, redis_prefix, cut_before_writes, 0.5) as (repo, _),
        cached_store(postgres_url, redis_url, redis_prefix) as (other_process, _),
    ):
        sid = new_id()
        await other_process.append(sid, "alice", [user("one")], max_messages=10, now=T0)
        assert contents(await other_process.get(sid)) == ["one"]  # from the copy

        await repo.append(sid, "alice", [user("two")], max_messages=10, now=T0 + 1)  # Redis lost midway

        assert repo.errors >= 1
        assert contents(await other_process.get(sid)) == ["one", "two"]
        await asyncio.sleep(0.6)  # the change mark has expired: the copy is filled again, from PostgreSQL
        assert contents(await other_process.get(sid)) == ["one", "two"]
        assert contents(await other_process.get(sid)) == ["one", "two"]


async def test_a_change_made_without_redis_is_announced_when_redis_is_back(
    postgres_url: str, redis_url: str, redis_prefix: str, redis_proxy: CuttableProxy
) -> None:
    async with (
        cached_store(postgres_url, redis_proxy.url, redis_prefix) as (repo, _),
        cached_store(postgres_url, redis_url, redis_prefix) as (other_process, _),
    ):
        sid = new_id()
        await other_process.append(sid, "alice", [user("one")], max_messages=10, now=T0)
        assert contents(await other_process.get(sid)) == ["one"]

        await redis_proxy.cut()
        await repo.append(sid, "alice", [user("two")], max_messages=10, now=T0 + 1)
        assert contents(await repo.get(sid)) == ["one", "two"]  # this process knows its copy is stale

        redis_proxy.restore()
        assert await repo.get(new_id()) is None  # any use of the copy announces what it missed first
        assert contents(await other_process.get(sid)) == ["one", "two"]


# ---------------------------------------------------------------- item 14: bounded memory sessions


async def test_memory_sessions_beyond_the_bound_evict_the_least_recently_used() -> None:
    repo = MemorySessionRepo(max_sessions=3, ttl_seconds=600, clock=FakeClock())
    for sid in ("a", "b", "c"):
        await repo.append(sid, "alice", [user(sid)], max_messages=10, now=T0)
    await repo.get("a")  # "b" is now the least recently used

    await repo.append("d", "alice", [user("d")], max_messages=10, now=T0)

    assert len(repo) == 3
    assert await repo.get("b") is None
    assert [s for s in ("a", "c", "d") if await repo.get(s) is not None] == ["a", "c", "d"]


async def test_an_idle_memory_session_expires_and_a_used_one_lives_on() -> None:
    clock = FakeClock()
    repo = MemorySessionRepo(max_sessions=10, ttl_seconds=60, clock=clock)
    await repo.append("idle", "alice", [user("x")], max_messages=10, now=T0)
    await repo.append("used", "alice", [user("y")], max_messages=10, now=T0)

    for _ in range(3):
        clock.advance(40)
        assert await repo.get("used") is not None

    assert await repo.get("idle") is None
    assert len(repo) == 1
    assert await repo.delete("idle") is False
    clock.advance(61)
    assert len(repo) == 0


async def test_the_memory_store_takes_its_bounds_from_the_settings() -> None:
    settings = load_settings(environ={"SESSION_MEMORY_MAX": "2", "SESSION_CACHE_TTL": "60"}, dotenv=None)
    clock = FakeClock()
    repo = build_sessions(settings, clock, None, None, None)
    for sid in ("a", "b", "c"):
        await repo.append(sid, "alice", [user(sid)], max_messages=10, now=T0)
    assert await repo.get("a") is None and await repo.get("c") is not None
    clock.advance(61)
    assert await repo.get("c") is None


@pytest.mark.parametrize(
    "variable, value",
    [("SESSION_MEMORY_MAX", "0"), ("SESSION_MEMORY_MAX", "many"), ("POSTGRES_LOCK_CONNECTIONS", "0")],
)
def test_a_bad_session_store_bound_is_a_configuration_error_naming_it(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        load_settings(environ={variable: value}, dotenv=None)


def test_lock_connections_are_at_least_one() -> None:
    with pytest.raises(ValueError, match="connections"):
        PostgresSessionLocks("postgresql://unused", connections=0)

"""Redis that fails or dies: the cache misses and recovers, sessions fail clearly."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator, Sequence

import pytest
import redis.asyncio as aioredis

from adapters.cache.redis import RedisCache, create_redis_client
from adapters.sessions.cached import CachedSessionRepo, CopyRead
from adapters.sessions.memory import MemorySessionRepo
from adapters.sessions.redis import RedisSessionRepo
from adapters.sessions.redis_copy import RedisSessionCopy
from domain.errors import StorageUnavailable
from domain.models import CacheEntry, Message, Session, Usage
from tests.conftest import service_unavailable

ENTRY = CacheEntry(content="Paris", model="mock-model", provider="mock", usage=Usage(prompt_tokens=3))
T0 = 1_700_000_000.5


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """A throwaway ``redis-server`` of this test on a port of its own, without persistence."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            service_unavailable("redis-server is not installed")
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self._process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._wait_until_answering()

    def stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=10)
            self._process = None

    def _wait_until_answering(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def dead_redis() -> AsyncIterator[aioredis.Redis]:
    client = create_redis_client(f"redis://127.0.0.1:{free_port()}/0", socket_timeout=1.0, connect_timeout=1.0)
    yield client
    await client.aclose()


async def test_a_redis_that_is_gone_makes_the_cache_miss_and_counts_each_failure(dead_redis: aioredis.Redis) -> None:
    failed: list[str] = []
    cache = RedisCache(dead_redis, on_error=failed.append)

    await cache.set("ai:k", ENTRY, 60)
    assert await cache.get("ai:k") is None
    assert await cache.delete("ai:k") is False
    assert await cache.ping() is False

    assert failed == ["set", "get", "delete", "ping"]
    assert cache.errors == 4


async def test_the_cache_recovers_by_itself_when_redis_comes_back(redis_server: RedisServer) -> None:
    failed: list[str] = []
    client = create_redis_client(redis_server.url, socket_timeout=1.0, connect_timeout=1.0)
    cache = RedisCache(client, on_error=failed.append)
    try:
        await cache.set("ai:k", ENTRY, 60)
        assert await cache.get("ai:k") == ENTRY

        redis_server.stop()
        assert await cache.get("ai:k") is None
        assert failed == ["get"]

        redis_server.start()
        await cache.set("ai:k", ENTRY, 60)
        assert await cache.get("ai:k") == ENTRY
        assert failed == ["get"]
    finally:
        await client.aclose()


async def test_a_value_that_is_not_a_cache_entry_is_a_miss(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    cache = RedisCache(redis_client, key_prefix=redis_prefix)
    await redis_client.set(f"{redis_prefix}ai:legacy", b"plain text from an older version")

    assert await cache.get("ai:legacy") is None
    assert cache.errors == 1


async def test_the_cache_key_prefix_namespaces_the_keys(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    await RedisCache(redis_client, key_prefix=redis_prefix).set("ai:k", ENTRY, 60)

    assert await redis_client.exists(f"{redis_prefix}ai:k") == 1
    assert await RedisCache(redis_client, key_prefix=redis_prefix + "other:").get("ai:k") is None


async def test_the_cache_sets_the_ttl_on_the_key(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    await RedisCache(redis_client, key_prefix=redis_prefix).set("ai:k", ENTRY, 3600)

    assert 3590 <= await redis_client.ttl(f"{redis_prefix}ai:k") <= 3600


async def test_session_operations_on_a_dead_redis_raise_storage_unavailable(dead_redis: aioredis.Redis) -> None:
    repo = RedisSessionRepo(dead_redis, ttl_seconds=60)

    with pytest.raises(StorageUnavailable, match="Redis"):
        await repo.get("s-1")
    with pytest.raises(StorageUnavailable, match="Redis"):
        await repo.append("s-1", "alice", [Message(role="user", content="hi")], max_messages=10, now=T0)
    with pytest.raises(StorageUnavailable, match="Redis"):
        async with repo.lock("s-1"):
            pass
    assert await repo.ping() is False


async def test_the_session_copy_expires_after_the_session_ttl(redis_client: aioredis.Redis, redis_prefix: str) -> None:
    repo = RedisSessionRepo(redis_client, ttl_seconds=900, key_prefix=redis_prefix)

    await repo.append("s-ttl", "alice", [Message(role="user", content="hi")], max_messages=10, now=T0)

    keys = [key async for key in redis_client.scan_iter(match=f"{redis_prefix}session:*")]
    assert len(keys) == 2
    ttls = [await redis_client.ttl(key) for key in keys]
    assert all(880 <= ttl <= 900 for ttl in ttls)


async def test_two_redis_session_stores_on_one_redis_serialise_turns(redis_url: str, redis_prefix: str) -> None:
    first_client = create_redis_client(redis_url, socket_timeout=2, connect_timeout=2)
    second_client = create_redis_client(redis_url, socket_timeout=2, connect_timeout=2)
    first = RedisSessionRepo(first_client, ttl_seconds=60, key_prefix=redis_prefix)
    second = RedisSessionRepo(second_client, ttl_seconds=60, key_prefix=redis_prefix)
    try:
        async with first.lock("s-shared"):
            with pytest.raises(StorageUnavailable, match="waiting for another turn"):
                async with RedisSessionRepo(
                    second_client, ttl_seconds=60, key_prefix=redis_prefix, lock_wait_seconds=0.2
                ).lock("s-shared"):
                    pass
        async with second.lock("s-shared"):
            pass
    finally:
        await first_client.aclose()
        await second_client.aclose()


class UnavailableCopy:
    """A session copy whose backend is down."""

    async def peek(self, session_id: str) -> CopyRead:
        raise StorageUnavailable("copy down")

    async def fill(self, session: Session, version: int) -> bool:
        raise StorageUnavailable("copy down")

    async def begin_change(self, session_id: str) -> int:
        raise StorageUnavailable("copy down")

    async def end_change(self, session_id: str, generation: int, session: Session | None) -> None:
        raise StorageUnavailable("copy down")

    async def invalidate(self, session_ids: Sequence[str]) -> None:
        raise StorageUnavailable("copy down")


async def test_a_session_copy_that_is_down_does_not_fail_the_request() -> None:
    primary = MemorySessionRepo()
    repo = CachedSessionRepo(primary, UnavailableCopy())

    session = await repo.append("s-1", "alice", [Message(role="user", content="hi")], max_messages=10, now=T0)

    assert await repo.get("s-1") == session
    assert await repo.delete("s-1") is True
    assert repo.errors >= 3


async def test_a_stale_copy_is_not_read_after_its_refresh_failed(redis_server: RedisServer) -> None:
    client = create_redis_client(redis_server.url, socket_timeout=1.0, connect_timeout=1.0)
    primary = MemorySessionRepo()
    repo = CachedSessionRepo(primary, RedisSessionCopy(client, ttl_seconds=60))
    try:
        await repo.append("s-1", "alice", [Message(role="user", content="one")], max_messages=10, now=T0)
        redis_server.stop()
        await repo.append("s-1", "alice", [Message(role="user", content="two")], max_messages=10, now=T0 + 1)
        redis_server.start()  # an empty Redis, as after a restart without persistence

        session = await repo.get("s-1")

        assert session is not None
        assert [m.content for m in session.messages] == ["one", "two"]
    finally:
        await client.aclose()

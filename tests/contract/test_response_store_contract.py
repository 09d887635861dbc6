"""The ``ResponseStore`` contract, one suite over memory, Redis and PostgreSQL.

``pair`` is two stores on one backend, as two gateway processes hold them (for
memory, the one store a process has): what one keeps, the other reads.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import pytest

from adapters.sessions.responses_memory import MemoryResponseStore
from adapters.sessions.responses_postgres import PostgresResponseStore
from adapters.sessions.responses_redis import RedisResponseStore
from domain.content import ReasoningPart, TextPart, ToolCallPart, ToolResultPart
from domain.models import Message
from domain.ports import ResponseStore
from domain.stored_responses import StoredResponse, new_response_id
from tests.conftest import open_pg_pool, open_redis_client

BACKENDS = ["memory", "redis", "postgres"]


@asynccontextmanager
async def open_store(request: pytest.FixtureRequest, backend: str) -> AsyncIterator[ResponseStore]:
    async with AsyncExitStack() as stack:
        if backend == "memory":
            yield MemoryResponseStore()
        elif backend == "redis":
            client = await stack.enter_async_context(open_redis_client(request.getfixturevalue("redis_url")))
            yield RedisResponseStore(client, key_prefix=request.getfixturevalue("redis_prefix"))
        else:
            pool = await stack.enter_async_context(open_pg_pool(request.getfixturevalue("postgres_url")))
            yield PostgresResponseStore(pool)


@pytest.fixture(params=BACKENDS)
async def pair(request: pytest.FixtureRequest) -> AsyncIterator[tuple[ResponseStore, ResponseStore]]:
    if request.param == "memory":
        store = MemoryResponseStore()
        yield store, store
        return
    async with open_store(request, request.param) as first, open_store(request, request.param) as second:
        yield first, second


HISTORY = (
    Message(role="user", content="weather in Paris?"),
    Message(
        role="assistant",
        parts=(
            ReasoningPart(text="look it up", signature="sig-1", redacted=b"\x00\xffopaque"),
            ToolCallPart(id="call_1", name="weather", arguments='{"city":"Paris"}'),
        ),
        model="mock-1",
        tokens=9,
        cache_key="ai:abc",
    ),
    Message(role="tool", parts=(ToolResultPart(call_id="call_1", content="sunny"),)),
    Message(role="assistant", parts=(TextPart(text="Sunny."),), cache_key="ai:def"),
)


def stored(*, owner: str = "key-a/", ttl: float = 600.0, response_id: str | None = None) -> StoredResponse:
    now = time.time()
    return StoredResponse(
        id=response_id or new_response_id(),
        owner=owner,
        created_at=now,
        expires_at=now + ttl,
        history=HISTORY,
        document=b'{"id":"x","object":"response","output":[]}',
        input_items=b'[{"type":"message","role":"user","content":"hi \\u00e9"}]',
    )


async def test_what_one_process_keeps_another_reads_exactly(pair: tuple[ResponseStore, ResponseStore]) -> None:
    first, second = pair
    kept = stored()
    await first.put(kept)
    assert await second.get(kept.id, now=time.time()) == kept  # parts, bytes and documents unchanged


async def test_unknown_id_is_none(pair: tuple[ResponseStore, ResponseStore]) -> None:
    assert await pair[0].get(f"resp_{uuid.uuid4().hex}", now=time.time()) is None


async def test_an_expired_response_is_gone_everywhere(pair: tuple[ResponseStore, ResponseStore]) -> None:
    first, second = pair
    kept = stored(ttl=30.0)
    await first.put(kept)
    assert await second.get(kept.id, now=kept.expires_at + 1) is None
    short = stored(ttl=0.2)
    await first.put(short)
    await asyncio.sleep(0.4)  # real time too: Redis expires the key itself
    assert await second.get(short.id, now=time.time()) is None


async def test_delete_says_whether_it_existed(pair: tuple[ResponseStore, ResponseStore]) -> None:
    first, second = pair
    kept = stored()
    await first.put(kept)
    assert await second.delete(kept.id) is True
    assert await first.get(kept.id, now=time.time()) is None
    assert await first.delete(kept.id) is False


async def test_ids_are_stored_verbatim_not_as_patterns(pair: tuple[ResponseStore, ResponseStore]) -> None:
    first, second = pair
    odd = stored(response_id="resp_*{x}%_")
    await first.put(odd)
    assert await second.get("resp_*{x}%_", now=time.time()) == odd
    assert await second.get("resp_*", now=time.time()) is None
    assert await second.get("resp_%", now=time.time()) is None


async def test_memory_store_is_bounded() -> None:
    store = MemoryResponseStore(max_responses=2)
    kept = [stored() for _ in range(3)]
    for item in kept:
        await store.put(item)
    assert len(store) == 2
    assert await store.get(kept[0].id, now=time.time()) is None
    assert await store.get(kept[2].id, now=time.time()) == kept[2]

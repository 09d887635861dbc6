"""The ``Cache`` contract, run against every adapter: memory and the real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from adapters.cache.memory import MemoryCache
from adapters.cache.redis import RedisCache
from domain.models import CacheEntry, Usage
from domain.ports import Cache
from tests.conftest import open_redis_client
from tests.fakes import FakeClock


@dataclass
class CacheUnderTest:
    cache: Cache
    # Lets at least ``seconds`` pass for the backend's expiry clock.
    advance: Callable[[float], Awaitable[None]]


@pytest.fixture(params=["memory", "redis"])
async def subject(request: pytest.FixtureRequest) -> AsyncIterator[CacheUnderTest]:
    if request.param == "memory":
        clock = FakeClock(1_700_000_000.0, mono=1_000.0)

        async def advance_clock(seconds: float) -> None:
            clock.mono += seconds

        yield CacheUnderTest(MemoryCache(max_entries=100, clock=clock), advance_clock)
    else:
        prefix = request.getfixturevalue("redis_prefix")

        async def wait(seconds: float) -> None:
            # Redis expires on its own clock; only real time moves it.
            await asyncio.sleep(seconds)

        async with open_redis_client(request.getfixturevalue("redis_url")) as client:
            yield CacheUnderTest(RedisCache(client, key_prefix=prefix), wait)


def entry(content: str = "Paris") -> CacheEntry:
    return CacheEntry(
        content=content,
        model="mock-model",
        provider="mock",
        usage=Usage(prompt_tokens=12, completion_tokens=3),
        finish_reason="stop",
        cached_at=1_700_000_000.25,
        stop_sequence="END",  # the stop sequence that cut the answer travels with it
    )


async def test_an_unknown_key_is_a_miss(subject: CacheUnderTest) -> None:
    assert await subject.cache.get("ai:unknown") is None


async def test_a_stored_entry_is_read_back_equal(subject: CacheUnderTest) -> None:
    await subject.cache.set("ai:one", entry(), 60)

    assert await subject.cache.get("ai:one") == entry()


async def test_unicode_content_survives_the_round_trip(subject: CacheUnderTest) -> None:
    await subject.cache.set("ai:accents", entry("¿Qué tal? 日本語 ✓"), 60)

    cached = await subject.cache.get("ai:accents")
    assert cached is not None
    assert cached.content == "¿Qué tal? 日本語 ✓"


async def test_setting_a_key_again_replaces_its_entry(subject: CacheUnderTest) -> None:
    await subject.cache.set("ai:one", entry("first"), 60)
    await subject.cache.set("ai:one", entry("second"), 60)

    cached = await subject.cache.get("ai:one")
    assert cached is not None
    assert cached.content == "second"


async def test_keys_do_not_share_entries(subject: CacheUnderTest) -> None:
    await subject.cache.set("ai:a", entry("a"), 60)

    assert await subject.cache.get("ai:b") is None


async def test_delete_removes_an_entry_and_says_whether_it_was_there(subject: CacheUnderTest) -> None:
    await subject.cache.set("ai:one", entry(), 60)

    assert await subject.cache.delete("ai:one") is True
    assert await subject.cache.get("ai:one") is None
    assert await subject.cache.delete("ai:one") is False


async def test_a_zero_ttl_stores_nothing(subject: CacheUnderTest) -> None:
    await subject.cache.set("ai:one", entry(), 0)

    assert await subject.cache.get("ai:one") is None


async def test_an_entry_past_its_ttl_is_a_miss(subject: CacheUnderTest) -> None:
    await subject.cache.set("ai:short", entry(), 1)
    await subject.cache.set("ai:long", entry(), 3600)

    await subject.advance(1.2)

    assert await subject.cache.get("ai:short") is None
    assert await subject.cache.get("ai:long") == entry()


async def test_a_working_backend_answers_ping(subject: CacheUnderTest) -> None:
    assert await subject.cache.ping() is True

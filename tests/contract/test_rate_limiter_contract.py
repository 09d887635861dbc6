"""The ``RateLimiter`` contract, run against every adapter: memory and the real Redis."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest

from adapters.clock.system import SystemClock
from adapters.rate_limit.memory import MemoryRateLimiter
from adapters.rate_limit.redis import RedisRateLimiter
from domain.ports import RateLimiter
from domain.rate_limit import Bucket
from tests.conftest import open_redis_client

SLOW = Bucket(rate=0.001, burst=3)  # refills nothing within a test: results do not depend on timing


def memory(bucket: Bucket, overall: Bucket | None = None) -> MemoryRateLimiter:
    return MemoryRateLimiter(per_subject=bucket, overall=overall, clock=SystemClock())


@pytest.fixture(params=["memory", "redis"])
async def make(request: pytest.FixtureRequest) -> AsyncIterator[object]:
    if request.param == "memory":
        yield memory
        return
    prefix = request.getfixturevalue("redis_prefix")
    async with open_redis_client(request.getfixturevalue("redis_url")) as client:

        def redis_limiter(bucket: Bucket, overall: Bucket | None = None) -> RateLimiter:
            return RedisRateLimiter(
                client,
                per_subject=bucket,
                overall=overall,
                fallback=memory(bucket, overall),
                clock=SystemClock(),
                key_prefix=prefix,
            )

        yield redis_limiter


async def test_a_subject_gets_its_burst_then_a_refusal_with_a_retry_hint(make) -> None:  # type: ignore[no-untyped-def]
    limiter = make(SLOW)
    decisions = [await limiter.acquire("key:a") for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert decisions[-1].retry_after > 0 and decisions[-1].limit == 3


async def test_subjects_do_not_share_a_bucket(make) -> None:  # type: ignore[no-untyped-def]
    limiter = make(Bucket(rate=0.001, burst=1))
    assert (await limiter.acquire("user:ana")).allowed
    assert not (await limiter.acquire("user:ana")).allowed
    assert (await limiter.acquire("user:bob")).allowed


async def test_the_global_bucket_refuses_every_subject_once_spent(make) -> None:  # type: ignore[no-untyped-def]
    limiter = make(SLOW, Bucket(rate=0.001, burst=2))
    assert [(await limiter.acquire(f"ip:{n}")).allowed for n in range(3)] == [True, True, False]


async def test_a_bucket_refills_over_time(make) -> None:  # type: ignore[no-untyped-def]
    limiter = make(Bucket(rate=20.0, burst=1))
    assert (await limiter.acquire("key:refill")).allowed
    assert not (await limiter.acquire("key:refill")).allowed
    await asyncio.sleep(0.2)  # four times the 50 ms one token takes to come back
    assert (await limiter.acquire("key:refill")).allowed


async def test_concurrent_acquires_never_admit_more_than_the_burst(make) -> None:  # type: ignore[no-untyped-def]
    limiter = make(Bucket(rate=0.001, burst=10))
    decisions = await asyncio.gather(*(limiter.acquire("key:crowd") for _ in range(50)))
    assert sum(d.allowed for d in decisions) == 10


async def test_a_cost_takes_that_many_tokens_all_or_nothing(make) -> None:  # type: ignore[no-untyped-def]
    limiter = make(Bucket(rate=0.001, burst=5))
    taken = await limiter.acquire("key:batch", cost=3)
    assert taken.allowed and taken.remaining == 2
    refused = await limiter.acquire("key:batch", cost=3)
    assert not refused.allowed and refused.remaining == 2 and refused.retry_after > 0
    assert [(await limiter.acquire("key:batch")).allowed for _ in range(3)] == [True, True, False]


async def test_a_cost_above_the_burst_never_passes_and_takes_nothing(make) -> None:  # type: ignore[no-untyped-def]
    limiter = make(Bucket(rate=0.001, burst=3))
    assert not (await limiter.acquire("key:huge", cost=4)).allowed
    assert (await limiter.acquire("key:huge", cost=3)).allowed


async def test_the_global_bucket_is_charged_the_same_cost(make) -> None:  # type: ignore[no-untyped-def]
    limiter = make(Bucket(rate=0.001, burst=10), Bucket(rate=0.001, burst=4))
    assert (await limiter.acquire("ip:a", cost=3)).allowed
    assert not (await limiter.acquire("ip:b", cost=2)).allowed
    assert (await limiter.acquire("ip:b", cost=1)).allowed


async def test_long_subjects_that_share_a_prefix_have_buckets_of_their_own(make) -> None:  # type: ignore[no-untyped-def]
    limiter = make(Bucket(rate=0.001, burst=1))
    prefix = "key:" + "x" * 300
    assert (await limiter.acquire(prefix + "-first")).allowed
    assert (await limiter.acquire(prefix + "-second")).allowed


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_redis_that_is_down_lets_traffic_through_limited_in_process_and_counted() -> None:
    failures: list[str] = []
    async with open_redis_client(f"redis://127.0.0.1:{closed_port()}/0") as client:
        limiter = RedisRateLimiter(
            client,
            per_subject=Bucket(rate=0.001, burst=2),
            overall=None,
            fallback=memory(Bucket(rate=0.001, burst=2)),
            clock=SystemClock(),
            on_error=failures.append,
        )
        decisions = [await limiter.acquire("key:a") for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, False]  # the in-process fallback still limits
    assert failures == ["acquire"] and limiter.errors == 1  # and Redis is not retried on every request

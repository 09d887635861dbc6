"""Token buckets: burst, refill, the global bucket, and what callers are told (docs/api.md#rate-limits)."""

from __future__ import annotations

from adapters.rate_limit.memory import MemoryRateLimiter
from application.access import AccessControl
from domain.api_keys import KeyRing
from domain.models import ANYONE, Caller
from domain.rate_limit import Bucket, rate_limit_subject
from tests.fakes import FakeClock


def limiter(clock: FakeClock, *, rate: float = 2.0, burst: int = 3, overall: Bucket | None = None) -> MemoryRateLimiter:
    return MemoryRateLimiter(per_subject=Bucket(rate=rate, burst=burst), overall=overall, clock=clock)


async def test_a_full_bucket_admits_its_burst_then_refuses() -> None:
    limits = limiter(FakeClock(), burst=3)
    decisions = [await limits.acquire("key:a") for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions[:3]] == [2, 1, 0]


async def test_a_refusal_says_when_to_retry_and_the_bucket_refills_at_its_rate() -> None:
    clock = FakeClock()
    limits = limiter(clock, rate=2.0, burst=1)
    assert (await limits.acquire("s")).allowed
    refused = await limits.acquire("s")
    assert not refused.allowed and refused.retry_after == 0.5 and refused.retry_after_seconds == 1
    clock.advance(0.5)
    assert (await limits.acquire("s")).allowed


async def test_subjects_have_buckets_of_their_own() -> None:
    limits = limiter(FakeClock(), burst=1)
    assert (await limits.acquire("key:a")).allowed
    assert not (await limits.acquire("key:a")).allowed
    assert (await limits.acquire("key:b")).allowed


async def test_the_global_bucket_limits_all_subjects_together_without_spending_their_own() -> None:
    clock = FakeClock()
    limits = limiter(clock, burst=5, overall=Bucket(rate=1.0, burst=2))
    admitted = [(await limits.acquire(f"ip:{n}")).allowed for n in range(4)]
    assert admitted == [True, True, False, False]
    clock.advance(1.0)
    # ip:2 was refused by the global bucket: its own bucket still holds its whole burst
    decision = await limits.acquire("ip:2")
    assert decision.allowed and decision.remaining == 4


def test_headers_follow_the_ratelimit_fields_and_retry_after_on_refusal() -> None:
    bucket = Bucket(rate=2.0, burst=4)
    passed, refused = bucket.decide(3.0), bucket.decide(0.2)
    assert dict(passed.headers()) == {"RateLimit-Limit": "4", "RateLimit-Remaining": "2", "RateLimit-Reset": "1"}
    assert dict(refused.headers())["Retry-After"] == "1"
    assert not refused.allowed


def test_the_subject_is_the_key_else_the_address_never_a_client_chosen_id() -> None:
    assert rate_limit_subject(Caller(key_id="k1", address="10.0.0.1")) == "key:k1"
    assert rate_limit_subject(Caller(address="10.0.0.1")) == "ip:10.0.0.1"
    assert rate_limit_subject(Caller()) == "ip:unknown"


def test_an_ipv6_client_is_limited_by_its_64_block_and_a_mapped_ipv4_as_ipv4() -> None:
    first, second = Caller(address="2001:db8:1:2::1"), Caller(address="2001:db8:1:2:ffff::9")
    assert rate_limit_subject(first) == rate_limit_subject(second) == "ip:2001:db8:1:2::/64"
    assert rate_limit_subject(Caller(address="2001:db8:1:3::1")) != rate_limit_subject(first)
    assert rate_limit_subject(Caller(address="::ffff:10.0.0.7")) == "ip:10.0.0.7"


async def test_access_control_admits_by_key_and_turns_a_refusal_into_rate_limited() -> None:
    access = AccessControl(keys=KeyRing(()), limiter=limiter(FakeClock(), burst=1))
    assert (await access.admit(Caller(key_id="k1", address="10.0.0.1"))).allowed
    refused = await access.admit(Caller(key_id="k1", address="10.0.0.2"))
    assert not refused.allowed
    assert access.refusal(refused).code == "rate_limited"
    assert (await access.admit(Caller(address="10.0.0.1"))).allowed


async def test_a_cost_of_several_items_is_taken_at_once_and_a_cost_of_zero_is_free() -> None:
    access = AccessControl(keys=KeyRing(()), limiter=limiter(FakeClock(), burst=3))
    caller = Caller(key_id="k1")
    assert (await access.admit(caller, cost=0)).allowed
    assert (await access.admit(caller, cost=3)).allowed
    assert not (await access.admit(caller)).allowed


async def test_without_a_limiter_every_call_is_admitted() -> None:
    access = AccessControl(keys=KeyRing(()), limiter=None)
    assert all([(await access.admit(ANYONE)).allowed for _ in range(100)])


async def test_the_memory_limiter_keeps_a_bounded_number_of_buckets() -> None:
    limits = MemoryRateLimiter(per_subject=Bucket(rate=1.0, burst=1), overall=None, clock=FakeClock(), max_subjects=10)
    for n in range(100):
        assert (await limits.acquire(f"ip:{n}")).allowed
    assert len(limits._states) <= 10

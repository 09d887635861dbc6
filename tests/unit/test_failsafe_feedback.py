"""The fail-safe feedback record: a record that is down bypasses the cache instead of failing requests."""

from __future__ import annotations

import pytest

from adapters.feedback.failsafe import FailSafeFeedbackRepo
from adapters.feedback.memory import MemoryFeedbackRepo
from domain.errors import StorageUnavailable
from domain.models import CacheKeyQuality, FeedbackReport, FeedbackVerdict
from tests.fakes import FakeClock

REPORT = FeedbackReport(
    cache_key="ai:bad",
    reporter="key:alice",
    user_id="alice",
    session_id="s-1",
    verdict=FeedbackVerdict(has_problem=True, keywords=("bug",), severity=4),
)


class SwitchableFeedbackRepo(MemoryFeedbackRepo):
    """The memory record, which fails every call while ``down`` and counts the calls that reached it."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.calls = 0

    def _reach(self) -> None:
        self.calls += 1
        if self.down:
            raise StorageUnavailable("feedback storage (test) unavailable")

    async def is_blacklisted(self, cache_key: str) -> bool:
        self._reach()
        return await super().is_blacklisted(cache_key)

    async def count_use(self, cache_key: str) -> None:
        self._reach()
        await super().count_use(cache_key)

    async def record(self, report: FeedbackReport, *, now: float) -> CacheKeyQuality | None:
        self._reach()
        return await super().record(report, now=now)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def inner() -> SwitchableFeedbackRepo:
    return SwitchableFeedbackRepo()


@pytest.fixture
def repo(inner: SwitchableFeedbackRepo, clock: FakeClock) -> FailSafeFeedbackRepo:
    return FailSafeFeedbackRepo(inner, retry_seconds=2.0, monotonic=clock.monotonic)


async def test_a_reachable_record_answers_as_itself(repo: FailSafeFeedbackRepo) -> None:
    assert await repo.is_blacklisted("ai:bad") is False
    await repo.blacklist("ai:bad", reason="admin", now=1.0)
    assert await repo.is_blacklisted("ai:bad") is True
    assert await repo.clear_blacklist("ai:bad") is True
    assert await repo.is_blacklisted("ai:bad") is False


async def test_a_record_that_is_down_counts_every_key_as_blacklisted(
    repo: FailSafeFeedbackRepo, inner: SwitchableFeedbackRepo
) -> None:
    inner.down = True
    assert await repo.is_blacklisted("ai:any") is True
    await repo.count_use("ai:any")  # a lost tally, not an error
    assert repo.errors == 1


async def test_after_a_failure_the_record_is_left_alone_for_a_while(
    repo: FailSafeFeedbackRepo, inner: SwitchableFeedbackRepo, clock: FakeClock
) -> None:
    inner.down = True
    await repo.is_blacklisted("ai:any")
    reached = inner.calls
    assert await repo.is_blacklisted("ai:other") is True
    await repo.count_use("ai:other")
    assert inner.calls == reached

    inner.down = False
    clock.advance(2.0)
    assert await repo.is_blacklisted("ai:other") is False
    assert inner.calls == reached + 1


async def test_reports_still_fail_loudly_when_the_record_is_down(
    repo: FailSafeFeedbackRepo, inner: SwitchableFeedbackRepo
) -> None:
    inner.down = True
    with pytest.raises(StorageUnavailable):
        await repo.record(REPORT, now=1.0)

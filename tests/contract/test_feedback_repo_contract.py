"""The ``FeedbackRepo`` contract, run against memory and the real PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from adapters.feedback.memory import MemoryFeedbackRepo
from adapters.feedback.postgres import PostgresFeedbackRepo
from domain.models import FeedbackReport, FeedbackVerdict
from domain.ports import FeedbackRepo
from tests.conftest import open_pg_pool

T0 = 1_700_000_000.5

VERDICT = FeedbackVerdict(
    has_problem=True,
    keywords=("bug", "no funciona", "pattern_match"),
    severity=4,
    confidence=1.0,
    action="invalidate_immediately",
    method="keywords",
)


@pytest.fixture(params=["memory", "postgres"])
async def repo(request: pytest.FixtureRequest) -> AsyncIterator[FeedbackRepo]:
    if request.param == "memory":
        yield MemoryFeedbackRepo()
    else:
        async with open_pg_pool(request.getfixturevalue("postgres_url")) as pool:
            yield PostgresFeedbackRepo(pool)


def report(key: str = "ai:first", reporter: str = "key:alice") -> FeedbackReport:
    return FeedbackReport(
        cache_key=key,
        reporter=reporter,
        user_id="alice",
        session_id="s-1",
        verdict=VERDICT,
        original_prompt="Write a sort in Go",
        problem_prompt="that code has a bug, no funciona",
    )


async def test_an_unknown_key_is_not_blacklisted(repo: FeedbackRepo) -> None:
    assert await repo.is_blacklisted("ai:unknown") is False


async def test_the_first_report_counts_without_lowering_the_quality(repo: FeedbackRepo) -> None:
    quality = await repo.record(report(), now=T0)

    assert quality is not None
    assert quality.cache_key == "ai:first"
    assert quality.problem_reports == 1
    assert quality.quality_score == pytest.approx(1.0)
    assert quality.is_blacklisted is False
    assert quality.last_problem_at == pytest.approx(T0)


async def test_each_later_reporter_lowers_the_quality_and_the_record_never_blacklists_by_itself(
    repo: FeedbackRepo,
) -> None:
    # Whether reports retire a key is the feedback loop's rule (FEEDBACK_MIN_REPORTERS), not the record's.
    await repo.record(report(reporter="key:a"), now=T0)
    second = await repo.record(report(reporter="key:b"), now=T0 + 1)
    third = await repo.record(report(reporter="ip:10.0.0.3"), now=T0 + 2)

    assert second is not None and third is not None
    assert (second.problem_reports, second.is_blacklisted) == (2, False)
    assert second.quality_score == pytest.approx(0.9)
    assert (third.problem_reports, third.is_blacklisted) == (3, False)
    assert third.quality_score == pytest.approx(0.8)
    assert third.last_problem_at == pytest.approx(T0 + 2)
    assert await repo.is_blacklisted("ai:first") is False


async def test_a_reporter_counts_once_per_key_however_often_it_reports(repo: FeedbackRepo) -> None:
    first = await repo.record(report(reporter="key:a"), now=T0)
    repeats = [await repo.record(report(reporter="key:a"), now=T0 + n) for n in range(1, 5)]

    assert first is not None and first.problem_reports == 1
    assert repeats == [None] * 4
    (quality,) = await repo.problematic(10)
    assert (quality.problem_reports, quality.quality_score) == (1, pytest.approx(1.0))
    assert quality.last_problem_at == pytest.approx(T0)
    assert await repo.reports_since("key:a", T0) == 1


async def test_a_reporter_counts_again_on_another_key(repo: FeedbackRepo) -> None:
    await repo.record(report("ai:one", reporter="key:a"), now=T0)
    other = await repo.record(report("ai:two", reporter="key:a"), now=T0)

    assert other is not None and other.problem_reports == 1


async def test_concurrent_reports_count_each_reporter_exactly_once(repo: FeedbackRepo) -> None:
    same = await asyncio.gather(*(repo.record(report(reporter="key:a"), now=T0) for _ in range(5)))
    distinct = await asyncio.gather(*(repo.record(report(reporter=f"key:{n}"), now=T0) for n in range(5)))

    assert sum(quality is not None for quality in same) == 1
    assert sorted(quality.problem_reports for quality in distinct if quality is not None) == [2, 3, 4, 5, 6]


async def test_reports_since_counts_a_reporters_reports_on_every_key_from_a_time_on(repo: FeedbackRepo) -> None:
    for n in range(4):
        await repo.record(report(f"ai:k{n}", reporter="key:a"), now=T0 + n * 100)
    await repo.record(report("ai:k0", reporter="key:b"), now=T0)

    assert await repo.reports_since("key:a", T0) == 4
    assert await repo.reports_since("key:a", T0 + 150) == 2
    assert await repo.reports_since("key:a", T0 + 301) == 0
    assert await repo.reports_since("key:b", T0) == 1
    assert await repo.reports_since("key:never", T0) == 0


async def test_reporters_lists_a_keys_reporters_earliest_first_up_to_the_limit(repo: FeedbackRepo) -> None:
    for n, reporter in enumerate(("key:c", "ip:10.0.0.1", "key:a", "key:c")):
        await repo.record(report(reporter=reporter), now=T0 + n)

    assert await repo.reporters("ai:first", 10) == ["key:c", "ip:10.0.0.1", "key:a"]
    assert await repo.reporters("ai:first", 2) == ["key:c", "ip:10.0.0.1"]
    assert await repo.reporters("ai:unknown", 10) == []


async def test_the_quality_never_drops_below_zero(repo: FeedbackRepo) -> None:
    for n in range(14):
        quality = await repo.record(report(reporter=f"key:{n}"), now=T0 + n)

    assert quality is not None
    assert quality.problem_reports == 14
    assert quality.quality_score == pytest.approx(0.0)
    assert quality.quality_rating == "CRITICAL"


async def test_reports_on_one_key_leave_other_keys_alone(repo: FeedbackRepo) -> None:
    for n in range(3):
        await repo.record(report("ai:bad", reporter=f"key:{n}"), now=T0 + n)
    await repo.blacklist("ai:bad", reason="three reporters", now=T0 + 3)

    assert await repo.is_blacklisted("ai:good") is False
    good = await repo.record(report("ai:good"), now=T0)
    assert good is not None and good.problem_reports == 1


async def test_blacklisting_an_unreported_key_takes_effect(repo: FeedbackRepo) -> None:
    await repo.blacklist("ai:admin", reason="admin: wrong answer", now=T0)

    assert await repo.is_blacklisted("ai:admin") is True


async def test_blacklisting_twice_is_harmless(repo: FeedbackRepo) -> None:
    await repo.blacklist("ai:admin", reason="first", now=T0)
    await repo.blacklist("ai:admin", reason="second", now=T0 + 1)

    assert await repo.is_blacklisted("ai:admin") is True


async def test_clearing_lifts_the_blacklist_and_says_whether_there_was_one(repo: FeedbackRepo) -> None:
    await repo.blacklist("ai:admin", reason="severity 5", now=T0)

    assert await repo.clear_blacklist("ai:admin") is True
    assert await repo.is_blacklisted("ai:admin") is False
    assert await repo.clear_blacklist("ai:admin") is False
    assert await repo.clear_blacklist("ai:never-seen") is False


async def test_clearing_keeps_the_history_so_the_next_reporter_is_counted_after_the_others(
    repo: FeedbackRepo,
) -> None:
    for n in range(3):
        await repo.record(report(reporter=f"key:{n}"), now=T0 + n)
    await repo.blacklist("ai:first", reason="three reporters", now=T0 + 3)
    await repo.clear_blacklist("ai:first")

    again = await repo.record(report(reporter="key:0"), now=T0 + 10)
    quality = await repo.record(report(reporter="key:new"), now=T0 + 11)

    assert again is None
    assert quality is not None and quality.problem_reports == 4
    assert quality.is_blacklisted is False
    assert await repo.reporters("ai:first", 10) == ["key:0", "key:1", "key:2", "key:new"]


async def test_uses_are_counted_and_give_the_problem_rate(repo: FeedbackRepo) -> None:
    for _ in range(4):
        await repo.count_use("ai:first")
    await repo.record(report(), now=T0)

    (quality,) = await repo.problematic(10)

    assert quality.total_uses == 4
    assert quality.problem_reports == 1
    assert quality.problem_rate_percent == pytest.approx(25.0)


async def test_counting_uses_does_not_blacklist_or_report(repo: FeedbackRepo) -> None:
    await repo.count_use("ai:popular")

    assert await repo.is_blacklisted("ai:popular") is False
    assert await repo.problematic(10) == []


async def test_problematic_lists_reported_keys_most_reported_first(repo: FeedbackRepo) -> None:
    await repo.blacklist("ai:only-blacklisted", reason="admin", now=T0)
    await repo.blacklist("ai:thrice", reason="three reporters", now=T0)
    for key, reports in (("ai:once", 1), ("ai:thrice", 3), ("ai:twice", 2)):
        for n in range(reports):
            await repo.record(report(key, reporter=f"key:{n}"), now=T0 + n)

    listed = await repo.problematic(10)

    assert [q.cache_key for q in listed] == ["ai:thrice", "ai:twice", "ai:once"]
    assert [q.problem_reports for q in listed] == [3, 2, 1]
    assert [q.is_blacklisted for q in listed] == [True, False, False]


async def test_problematic_ties_go_to_the_higher_problem_rate(repo: FeedbackRepo) -> None:
    await repo.count_use("ai:often-used")
    await repo.count_use("ai:often-used")
    await repo.count_use("ai:rarely-used")
    await repo.record(report("ai:often-used"), now=T0)
    await repo.record(report("ai:rarely-used"), now=T0)

    listed = await repo.problematic(10)

    assert [q.cache_key for q in listed] == ["ai:rarely-used", "ai:often-used"]


async def test_problematic_honours_the_limit(repo: FeedbackRepo) -> None:
    for n in range(5):
        await repo.record(report(f"ai:k{n}"), now=T0)

    assert len(await repo.problematic(2)) == 2

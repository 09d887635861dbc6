"""Issue 11, item 13: one client cannot retire a shared cached answer; reporters, trust, limits and the log line."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pytest
from msgspec.structs import replace

from adapters.cache.memory import MemoryCache
from adapters.feedback.memory import MemoryFeedbackRepo
from application.cache_admin import InvalidateCacheKey
from application.feedback_loop import FeedbackLoop
from domain.api_keys import ANONYMOUS, KeyRing, hash_api_key, parse_key_entries
from domain.feedback import KeywordFeedbackDetector
from domain.feedback_reporters import reporter_of
from domain.models import ANYONE, CacheEntry, Caller, GenerationRequest, Message, Session, Usage
from entrypoints.config import ConfigError, load_settings
from entrypoints.request_context import caller_from
from tests.fakes import FakeClock

COMPLAINT = "that code has a bug, no funciona"  # severity 4
MILD_COMPLAINT = "help"  # severity 2
HOUR = 3600.0


@dataclass
class Loop:
    loop: FeedbackLoop
    repo: MemoryFeedbackRepo
    cache: MemoryCache
    clock: FakeClock

    async def answer(self, key: str) -> Session:
        """A cached answer under ``key`` and a session whose last turn is that answer."""
        entry = CacheEntry(content="```go\nsort()\n```", model="mock-1", provider="mock", usage=Usage())
        await self.cache.set(key, entry, 600)
        turns = (
            Message(role="user", content="write a sort"),
            Message(role="assistant", content=entry.content, cache_key=key),
        )
        return Session(id=f"s-{key}", user_id="u", messages=turns)

    async def cached(self, key: str) -> bool:
        return await self.cache.get(key) is not None


def request(prompt: str, caller: Caller) -> GenerationRequest:
    return GenerationRequest(
        prompt=prompt, model="mock-1", provider="mock", max_tokens=100, temperature=0.7, session_id="s", caller=caller
    )


def build(*, min_reporters: int = 3, reports_per_hour: int = 20) -> Loop:
    clock = FakeClock()
    repo = MemoryFeedbackRepo()
    cache = MemoryCache(max_entries=100, clock=clock)
    loop = FeedbackLoop(
        detector=KeywordFeedbackDetector(),
        repo=repo,
        cache=cache,
        clock=clock,
        enabled=True,
        min_reporters=min_reporters,
        reports_per_hour=reports_per_hour,
    )
    return Loop(loop=loop, repo=repo, cache=cache, clock=clock)


def address(n: int) -> Caller:
    return Caller(address=f"203.0.113.{n}")


async def test_one_anonymous_complaint_is_recorded_but_retires_nothing() -> None:
    app = build()
    session = await app.answer("ai:k")

    await app.loop.review(request(COMPLAINT, address(1)), session)

    assert await app.cached("ai:k")
    assert not await app.repo.is_blacklisted("ai:k")
    assert await app.repo.reporters("ai:k", 10) == ["ip:203.0.113.1"]


async def test_a_follow_up_question_is_not_even_recorded() -> None:
    app = build(min_reporters=1)
    session = await app.answer("ai:k")

    await app.loop.review(request("thanks! now how do I raise an exception in python?", address(1)), session)

    assert await app.cached("ai:k") and app.loop.reports == 0


async def test_one_reporter_complaining_five_times_counts_once() -> None:
    app = build()
    session = await app.answer("ai:k")
    for _ in range(5):
        await app.loop.review(request(COMPLAINT, address(1)), session)

    assert await app.cached("ai:k")
    (quality,) = await app.repo.problematic(10)
    assert quality.problem_reports == 1 and app.loop.reports == 1


async def test_the_end_user_id_does_not_make_a_key_several_reporters() -> None:
    app = build()
    session = await app.answer("ai:k")
    complaint = request(COMPLAINT, Caller(key_id="k1", address="203.0.113.1"))
    for user in ("alice", "bob", "carol"):
        await app.loop.review(replace(complaint, user_id=user), session)

    assert await app.cached("ai:k")
    assert await app.repo.reporters("ai:k", 10) == ["key:k1"]


async def test_three_distinct_reporters_retire_the_answer_and_the_log_line_names_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = build()
    session = await app.answer("ai:k")
    callers = [address(1), Caller(key_id="k2", address="203.0.113.1"), Caller(address="2001:db8:1:2::9")]

    with caplog.at_level(logging.WARNING, logger="mcp.feedback"):
        for caller in callers[:2]:
            await app.loop.review(request(COMPLAINT, caller), session)
        assert await app.cached("ai:k")
        await app.loop.review(request(COMPLAINT, callers[2]), session)

    assert not await app.cached("ai:k")
    assert await app.repo.is_blacklisted("ai:k")
    (line,) = [r for r in caplog.records if r.getMessage() == "cached answer retired"]
    assert line.__dict__["cache_key"] == "ai:k"
    assert line.__dict__["rule"] == "distinct_reporters"
    assert line.__dict__["reporters"] == ["ip:203.0.113.1", "key:k2", "ip:2001:db8:1:2::/64"]


async def test_the_number_of_reporters_is_a_setting() -> None:
    app = build(min_reporters=1)
    await app.loop.review(request(COMPLAINT, address(1)), await app.answer("ai:k"))

    assert await app.repo.is_blacklisted("ai:k")


@pytest.mark.parametrize(
    "caller", [Caller(key_id="admin1", admin=True, trusted_feedback=True), Caller(key_id="qa", trusted_feedback=True)]
)
async def test_a_trusted_reporter_retires_alone_with_a_severe_complaint(
    caller: Caller, caplog: pytest.LogCaptureFixture
) -> None:
    app = build()
    with caplog.at_level(logging.WARNING, logger="mcp.feedback"):
        await app.loop.review(request(COMPLAINT, caller), await app.answer("ai:k"))

    assert not await app.cached("ai:k") and await app.repo.is_blacklisted("ai:k")
    (line,) = [r for r in caplog.records if r.getMessage() == "cached answer retired"]
    assert (line.__dict__["rule"], line.__dict__["reporters"]) == ("trusted_reporter", [f"key:{caller.key_id}"])


async def test_a_mild_complaint_from_a_trusted_reporter_counts_as_one_reporter() -> None:
    app = build()
    await app.loop.review(request(MILD_COMPLAINT, Caller(key_id="qa", trusted_feedback=True)), await app.answer("ai:k"))

    assert await app.cached("ai:k")
    assert await app.repo.reporters("ai:k", 10) == ["key:qa"]


async def test_reports_beyond_the_hourly_limit_are_dropped_until_the_hour_has_passed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = build(reports_per_hour=2)
    caller = address(1)
    with caplog.at_level(logging.WARNING, logger="mcp.feedback"):
        for key in ("ai:a", "ai:b", "ai:c"):
            await app.loop.review(request(COMPLAINT, caller), await app.answer(key))

    assert await app.repo.reporters("ai:c", 10) == []
    assert app.loop.dropped == 1
    assert any(r.getMessage().startswith("feedback report dropped") for r in caplog.records)
    await app.loop.review(request(COMPLAINT, address(2)), await app.answer("ai:c"))
    assert await app.repo.reporters("ai:c", 10) == ["ip:203.0.113.2"]  # the limit is per reporter

    app.clock.advance(HOUR + 1)
    await app.loop.review(request(COMPLAINT, caller), await app.answer("ai:c"))
    assert await app.repo.reporters("ai:c", 10) == ["ip:203.0.113.2", "ip:203.0.113.1"]


async def test_after_an_admin_clears_a_key_only_a_new_reporter_retires_it_again() -> None:
    app = build()
    session = await app.answer("ai:k")
    for n in range(3):
        await app.loop.review(request(COMPLAINT, address(n)), session)
    assert await app.repo.clear_blacklist("ai:k")

    await app.loop.review(request(COMPLAINT, address(0)), session)
    assert not await app.repo.is_blacklisted("ai:k")
    await app.loop.review(request(COMPLAINT, address(9)), session)
    assert await app.repo.is_blacklisted("ai:k")


async def test_an_admin_invalidation_is_logged_with_the_admin(caplog: pytest.LogCaptureFixture) -> None:
    app = build()
    await app.answer("ai:k")
    admin = Caller(key_id="root", admin=True, trusted_feedback=True)

    with caplog.at_level(logging.WARNING, logger="mcp.feedback"):
        await InvalidateCacheKey(feedback=app.loop).execute("ai:k", "wrong", by=admin)

    assert await app.repo.is_blacklisted("ai:k")
    (line,) = [r for r in caplog.records if r.getMessage() == "cached answer retired"]
    assert (line.__dict__["rule"], line.__dict__["reporters"]) == ("admin", ["key:root"])


@pytest.mark.parametrize(
    ("caller", "reporter"),
    [
        (Caller(key_id="k1", address="203.0.113.7"), "key:k1"),
        (Caller(address="203.0.113.7"), "ip:203.0.113.7"),
        (Caller(address="2001:db8:aa:bb:1:2:3:4"), "ip:2001:db8:aa:bb::/64"),
        (Caller(address="2001:db8:aa:bb:ffff::1"), "ip:2001:db8:aa:bb::/64"),
        (Caller(address="::ffff:203.0.113.7"), "ip:203.0.113.7"),
        (Caller(address="testclient"), "ip:testclient"),
        (ANYONE, "anonymous"),
    ],
)
def test_a_reporter_is_the_key_else_the_client_network(caller: Caller, reporter: str) -> None:
    assert reporter_of(caller) == reporter


def test_a_key_marked_for_feedback_makes_a_trusted_caller() -> None:
    salt = bytes(range(16))
    plain = hash_api_key("plain-key", role="user", salt=salt)
    marked = hash_api_key("qa-key", role="user", salt=bytes(reversed(salt))).replace("user:", "user+feedback:", 1)
    admin = hash_api_key("admin-key", role="admin", salt=bytes(16))
    ring = KeyRing(parse_key_entries(",".join((plain, marked, admin))))

    principals = {key: ring.verify(key) for key in ("plain-key", "qa-key", "admin-key")}
    trust = {
        key: principal is not None and caller_from(principal, "").trusted_feedback
        for key, principal in principals.items()
    }
    assert trust == {"plain-key": False, "qa-key": True, "admin-key": True}
    assert caller_from(ANONYMOUS, "203.0.113.7").trusted_feedback is False  # without keys nobody is trusted
    with pytest.raises(ValueError, match=r"unknown mark in 'user\+root'"):
        parse_key_entries(plain.replace("user:", "user+root:", 1))


@pytest.mark.parametrize("variable", ["FEEDBACK_MIN_REPORTERS", "FEEDBACK_REPORTS_PER_HOUR"])
@pytest.mark.parametrize("value", ["0", "-1", "three"])
def test_a_bad_feedback_setting_is_a_configuration_error_naming_it(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        load_settings(environ={variable: value}, dotenv=None)

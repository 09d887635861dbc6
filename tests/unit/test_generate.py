"""The generation use-cases over memory adapters: cache, sessions, feedback, pool, batches."""

from __future__ import annotations

import asyncio

import pytest

from domain.errors import DomainError, InvalidRequest, NotFound, Overloaded
from domain.models import Caller, StreamDelta, StreamEnd
from tests.fakes import ScriptedProvider, failing
from tests.unit.usecases import build_app, request


async def test_a_fresh_answer_reports_the_providers_usage_and_is_cached() -> None:
    app = build_app()
    answer = await app.generate.execute(request())
    assert (answer.content, answer.usage.total, answer.cached) == ("the answer", 14, False)
    again = await app.generate.execute(request())
    assert again.cached and again.usage.total == 0 and again.cached_usage.total == 14
    assert len(app.provider.calls) == 1


async def test_skip_cache_read_asks_the_provider_again() -> None:
    app = build_app()
    await app.generate.execute(request())
    assert not (await app.generate.execute(request(skip_cache_read=True))).cached
    assert len(app.provider.calls) == 2


async def test_session_history_reaches_the_provider_as_messages() -> None:
    app = build_app()
    for prompt in ("one", "two", "three"):
        await app.generate.execute(request(prompt, user_id="u", session_id="s"))
    sent = app.provider.calls[-1].messages
    assert [(m.role, m.content) for m in sent] == [
        ("user", "one"), ("assistant", "the answer"), ("user", "two"), ("assistant", "the answer"), ("user", "three"),
    ]  # fmt: skip
    session = await app.sessions.get("s")
    assert session is not None and len(session.messages) == 6
    assert session.messages[-1].cache_key.startswith("ai:")


async def test_a_cache_hit_in_a_session_is_stored_as_a_turn_too() -> None:
    app = build_app()
    await app.generate.execute(request("same"))
    hit = await app.generate.execute(request("same", user_id="u", session_id="s2"))
    assert hit.cached
    session = await app.sessions.get("s2")
    assert session is not None and [m.role for m in session.messages] == ["user", "assistant"]


async def test_another_users_session_is_refused_as_not_found() -> None:
    app = build_app()
    await app.generate.execute(request(user_id="alice", session_id="s"))
    with pytest.raises(NotFound, match="session 's' not found"):
        await app.generate.execute(request(user_id="mallory", session_id="s"))


async def test_a_complaint_retires_the_previous_answers_real_cache_key() -> None:
    app = build_app()
    # A reporter trusted for feedback retires alone (issue 11 item 13); others need company (tests/security).
    trusted = Caller(key_id="qa", trusted_feedback=True)
    first = await app.generate.execute(request("write a sort", user_id="u", session_id="s", caller=trusted))
    assert await app.cache.get(first.cache_key) is not None
    await app.generate.execute(request("that code has a bug, no funciona", user_id="u", session_id="s", caller=trusted))
    assert await app.cache.get(first.cache_key) is None
    assert await app.feedback_repo.is_blacklisted(first.cache_key)
    # The same first request now goes to the provider again, and is not cached again.
    calls = len(app.provider.calls)
    assert not (await app.generate.execute(request("write a sort"))).cached
    assert len(app.provider.calls) == calls + 1
    assert await app.cache.get(first.cache_key) is None


async def test_a_polite_follow_up_retires_nothing() -> None:
    app = build_app()
    first = await app.generate.execute(request("make a button", user_id="u", session_id="s"))
    await app.generate.execute(request("Can you change the button color?", user_id="u", session_id="s"))
    assert await app.cache.get(first.cache_key) is not None
    assert app.feedback.reports == 0


async def test_a_stream_relays_chunks_and_ends_with_the_usage() -> None:
    app = build_app(ScriptedProvider("one two three"))
    events = [event async for event in app.stream.execute(request())]
    assert [e.content for e in events if isinstance(e, StreamDelta)] == ["one", " two", " three"]
    end = events[-1]
    assert isinstance(end, StreamEnd) and end.index == 3 and end.answer.usage.total == 14
    replay = [event async for event in app.stream.execute(request())]
    assert isinstance(replay[-1], StreamEnd) and replay[-1].answer.cached
    assert "".join(e.content for e in replay if isinstance(e, StreamDelta)) == "one two three"


async def test_a_stream_cut_short_releases_the_pool_and_stores_nothing() -> None:
    gate = asyncio.Event()
    app = build_app(ScriptedProvider("one two three", gate=gate))
    gate.set()
    stream = app.stream.execute(request(user_id="u", session_id="s"))
    assert isinstance(await anext(stream), StreamDelta)
    await stream.aclose()
    assert app.pool.active == 0 and app.pool.cancelled + app.pool.processed + app.pool.failed <= 1
    assert await app.sessions.get("s") is None
    assert len(app.cache) == 0


async def test_provider_errors_are_raised_and_counted_as_failed() -> None:
    app = build_app(ScriptedProvider(fail=failing()))
    with pytest.raises(DomainError, match="upstream broke"):
        await app.generate.execute(request())
    assert app.pool.failed == 1 and app.pool.active == 0


async def test_a_full_pool_refuses_with_retry_after_instead_of_queueing_forever() -> None:
    gate = asyncio.Event()
    app = build_app(ScriptedProvider(gate=gate), max_concurrent=1, queue_size=1)
    running = [asyncio.create_task(app.generate.execute(request(f"p{i}"))) for i in range(2)]
    await asyncio.sleep(0.01)
    with pytest.raises(Overloaded) as refused:
        await app.generate.execute(request("one too many"))
    assert refused.value.retry_after
    gate.set()
    await asyncio.gather(*running)
    assert app.pool.stats()["total_rejected"] == 1


async def test_a_batch_keeps_order_reports_failures_in_place_and_serialises_sessions() -> None:
    app = build_app()
    items = [
        request("a", user_id="u", session_id="s"),
        InvalidRequest("bad item"),
        request("b", user_id="u", session_id="s"),
        request("c"),
    ]
    outcomes, summary = await app.batch.execute(items)
    assert [getattr(o, "content", None) for o in outcomes] == ["the answer", None, "the answer", "the answer"]
    assert isinstance(outcomes[1], InvalidRequest)
    assert (summary.count, summary.totals.succeeded, summary.totals.failed) == (4, 3, 1)
    session = await app.sessions.get("s")
    assert session is not None and [m.content for m in session.messages if m.role == "user"] == ["a", "b"]


async def test_a_batch_stream_yields_every_item_then_the_summary() -> None:
    app = build_app()
    events = [e async for e in app.batch_stream.execute([request(f"x{i}") for i in range(5)])]
    assert sorted(e.index for e in events[:-1]) == list(range(5))  # type: ignore[union-attr]
    assert events[-1].count == 5  # type: ignore[union-attr]

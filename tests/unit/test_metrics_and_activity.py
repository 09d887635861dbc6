"""Metric label values stay bounded; session activity is counted (docs/api.md#metrics)."""

from __future__ import annotations

from adapters.observability.prometheus import PrometheusMetrics
from adapters.sessions.memory import MemorySessionRepo
from application.session_activity import SessionActivity
from domain.models import Message
from tests.fakes import FakeClock


def exposition(metrics: PrometheusMetrics) -> str:
    return metrics.render().decode()


def test_a_model_outside_the_catalogue_and_an_unknown_provider_are_other() -> None:
    metrics = PrometheusMetrics(providers=("mock", "openai"), models=("mock-1",), process_metrics=False)
    metrics.request("generate", "200", "mock", "MOCK-1", 0.01)
    metrics.request("generate", "200", "evil", "made-up-model-123", 0.01)
    metrics.request("models", "200", "", "", 0.001)
    text = exposition(metrics)
    assert 'mcp_requests_total{method="generate",model="mock-1",provider="mock",status="200"} 1.0' in text
    assert 'mcp_requests_total{method="generate",model="other",provider="other",status="200"} 1.0' in text
    assert 'mcp_requests_total{method="models",model="none",provider="none",status="200"} 1.0' in text
    assert "made-up-model-123" not in text


def test_counters_read_at_scrape_time_show_the_current_value() -> None:
    metrics = PrometheusMetrics(providers=("mock",), models=(), process_metrics=False)
    figures = {"hits": 0}
    metrics.add_counter("mcp_cache_hits", "hits", lambda: figures["hits"])
    figures["hits"] = 7
    assert "mcp_cache_hits_total 7.0" in exposition(metrics)


def test_two_metric_sets_in_one_process_do_not_share_values() -> None:
    first = PrometheusMetrics(providers=("mock",), models=(), process_metrics=False)
    second = PrometheusMetrics(providers=("mock",), models=(), process_metrics=False)
    first.error("upstream_error", "mock")
    assert "upstream_error" in exposition(first) and "upstream_error" not in exposition(second)


async def test_a_new_session_counts_once_and_stays_active_within_the_window() -> None:
    clock = FakeClock()
    activity = SessionActivity(MemorySessionRepo(), clock=clock, window_seconds=60)
    turn = (Message(role="user", content="hi"), Message(role="assistant", content="hello"))
    await activity.append("s1", "ana", turn, max_messages=10, now=clock.now())
    clock.advance(1)
    await activity.append("s1", "ana", turn, max_messages=10, now=clock.now())
    clock.advance(30)
    await activity.append("s2", "bob", turn, max_messages=10, now=clock.now())
    assert activity.created == 2 and activity.active() == 2
    clock.advance(30.5)
    assert activity.active() == 1
    clock.advance(30)
    assert activity.active() == 0 and activity.created == 2

"""Token accounting of fresh answers, cache hits and batches (docs/api.md#answer, #batch)."""

from __future__ import annotations

from domain.accounting import BatchTotals, answer_from_cache, answer_metadata, entry_from_answer, format_rate
from domain.models import Answer, GenerationRequest, Usage

FRESH = Answer(
    content="hi there",
    model="gpt-4o",
    provider="azure-openai",
    usage=Usage(prompt_tokens=200, completion_tokens=45),
    cache_key="ai:k",
)
REQUEST = GenerationRequest(
    prompt="p", model="gpt-4o", provider="azure", max_tokens=10, temperature=0.7, request_id="req-2"
)


def test_a_cache_hit_costs_nothing_now_and_carries_its_historical_cost() -> None:
    hit = answer_from_cache(entry_from_answer(FRESH, now=1700.0), REQUEST, key="ai:k", duration_ms=0.4)
    assert hit.cached and hit.usage.total == 0 and hit.provider == "cache"
    metadata = answer_metadata(hit)
    assert (metadata["prompt_tokens"], metadata["completion_tokens"]) == (0, 0)
    assert (metadata["prompt_tokens_cache"], metadata["completion_tokens_cache"]) == (200, 45)
    assert metadata["original_tokens"] == 245 and metadata["original_provider"] == "azure-openai"
    assert metadata["cached_at"] == 1700 and hit.request_id == "req-2"


def test_batch_totals_split_provider_and_cache_tokens() -> None:
    hit = answer_from_cache(entry_from_answer(FRESH, now=0), REQUEST, key="ai:k", duration_ms=0)
    totals = BatchTotals()
    for outcome in (FRESH, hit, None):
        totals.add(outcome)
    assert (totals.succeeded, totals.failed) == (2, 1)
    assert (totals.provider_tokens, totals.cache_tokens, totals.total_tokens) == (245, 245, 490)


def test_a_rate_over_zero_seconds_is_not_infinite() -> None:
    assert format_rate(5, 0.0) == "0.00 req/s"
    assert format_rate(5, 2.0) == "2.50 req/s"

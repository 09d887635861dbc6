"""RetryingProvider and CircuitBreakerProvider against scripted fake providers and a fake clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from application.resilience import CircuitBreakerProvider, RetryingProvider
from domain.errors import (
    CircuitOpen,
    UpstreamAuthError,
    UpstreamBadRequest,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
)
from domain.models import Completion, Message, ProviderCall, ProviderChunk, Usage
from tests.fakes import FakeClock, ScriptedProvider

CALL = ProviderCall(model="m", messages=(Message(role="user", content="hi"),), max_tokens=10, temperature=0.5)
DONE = Completion(content="ok", model="m", usage=Usage(prompt_tokens=1, completion_tokens=1))


def scripted(*errors: Exception, fail_after: int = 0) -> ScriptedProvider:
    """Fails with ``errors``, one per call, then answers ``DONE``; streams fail before chunk ``fail_after``."""
    return ScriptedProvider("ok", errors=errors, fail_after=fail_after, chunks=("w0 ", "w1 ", "w2 "), usage=DONE.usage)


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def retrying(inner: ScriptedProvider, sleeps: Sleeps, *, max_retries: int = 3) -> RetryingProvider:
    return RetryingProvider(
        inner, max_retries=max_retries, base_delay=0.5, max_delay=4.0, sleep=sleeps, random=lambda: 1.0
    )


async def collect(chunks: AsyncIterator[ProviderChunk]) -> list[ProviderChunk]:
    return [chunk async for chunk in chunks]


# ---- retries -------------------------------------------------------------------------------------


async def test_throttling_and_5xx_are_retried_with_exponential_backoff_until_an_answer() -> None:
    inner, sleeps = scripted(UpstreamError("502"), UpstreamTimeout("slow"), UpstreamError("reset")), Sleeps()
    assert await retrying(inner, sleeps).generate(CALL) == DONE
    assert len(inner.calls) == 4
    assert sleeps.delays == [0.5, 1.0, 2.0]


async def test_backoff_is_full_jitter_capped_at_max_delay() -> None:
    inner, sleeps = scripted(*(UpstreamError("x") for _ in range(5))), Sleeps()
    provider = RetryingProvider(inner, max_retries=5, base_delay=1.0, max_delay=3.0, sleep=sleeps, random=lambda: 0.5)
    await provider.generate(CALL)
    assert sleeps.delays == [0.5, 1.0, 1.5, 1.5, 1.5]


async def test_the_upstream_retry_after_is_honoured_instead_of_the_backoff() -> None:
    inner, sleeps = scripted(UpstreamRateLimited("slow down", retry_after=1.5)), Sleeps()
    assert await retrying(inner, sleeps).generate(CALL) == DONE
    assert sleeps.delays == [1.5]


async def test_a_retry_after_longer_than_max_delay_goes_back_to_the_client_at_once() -> None:
    inner, sleeps = scripted(UpstreamRateLimited("slow down", retry_after=60)), Sleeps()
    with pytest.raises(UpstreamRateLimited) as caught:
        await retrying(inner, sleeps).generate(CALL)
    assert caught.value.retry_after == 60
    assert len(inner.calls) == 1 and sleeps.delays == []


async def test_the_last_error_is_raised_when_retries_are_exhausted() -> None:
    inner, sleeps = scripted(*(UpstreamError(f"fail {i}") for i in range(4))), Sleeps()
    with pytest.raises(UpstreamError, match="fail 2"):
        await retrying(inner, sleeps, max_retries=2).generate(CALL)
    assert len(inner.calls) == 3


@pytest.mark.parametrize("error", [UpstreamBadRequest("bad"), UpstreamAuthError("key"), CircuitOpen("open")])
async def test_bad_requests_auth_errors_and_open_circuits_are_never_retried(error: UpstreamError) -> None:
    inner, sleeps = scripted(error), Sleeps()
    with pytest.raises(type(error)):
        await retrying(inner, sleeps).generate(CALL)
    assert len(inner.calls) == 1 and sleeps.delays == []


async def test_zero_max_retries_means_a_single_attempt() -> None:
    inner, sleeps = scripted(UpstreamError("x")), Sleeps()
    with pytest.raises(UpstreamError):
        await retrying(inner, sleeps, max_retries=0).generate(CALL)
    assert len(inner.calls) == 1


async def test_a_stream_failing_before_its_first_chunk_is_retried_transparently() -> None:
    inner, sleeps = scripted(UpstreamError("reset"), fail_after=0), Sleeps()
    chunks = await collect(retrying(inner, sleeps).stream(CALL))
    assert "".join(c.text for c in chunks) == "w0 w1 w2 "
    assert chunks[-1].finish_reason == "stop"
    assert len(inner.calls) == 2 and sleeps.delays == [0.5]


async def test_a_stream_failing_after_its_first_chunk_is_not_retried() -> None:
    inner, sleeps = scripted(UpstreamError("reset mid-stream"), fail_after=2), Sleeps()
    seen: list[str] = []
    with pytest.raises(UpstreamError, match="mid-stream"):
        async for chunk in retrying(inner, sleeps).stream(CALL):
            seen.append(chunk.text)
    assert seen == ["w0 ", "w1 "]
    assert len(inner.calls) == 1


async def test_a_consumer_leaving_a_retried_stream_closes_the_inner_stream() -> None:
    inner, sleeps = scripted(), Sleeps()
    stream = retrying(inner, sleeps).stream(CALL)
    assert (await anext(stream)).text == "w0 "
    await stream.aclose()  # type: ignore[attr-defined]
    assert inner.closed_streams == 1


async def test_the_retrying_wrapper_keeps_the_provider_name() -> None:
    assert retrying(scripted(), Sleeps()).name == "scripted"


# ---- circuit breaker -----------------------------------------------------------------------------


def breaker(inner: ScriptedProvider, clock: FakeClock, threshold: int = 3) -> CircuitBreakerProvider:
    return CircuitBreakerProvider(inner, failure_threshold=threshold, reset_timeout=30, clock=clock.monotonic)


async def fail_times(provider: CircuitBreakerProvider, count: int) -> None:
    for _ in range(count):
        with pytest.raises(UpstreamError):
            await provider.generate(CALL)


async def test_the_circuit_opens_after_consecutive_retriable_failures_and_fails_fast() -> None:
    clock, inner = FakeClock(mono=1000.0), scripted(*(UpstreamError("down") for _ in range(3)))
    provider = breaker(inner, clock)
    await fail_times(provider, 3)
    assert provider.state == "open"
    clock.advance(10)
    with pytest.raises(CircuitOpen) as caught:
        await provider.generate(CALL)
    assert caught.value.retry_after == 20
    assert len(inner.calls) == 3


async def test_a_success_resets_the_count_of_consecutive_failures() -> None:
    clock = FakeClock(mono=1000.0)
    inner = scripted(UpstreamError("a"), UpstreamError("b"))
    provider = breaker(inner, clock)
    await fail_times(provider, 2)
    assert await provider.generate(CALL) == DONE
    inner.errors = [UpstreamError("c"), UpstreamError("d")]
    await fail_times(provider, 2)
    assert provider.state == "closed"


async def test_bad_requests_do_not_open_the_circuit() -> None:
    clock, inner = FakeClock(mono=1000.0), scripted(*(UpstreamBadRequest("bad") for _ in range(5)))
    provider = breaker(inner, clock)
    await fail_times(provider, 5)
    assert provider.state == "closed"


async def test_after_the_pause_one_trial_call_closes_the_circuit_on_success() -> None:
    clock, inner = FakeClock(mono=1000.0), scripted(*(UpstreamError("down") for _ in range(3)))
    provider = breaker(inner, clock)
    await fail_times(provider, 3)
    clock.advance(30)
    assert provider.state == "half_open"
    assert await provider.generate(CALL) == DONE
    assert provider.state == "closed"


async def test_a_failed_trial_opens_the_circuit_for_another_pause() -> None:
    clock, inner = FakeClock(mono=1000.0), scripted(*(UpstreamError("down") for _ in range(4)))
    provider = breaker(inner, clock)
    await fail_times(provider, 3)
    clock.advance(30)
    await fail_times(provider, 1)
    assert provider.state == "open"
    clock.advance(29)
    with pytest.raises(CircuitOpen):
        await provider.generate(CALL)


async def test_only_one_trial_is_let_through_while_half_open() -> None:
    clock, inner = FakeClock(mono=1000.0), scripted(*(UpstreamError("down") for _ in range(3)))
    provider = breaker(inner, clock)
    await fail_times(provider, 3)
    clock.advance(30)
    inner.gate = asyncio.Event()
    trial = asyncio.create_task(provider.generate(CALL))
    await asyncio.sleep(0)  # let the trial reach the upstream
    with pytest.raises(CircuitOpen):
        await provider.generate(CALL)
    inner.gate.set()
    assert await trial == DONE
    assert provider.state == "closed"


async def test_a_trial_abandoned_before_any_answer_frees_the_slot_for_the_next_call() -> None:
    clock, inner = FakeClock(mono=1000.0), scripted(*(UpstreamError("down") for _ in range(3)))
    provider = breaker(inner, clock)
    await fail_times(provider, 3)
    clock.advance(30)
    trial = provider.stream(CALL)
    await trial.aclose()  # type: ignore[attr-defined]  # never started: no verdict
    assert await provider.generate(CALL) == DONE
    assert provider.state == "closed"


async def test_stream_failures_before_the_first_chunk_count_towards_opening() -> None:
    clock = FakeClock(mono=1000.0)
    inner = scripted(*(UpstreamTimeout("slow") for _ in range(2)), fail_after=0)
    provider = breaker(inner, clock, threshold=2)
    for _ in range(2):
        with pytest.raises(UpstreamTimeout):
            await collect(provider.stream(CALL))
    assert provider.state == "open"


async def test_retries_stop_as_soon_as_the_inner_circuit_opens() -> None:
    clock, sleeps = FakeClock(mono=1000.0), Sleeps()
    inner = scripted(*(UpstreamError("down") for _ in range(10)))
    provider = RetryingProvider(breaker(inner, clock, threshold=2), max_retries=5, sleep=sleeps, random=lambda: 0.0)
    with pytest.raises(CircuitOpen):
        await provider.generate(CALL)
    assert len(inner.calls) == 2


async def test_a_cancelled_trial_frees_the_slot_and_leaves_the_circuit_half_open() -> None:
    clock, inner = FakeClock(mono=1000.0), scripted(*(UpstreamError("down") for _ in range(3)))
    provider = breaker(inner, clock)
    await fail_times(provider, 3)
    clock.advance(30)
    inner.gate = asyncio.Event()
    trial = asyncio.create_task(provider.generate(CALL))
    await asyncio.sleep(0)
    trial.cancel()
    with pytest.raises(asyncio.CancelledError):
        await trial
    assert provider.state == "half_open"
    inner.gate.set()
    assert await provider.generate(CALL) == DONE
    assert provider.state == "closed"

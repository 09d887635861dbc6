"""Upstream failures of the Azure / OpenAI-compatible adapters become domain errors; cancels reach the fake."""

from __future__ import annotations

import asyncio

import pytest

from adapters.providers.azure_openai import AzureOpenAIProvider
from application.resilience import RetryingProvider
from domain.errors import (
    UpstreamAuthError,
    UpstreamBadRequest,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
)
from domain.models import ProviderChunk
from tests.support.chat_completions_adapter import (
    azure_provider,
    collect,
    make_call,
    openai_provider,
    text_of,
)
from tests.vendors.azure_openai import FailureKind, FakeAzureOpenAI

FAILURES: list[tuple[FailureKind, type[UpstreamError], str]] = [
    ("server_error", UpstreamError, "failed (500): The server had an error"),
    ("unavailable", UpstreamError, "failed (503)"),
    ("auth", UpstreamAuthError, "check AZURE_API_KEY or AZURE_AD_TOKEN"),
    ("forbidden", UpstreamAuthError, "refused the credentials (403)"),
    ("content_filter", UpstreamBadRequest, "content filter rejected the request: The response was filtered"),
    ("reset", UpstreamError, "connection failed"),
]


@pytest.mark.parametrize(("kind", "error", "message"), FAILURES)
async def test_each_upstream_failure_of_generate_becomes_its_domain_error(
    fake: FakeAzureOpenAI, kind: FailureKind, error: type[UpstreamError], message: str
) -> None:
    fake.fail(kind)
    async with azure_provider(fake) as provider:
        with pytest.raises(UpstreamError) as caught:
            await provider.generate(make_call())
    assert type(caught.value) is error
    assert message in caught.value.message


@pytest.mark.parametrize(("kind", "error", "message"), FAILURES)
async def test_each_upstream_failure_of_stream_becomes_its_domain_error_before_any_chunk(
    fake: FakeAzureOpenAI, kind: FailureKind, error: type[UpstreamError], message: str
) -> None:
    fake.fail(kind)
    seen: list[ProviderChunk] = []
    async with azure_provider(fake) as provider:
        with pytest.raises(UpstreamError) as caught:
            async for chunk in provider.stream(make_call()):
                seen.append(chunk)
    assert type(caught.value) is error and message in caught.value.message
    assert seen == []


async def test_throttling_carries_the_upstream_retry_after(fake: FakeAzureOpenAI) -> None:
    fake.fail("rate_limit", retry_after=3.5)
    async with azure_provider(fake) as provider:
        with pytest.raises(UpstreamRateLimited) as caught:
            await provider.generate(make_call())
        with pytest.raises(UpstreamRateLimited) as caught_in_stream:
            await collect(provider.stream(make_call()))
    assert caught.value.retry_after == 3.5 == caught_in_stream.value.retry_after
    assert "Please retry after 4 seconds" in caught.value.message


async def test_an_unknown_deployment_says_to_check_the_deployment_map(fake: FakeAzureOpenAI) -> None:
    async with azure_provider(fake) as provider:
        with pytest.raises(UpstreamAuthError) as caught:
            await provider.generate(make_call(model="no-such-deployment"))
    assert "unknown deployment 'no-such-deployment'" in caught.value.message
    assert "AZURE_DEPLOYMENTS" in caught.value.message


async def test_a_wrong_api_key_is_an_auth_error_that_names_the_setting(fake: FakeAzureOpenAI) -> None:
    async with azure_provider(fake, api_key="wrong-key") as provider:
        with pytest.raises(UpstreamAuthError, match=r"Access denied.*check AZURE_API_KEY"):
            await provider.generate(make_call())


async def test_an_upstream_bad_request_keeps_the_upstream_message(fake: FakeAzureOpenAI) -> None:
    async with azure_provider(fake) as provider:
        with pytest.raises(UpstreamBadRequest, match="integer below minimum value"):
            await provider.generate(make_call(max_tokens=0))


async def test_no_first_byte_within_the_limit_is_an_upstream_timeout(fake: FakeAzureOpenAI) -> None:
    fake.fail("hang")
    async with azure_provider(fake, first_byte_timeout=0.2) as provider:
        with pytest.raises(UpstreamTimeout, match="did not send the first byte"):
            await provider.generate(make_call())
        with pytest.raises(UpstreamTimeout, match="did not send the first byte"):
            await collect(provider.stream(make_call()))
        await fake.wait_closed_early(count=2)


async def test_a_silent_gap_between_chunks_is_an_upstream_timeout(fake: FakeAzureOpenAI) -> None:
    fake.script.chunk_delay_ms = 60_000
    async with azure_provider(fake, idle_timeout=0.2) as provider:
        with pytest.raises(UpstreamTimeout, match=r"did not send the next chunk within 0\.2 s"):
            await collect(provider.stream(make_call()))
        await fake.wait_closed_early()


async def test_a_slow_but_steady_stream_is_not_cut_by_the_first_byte_limit(fake: FakeAzureOpenAI) -> None:
    fake.script.chunks, fake.script.chunk_delay_ms = 8, 100  # 800 ms in all, each gap well under the limits
    async with azure_provider(fake, first_byte_timeout=0.5, idle_timeout=0.5) as provider:
        chunks = await collect(provider.stream(make_call()))
    assert chunks[-1].finish_reason == "stop" and len(chunks) == 9


@pytest.mark.parametrize("kind", ["reset_mid_stream", "error_event"])
async def test_a_failure_mid_stream_raises_after_the_chunks_already_sent(
    fake: FakeAzureOpenAI, kind: FailureKind
) -> None:
    fake.fail(kind, after_chunks=2)
    seen: list[ProviderChunk] = []
    async with azure_provider(fake) as provider:
        with pytest.raises(UpstreamError) as caught:
            async for chunk in provider.stream(make_call()):
                seen.append(chunk)
    assert type(caught.value) is UpstreamError
    assert text_of(seen) == "Echo: hello"


async def test_a_whole_answer_cut_short_is_an_upstream_error(fake: FakeAzureOpenAI) -> None:
    fake.fail("reset_mid_stream")
    async with azure_provider(fake) as provider:
        with pytest.raises(UpstreamError, match="connection failed"):
            await provider.generate(make_call())


async def test_cancelling_a_waiting_generate_closes_the_upstream_connection(fake: FakeAzureOpenAI) -> None:
    fake.fail("hang")
    async with azure_provider(fake) as provider:
        task = asyncio.create_task(provider.generate(make_call()))
        await fake.wait_requests(1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (await fake.wait_closed_early()).path.endswith("/chat/completions")


async def test_cancelling_a_stream_mid_answer_closes_the_upstream_connection(fake: FakeAzureOpenAI) -> None:
    fake.fail("stall_mid_stream", after_chunks=2)
    seen: list[str] = []
    first = asyncio.Event()

    async def consume(provider: AzureOpenAIProvider) -> None:
        async for chunk in provider.stream(make_call()):
            seen.append(chunk.text)
            first.set()

    async with azure_provider(fake, idle_timeout=120) as provider:
        task = asyncio.create_task(consume(provider))
        await first.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await fake.wait_closed_early()
    assert seen[0] == "Echo:"


async def test_a_consumer_that_stops_reading_closes_the_upstream_connection(fake: FakeAzureOpenAI) -> None:
    fake.fail("stall_mid_stream", after_chunks=2)
    async with azure_provider(fake, idle_timeout=120) as provider:
        stream = provider.stream(make_call())
        assert (await anext(stream)).text == "Echo:"
        await stream.aclose()  # type: ignore[attr-defined]
        await fake.wait_closed_early()


async def test_throttling_is_retried_by_the_retrying_wrapper_until_azure_answers(fake: FakeAzureOpenAI) -> None:
    fake.fail("rate_limit", times=2, retry_after=0.01)
    async with azure_provider(fake) as adapter:
        provider = RetryingProvider(adapter, max_retries=3, base_delay=0.01, max_delay=1.0)
        chunks = await collect(provider.stream(make_call()))
    assert text_of(chunks) == "Echo: hello brave world"
    assert len(fake.requests) == 3


async def test_openai_compatible_errors_name_the_openai_settings(fake: FakeAzureOpenAI) -> None:
    fake.openai_models = frozenset({"gpt-4o-mini"})
    async with openai_provider(fake) as provider:
        with pytest.raises(UpstreamAuthError, match=r"model 'llama3' is not available.*OPENAI_MODELS"):
            await provider.generate(make_call(model="llama3"))
    async with openai_provider(fake, api_key="sk-wrong-key-123") as provider:
        with pytest.raises(UpstreamAuthError, match=r"Incorrect API key.*check OPENAI_API_KEY"):
            await provider.generate(make_call(model="gpt-4o-mini"))


async def test_openai_compatible_throttling_reads_retry_after(fake: FakeAzureOpenAI) -> None:
    fake.fail("rate_limit", retry_after=7)
    async with openai_provider(fake) as provider:
        with pytest.raises(UpstreamRateLimited) as caught:
            await provider.generate(make_call(model="gpt-4o-mini"))
    assert caught.value.retry_after == 7

"""BedrockProvider against a failing fake Bedrock: every upstream failure becomes its domain error,
and a caller that goes away closes the upstream connection."""

from __future__ import annotations

import asyncio
import socket

import pytest

from domain.errors import (
    UpstreamAuthError,
    UpstreamBadRequest,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
)
from domain.models import ProviderChunk
from tests.support.bedrock_adapter import bedrock_provider, collect, make_call
from tests.vendors.bedrock import FakeBedrock, HttpFailure, RecordedRequest, Reset, Script, StreamException

HTTP_ERRORS = [
    ("ThrottlingException", UpstreamRateLimited, "Too many requests"),
    ("ServiceUnavailableException", UpstreamError, "Bedrock failed"),
    ("InternalServerException", UpstreamError, "Bedrock failed"),
    ("ModelTimeoutException", UpstreamTimeout, "did not answer in time"),
    ("ValidationException", UpstreamBadRequest, "Too many requests"),
    ("AccessDeniedException", UpstreamAuthError, "IAM permissions"),
    ("UnrecognizedClientException", UpstreamAuthError, "refused the credentials"),
    ("ResourceNotFoundException", UpstreamAuthError, "model not found or not enabled in this account/region"),
]


async def finished(request: RecordedRequest) -> RecordedRequest:
    async with asyncio.timeout(10):
        await request.finished.wait()
    return request


@pytest.mark.parametrize(("error_type", "domain_error", "says"), HTTP_ERRORS)
async def test_an_http_error_from_generate_becomes_its_domain_error(fake, provider, error_type, domain_error, says):
    fake.script = Script(failure=HttpFailure(error_type, "Too many requests"))

    with pytest.raises(domain_error, match=says) as raised:
        await provider.generate(make_call())

    assert type(raised.value) is domain_error


@pytest.mark.parametrize(("error_type", "domain_error", "says"), HTTP_ERRORS)
async def test_an_http_error_opening_a_stream_becomes_its_domain_error(fake, provider, error_type, domain_error, says):
    fake.script = Script(failure=HttpFailure(error_type, "Too many requests"))

    with pytest.raises(domain_error, match=says) as raised:
        await collect(provider, make_call())

    assert type(raised.value) is domain_error


async def test_the_upstream_message_of_a_validation_error_is_kept_as_is(fake, provider):
    fake.script = Script(failure=HttpFailure("ValidationException", "The provided model identifier is invalid."))

    with pytest.raises(UpstreamBadRequest) as raised:
        await provider.generate(make_call())

    assert raised.value.message == "The provided model identifier is invalid."


async def test_throttling_carries_the_upstream_retry_after_when_there_is_one(fake, provider):
    fake.script = Script(failure=HttpFailure("ThrottlingException", retry_after="7"))
    with pytest.raises(UpstreamRateLimited) as with_header:
        await provider.generate(make_call())

    fake.script = Script(failure=HttpFailure("ThrottlingException"))
    with pytest.raises(UpstreamRateLimited) as without_header:
        await provider.generate(make_call())

    assert with_header.value.retry_after == 7.0
    assert without_header.value.retry_after is None


async def test_failures_are_not_retried_inside_the_client_so_the_gateway_owns_retries(fake, provider):
    fake.script = Script(failure=HttpFailure("ThrottlingException"), fail_first=2)

    outcomes = []
    for _ in range(3):
        try:
            outcomes.append((await provider.generate(make_call())).finish_reason)
        except UpstreamRateLimited:
            outcomes.append("throttled")

    assert outcomes == ["throttled", "throttled", "stop"]
    assert len(fake.requests) == 3


@pytest.mark.parametrize(
    ("exception_type", "domain_error"),
    [
        ("modelStreamErrorException", UpstreamError),
        ("throttlingException", UpstreamRateLimited),
        ("serviceUnavailableException", UpstreamError),
        ("internalServerException", UpstreamError),
        ("validationException", UpstreamBadRequest),
    ],
)
async def test_an_exception_frame_mid_stream_ends_the_stream_with_its_domain_error(
    fake, provider, exception_type, domain_error
):
    fake.script = Script(chunks=4, failure=StreamException(exception_type, after_chunks=2, message="upstream broke"))
    received: list[ProviderChunk] = []

    with pytest.raises(domain_error, match="upstream broke") as raised:
        async for chunk in provider.stream(make_call()):
            received.append(chunk)

    assert type(raised.value) is domain_error
    assert len(received) == 2
    assert all(chunk.text for chunk in received)


async def test_a_connection_reset_mid_stream_is_an_upstream_error(fake, provider):
    fake.script = Script(chunks=4, failure=Reset(after_chunks=1))
    received: list[ProviderChunk] = []

    with pytest.raises(UpstreamError) as raised:
        async for chunk in provider.stream(make_call()):
            received.append(chunk)

    assert type(raised.value) is UpstreamError
    assert len(received) == 1


@pytest.mark.parametrize("use_stream", [False, True])
async def test_a_connection_reset_before_the_answer_is_an_upstream_error(fake, provider, use_stream):
    fake.script = Script(failure=Reset(after_chunks=0))

    with pytest.raises(UpstreamError) as raised:
        await (collect(provider, make_call()) if use_stream else provider.generate(make_call()))

    assert type(raised.value) is UpstreamError


async def test_an_unreachable_endpoint_is_an_upstream_error():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    fake = FakeBedrock()
    fake.url = f"http://127.0.0.1:{port}"

    async with bedrock_provider(fake, connect_timeout=2.0) as adapter:
        with pytest.raises(UpstreamError, match="connection failed"):
            await adapter.generate(make_call())


async def test_no_first_byte_within_the_read_timeout_is_an_upstream_timeout(fake):
    fake.script = Script(first_byte_delay=5.0)

    async with bedrock_provider(fake, read_timeout=0.2) as adapter:
        with pytest.raises(UpstreamTimeout):
            await adapter.generate(make_call())


async def test_a_stalled_stream_is_an_upstream_timeout(fake):
    fake.script = Script(chunks=3, chunk_delay=5.0)

    async with bedrock_provider(fake, read_timeout=0.2) as adapter:
        with pytest.raises(UpstreamTimeout):
            await collect(adapter, make_call())


async def test_cancelling_generate_closes_the_upstream_connection(fake, provider):
    fake.script = Script(first_byte_delay=30.0)
    task = asyncio.create_task(provider.generate(make_call()))
    async with asyncio.timeout(10):
        [request] = await fake.wait_for_requests(1)

    task.cancel()

    assert (await finished(request)).closed_early
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_cancelling_a_stream_mid_way_closes_the_upstream_connection(fake, provider):
    fake.script = Script(chunks=50, chunk_delay=0.05)
    first_chunk = asyncio.Event()

    async def consume() -> None:
        async for _chunk in provider.stream(make_call()):
            first_chunk.set()

    task = asyncio.create_task(consume())
    async with asyncio.timeout(10):
        await first_chunk.wait()

    task.cancel()

    assert (await finished(fake.requests[-1])).closed_early
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_consumer_that_stops_reading_closes_the_upstream_connection(fake, provider):
    fake.script = Script(chunks=50, chunk_delay=0.05)

    stream = provider.stream(make_call())
    await anext(stream)
    await stream.aclose()

    assert (await finished(fake.requests[-1])).closed_early


async def test_a_stream_read_to_its_end_is_not_reported_as_closed_early(fake, provider):
    await collect(provider, make_call())

    assert not (await finished(fake.requests[-1])).closed_early

"""The ``Provider`` contract, run against every provider (``providers_under_test.PROVIDERS``).

What ``domain.ports.Provider`` promises, and the use-cases, the resilience
wrappers and the stream relays rely on:

1. ``name`` is the display name answers carry: never empty.
2. ``generate`` returns the whole answer, with the usage and the finish reason the upstream reported.
3. ``stream`` yields text deltas (text, no usage, no finish reason) and ends with exactly one
   chunk that carries the usage and the finish reason and no text.
4. Nothing follows that final chunk.
5. A stream and a whole answer to the same call tell the same text at the same cost.
6. Failures are ``UpstreamError``s, never vendor exceptions: before the answer (an error status,
   a dropped connection, a success status with a body that is not the API's) and in the middle of
   a stream, where the chunks already handed on are text deltas and no final chunk is made up.
7. Cancelling the awaiting task cancels the upstream call: ``generate`` waiting for its answer,
   a stream in the middle of one.
8. A consumer that stops reading a stream (``aclose``) lets the upstream call go as well.
9. ``stop_sequence`` names a stop sequence only when one ended the answer: an answer that ended
   on its own, with stop sequences asked for or not, whole or streamed, names none.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import msgspec
import pytest

from domain.content import Sampling
from domain.errors import UpstreamError
from domain.models import ProviderChunk
from tests.contract.providers_under_test import PROVIDERS, WAIT_SECONDS, Break, ProviderUnderTest, Refusal

PROMPT = "tell me how a gateway streams an answer"


@pytest.fixture(params=list(PROVIDERS), ids=list(PROVIDERS))
async def subject(request: pytest.FixtureRequest) -> AsyncIterator[ProviderUnderTest]:
    async with PROVIDERS[request.param]() as under_test:
        yield under_test


async def read_all(subject: ProviderUnderTest) -> list[ProviderChunk]:
    async with asyncio.timeout(WAIT_SECONDS):
        return [chunk async for chunk in subject.provider.stream(subject.call(PROMPT))]


def is_delta(chunk: ProviderChunk) -> bool:
    return bool(chunk.text) and chunk.usage is None and chunk.finish_reason is None


async def test_the_name_is_a_display_name(subject: ProviderUnderTest) -> None:
    assert subject.provider.name.strip()


async def test_generate_returns_the_whole_answer_with_its_usage_and_finish_reason(subject: ProviderUnderTest) -> None:
    call = subject.call(PROMPT)

    completion = await subject.provider.generate(call)

    assert completion.content
    assert completion.model == call.model
    assert completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 0
    assert completion.finish_reason


async def test_a_stream_is_text_deltas_then_one_final_chunk_with_usage_and_finish_reason(
    subject: ProviderUnderTest,
) -> None:
    *deltas, final = await read_all(subject)

    assert len(deltas) >= 2 and all(is_delta(chunk) for chunk in deltas)
    assert final.text == ""
    assert final.usage is not None and final.usage.prompt_tokens > 0 and final.usage.completion_tokens > 0
    assert final.finish_reason


async def test_nothing_follows_the_final_chunk(subject: ProviderUnderTest) -> None:
    stream = subject.provider.stream(subject.call(PROMPT))
    async with asyncio.timeout(WAIT_SECONDS):
        chunk = await anext(stream)
        while chunk.usage is None:
            chunk = await anext(stream)
        with pytest.raises(StopAsyncIteration):
            await anext(stream)


async def test_a_stream_and_a_whole_answer_to_one_call_agree(subject: ProviderUnderTest) -> None:
    completion = await subject.provider.generate(subject.call(PROMPT))
    *deltas, final = await read_all(subject)

    assert "".join(chunk.text for chunk in deltas) == completion.content
    assert (final.usage, final.finish_reason) == (completion.usage, completion.finish_reason)


@pytest.mark.parametrize("how", ["error_status", "dropped"])
async def test_a_failure_before_the_answer_is_an_upstream_error(subject: ProviderUnderTest, how: Refusal) -> None:
    subject.fail_before_answer(how)
    seen: list[ProviderChunk] = []

    with pytest.raises(UpstreamError):
        await subject.provider.generate(subject.call(PROMPT))
    with pytest.raises(UpstreamError):
        async for chunk in subject.provider.stream(subject.call(PROMPT)):
            seen.append(chunk)

    assert seen == []


async def test_a_garbled_answer_is_an_upstream_error(subject: ProviderUnderTest) -> None:
    subject.answer_garbled()

    with pytest.raises(UpstreamError):
        await subject.provider.generate(subject.call(PROMPT))
    with pytest.raises(UpstreamError):
        await read_all(subject)


@pytest.mark.parametrize("how", ["error_event", "dropped"])
async def test_a_failure_mid_stream_is_an_upstream_error_after_the_deltas_sent(
    subject: ProviderUnderTest, how: Break
) -> None:
    subject.fail_mid_stream(how, after_chunks=2)
    seen: list[ProviderChunk] = []

    with pytest.raises(UpstreamError):
        async for chunk in subject.provider.stream(subject.call(PROMPT)):
            seen.append(chunk)

    assert all(is_delta(chunk) for chunk in seen)


async def test_cancelling_a_waiting_generate_cancels_the_upstream_call(subject: ProviderUnderTest) -> None:
    subject.stall_before_answer()
    task = asyncio.create_task(subject.provider.generate(subject.call(PROMPT)))
    async with asyncio.timeout(WAIT_SECONDS):
        await subject.wait_called()

        task.cancel()

        with pytest.raises(asyncio.CancelledError):
            await task
        await subject.wait_released()


async def test_cancelling_a_stream_mid_answer_cancels_the_upstream_call(subject: ProviderUnderTest) -> None:
    subject.stall_mid_stream()
    first_chunk = asyncio.Event()

    async def consume() -> None:
        async for _chunk in subject.provider.stream(subject.call(PROMPT)):
            first_chunk.set()

    task = asyncio.create_task(consume())
    async with asyncio.timeout(WAIT_SECONDS):
        await first_chunk.wait()

        task.cancel()

        with pytest.raises(asyncio.CancelledError):
            await task
        await subject.wait_released()


async def test_a_consumer_that_stops_reading_lets_the_upstream_call_go(subject: ProviderUnderTest) -> None:
    subject.stall_mid_stream()
    stream = subject.provider.stream(subject.call(PROMPT))
    async with asyncio.timeout(WAIT_SECONDS):
        assert is_delta(await anext(stream))

        await stream.aclose()  # type: ignore[attr-defined]

        await subject.wait_released()


async def test_an_answer_that_ends_on_its_own_names_no_stop_sequence(subject: ProviderUnderTest) -> None:
    asked = msgspec.structs.replace(subject.call(PROMPT), sampling=Sampling(stop=("never-said-anywhere",)))

    for call in (subject.call(PROMPT), asked):
        completion = await subject.provider.generate(call)
        async with asyncio.timeout(WAIT_SECONDS):
            final = [chunk async for chunk in subject.provider.stream(call)][-1]

        assert (completion.finish_reason, completion.stop_sequence) == ("stop", None)
        assert (final.finish_reason, final.stop_sequence) == ("stop", None)

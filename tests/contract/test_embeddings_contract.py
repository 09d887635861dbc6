"""The ``Embeddings`` contract, run against every adapter (``embeddings_under_test.ADAPTERS``).

What ``domain.ports.Embeddings`` promises, and the ``Embed`` use-case relies on:

1. ``name`` is the display name answers carry: never empty.
2. One vector per text, in the order of the texts, of the model's size, unit length; a list longer than
   the model takes in one call comes back whole and in order once the use-case has batched it.
3. A vector is a function of its text: the same text gives the same vector, alone or in a list;
   other texts give other vectors.
4. A size the model gives is honoured.
5. The input tokens the upstream counted are reported.
6. Failures are domain errors, never vendor exceptions: throttling is ``UpstreamRateLimited`` with the
   upstream's ``Retry-After``, a 5xx or a dropped connection a retriable ``UpstreamError``, a success
   status with a body that is not the API's an ``UpstreamError``, refused credentials an
   ``UpstreamAuthError``, no answer in time an ``UpstreamTimeout``, a text the upstream refuses an
   ``UpstreamBadRequest``.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator

import pytest

from application.embed import Embed
from application.pool import WorkerPool
from domain.embedding_catalogue import EMBEDDING_MODELS, EmbeddingCatalogue
from domain.embeddings import EmbeddingCall, EmbeddingFields, EmbeddingModelInfo
from domain.errors import (
    UpstreamAuthError,
    UpstreamBadRequest,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
)
from domain.validation import RequestContext
from tests.contract.embeddings_under_test import ADAPTERS, EmbeddingsUnderTest, Failure
from tests.fakes import FakeClock

TEXTS = tuple(f"text number {i} about gateways" for i in range(100))
WAIT_SECONDS = 20.0


@pytest.fixture(params=list(ADAPTERS), ids=list(ADAPTERS))
async def subject(request: pytest.FixtureRequest) -> AsyncIterator[EmbeddingsUnderTest]:
    async with ADAPTERS[request.param]() as under_test:
        yield under_test


def catalogue_for(subject: EmbeddingsUnderTest) -> EmbeddingCatalogue:
    return EmbeddingCatalogue(EMBEDDING_MODELS, configured=(subject.provider,))


def info_of(subject: EmbeddingsUnderTest) -> EmbeddingModelInfo:
    return next(m for m in EMBEDDING_MODELS if m.id == subject.model and m.provider == subject.provider)


async def through_use_case(
    subject: EmbeddingsUnderTest, texts: tuple[str, ...], dimensions: int | None = None
) -> tuple[tuple[float, ...], ...]:
    catalogue = catalogue_for(subject)
    embed = Embed(
        catalogue=catalogue,
        embedders={subject.provider: subject.embeddings},
        pool=WorkerPool(max_concurrent=16, queue_size=1000, max_wait_seconds=10),
        clock=FakeClock(),
        fan_out=8,
    )
    request = catalogue.build(
        EmbeddingFields(texts=texts, model=subject.model, dimensions=dimensions), RequestContext()
    )
    async with asyncio.timeout(WAIT_SECONDS):
        answer = await embed.execute(request)
    assert answer.input_tokens > 0
    return answer.vectors


async def one(subject: EmbeddingsUnderTest, text: str) -> tuple[float, ...]:
    async with asyncio.timeout(WAIT_SECONDS):
        batch = await subject.embeddings.embed(EmbeddingCall(model=subject.model, texts=(text,)))
    assert len(batch.vectors) == 1
    return batch.vectors[0]


def is_unit(vector: tuple[float, ...]) -> bool:
    return math.isclose(math.fsum(x * x for x in vector), 1.0, rel_tol=1e-4)


async def test_the_name_is_a_display_name(subject: EmbeddingsUnderTest) -> None:
    assert subject.embeddings.name.strip()


async def test_a_long_list_comes_back_whole_in_order_as_unit_vectors_of_the_models_size(
    subject: EmbeddingsUnderTest,
) -> None:
    vectors = await through_use_case(subject, TEXTS)

    assert len(vectors) == len(TEXTS)
    assert {len(vector) for vector in vectors} == {info_of(subject).dimensions}
    assert all(is_unit(vector) for vector in vectors)
    for index in (0, 1, 57, 95, 96, 99):  # across the batches of every model (1, 16, 96, 2048 per call)
        assert vectors[index] == pytest.approx(await one(subject, TEXTS[index]), rel=1e-6)


async def test_a_vector_is_a_function_of_its_text(subject: EmbeddingsUnderTest) -> None:
    first, again, other = await one(subject, "same text"), await one(subject, "same text"), await one(subject, "other")
    assert first == again
    assert first != other


async def test_a_size_the_model_gives_is_honoured(subject: EmbeddingsUnderTest) -> None:
    info = info_of(subject)
    size = info.dimension_choices[0] if info.dimension_choices else (64 if info.shortens else info.dimensions)

    vectors = await through_use_case(subject, TEXTS[:3], dimensions=size)

    assert {len(vector) for vector in vectors} == {size}
    assert all(is_unit(vector) for vector in vectors)


async def test_the_input_tokens_are_reported(subject: EmbeddingsUnderTest) -> None:
    async with asyncio.timeout(WAIT_SECONDS):
        batch = await subject.embeddings.embed(EmbeddingCall(model=subject.model, texts=("four words in here",)))
    assert batch.input_tokens == 4


async def test_throttling_is_rate_limited_with_the_upstreams_retry_after(subject: EmbeddingsUnderTest) -> None:
    subject.fail("rate_limited")
    with pytest.raises(UpstreamRateLimited) as raised:
        await one(subject, "hello")
    assert raised.value.retry_after == 2.0


@pytest.mark.parametrize("how", ["server_error", "dropped", "garbled"])
async def test_a_failing_upstream_is_an_upstream_error(subject: EmbeddingsUnderTest, how: Failure) -> None:
    subject.fail(how)
    with pytest.raises(UpstreamError) as raised:
        await one(subject, "hello")
    assert not isinstance(raised.value, UpstreamBadRequest | UpstreamAuthError | UpstreamRateLimited)
    assert raised.value.retriable


async def test_refused_credentials_are_an_auth_error(subject: EmbeddingsUnderTest) -> None:
    subject.fail("auth")
    with pytest.raises(UpstreamAuthError):
        await one(subject, "hello")


async def test_an_upstream_that_does_not_answer_in_time_is_a_timeout(subject: EmbeddingsUnderTest) -> None:
    subject.stall()
    with pytest.raises(UpstreamTimeout):
        await one(subject, "hello")


async def test_a_text_the_upstream_refuses_is_an_upstream_bad_request(subject: EmbeddingsUnderTest) -> None:
    if subject.provider == "mock":
        pytest.skip("the mock embeds any text")
    with pytest.raises(UpstreamBadRequest):
        await one(subject, "w " * 30_000)  # over every vendor's limit: characters, tokens

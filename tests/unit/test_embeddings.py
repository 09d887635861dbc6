"""Embeddings: the request rules of the domain, and the ``Embed`` use-case's batching over a recording fake."""

from __future__ import annotations

import asyncio
import math
import re
from typing import Any

import pytest

from adapters.embeddings.mock import MockEmbeddings, unit_vector
from application.embed import Embed
from application.pool import WorkerPool
from application.resilience import CircuitBreakerProvider, ResilientEmbeddings, RetryPolicy
from domain.embedding_catalogue import EMBEDDING_MODELS, EmbeddingCatalogue
from domain.embeddings import (
    EmbeddingBatch,
    EmbeddingCall,
    EmbeddingFields,
    EmbeddingLimits,
    EmbeddingRequest,
    InvalidEmbeddingRequest,
)
from domain.errors import CircuitOpen, UnknownModel, UpstreamBadRequest, UpstreamError, UpstreamRateLimited
from domain.models import Message, ProviderCall
from domain.validation import RequestContext
from tests.fakes import FakeClock, ScriptedProvider

ALL = ("aws", "azure", "openai", "mock")


def catalogue(*configured: str, limits: EmbeddingLimits | None = None) -> EmbeddingCatalogue:
    return EmbeddingCatalogue(EMBEDDING_MODELS, configured=configured or ALL, limits=limits)


def build(
    model: str,
    texts: tuple[str, ...] = ("hello",),
    *,
    configured: tuple[str, ...] = ALL,
    dimensions: int | None = None,
    input_type: str = "",
) -> EmbeddingRequest:
    fields = EmbeddingFields(texts=texts, model=model, dimensions=dimensions, input_type=input_type)
    return catalogue(*configured).build(fields, RequestContext(request_id="req-1"))


# ---- the domain rules ------------------------------------------------------------------------


def test_a_model_is_found_by_id_alias_or_provider_prefix() -> None:
    assert (build("titan-embed-v2").provider, build("titan-embed-v2").model) == ("aws", "amazon.titan-embed-text-v2:0")
    assert build("text-embedding-3-small").provider == "azure"  # the first configured provider that has it
    assert build("text-embedding-3-small", configured=("openai",)).provider == "openai"
    explicit = build("openai/nomic-embed-text")
    assert (explicit.provider, explicit.model, explicit.info) == ("openai", "nomic-embed-text", None)
    assert build("bedrock/cohere.embed-english-v3").info == build("cohere.embed-english-v3").info
    assert build("").model == "amazon.titan-embed-text-v2:0"
    assert build("", configured=("mock",)).model == "mock-embed-1"


@pytest.mark.parametrize(
    ("model", "error", "message"),
    [
        ("gpt-4o", UnknownModel, "unknown embedding model 'gpt-4o'"),
        ("azure/text-embedding-3-small", UnknownModel, "provider 'azure' is not configured"),
        ("bedrock/anthropic.claude-3-haiku-20240307-v1:0", InvalidEmbeddingRequest, "not an embedding model"),
        ("mock/other", UnknownModel, "mock-embed-1"),
    ],
)
def test_a_model_that_makes_no_embeddings_is_refused(model: str, error: type[Exception], message: str) -> None:
    configured = ("aws", "mock")
    with pytest.raises(error, match=message):
        build(model, configured=configured)


@pytest.mark.parametrize(
    ("model", "texts", "fields", "param", "message"),
    [
        ("mock-embed-1", (), {}, "input", "must not be empty"),
        ("mock-embed-1", ("a", " "), {}, "input[1]", "input[1] is empty"),
        ("cohere.embed-english-v3", ("x" * 2049,), {}, "input[0]", "at most 2048"),
        ("amazon.titan-embed-text-v2:0", ("a",), {"dimensions": 300}, "dimensions", "256, 512, 1024"),
        ("cohere.embed-english-v3", ("a",), {"dimensions": 512}, "dimensions", "it gives 1024"),
        ("text-embedding-3-small", ("a",), {"dimensions": 1537}, "dimensions", "from 1 to 1536"),
        ("text-embedding-ada-002", ("a",), {"dimensions": 512}, "dimensions", "it gives 1536"),
        ("text-embedding-3-small", ("a",), {"dimensions": 0}, "dimensions", "positive integer"),
        ("mock-embed-1", ("a",), {"input_type": "poetry"}, "input_type", "search_document"),
    ],
)
def test_a_bad_request_is_refused_naming_the_field(
    model: str, texts: tuple[str, ...], fields: dict[str, Any], param: str, message: str
) -> None:
    with pytest.raises(InvalidEmbeddingRequest, match=re.escape(message)) as refused:
        build(model, texts, **fields)
    assert refused.value.param == param


def test_too_many_inputs_are_refused_before_any_call() -> None:
    small = catalogue("mock", limits=EmbeddingLimits(max_inputs=3))
    with pytest.raises(InvalidEmbeddingRequest, match="4 items, the limit is 3"):
        small.build(EmbeddingFields(texts=("a",) * 4, model="mock-embed-1"), RequestContext())


def test_allowed_dimensions_and_unknown_models_pass_through() -> None:
    assert build("amazon.titan-embed-text-v2:0", dimensions=256).expected_dimensions == 256
    assert build("text-embedding-3-large", dimensions=17).dimensions == 17
    assert build("openai/some-local-model", dimensions=99).expected_dimensions == 99  # the upstream decides
    assert build("cohere.embed-multilingual-v3").expected_dimensions == 1024


def test_the_mock_vector_is_a_deterministic_unit_vector_whose_prefix_is_the_shorter_one() -> None:
    full, short = unit_vector("some text", 256), unit_vector("some text", 8)
    assert full == unit_vector("some text", 256) and full != unit_vector("other text", 256)
    assert math.isclose(math.fsum(x * x for x in full), 1.0) and math.isclose(math.fsum(x * x for x in short), 1.0)
    scale = short[0] / full[0]
    assert all(math.isclose(s, f * scale) for s, f in zip(short, full[:8], strict=True))


# ---- the use-case ----------------------------------------------------------------------------


class RecordingEmbeddings:
    """Answers each text with a vector whose first component is the text read as a number.

    It records the calls, and fails on a text or holds every call on demand.
    """

    def __init__(
        self, *, size: int = 1536, fail_on: str = "", hold: asyncio.Event | None = None, short: bool = False
    ) -> None:
        self.size = size
        self.three_in_flight = asyncio.Event()
        self.calls: list[EmbeddingCall] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self._fail_on = fail_on
        self._hold = hold
        self._short = short

    @property
    def name(self) -> str:
        return "recording"

    async def embed(self, call: EmbeddingCall) -> EmbeddingBatch:
        self.calls.append(call)
        self.in_flight += 1
        if self.in_flight >= 3:
            self.three_in_flight.set()
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.001 * (len(self.calls) % 3))  # batches finish out of order
            if self._hold is not None:
                await self._hold.wait()
            if self._fail_on in call.texts:
                raise UpstreamError("the scripted upstream failed")
            vectors = tuple((float(text),) + (0.0,) * (self.size - 1) for text in call.texts)
            return EmbeddingBatch(vectors=vectors[:-1] if self._short else vectors, input_tokens=len(call.texts))
        finally:
            self.in_flight -= 1


def embed_with(embedder: object, *, fan_out: int = 4, pool: WorkerPool | None = None) -> Embed:
    return Embed(
        catalogue=catalogue(),
        embedders={"aws": embedder, "mock": MockEmbeddings()},  # type: ignore[dict-item]
        pool=pool or WorkerPool(max_concurrent=8, queue_size=100, max_wait_seconds=5),
        clock=FakeClock(),
        fan_out=fan_out,
    )


async def test_titan_gets_one_text_per_call_and_the_vectors_come_back_in_order() -> None:
    upstream = RecordingEmbeddings()
    texts = tuple(str(i) for i in range(25))
    answer = await embed_with(upstream, fan_out=4).execute(build("amazon.titan-embed-text-v1", texts))
    assert [v[0] for v in answer.vectors] == [float(i) for i in range(25)]
    assert [len(call.texts) for call in upstream.calls] == [1] * 25
    assert (answer.input_tokens, answer.upstream_calls, upstream.most_in_flight) == (25, 25, 4)


async def test_cohere_gets_batches_of_96() -> None:
    upstream = RecordingEmbeddings(size=1024)
    texts = tuple(str(i) for i in range(200))
    request = build("cohere.embed-english-v3", texts, input_type="search_query")
    answer = await embed_with(upstream).execute(request)
    assert sorted(len(call.texts) for call in upstream.calls) == [8, 96, 96]
    assert {call.input_type for call in upstream.calls} == {"search_query"}
    assert [v[0] for v in answer.vectors] == [float(i) for i in range(200)]


async def test_a_failing_batch_fails_the_request_and_cancels_the_others() -> None:
    upstream = RecordingEmbeddings(fail_on="3")
    with pytest.raises(UpstreamError, match="scripted upstream failed"):
        await embed_with(upstream, fan_out=2).execute(build("amazon.titan-embed-text-v1", tuple(map(str, range(40)))))
    assert len(upstream.calls) < 40 and upstream.in_flight == 0


async def test_a_caller_that_leaves_cancels_every_batch_in_flight() -> None:
    upstream = RecordingEmbeddings(hold=asyncio.Event())
    pool = WorkerPool(max_concurrent=8, queue_size=100, max_wait_seconds=5)
    task = asyncio.create_task(
        embed_with(upstream, fan_out=3, pool=pool).execute(build("amazon.titan-embed-text-v1", ("1", "2", "3", "4")))
    )
    await asyncio.wait_for(upstream.three_in_flight.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (upstream.in_flight, pool.active, len(upstream.calls)) == (0, 0, 3)


async def test_an_upstream_that_drops_a_vector_is_an_upstream_error() -> None:
    with pytest.raises(UpstreamError, match="gave 0 vectors for 1 texts"):
        await embed_with(RecordingEmbeddings(short=True)).execute(build("amazon.titan-embed-text-v1", ("1",)))


async def test_the_mock_honours_dimensions_through_the_use_case() -> None:
    answer = await embed_with(RecordingEmbeddings()).execute(build("mock-embed-1", ("a b", "c"), dimensions=12))
    assert [len(v) for v in answer.vectors] == [12, 12]
    assert (answer.provider, answer.model, answer.input_tokens) == ("mock", "mock-embed-1", 3)


async def test_a_vector_of_another_size_than_asked_is_an_upstream_error() -> None:
    with pytest.raises(UpstreamError, match="1024-dimensional vector where 1536 were expected"):
        await embed_with(RecordingEmbeddings(size=1024)).execute(build("amazon.titan-embed-text-v1", ("1",)))


# ---- resilience ------------------------------------------------------------------------------


class FlakyEmbeddings:
    """Fails with ``errors`` in turn, then answers."""

    name = "flaky"

    def __init__(self, *errors: UpstreamError) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def embed(self, call: EmbeddingCall) -> EmbeddingBatch:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return EmbeddingBatch(vectors=((1.0,),), input_tokens=1)


async def no_sleep(seconds: float) -> None:
    return None


CALL = EmbeddingCall(model="m", texts=("a",))


async def test_retriable_failures_are_retried_and_bad_requests_are_not() -> None:
    breaker = CircuitBreakerProvider(ScriptedProvider("unused"), failure_threshold=10)
    flaky = FlakyEmbeddings(UpstreamError("5xx"), UpstreamRateLimited("slow", retry_after=0.1))
    resilient = ResilientEmbeddings(flaky, breaker=breaker, policy=RetryPolicy(max_retries=2), sleep=no_sleep)
    assert (await resilient.embed(CALL)).input_tokens == 1 and flaky.calls == 3
    refused = FlakyEmbeddings(UpstreamBadRequest("no"))
    with pytest.raises(UpstreamBadRequest):
        await ResilientEmbeddings(refused, breaker=breaker, policy=RetryPolicy(max_retries=2), sleep=no_sleep).embed(
            CALL
        )
    assert refused.calls == 1


async def test_embeddings_failures_open_the_providers_own_circuit() -> None:
    text_calls = ScriptedProvider("the answer")
    breaker = CircuitBreakerProvider(text_calls, failure_threshold=2, reset_timeout=60)
    failing = FlakyEmbeddings(UpstreamError("down"), UpstreamError("down"))
    resilient = ResilientEmbeddings(failing, breaker=breaker, policy=RetryPolicy(max_retries=0), sleep=no_sleep)
    for _ in range(2):
        with pytest.raises(UpstreamError):
            await resilient.embed(CALL)
    assert breaker.state == "open"
    with pytest.raises(CircuitOpen):
        await breaker.generate(
            ProviderCall(model="m", messages=(Message(role="user", content="hi"),), max_tokens=8, temperature=0.0)
        )
    with pytest.raises(CircuitOpen):
        await resilient.embed(CALL)
    assert failing.calls == 2

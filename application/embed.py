"""Use-case: vectors for a list of texts (``POST /v1/embeddings``, the MCP ``embed`` tool).

The texts are cut into the model's batches (Titan v2 takes one text per call,
Cohere 96, OpenAI 2048), the batches run concurrently but at most ``fan_out``
at once per request, each in a worker-pool slot like any provider call, and
the vectors are put back in the order of the texts. A batch that fails fails
the request and cancels the others; so does a client that leaves. Every
answer is checked: one vector per text, each of the size asked for.

Nothing is cached (see ARCHITECTURE.md, "Embeddings are not cached").
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from application.pool import WorkerPool
from domain.embedding_catalogue import EmbeddingCatalogue
from domain.embeddings import Embedded, EmbeddingBatch, EmbeddingCall, EmbeddingRequest, batches
from domain.errors import InvalidRequest, UpstreamError
from domain.ports import Clock, Embeddings


class _UpstreamSpan:
    """From the first upstream call's start to the last one's end: the time spent waiting on the provider."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.first = 0.0
        self.last = 0.0

    def started(self) -> None:
        now = self._clock.monotonic()
        if not self.first:
            self.first = now

    def ended(self) -> None:
        self.last = self._clock.monotonic()

    @property
    def ms(self) -> float:
        return max(0.0, self.last - self.first) * 1000.0


class Embed:
    def __init__(
        self,
        *,
        catalogue: EmbeddingCatalogue,
        embedders: Mapping[str, Embeddings],
        pool: WorkerPool,
        clock: Clock,
        fan_out: int,
    ) -> None:
        self._catalogue = catalogue
        self._embedders = embedders
        self._pool = pool
        self._clock = clock
        self._fan_out = max(1, fan_out)

    async def execute(self, request: EmbeddingRequest) -> Embedded:
        embedder = self._embedder(request.provider)
        started = self._clock.monotonic()
        model, dimensions, input_type = request.model, request.dimensions, request.input_type
        calls = [
            EmbeddingCall(model=model, texts=texts, dimensions=dimensions, input_type=input_type)
            for texts in batches(request.texts, self._catalogue.batch_size(request))
        ]
        upstream = _UpstreamSpan(self._clock)
        answers = await self._run_all(embedder, calls, upstream)
        vectors = tuple(vector for answer in answers for vector in answer.vectors)
        _check_sizes(vectors, request, embedder.name)
        return Embedded(
            provider=embedder.name,
            model=request.model,
            vectors=vectors,
            input_tokens=sum(answer.input_tokens for answer in answers),
            upstream_calls=len(calls),
            duration_ms=(self._clock.monotonic() - started) * 1000.0,
            upstream_ms=upstream.ms,
        )

    def _embedder(self, provider: str) -> Embeddings:
        embedder = self._embedders.get(provider)
        if embedder is None:
            raise InvalidRequest(f"provider '{provider}' is not configured for embeddings")
        return embedder

    async def _run_all(
        self, embedder: Embeddings, calls: list[EmbeddingCall], upstream: _UpstreamSpan
    ) -> list[EmbeddingBatch]:
        """Every call's answer, in order; at most ``fan_out`` in flight; the first failure cancels the rest."""
        if len(calls) == 1:
            return [await self._one(embedder, calls[0], upstream)]
        answers: list[EmbeddingBatch | None] = [None] * len(calls)
        pending = iter(range(len(calls)))

        async def worker() -> None:
            for index in pending:  # one shared iterator: each call is taken by exactly one worker
                answers[index] = await self._one(embedder, calls[index], upstream)

        workers = [asyncio.create_task(worker()) for _ in range(min(self._fan_out, len(calls)))]
        try:
            await _first_failure(workers)
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
        return [answer for answer in answers if answer is not None]

    async def _one(self, embedder: Embeddings, call: EmbeddingCall, upstream: _UpstreamSpan) -> EmbeddingBatch:
        async with self._pool.slot():
            upstream.started()
            try:
                answer = await embedder.embed(call)
            finally:
                upstream.ended()
        if len(answer.vectors) != len(call.texts):
            raise UpstreamError(f"{embedder.name} gave {len(answer.vectors)} vectors for {len(call.texts)} texts")
        return answer


async def _first_failure(tasks: list[asyncio.Task[None]]) -> None:
    """Wait for every task; raise the first one's error as soon as one fails."""
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    for task in tasks:
        if task in done and not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


def _check_sizes(vectors: tuple[tuple[float, ...], ...], request: EmbeddingRequest, provider: str) -> None:
    """Every vector of the size asked for (or the model's), and all of one size."""
    expected = request.expected_dimensions or (len(vectors[0]) if vectors else 0)
    for vector in vectors:
        if len(vector) != expected:
            raise UpstreamError(f"{provider} gave a {len(vector)}-dimensional vector where {expected} were expected")

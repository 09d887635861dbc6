"""Use-case: one answer to one request (``POST /api/v1/generate``, gRPC ``Generate``)."""

from __future__ import annotations

from application.pipeline import GenerationPipeline
from domain.accounting import answer_from_cache
from domain.models import Answer, GenerationRequest, ProviderCall


class Generate:
    def __init__(self, *, pipeline: GenerationPipeline) -> None:
        self._pipeline = pipeline

    async def execute(self, request: GenerationRequest) -> Answer:
        pipeline = self._pipeline
        started = pipeline.clock.monotonic()
        async with pipeline.conversations.turn(request) as session:
            prepared = await pipeline.prepare(request, session)
            if prepared.cached is not None:
                answer = answer_from_cache(
                    prepared.cached, request, key=prepared.key, duration_ms=pipeline.elapsed_ms(started)
                )
            else:
                answer = await self._ask(request, prepared.call, prepared.key, started)
            await pipeline.finish(request, answer)
        return answer

    async def _ask(self, request: GenerationRequest, call: ProviderCall, key: str, started: float) -> Answer:
        pipeline = self._pipeline
        provider = pipeline.provider(request)
        async with pipeline.pool.slot():
            upstream_started = pipeline.clock.monotonic()
            completion = await provider.generate(call)
            upstream_ms = pipeline.elapsed_ms(upstream_started)
        return pipeline.answered(
            completion, request, provider=provider.name, key=key, started=started, upstream_ms=upstream_ms
        )

"""The steps every generation shares, fresh or streamed.

``prepare`` reads the session's history into the provider call, derives the
cache key, lets the feedback loop judge the previous answer and looks the key
up; ``finish`` stores a fresh answer in the cache and the turn in the session.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from application.conversation import Conversations
from application.feedback_loop import FeedbackLoop
from application.pool import WorkerPool
from application.response_cache import ResponseCache
from domain.accounting import fresh_answer
from domain.cache_key import cache_key
from domain.errors import InvalidRequest
from domain.models import Answer, CacheEntry, Completion, GenerationRequest, ProviderCall, Session
from domain.ports import Clock, Provider


class Prepared(msgspec.Struct, frozen=True, kw_only=True):
    call: ProviderCall
    key: str
    cached: CacheEntry | None


class GenerationPipeline:
    def __init__(
        self,
        *,
        providers: Mapping[str, Provider],
        pool: WorkerPool,
        cache: ResponseCache,
        conversations: Conversations,
        feedback: FeedbackLoop,
        clock: Clock,
    ) -> None:
        self.providers = providers
        self.pool = pool
        self.cache = cache
        self.conversations = conversations
        self.feedback = feedback
        self.clock = clock

    def provider(self, request: GenerationRequest) -> Provider:
        provider = self.providers.get(request.provider)
        if provider is None:
            raise InvalidRequest(f"provider '{request.provider}' is not configured")
        return provider

    async def prepare(self, request: GenerationRequest, session: Session | None) -> Prepared:
        call = self.conversations.call_for(request, session)
        key = cache_key(request.provider, call)
        await self.feedback.review(request, session)
        return Prepared(call=call, key=key, cached=await self.cache.lookup(request, key))

    async def finish(self, request: GenerationRequest, answer: Answer) -> None:
        await self.cache.store(answer.cache_key, answer)
        await self.conversations.record(request, answer)

    def elapsed_ms(self, started: float) -> float:
        return (self.clock.monotonic() - started) * 1000.0

    def answered(
        self,
        completion: Completion,
        request: GenerationRequest,
        *,
        provider: str,
        key: str,
        started: float,
        upstream_ms: float,
    ) -> Answer:
        """The fresh answer a provider gave (whole or assembled from a stream), timed from ``started``."""
        return fresh_answer(
            completion,
            request,
            provider=provider,
            key=key,
            duration_ms=self.elapsed_ms(started),
            upstream_ms=upstream_ms,
        )

"""Tracing decorators for the ports: provider and embeddings calls, the cache, the session store.

(docs/api.md#observability)

Each satisfies its port and opens one span per call, child of whatever span
is current (the use-case's). Provider spans carry the OpenTelemetry GenAI
semantic-convention attributes. A streamed call keeps its span open until the
stream ends, but makes it current only while the inner stream is being
advanced, so the consumer's own work between chunks is not attributed to it
and the context is never left attached across a ``yield``.

The container wires these only when tracing is on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from domain.embeddings import EmbeddingBatch, EmbeddingCall
from domain.models import CacheEntry, Completion, Message, ProviderCall, ProviderChunk, Session, Usage
from domain.ports import Cache, Embeddings, Provider, SessionRepo

# gen_ai.system values of the semantic conventions, by provider key.
GEN_AI_SYSTEMS = {"aws": "aws.bedrock", "azure": "az.ai.openai", "openai": "openai", "mock": "mock"}


def record_failure(span: Span, exc: BaseException) -> None:
    if isinstance(exc, asyncio.CancelledError | GeneratorExit):  # the caller went away: not an error
        span.set_attribute("gen_ai.cancelled", True)
        return
    span.record_exception(exc)
    span.set_attribute("error.type", getattr(exc, "code", type(exc).__name__))
    span.set_status(Status(StatusCode.ERROR, str(exc)))


def set_usage(span: Span, usage: Usage | None, finish_reason: str | None) -> None:
    if usage is not None:
        span.set_attribute("gen_ai.usage.input_tokens", usage.prompt_tokens)
        span.set_attribute("gen_ai.usage.output_tokens", usage.completion_tokens)
    if finish_reason:
        span.set_attribute("gen_ai.response.finish_reasons", (finish_reason,))


class TracedProvider:
    """A ``Provider`` whose calls are ``chat <model>`` client spans."""

    def __init__(self, provider: Provider, *, key: str, tracer: trace.Tracer) -> None:
        self._provider = provider
        self._tracer = tracer
        self._system = GEN_AI_SYSTEMS.get(key, key)

    @property
    def name(self) -> str:
        return self._provider.name

    @property
    def state(self) -> str:
        return str(getattr(self._provider, "state", "closed"))

    def _start(self, call: ProviderCall, streaming: bool) -> Span:
        return self._tracer.start_span(
            f"chat {call.model}",
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.system": self._system,
                "gen_ai.request.model": call.model,
                "gen_ai.request.max_tokens": call.max_tokens,
                "gen_ai.request.temperature": call.temperature,
                "gen_ai.request.stream": streaming,
            },
        )

    async def generate(self, call: ProviderCall) -> Completion:
        span = self._start(call, streaming=False)
        with trace.use_span(span, end_on_exit=True, record_exception=False, set_status_on_exception=False):
            try:
                completion = await self._provider.generate(call)
            except BaseException as exc:
                record_failure(span, exc)
                raise
            span.set_attribute("gen_ai.response.model", completion.model or call.model)
            set_usage(span, completion.usage, completion.finish_reason)
            return completion

    async def stream(self, call: ProviderCall) -> AsyncIterator[ProviderChunk]:
        span = self._start(call, streaming=True)
        current = trace.set_span_in_context(span)
        chunks = self._provider.stream(call).__aiter__()
        try:
            while True:
                token = otel_context.attach(current)
                try:
                    chunk = await chunks.__anext__()
                except StopAsyncIteration:
                    break
                finally:
                    otel_context.detach(token)
                if chunk.usage is not None or chunk.finish_reason:
                    set_usage(span, chunk.usage, chunk.finish_reason)
                yield chunk
        except BaseException as exc:
            record_failure(span, exc)
            raise
        finally:
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()
            span.end()


class TracedCache:
    """A ``Cache`` whose reads and writes are ``cache <op>`` spans (``cache.hit`` on reads)."""

    def __init__(self, cache: Cache, *, tracer: trace.Tracer, backend: str) -> None:
        self._cache = cache
        self._tracer = tracer
        self._attributes = {"db.system.name": backend}

    async def get(self, key: str) -> CacheEntry | None:
        with self._tracer.start_as_current_span("cache get", attributes=self._attributes) as span:
            entry = await self._cache.get(key)
            span.set_attribute("cache.hit", entry is not None)
            return entry

    async def set(self, key: str, entry: CacheEntry, ttl_seconds: int) -> None:
        with self._tracer.start_as_current_span("cache set", attributes=self._attributes):
            await self._cache.set(key, entry, ttl_seconds)

    async def delete(self, key: str) -> bool:
        with self._tracer.start_as_current_span("cache delete", attributes=self._attributes):
            return await self._cache.delete(key)

    async def ping(self) -> bool:
        return await self._cache.ping()


class TracedSessionRepo:
    """A ``SessionRepo`` whose operations are ``session <op>`` spans; ``lock`` spans the wait only."""

    def __init__(self, repo: SessionRepo, *, tracer: trace.Tracer, backend: str) -> None:
        self._repo = repo
        self._tracer = tracer
        self._attributes = {"db.system.name": backend}

    async def get(self, session_id: str) -> Session | None:
        with self._tracer.start_as_current_span("session get", attributes=self._attributes) as span:
            session = await self._repo.get(session_id)
            span.set_attribute("session.found", session is not None)
            return session

    async def append(
        self, session_id: str, user_id: str, messages: Sequence[Message], *, max_messages: int, now: float
    ) -> Session:
        with self._tracer.start_as_current_span("session append", attributes=self._attributes):
            return await self._repo.append(session_id, user_id, messages, max_messages=max_messages, now=now)

    async def delete(self, session_id: str) -> bool:
        with self._tracer.start_as_current_span("session delete", attributes=self._attributes):
            return await self._repo.delete(session_id)

    def lock(self, session_id: str) -> AbstractAsyncContextManager[None]:
        return self._traced_lock(session_id)

    @asynccontextmanager
    async def _traced_lock(self, session_id: str) -> AsyncIterator[None]:
        lock = self._repo.lock(session_id)
        with self._tracer.start_as_current_span("session lock", attributes=self._attributes):
            await lock.__aenter__()
        try:
            yield
        except BaseException as exc:
            if not await lock.__aexit__(type(exc), exc, exc.__traceback__):
                raise
        else:
            await lock.__aexit__(None, None, None)

    async def ping(self) -> bool:
        return await self._repo.ping()


class TracedEmbeddings:
    """An ``Embeddings`` adapter whose calls are ``embeddings <model>`` client spans."""

    def __init__(self, embeddings: Embeddings, *, key: str, tracer: trace.Tracer) -> None:
        self._embeddings = embeddings
        self._tracer = tracer
        self._system = GEN_AI_SYSTEMS.get(key, key)

    @property
    def name(self) -> str:
        return self._embeddings.name

    async def embed(self, call: EmbeddingCall) -> EmbeddingBatch:
        attributes: dict[str, str | int] = {
            "gen_ai.operation.name": "embeddings",
            "gen_ai.system": self._system,
            "gen_ai.request.model": call.model,
            "mcp.embeddings.inputs": len(call.texts),
        }
        if call.dimensions is not None:
            attributes["gen_ai.embeddings.dimension.count"] = call.dimensions
        span = self._tracer.start_span(f"embeddings {call.model}", kind=SpanKind.CLIENT, attributes=attributes)
        with trace.use_span(span, end_on_exit=True, record_exception=False, set_status_on_exception=False):
            try:
                batch = await self._embeddings.embed(call)
            except BaseException as exc:
                record_failure(span, exc)
                raise
            span.set_attribute("gen_ai.usage.input_tokens", batch.input_tokens)
            return batch

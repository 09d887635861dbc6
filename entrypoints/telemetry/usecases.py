"""The generation use-cases, observed: tokens, overhead, time to first token, errors, spans.

``ObservedGenerate`` and ``ObservedGenerateStream`` wrap the use-cases with the
same ``execute`` signature; the container hands them to every surface (HTTP,
SSE, batch items, WebSocket, gRPC), so all of them are counted in one place.
Per answer: ``mcp_tokens_used_total`` (fresh or replayed from the cache),
``mcp_gateway_overhead_seconds`` (the answer's duration minus its upstream
time), ``mcp_time_to_first_token_seconds`` for streams (from the request's
arrival when a surface started a record), ``mcp_errors_total`` for a domain
error; and, with tracing on, a ``generate``/``generate_stream`` span that is
the parent of the cache, session and provider spans.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span

from adapters.observability.prometheus import PrometheusMetrics
from adapters.observability.traced import GEN_AI_SYSTEMS, record_failure, set_usage
from application.generate import Generate
from application.generate_stream import GenerateStream
from domain.errors import DomainError
from domain.models import Answer, GenerationRequest, StreamDelta, StreamEnd, StreamEvent
from entrypoints.telemetry.record import request_record_var


@dataclass
class _Outcome:
    """How one generation ended, for its span."""

    answer: Answer | None = None
    error: BaseException | None = None


class _Observer:
    def __init__(self, metrics: PrometheusMetrics, tracer: trace.Tracer | None) -> None:
        self._metrics = metrics
        self._tracer = tracer

    def answered(self, request: GenerationRequest, answer: Answer) -> None:
        metrics, provider, model = self._metrics, request.provider, request.model
        if answer.cached:
            usage = answer.cached_usage
            metrics.tokens(provider, model, "cached_prompt", usage.prompt_tokens)
            metrics.tokens(provider, model, "cached_completion", usage.completion_tokens)
        else:
            metrics.tokens(provider, model, "prompt", answer.usage.prompt_tokens)
            metrics.tokens(provider, model, "completion", answer.usage.completion_tokens)
        metrics.overhead(provider, (answer.duration_ms - answer.upstream_ms) / 1000.0)
        record = request_record_var.get()
        if record is not None:
            record.note_generation(provider, model, answer.usage.total, answer.cached)

    def failed(self, request: GenerationRequest, error: DomainError) -> None:
        self._metrics.error(error.code, request.provider)
        record = request_record_var.get()
        if record is not None:
            record.note_generation(request.provider, request.model, 0, False)
            record.note_error(error.code, counted=True)

    @contextmanager
    def watching(self, request: GenerationRequest, outcome: _Outcome) -> Iterator[None]:
        """Keep how the block failed in ``outcome``; a domain error is also counted (cancellation is not)."""
        try:
            yield
        except DomainError as exc:
            outcome.error = exc
            self.failed(request, exc)
            raise
        except BaseException as exc:
            outcome.error = exc
            raise

    def start_span(self, name: str, request: GenerationRequest) -> Span | None:
        if self._tracer is None:
            return None
        return self._tracer.start_span(
            name,
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.system": GEN_AI_SYSTEMS.get(request.provider, request.provider),
                "gen_ai.request.model": request.model,
                "gen_ai.request.max_tokens": request.max_tokens,
                "gen_ai.request.temperature": request.temperature,
                "mcp.request_id": request.request_id,
                "mcp.session": request.has_session,
            },
        )


def _end_span(span: Span | None, outcome: _Outcome) -> None:
    if span is None:
        return
    answer, error = outcome.answer, outcome.error
    if answer is not None:
        span.set_attribute("gen_ai.response.model", answer.model)
        span.set_attribute("mcp.cached", answer.cached)
        set_usage(span, answer.cached_usage if answer.cached else answer.usage, answer.finish_reason)
    if error is not None:
        record_failure(span, error)
    span.end()


class ObservedGenerate(Generate):
    """``Generate`` with its metrics and span.

    A subclass only so that every consumer typed against the use-case takes it;
    it wraps the inner use-case and reuses none of its behaviour.
    """

    def __init__(self, inner: Generate, *, metrics: PrometheusMetrics, tracer: trace.Tracer | None) -> None:
        self._inner = inner
        self._observer = _Observer(metrics, tracer)

    async def execute(self, request: GenerationRequest) -> Answer:
        span = self._observer.start_span("generate", request)
        token = otel_context.attach(trace.set_span_in_context(span)) if span is not None else None
        outcome = _Outcome()
        try:
            with self._observer.watching(request, outcome):
                answer = await self._inner.execute(request)
                outcome.answer = answer
        finally:
            if token is not None:
                otel_context.detach(token)
            _end_span(span, outcome)
        self._observer.answered(request, answer)
        return answer


class ObservedGenerateStream(GenerateStream):
    """``GenerateStream`` with its metrics (time to first token included) and span; a subclass for typing only."""

    def __init__(self, inner: GenerateStream, *, metrics: PrometheusMetrics, tracer: trace.Tracer | None) -> None:
        self._inner = inner
        self._metrics = metrics
        self._observer = _Observer(metrics, tracer)

    async def execute(self, request: GenerationRequest) -> AsyncIterator[StreamEvent]:
        record = request_record_var.get()
        started = record.started if record is not None else time.perf_counter()
        span = self._observer.start_span("generate_stream", request)
        current = trace.set_span_in_context(span) if span is not None else None
        events = self._inner.execute(request).__aiter__()
        first, outcome = True, _Outcome()
        try:
            with self._observer.watching(request, outcome):
                while True:
                    token = otel_context.attach(current) if current is not None else None
                    try:
                        event = await events.__anext__()
                    except StopAsyncIteration:
                        break
                    finally:
                        if token is not None:
                            otel_context.detach(token)
                    if first and isinstance(event, StreamDelta):
                        first = False
                        self._metrics.time_to_first_token(request.provider, time.perf_counter() - started)
                    elif isinstance(event, StreamEnd):
                        outcome.answer = event.answer
                        self._observer.answered(request, event.answer)
                    yield event
        finally:
            await _close(events)
            _end_span(span, outcome)


async def _close(events: AsyncIterator[StreamEvent]) -> None:
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        await aclose()

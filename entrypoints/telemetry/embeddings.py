"""The ``Embed`` use-case, observed: input tokens, overhead, errors, and an ``embeddings`` span.

The container hands ``ObservedEmbed`` to every surface that embeds (``POST /v1/embeddings``, the MCP
``embed`` tool), so they are counted in one place, as the generations are (``telemetry.usecases``):
``mcp_tokens_used_total{type="prompt"}`` for the tokens the provider counted,
``mcp_gateway_overhead_seconds`` (the answer's duration minus the time waiting on the provider),
``mcp_errors_total`` for a domain error, and the request's provider and model for
``mcp_requests_total`` (its ``method`` label is the surface's: ``openai_embeddings``, ...). With tracing on,
the ``embeddings`` span is the parent of one span per upstream batch.
"""

from __future__ import annotations

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span

from adapters.observability.prometheus import PrometheusMetrics
from adapters.observability.traced import GEN_AI_SYSTEMS, record_failure
from application.embed import Embed
from domain.embeddings import Embedded, EmbeddingRequest
from domain.errors import DomainError
from entrypoints.telemetry.record import request_record_var


class ObservedEmbed(Embed):
    """``Embed`` with its metrics and span; a subclass only so that consumers typed on the use-case take it."""

    def __init__(self, inner: Embed, *, metrics: PrometheusMetrics, tracer: trace.Tracer | None) -> None:
        self._inner = inner
        self._metrics = metrics
        self._tracer = tracer

    async def execute(self, request: EmbeddingRequest) -> Embedded:
        span = self._start_span(request)
        token = otel_context.attach(trace.set_span_in_context(span)) if span is not None else None
        try:
            answer = await self._inner.execute(request)
            self._answered(request, answer, span)
        except BaseException as exc:
            self._failed(request, exc, span)
            raise
        finally:
            if token is not None:
                otel_context.detach(token)
            if span is not None:
                span.end()
        return answer

    def _start_span(self, request: EmbeddingRequest) -> Span | None:
        if self._tracer is None:
            return None
        return self._tracer.start_span(
            "embeddings",
            attributes={
                "gen_ai.operation.name": "embeddings",
                "gen_ai.system": GEN_AI_SYSTEMS.get(request.provider, request.provider),
                "gen_ai.request.model": request.model,
                "mcp.embeddings.inputs": len(request.texts),
                "mcp.request_id": request.request_id,
            },
        )

    def _answered(self, request: EmbeddingRequest, answer: Embedded, span: Span | None) -> None:
        provider, model = request.provider, request.model
        self._metrics.tokens(provider, model, "prompt", answer.input_tokens)
        self._metrics.overhead(provider, (answer.duration_ms - answer.upstream_ms) / 1000.0)
        record = request_record_var.get()
        if record is not None:
            record.note_generation(provider, model, answer.input_tokens, False)
        if span is not None:
            span.set_attribute("gen_ai.usage.input_tokens", answer.input_tokens)
            span.set_attribute("mcp.embeddings.upstream_calls", answer.upstream_calls)

    def _failed(self, request: EmbeddingRequest, exc: BaseException, span: Span | None) -> None:
        if span is not None:
            record_failure(span, exc)
        if not isinstance(exc, DomainError):
            return  # cancellation (a client that left) is not an error
        self._metrics.error(exc.code, request.provider)
        record = request_record_var.get()
        if record is not None:
            record.note_generation(request.provider, request.model, 0, False)
            record.note_error(exc.code, counted=True)

"""How the container builds observability: metrics, tracing, and the decorators around the ports.

Tracing is a resource: ``None`` (and no tracing code anywhere) unless
``OTEL_EXPORTER_OTLP_ENDPOINT`` is set; the decorators below return the port
unchanged in that case. Metrics are always on; the figures kept by the pool,
the response cache and the session activity are read at scrape time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from opentelemetry import trace

from adapters.observability.prometheus import PrometheusMetrics
from adapters.observability.traced import TracedCache, TracedEmbeddings, TracedProvider, TracedSessionRepo
from application.pool import WorkerPool
from application.response_cache import ResponseCache
from application.session_activity import SessionActivity
from domain.catalogue import PROVIDER_ORDER, Catalogue
from domain.embedding_catalogue import EmbeddingCatalogue
from domain.ports import Cache, Embeddings, Provider, SessionRepo
from entrypoints.config import Settings
from entrypoints.telemetry.observer import Telemetry
from entrypoints.telemetry.record import MIXED

if TYPE_CHECKING:  # the OpenTelemetry SDK and its exporter are imported only when tracing is configured
    from adapters.observability.otel import OtelTracing


def build_metrics(
    settings: Settings, catalogue: Catalogue, embedding_catalogue: EmbeddingCatalogue
) -> PrometheusMetrics:
    models = [*(model.id for model in catalogue.models), *(model.id for model in embedding_catalogue.models)]
    return PrometheusMetrics(providers=(*PROVIDER_ORDER, MIXED), models=(*models, MIXED))


def tracing(settings: Settings, version: str) -> Iterator[OtelTracing | None]:
    """The tracer when an OTLP endpoint is configured, shut down (flushed) at the end."""
    if not settings.otel_exporter_otlp_endpoint:
        yield None
        return
    from adapters.observability.otel import OtelTracing

    tracer = OtelTracing(
        service_name=settings.otel_service_name,
        service_version=version,
        otlp_endpoint=settings.otel_exporter_otlp_endpoint,
    )
    try:
        yield tracer
    finally:
        tracer.shutdown()


def error_counter(metrics: PrometheusMetrics, error_type: str) -> Callable[[str], None]:
    """An ``on_error(operation)`` callback for adapters that swallow backend failures."""
    return lambda _operation: metrics.error(error_type)


def tracer_of(tracing: OtelTracing | None) -> trace.Tracer | None:
    return tracing.tracer if tracing is not None else None


def propagate_trace_context(tracing: OtelTracing | None, *, bedrock: Any, azure: Any, openai: Any) -> bool:
    """Make the provider clients send W3C ``traceparent``; ``True`` when tracing is on and hooks were added."""
    if tracing is None:
        return False
    from adapters.observability.otel import (
        register_botocore_trace_hook,
        register_chat_endpoint_trace_hook,
        register_openai_trace_hook,
    )
    from adapters.providers.chat_completions_http import ChatEndpoint

    if bedrock is not None:
        register_botocore_trace_hook(bedrock)
    for client in (azure, openai):
        if isinstance(client, ChatEndpoint):
            register_chat_endpoint_trace_hook(client)
        elif client is not None:
            register_openai_trace_hook(client)
    return True


def trace_providers(providers: Mapping[str, Provider], tracing: OtelTracing | None) -> Mapping[str, Provider]:
    if tracing is None:
        return providers
    return {key: TracedProvider(provider, key=key, tracer=tracing.tracer) for key, provider in providers.items()}


def trace_embedders(embedders: Mapping[str, Embeddings], tracing: OtelTracing | None) -> Mapping[str, Embeddings]:
    if tracing is None:
        return embedders
    return {key: TracedEmbeddings(embedder, key=key, tracer=tracing.tracer) for key, embedder in embedders.items()}


def trace_cache(cache: Cache, tracing: OtelTracing | None, settings: Settings) -> Cache:
    if tracing is None:
        return cache
    return TracedCache(cache, tracer=tracing.tracer, backend=settings.cache_backend)


def trace_sessions(repo: SessionRepo, tracing: OtelTracing | None, settings: Settings) -> SessionRepo:
    if tracing is None:
        return repo
    return TracedSessionRepo(repo, tracer=tracing.tracer, backend=settings.session_backend)


def build_telemetry(
    settings: Settings,
    metrics: PrometheusMetrics,
    tracing: OtelTracing | None,
    *,
    pool: WorkerPool,
    response_cache: ResponseCache,
    session_activity: SessionActivity,
) -> Telemetry:
    """The per-request telemetry, with the scrape-time figures registered once."""
    metrics.add_counter("mcp_cache_hits", "Response cache hits.", lambda: response_cache.hits)
    metrics.add_counter("mcp_cache_misses", "Response cache misses.", lambda: response_cache.misses)
    metrics.add_gauge("mcp_worker_pool_active_workers", "Provider calls running.", lambda: pool.active)
    metrics.add_gauge("mcp_worker_pool_queue_size", "Provider calls waiting for a slot.", lambda: pool.waiting)
    metrics.add_gauge("mcp_worker_pool_max_workers", "Provider calls allowed at once.", lambda: pool.max_concurrent)
    metrics.add_counter(
        "mcp_worker_pool_processed",
        "Provider calls finished (success or failure).",
        lambda: pool.processed + pool.failed,
    )
    metrics.add_gauge(
        "mcp_sessions_active", "Sessions with a turn in the last 15 minutes (this process).", session_activity.active
    )
    metrics.add_counter("mcp_sessions", "Sessions created (this process).", lambda: session_activity.created)
    return Telemetry(metrics=metrics, tracing=tracing, access_log=settings.access_log)

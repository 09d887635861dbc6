"""OpenTelemetry tracing: the tracer, its exporter, and W3C trace context in and out (docs/api.md#observability).

``OtelTracing`` owns a ``TracerProvider`` of its own (the global one is left
alone, so tests can run several in one process). Spans go to an OTLP/HTTP
collector (``OTEL_EXPORTER_OTLP_ENDPOINT``, the base URL; ``/v1/traces`` is
appended as the OTLP spec says) through a batching processor, or to any
exporter a test passes. When no endpoint is set the container builds no
``OtelTracing`` at all and no tracing code runs.

Trace context follows W3C ``traceparent``/``tracestate``: ``extract`` reads a
caller's headers, ``inject`` writes the current span's into outbound headers;
``httpx_trace_hook`` and ``register_botocore_trace_hook`` do that for the
provider clients (the openai SDK's httpx client, aiobotocore's Bedrock client).
"""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter

from adapters.observability.trace_context import PROPAGATOR as _PROPAGATOR
from adapters.observability.trace_context import TRACEPARENT, extract, inject

__all__ = ["TRACEPARENT", "OtelTracing", "extract", "inject"]


class OtelTracing:
    """A tracer and its export pipeline; ``shutdown`` flushes what is left."""

    def __init__(
        self,
        *,
        service_name: str,
        service_version: str,
        exporter: SpanExporter | None = None,
        otlp_endpoint: str = "",
        batch: bool = True,
    ) -> None:
        resource = Resource.create({"service.name": service_name, "service.version": service_version})
        self.provider = TracerProvider(resource=resource)
        exporter = exporter or _otlp_exporter(otlp_endpoint)
        processor = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
        self.provider.add_span_processor(processor)
        self.tracer: trace.Tracer = self.provider.get_tracer("mcp-server-ai", service_version)

    def shutdown(self) -> None:
        self.provider.shutdown()


def _otlp_exporter(endpoint: str) -> SpanExporter:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    base = endpoint.rstrip("/")
    url = base if base.endswith("/v1/traces") else base + "/v1/traces"
    exporter: SpanExporter = OTLPSpanExporter(endpoint=url, timeout=10)  # typed as Any by some releases
    return exporter


async def httpx_trace_hook(request: Any) -> None:
    """An httpx ``request`` event hook: ``AsyncClient(event_hooks={"request": [httpx_trace_hook]})``."""
    _PROPAGATOR.inject(request.headers)


def register_openai_trace_hook(client: Any) -> None:
    """Send ``traceparent`` on every request of an ``openai`` SDK client.

    The SDK takes event hooks only through a client of our own making
    (``http_client=``); adding the hook to the httpx client it built keeps its
    tuned defaults (timeouts, limits). ``_client`` is the SDK's attribute for it.
    """
    http_client: Any = getattr(client, "_client", None)
    hooks = getattr(http_client, "event_hooks", None)
    if http_client is None or hooks is None:
        return
    if httpx_trace_hook not in hooks["request"]:
        http_client.event_hooks = {**hooks, "request": [*hooks["request"], httpx_trace_hook]}


def register_chat_endpoint_trace_hook(endpoint: Any) -> None:
    """Send ``traceparent`` on every request of the lean HTTP client (``chat_completions_http.ChatEndpoint``)."""
    if _traceparent_line not in endpoint.header_hooks:
        endpoint.header_hooks.append(_traceparent_line)


def _traceparent_line() -> bytes:
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return b"".join(f"{name}: {value}\r\n".encode("latin-1") for name, value in carrier.items())


def register_botocore_trace_hook(client: Any) -> None:
    """Send ``traceparent`` on every request of a botocore/aiobotocore client."""
    client.meta.events.register("before-send.*", _inject_botocore)


def _inject_botocore(request: Any, **_: Any) -> None:
    # A before-send handler that returns something replaces the HTTP call: this one returns None.
    _PROPAGATOR.inject(request.headers)

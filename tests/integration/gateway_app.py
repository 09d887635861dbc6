"""The whole gateway in this process, for tests that need to see inside it (spans, metrics).

The real container and HTTP app, built from an environment of embedded
defaults plus ``env``; an httpx client talks to the ASGI app directly. Tracing
goes to an in-memory exporter when ``traced``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from dependency_injector import providers
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from adapters.observability.otel import OtelTracing
from entrypoints.bootstrap.container import Container, build_container, open_container
from entrypoints.config import load_settings
from entrypoints.http.app import create_http_app


@dataclass
class InProcessGateway:
    client: httpx.AsyncClient
    container: Container
    exporter: InMemorySpanExporter

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())


@asynccontextmanager
async def in_process_gateway(
    env: Mapping[str, str] | None = None, *, traced: bool = True
) -> AsyncIterator[InProcessGateway]:
    settings = load_settings([], environ={"MOCK_LATENCY_MS": "0", "ACCESS_LOG": "false", **(env or {})}, dotenv=None)
    container = build_container(settings)
    exporter = InMemorySpanExporter()
    if traced:
        tracing = OtelTracing(service_name="test", service_version="test", exporter=exporter, batch=False)
        container.tracing.override(providers.Object(tracing))
    await open_container(container)
    transport = httpx.ASGITransport(app=create_http_app(container, settings))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield InProcessGateway(client=client, container=container, exporter=exporter)
    finally:
        result = container.shutdown_resources()
        if result is not None:
            await result

"""W3C trace context (``traceparent``/``tracestate``) in and out, with the OpenTelemetry API only.

Apart from ``otel`` (which needs the OpenTelemetry SDK and builds the exporter) so that the request
path can read a caller's trace context without loading the SDK when tracing is off.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping

from opentelemetry import context as otel_context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

PROPAGATOR = TraceContextTextMapPropagator()
TRACEPARENT = "traceparent"


def extract(carrier: Mapping[str, str]) -> otel_context.Context:
    """The caller's trace context from lower-case headers (an empty context when there is none)."""
    return PROPAGATOR.extract(carrier)


def inject(carrier: MutableMapping[str, str]) -> None:
    """Write the current span's ``traceparent`` (and ``tracestate``) into ``carrier``."""
    PROPAGATOR.inject(carrier)

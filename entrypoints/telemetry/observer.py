"""One request on any surface: its server span, its metrics and its access-log line (docs/api.md#metrics).

Every surface calls the same two methods::

    record = telemetry.begin("grpc_generate", span_name="proto.AIService/Generate", carrier=metadata)
    ...serve...
    telemetry.finish(record, "OK", failed=False)

``begin`` starts the timer, the server span (a child of the caller's W3C
``traceparent`` when ``carrier`` holds one) and makes the record current;
``finish`` counts ``mcp_requests_total`` and ``mcp_request_duration_seconds``,
counts an error the layers below did not count already, ends the span and
writes one JSON access-log line. With tracing off no span code runs at all.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from adapters.observability.prometheus import PrometheusMetrics
from adapters.observability.trace_context import extract
from entrypoints.telemetry.record import RequestRecord, request_record_var

if TYPE_CHECKING:  # the SDK is loaded only when tracing is configured
    from adapters.observability.otel import OtelTracing

access_log = logging.getLogger("mcp.access")


class Telemetry:
    """Metrics always, spans when ``tracing`` is set, an access-log line per request when ``access_log``."""

    def __init__(self, *, metrics: PrometheusMetrics, tracing: OtelTracing | None, access_log: bool) -> None:
        self.metrics = metrics
        self.tracing = tracing
        self.tracer: trace.Tracer | None = tracing.tracer if tracing is not None else None
        self.logs_access = access_log

    def begin(
        self,
        method: str,
        *,
        span_name: str = "",
        carrier: Mapping[str, str] | None = None,
        attributes: Mapping[str, str | int] | None = None,
    ) -> RequestRecord:
        record = RequestRecord(method, time.perf_counter())
        request_record_var.set(record)
        if self.tracer is not None:
            parent = extract(carrier) if carrier else None
            span = self.tracer.start_span(
                span_name or method, context=parent, kind=SpanKind.SERVER, attributes=attributes
            )
            record.span = span
            record.otel_token = otel_context.attach(trace.set_span_in_context(span, parent))
        return record

    def finish(
        self, record: RequestRecord, status: str, *, failed: bool, fields: Mapping[str, object] | None = None
    ) -> None:
        """``status`` is the surface's own (``"200"``, ``"OK"``, ...); ``failed`` says whether it is an error."""
        seconds = time.perf_counter() - record.started
        self.metrics.request(record.method, status, record.provider, record.model, seconds)
        if failed and not record.error_counted:
            self.metrics.error(record.error or "request_failed", record.provider)
        if record.span is not None:
            self._end_span(record, status, failed)
        if self.logs_access:
            self._access_line(record, status, seconds, fields)

    @staticmethod
    def _end_span(record: RequestRecord, status: str, failed: bool) -> None:
        span = record.span
        span.set_attribute("mcp.status", status)
        if failed:
            span.set_attribute("error.type", record.error or status)
            span.set_status(Status(StatusCode.ERROR))
        if record.otel_token is not None:
            otel_context.detach(record.otel_token)
        span.end()

    @staticmethod
    def _access_line(record: RequestRecord, status: str, seconds: float, fields: Mapping[str, object] | None) -> None:
        line: dict[str, object] = {
            "surface": record.method,
            "status": status,
            "provider": record.provider,
            "model": record.model,
            "tokens": record.tokens,
            "cached": record.cached,
            "duration": round(seconds * 1000.0, 3),
        }
        if record.error:
            line["code"] = record.error
        if fields:
            line.update(fields)
        access_log.info("%s %s", record.method, status, extra=line)

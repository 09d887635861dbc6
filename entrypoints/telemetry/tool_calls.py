"""MCP tool calls, observed: ``mcp_tool_calls_total``, ``mcp_tool_call_duration_seconds`` and one span each.

Every tool call through ``/mcp`` (the gateway's own tools and the upstream
ones) is timed and counted here, with a ``status`` of ``ok``, ``tool_error``
(the tool answered with ``isError``) or the domain error's code (``forbidden``,
``not_found``, ``upstream_error``, ``upstream_timeout``, ...). The caller passes
bounded labels: a configured server name or ``gateway``, and a tool the server
offers, else ``unknown``. With tracing on, a ``mcp.tool_call`` span carries the
server and tool names (``gen_ai.tool.name``) and is the parent of what the call
does (a generation's spans for ``generate``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable
from typing import Any

from opentelemetry import trace

from adapters.observability.prometheus import PrometheusMetrics
from adapters.observability.traced import record_failure
from application.tool_registry import ToolRegistry
from domain.errors import DomainError
from domain.models import Caller
from domain.tool_servers import ProgressSink, ToolOutcome, split_qualified

UNKNOWN = "unknown"


def upstream_labels(registry: ToolRegistry, qualified: str) -> tuple[str, str]:
    """Bounded labels of an upstream call: the server and tool when a configured server offers it, else ``unknown``."""
    server_and_tool = split_qualified(qualified)
    if server_and_tool is not None and registry.knows(qualified):
        return server_and_tool
    return UNKNOWN, UNKNOWN


class ToolCallTelemetry:
    def __init__(self, *, metrics: PrometheusMetrics, tracer: trace.Tracer | None) -> None:
        self._metrics = metrics
        self._tracer = tracer

    async def observe(self, server: str, tool: str, call: Awaitable[ToolOutcome]) -> ToolOutcome:
        started = time.perf_counter()
        status = "error"
        span = self._start_span(server, tool)
        try:
            with trace.use_span(span, end_on_exit=False) if span is not None else contextlib.nullcontext():
                outcome = await call
            status = "tool_error" if outcome.is_error else "ok"
            if span is not None and outcome.is_error:
                span.set_status(trace.Status(trace.StatusCode.ERROR, "the tool reported an error"))
            return outcome
        except DomainError as exc:
            status = exc.code
            if span is not None:
                record_failure(span, exc)
            raise
        except BaseException as exc:
            status = "cancelled" if not isinstance(exc, Exception) else "internal_error"
            if span is not None:
                record_failure(span, exc)
            raise
        finally:
            self._metrics.tool_call(server, tool, status, time.perf_counter() - started)
            if span is not None:
                span.set_attribute("mcp.tool.status", status)
                span.end()

    def _start_span(self, server: str, tool: str) -> trace.Span | None:
        if self._tracer is None:
            return None
        return self._tracer.start_span(
            "mcp.tool_call",
            kind=trace.SpanKind.INTERNAL,
            attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": tool, "mcp.server": server},
        )


class ObservedToolCalls:
    """``ToolRegistry.call`` observed: what ``/mcp`` and the tool loop call upstream tools through."""

    def __init__(self, registry: ToolRegistry, telemetry: ToolCallTelemetry) -> None:
        self._registry = registry
        self._telemetry = telemetry

    async def call(
        self, qualified: str, arguments: dict[str, Any], *, caller: Caller, progress: ProgressSink | None = None
    ) -> ToolOutcome:
        server, tool = upstream_labels(self._registry, qualified)
        call = self._registry.call(qualified, arguments, caller=caller, progress=progress)
        return await self._telemetry.observe(server, tool, call)

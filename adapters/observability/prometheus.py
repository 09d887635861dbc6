"""The gateway's Prometheus metrics (docs/api.md#metrics), in a registry of their own.

Counted as things happen (cheap on the hot path: label children are cached
per label set, no validation after the first use):

    mcp_requests_total{method,status,provider,model}   one per request, on every surface
    mcp_request_duration_seconds{method,provider}      histogram of the same
    mcp_tokens_used_total{provider,model,type}         type: prompt, completion, cached_prompt, cached_completion
    mcp_errors_total{type,provider}                    type: the domain error code, or a backend failure
    mcp_gateway_overhead_seconds{provider}             time of a generation spent outside the provider call
    mcp_time_to_first_token_seconds{provider}          streams: arrival to the first chunk
    mcp_tool_calls_total{server,tool,status}           MCP tool calls (the gateway's own tools: server "gateway")
    mcp_tool_call_duration_seconds{server}             histogram of the same

Read when Prometheus scrapes (``add_gauge``/``add_counter`` with a callback),
so that counters kept elsewhere cost nothing more: the cache, pool and session
figures, and each upstream MCP server's ``mcp_upstream_up{server}`` and
``mcp_upstream_failures_total{server}``. Label values are bounded: a provider
outside the known keys or a model outside the catalogue is ``other``, a missing
one ``none``; a tool server outside the configured ones is ``unknown``, and past
``MAX_TOOL_LABELS`` distinct tools of one server the rest count as ``other``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

NONE = "none"
OTHER = "other"
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
MAX_TOOL_LABELS = 200  # distinct tool label values per server


class UpstreamFigures(Protocol):
    """What ``mcp_upstream_*`` reads of one tool server at scrape time."""

    @property
    def name(self) -> str: ...

    @property
    def state(self) -> str: ...

    @property
    def failures(self) -> int: ...


class _Upstreams(Collector):
    def __init__(self, read: Callable[[], Iterable[UpstreamFigures]]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("mcp_upstream_up", "1 while an upstream MCP server is connected.", labels=["server"])
        failures = CounterMetricFamily(
            "mcp_upstream_failures", "Connections to an upstream MCP server that failed.", labels=["server"]
        )
        for server in self._read():
            up.add_metric([server.name], 1.0 if server.state == "up" else 0.0)
            failures.add_metric([server.name], float(server.failures))
        yield up
        yield failures

    def describe(self) -> Iterator[Metric]:
        return self.collect()


class _Callback(Collector):
    """One metric whose value is read at scrape time."""

    def __init__(self, name: str, documentation: str, kind: str, read: Callable[[], float]) -> None:
        self._name, self._doc, self._kind, self._read = name, documentation, kind, read

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily if self._kind == "counter" else GaugeMetricFamily
        yield family(self._name, self._doc, value=float(self._read()))

    def describe(self) -> Iterator[Metric]:
        return self.collect()


class PrometheusMetrics:
    """Counters and histograms of docs/api.md#metrics; ``render`` gives the text exposition."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, *, providers: Iterable[str], models: Iterable[str], process_metrics: bool = True) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._providers = frozenset(providers)
        self._models = {model.lower(): model for model in models}
        registry = self.registry
        self._requests = Counter(
            "mcp_requests", "Requests served, by surface, status, provider and model.",
            ("method", "status", "provider", "model"), registry=registry,
        )  # fmt: skip
        self._duration = Histogram(
            "mcp_request_duration_seconds", "Time to serve a request, by surface and provider.",
            ("method", "provider"), buckets=DURATION_BUCKETS, registry=registry,
        )  # fmt: skip
        self._tokens = Counter(
            "mcp_tokens_used", "Tokens, by provider, model and type (fresh or replayed from the cache).",
            ("provider", "model", "type"), registry=registry,
        )  # fmt: skip
        self._errors = Counter("mcp_errors", "Errors, by type and provider.", ("type", "provider"), registry=registry)
        self._overhead = Histogram(
            "mcp_gateway_overhead_seconds", "Time of a generation spent outside the provider call.",
            ("provider",), buckets=OVERHEAD_BUCKETS, registry=registry,
        )  # fmt: skip
        self._ttft = Histogram(
            "mcp_time_to_first_token_seconds", "Streams: time from arrival to the first chunk.",
            ("provider",), buckets=TTFT_BUCKETS, registry=registry,
        )  # fmt: skip
        self._tool_calls = Counter(
            "mcp_tool_calls", "MCP tool calls, by tool server, tool and status.",
            ("server", "tool", "status"), registry=registry,
        )  # fmt: skip
        self._tool_duration = Histogram(
            "mcp_tool_call_duration_seconds", "Time of an MCP tool call, by tool server.",
            ("server",), buckets=DURATION_BUCKETS, registry=registry,
        )  # fmt: skip
        self._tool_labels: dict[str, set[str]] = {}
        self._children: dict[tuple[object, ...], Any] = {}
        self._request_children: dict[tuple[str, str, str, str], tuple[Any, Any]] = {}
        if process_metrics:
            ProcessCollector(registry=registry)
            PlatformCollector(registry=registry)
            GCCollector(registry=registry)

    # Label values ---------------------------------------------------------
    def provider_label(self, provider: str) -> str:
        if not provider:
            return NONE
        return provider if provider in self._providers else OTHER

    def model_label(self, model: str) -> str:
        if not model:
            return NONE
        return self._models.get(model.lower(), OTHER)

    # Counting -------------------------------------------------------------
    def request(self, method: str, status: str, provider: str, model: str, seconds: float) -> None:
        """One request finished on some surface; ``provider``/``model`` may be empty."""
        provider, model = self.provider_label(provider), self.model_label(model)
        # One lookup for both children (the labels are bounded by now, so is this dict): every request pays it.
        key = (method, status, provider, model)
        pair = self._request_children.get(key)
        if pair is None:
            pair = self._request_children[key] = (
                self._child(self._requests, method, status, provider, model),
                self._child(self._duration, method, provider),
            )
        pair[0].inc()
        pair[1].observe(seconds)

    def tokens(self, provider: str, model: str, token_type: str, count: int) -> None:
        if count > 0:
            self._child(self._tokens, self.provider_label(provider), self.model_label(model), token_type).inc(count)

    def error(self, error_type: str, provider: str = "") -> None:
        self._child(self._errors, error_type, self.provider_label(provider)).inc()

    def overhead(self, provider: str, seconds: float) -> None:
        self._child(self._overhead, self.provider_label(provider)).observe(max(0.0, seconds))

    def time_to_first_token(self, provider: str, seconds: float) -> None:
        self._child(self._ttft, self.provider_label(provider)).observe(seconds)

    def tool_call(self, server: str, tool: str, status: str, seconds: float) -> None:
        """One MCP tool call; ``server`` and ``tool`` are already bounded by the caller (known or ``unknown``)."""
        seen = self._tool_labels.setdefault(server, set())
        if tool not in seen:
            if len(seen) >= MAX_TOOL_LABELS:
                tool = OTHER
            else:
                seen.add(tool)
        self._child(self._tool_calls, server, tool, status).inc()
        self._child(self._tool_duration, server).observe(seconds)

    def add_upstreams(self, read: Callable[[], Iterable[UpstreamFigures]]) -> None:
        """``mcp_upstream_up`` and ``mcp_upstream_failures_total`` per upstream MCP server, read at scrape time."""
        self.registry.register(_Upstreams(read))

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (metric, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    # Scrape-time figures --------------------------------------------------
    def add_gauge(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        self.registry.register(_Callback(name, documentation, "gauge", read))

    def add_counter(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        """``name`` without ``_total``; ``read`` returns a value that only grows."""
        self.registry.register(_Callback(name, documentation, "counter", read))

    def render(self) -> bytes:
        return generate_latest(self.registry)

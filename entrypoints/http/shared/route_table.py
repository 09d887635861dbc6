"""The HTTP routes as the raw-ASGI layers see them: a bounded metric label, the route template, access rules.

Looked up by path before Litestar routes the request, so the guard and the
observer stay cheap (a dict lookup, then a few prefixes) and every label
value is from this table (``other`` for anything unknown).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Route:
    label: str  # the ``method`` label of mcp_requests_total
    template: str  # the span name's route part
    public: bool = False  # no API key needed
    admin_methods: frozenset[str] = frozenset()  # HTTP methods that need an admin key
    observed: bool = True  # counted and access-logged (probes and scrapes are not)


METRICS = Route("metrics", "/metrics", observed=False)
OTHER = Route("other", "other")
_EXACT = {
    route.template: route
    for route in (
        Route("generate", "/api/v1/generate"),
        Route("stream", "/api/v1/generate/stream"),
        Route("batch", "/api/v1/generate/batch"),
        Route("batch_stream", "/api/v1/generate/batch/stream"),
        Route("models", "/api/v1/models"),
        Route("status", "/api/v1/status"),
        Route("pool_stats", "/api/v1/pool/stats"),
        Route("validate", "/api/v1/validate"),
        Route("cache_stats", "/api/v1/cache/stats"),
        Route("cache_invalidate", "/api/v1/cache/invalidate", admin_methods=frozenset({"POST"})),
        Route("health", "/health", public=True, observed=False),
        Route("health", "/healthz", public=True, observed=False),
        Route("ready", "/readyz", public=True, observed=False),
        Route("ws", "/ws"),
        METRICS,
    )
}
_PREFIXES = (
    ("/api/v1/sessions/", Route("session", "/api/v1/sessions/{session_id}")),
    ("/api/v1/cache/blacklist/", Route("cache_blacklist", "/api/v1/cache/blacklist/{cache_key}",
                                       admin_methods=frozenset({"DELETE"}))),
    ("/schema", Route("schema", "/schema")),
    ("/swagger", Route("schema", "/swagger")),
    ("/examples", Route("examples", "/examples", public=True)),  # static pages, no data
)  # fmt: skip


def route_of(path: str) -> Route:
    route = _EXACT.get(path) or _EXACT.get(path.rstrip("/"))
    if route is not None:
        return route
    for prefix, candidate in _PREFIXES:
        if path.startswith(prefix):
            return candidate
    return OTHER

"""The HTTP routes as the raw-ASGI layers see them: a bounded metric label, the route template, access rules.

Looked up by path before Litestar routes the request, so the guard and the
observer stay cheap (a dict lookup, then a few prefixes) and every label
value is from this table (``other`` for anything unknown). The path is first
resolved by ``canonical_path``, the router's own rule, so the guard classifies
``//api/v1/cache/invalidate`` as the admin route Litestar will run. A path the
table does not know is ``other``: it needs a key like any API route; only the
routes marked ``public`` go without.

Each route names its API ``dialect`` (``native``, ``openai``, ...): the error
shape of every answer on that path, the shared layers' refusals included
(``errors.ErrorStyle``, made current by ``RequestIdMiddleware``). A new front
door adds its routes here with its ``method`` label and its dialect.
"""

from __future__ import annotations

from dataclasses import dataclass

from litestar.utils import normalize_path

NATIVE = "native"
OPENAI = "openai"
ANTHROPIC = "anthropic"


@dataclass(frozen=True, slots=True)
class Route:
    label: str  # the ``method`` label of mcp_requests_total
    template: str  # the span name's route part
    public: bool = False  # no API key needed
    admin_methods: frozenset[str] = frozenset()  # HTTP methods that need an admin key
    observed: bool = True  # counted and access-logged (probes and scrapes are not)
    dialect: str = NATIVE  # whose error shape the answers on this path have (``errors.ErrorStyle``)


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
        Route("openai_chat", "/v1/chat/completions", dialect=OPENAI),
        Route("openai_models", "/v1/models", dialect=OPENAI),
        Route("openai_responses", "/v1/responses", dialect=OPENAI),
        Route("anthropic_messages", "/v1/messages", dialect=ANTHROPIC),
        Route("anthropic_count_tokens", "/v1/messages/count_tokens", dialect=ANTHROPIC),
        Route("mcp", "/mcp"),  # the MCP surface (Streamable HTTP): one JSON-RPC message per request
        Route("mcp_servers", "/api/v1/mcp/servers", admin_methods=frozenset({"GET"})),
        Route("openai_embeddings", "/v1/embeddings", dialect=OPENAI),
        METRICS,
    )
}
_SCHEMA = Route("schema", "/schema")
_SWAGGER = Route("schema", "/swagger")
_EXAMPLES = Route("examples", "/examples", public=True)  # static pages, no data
_EXACT.update({"/schema": _SCHEMA, "/swagger": _SWAGGER, "/examples": _EXAMPLES})
# What lies below a prefix, in whole segments: "/examplesX" is not an example page.
_PREFIXES = (
    ("/api/v1/sessions/", Route("session", "/api/v1/sessions/{session_id}")),
    ("/api/v1/cache/blacklist/", Route("cache_blacklist", "/api/v1/cache/blacklist/{cache_key}",
                                       admin_methods=frozenset({"DELETE"}))),
    ("/v1/models/", Route("openai_models", "/v1/models/{model}", dialect=OPENAI)),
    ("/v1/responses/", Route("openai_responses", "/v1/responses/{response_id}", dialect=OPENAI)),
    ("/schema/", _SCHEMA),
    ("/swagger/", _SWAGGER),
    ("/examples/", _EXAMPLES),
)  # fmt: skip

# Routes whose remainder is one opaque id that may itself hold a "/" (a model named provider/model): an encoded
# slash there reads as the same route to a proxy and to the router, so ``PathMiddleware`` lets it through.
OPAQUE_TAIL_PREFIXES = ("/v1/models/",)


# Below a prefix, one segment (an id), then a fixed last segment: "/v1/responses/{response_id}/input_items".
_SUFFIXED = (
    ("/v1/responses/", "/input_items",
     Route("openai_responses", "/v1/responses/{response_id}/input_items", dialect=OPENAI)),
)  # fmt: skip


def canonical_path(path: str) -> str:
    """The path Litestar's router looks up for ``scope["path"]`` (percent-decoded by the server).

    It strips the slashes at both ends and collapses runs of slashes; the router
    does the same, so every layer that decides by path must ask here first.
    """
    if path.startswith("/") and "//" not in path and (path == "/" or not path.endswith("/")):
        return path  # already canonical, the common case: no regular expression on the hot path
    return normalize_path(path)


def route_of(path: str) -> Route:
    path = canonical_path(path)
    route = _EXACT.get(path)
    if route is not None:
        return route
    for prefix, suffix, candidate in _SUFFIXED:
        middle = path[len(prefix) : -len(suffix)]
        if path.startswith(prefix) and path.endswith(suffix) and middle and "/" not in middle:
            return candidate
    for prefix, candidate in _PREFIXES:
        if path.startswith(prefix):
            return candidate
    return OTHER


# Below a route of another dialect (``/v1/chat/completions/../x``, ``/v1/models/a/b``), a path the table does not
# know still gets that dialect's error shape: it is refused, and its client reads the refusal.
_DIALECT_PREFIXES = tuple(
    (route.template.split("{")[0].rstrip("/") + "/", route.dialect)
    for route in (*_EXACT.values(), *(candidate for _, candidate in _PREFIXES), *(c for _, _, c in _SUFFIXED))
    if route.dialect != NATIVE
)


def known_routes() -> tuple[Route, ...]:
    """Every route of the table (exact and below a prefix)."""
    return (*_EXACT.values(), *(route for _, route in _PREFIXES), *(route for _, _, route in _SUFFIXED))


def dialect_of(path: str) -> str:
    """The API dialect whose error shape the answers on ``path`` have."""
    route = route_of(path)
    if route is not OTHER:
        return route.dialect
    path = canonical_path(path)
    return next((dialect for prefix, dialect in _DIALECT_PREFIXES if path.startswith(prefix)), NATIVE)

"""``GET /metrics`` (Prometheus text format) as a raw-ASGI layer, and the app of ``METRICS_PORT``.

On the HTTP port the layer sits inside the guard, so ``METRICS_AUTH=true``
protects it like any route; on ``METRICS_PORT`` the same layers serve
``/metrics`` alone (with ``/health`` for probes). Paths are resolved as the
router resolves them (``canonical_path``), so the guard's view and this layer's agree.
"""

from __future__ import annotations

import msgspec

from adapters.observability.prometheus import PrometheusMetrics
from entrypoints.asgi import ASGIApp, Receive, Scope, Send
from entrypoints.http.shared.route_table import canonical_path

METRICS_PATH = "/metrics"
_HEALTH = msgspec.json.encode({"status": "ok"})
_NOT_FOUND = msgspec.json.encode({"error": "no such route; this port serves /metrics", "code": "not_found"})


class MetricsEndpoint:
    def __init__(self, app: ASGIApp, metrics: PrometheusMetrics) -> None:
        self._app = app
        self._metrics = metrics
        self._content_type = metrics.content_type.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or canonical_path(scope["path"]) != METRICS_PATH:
            await self._app(scope, receive, send)
            return
        if scope["method"] not in ("GET", "HEAD"):
            await _answer(send, 405, b"application/json", b'{"error":"use GET","code":"method_not_allowed"}')
            return
        body = self._metrics.render()
        await _answer(send, 200, self._content_type, b"" if scope["method"] == "HEAD" else body)


async def metrics_port_fallback(scope: Scope, receive: Receive, send: Send) -> None:
    """Everything but ``/metrics`` on ``METRICS_PORT``: ``/health`` for probes, 404 otherwise."""
    if scope["type"] != "http":
        return
    if canonical_path(scope["path"]) in ("/health", "/healthz"):
        await _answer(send, 200, b"application/json", _HEALTH)
    else:
        await _answer(send, 404, b"application/json", _NOT_FOUND)


async def _answer(send: Send, status: int, content_type: bytes, body: bytes) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

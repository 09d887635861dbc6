"""Raw-ASGI layer that observes each HTTP request: metrics, server span, access log (docs/api.md#metrics).

It sits just inside ``RequestIdMiddleware`` so that every answer is seen,
refusals by the CORS and guard layers included. WebSocket upgrades are left to
the ``/ws`` handler, which observes each message as a request of its own;
probes and scrapes (``/health*``, ``/readyz``, ``/metrics``) are not counted.
The label is the route the router resolves (``route_of``: ``//api/v1/generate``
is ``generate``); the span and the access log keep the path as it was sent,
before Litestar rewrites ``scope["path"]``, so odd spellings stay visible.
"""

from __future__ import annotations

from entrypoints.asgi import ASGIApp, Message, Receive, Scope, Send
from entrypoints.http.shared.route_table import route_of
from entrypoints.telemetry.observer import Telemetry

_TRACE_HEADERS = (b"traceparent", b"tracestate")


class ObserveMiddleware:
    def __init__(self, app: ASGIApp, telemetry: Telemetry) -> None:
        self._app = app
        self._telemetry = telemetry
        self._tracing = telemetry.tracer is not None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = route_of(scope["path"]) if scope["type"] == "http" else None
        if route is None or not route.observed:
            await self._app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        if self._tracing:
            record = self._telemetry.begin(
                route.label,
                span_name=f"{method} {route.template}",
                carrier=_trace_carrier(scope),
                attributes={"http.request.method": method, "http.route": route.template, "url.path": path},
            )
        else:
            record = self._telemetry.begin(route.label)
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, send_and_note)
        finally:
            fields = {"method": method, "path": path} if self._telemetry.logs_access else None
            self._telemetry.finish(record, str(status), failed=status >= 400, fields=fields)


def _trace_carrier(scope: Scope) -> dict[str, str] | None:
    carrier = None
    for key, value in scope.get("headers", ()):
        if key in _TRACE_HEADERS:
            carrier = carrier or {}
            carrier[key.decode()] = value.decode("latin-1")
    return carrier

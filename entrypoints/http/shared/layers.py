"""The raw-ASGI layers around the HTTP app, outermost first (inside ``RequestIdMiddleware``):

    ObserveMiddleware   metrics, server span, access log: sees every answer, refusals included
    PathMiddleware      400 for paths the router and a proxy or file system would read differently
    CorsMiddleware      only when CORS is configured; answers preflights before any key check
    GuardMiddleware     only when API keys or rate limits are configured
    MetricsEndpoint     GET /metrics, behind the guard when METRICS_AUTH=true

Layers that are not configured are not installed, so they cost nothing. Every
layer that decides by path resolves it as Litestar's router will
(``route_table.canonical_path``), so none of them sees a different route.
"""

from __future__ import annotations

from entrypoints.asgi import ASGIApp
from entrypoints.bootstrap.container import Container
from entrypoints.config import Settings
from entrypoints.cors_policy import parse_cors
from entrypoints.http.shared.cors import CorsMiddleware
from entrypoints.http.shared.guard import GuardMiddleware
from entrypoints.http.shared.metrics_endpoint import MetricsEndpoint, metrics_port_fallback
from entrypoints.http.shared.observe import ObserveMiddleware
from entrypoints.http.shared.paths import PathMiddleware
from entrypoints.http.shared.request_id import RequestIdMiddleware


def protect_and_observe(app: ASGIApp, container: Container, settings: Settings) -> ASGIApp:
    telemetry = container.telemetry()
    access = container.access()
    app = MetricsEndpoint(app, telemetry.metrics)
    if access.keys_required or access.limits_enabled:
        app = GuardMiddleware(app, access, metrics_auth=settings.metrics_auth)
    policy = parse_cors(settings)
    if policy is not None:
        app = CorsMiddleware(app, policy)
    return ObserveMiddleware(PathMiddleware(app), telemetry)


def create_metrics_app(container: Container, settings: Settings) -> ASGIApp:
    """The app of ``METRICS_PORT``: ``/metrics`` (keyed when METRICS_AUTH=true) and ``/health``."""
    access = container.access()
    app: ASGIApp = MetricsEndpoint(metrics_port_fallback, container.telemetry().metrics)
    if access.keys_required and settings.metrics_auth:
        app = GuardMiddleware(app, access, metrics_auth=True)
    return RequestIdMiddleware(app, tls=settings.enable_tls)

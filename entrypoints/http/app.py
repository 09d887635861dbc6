"""The Litestar application for the HTTP port (docs/api.md#routes)."""

from __future__ import annotations

from typing import Any, cast

from litestar import Litestar
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin

from domain.errors import DomainError
from entrypoints.asgi import ASGIApp
from entrypoints.bootstrap.container import VERSION, Container
from entrypoints.config import Settings
from entrypoints.cors_policy import parse_cors
from entrypoints.http.anthropic.deps import AnthropicDeps
from entrypoints.http.anthropic.errors import ANTHROPIC_ERROR_SHAPE, ANTHROPIC_ERRORS
from entrypoints.http.anthropic.routes import anthropic_fast_routes, build_anthropic_routes
from entrypoints.http.mcp.deps import build_mcp_surface
from entrypoints.http.mcp.endpoint import McpEndpoint, McpSurface
from entrypoints.http.native.admin import build_admin_routes
from entrypoints.http.native.browser import build_browser_routes
from entrypoints.http.native.deps import HttpDeps
from entrypoints.http.native.fast_generate import declared_routes, native_fast_routes
from entrypoints.http.native.generate import build_generation_routes
from entrypoints.http.openai.deps import OpenAIDeps
from entrypoints.http.openai.embeddings import EmbeddingsDeps, embeddings_declared_routes, embeddings_fast_routes
from entrypoints.http.openai.errors import OPENAI_ERROR_SHAPE, OPENAI_ERRORS
from entrypoints.http.openai.responses.deps import ResponsesDeps
from entrypoints.http.openai.responses.routes import build_responses_routes, responses_fast_routes
from entrypoints.http.openai.routes import build_openai_routes, openai_fast_routes
from entrypoints.http.shared.allow import with_options_handlers
from entrypoints.http.shared.client_address import TrustedProxies
from entrypoints.http.shared.disconnect import ClientGone, handle_client_gone
from entrypoints.http.shared.errors import ErrorStyle
from entrypoints.http.shared.fast_routes import FastRoute, FastRoutes
from entrypoints.http.shared.layers import protect_and_observe
from entrypoints.http.shared.litestar_errors import handle_domain_error, handle_http_exception, handle_unexpected
from entrypoints.http.shared.openapi import DocPolicy, ErrorShape, describe_routes, security_components
from entrypoints.http.shared.request_id import RequestIdMiddleware
from entrypoints.http.shared.route_table import ANTHROPIC, OPENAI

# The error shape of each API dialect but the native one, by the route table's dialect name.
ERROR_STYLES: dict[str, ErrorStyle] = {OPENAI: OPENAI_ERRORS, ANTHROPIC: ANTHROPIC_ERRORS}
# The same, as the OpenAPI document states them.
ERROR_SHAPES: dict[str, ErrorShape] = {OPENAI: OPENAI_ERROR_SHAPE, ANTHROPIC: ANTHROPIC_ERROR_SHAPE}


def create_litestar(container: Container, settings: Settings) -> Litestar:
    deps = HttpDeps.from_container(container)
    handlers = with_options_handlers(
        [
            *declared_routes(),
            *build_generation_routes(deps),
            *build_admin_routes(deps),
            *build_openai_routes(OpenAIDeps.from_container(container)),
            *build_anthropic_routes(),
            *embeddings_declared_routes(),
            *build_responses_routes(ResponsesDeps.from_container(container)),
            *build_browser_routes(container, settings),
        ]
    )
    access = container.access()
    policy = DocPolicy(
        keys_required=access.keys_required,
        limits_enabled=access.limits_enabled,
        cors=parse_cors(settings) is not None,
        error_shapes=ERROR_SHAPES,
    )
    describe_routes(handlers, policy)
    return Litestar(
        route_handlers=handlers,
        exception_handlers={
            DomainError: handle_domain_error,
            ClientGone: handle_client_gone,
            HTTPException: handle_http_exception,
            Exception: handle_unexpected,
        },
        request_max_body_size=settings.max_request_bytes,
        openapi_config=OpenAPIConfig(
            title="MCP Server AI",
            version=VERSION,
            path="/schema",
            components=security_components(policy),
            render_plugins=[ScalarRenderPlugin(), SwaggerRenderPlugin(path="/swagger")],
        ),
        logging_config=None,
        debug=False,
    )


def create_http_app(container: Container, settings: Settings, *, mcp: McpSurface | None = None) -> ASGIApp:
    """The HTTP port's app; ``/mcp`` answers once ``mcp.running()`` is entered (the listener's lifespan)."""
    litestar = cast(ASGIApp, create_litestar(container, settings))
    mcp_endpoint = McpEndpoint(litestar, mcp or build_mcp_surface(container, settings))
    # The hot routes of every dialect skip Litestar's per-request machinery (see fast_routes); the rest goes through it.
    routes: list[FastRoute[Any]] = [
        *native_fast_routes(HttpDeps.from_container(container)),
        *openai_fast_routes(OpenAIDeps.from_container(container)),
        *anthropic_fast_routes(AnthropicDeps.from_container(container)),
        *embeddings_fast_routes(EmbeddingsDeps.from_container(container)),
        *responses_fast_routes(ResponsesDeps.from_container(container)),
    ]
    app = FastRoutes(mcp_endpoint, routes, max_body_bytes=settings.max_request_bytes)
    proxies = TrustedProxies.parse(settings.trusted_proxies)
    return RequestIdMiddleware(
        protect_and_observe(app, container, settings),
        tls=settings.enable_tls,
        proxies=proxies,
        error_styles=ERROR_STYLES,
    )

"""The MCP server of ``/mcp``, built on the official SDK's low-level ``Server`` (the only module here that imports it).

The low-level server rather than ``MCPServer``: the tool list is not a fixed set
of Python functions but the gateway's tools plus whatever the upstreams report,
per caller, with the upstreams' own JSON Schemas. Its Streamable HTTP session
manager runs *stateless* (no ``Mcp-Session-Id``, nothing kept between requests),
so any replica answers any request; it speaks the current revision and the
earlier handshake ones. Answers are SSE streams, so a call's progress
notifications reach the client before its result.

Who is calling is the ``Caller`` the guard proved (``request_context``): the
handlers run in tasks started from the request's own, so the context carries
it. The request's headers come with the SDK's request context.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.exceptions import MCPError

from domain.errors import DomainError
from domain.tool_servers import ProgressSink, ToolOutcome
from entrypoints.http.mcp.gateway_tools import CATALOGUE_URI, SESSION_URI_TEMPLATE, GatewayTools
from entrypoints.http.mcp.tools import ListedTool, McpTools
from entrypoints.request_context import current_caller

RESOURCE_NOT_FOUND = -32002  # the code the MCP specification gives an unknown resource
_JSON = "application/json"


def build_session_manager(
    tools: McpTools,
    gateway: GatewayTools,
    *,
    version: str,
    allowed_hosts: list[str],
    allowed_origins: list[str],
    max_body_bytes: int,
) -> StreamableHTTPSessionManager:
    # The SDK logs every stateless request's transport teardown at info; its warnings (a refused Host) stay.
    logging.getLogger("mcp.server").setLevel(logging.WARNING)
    handlers = _Handlers(tools, gateway)
    server: Server[Any] = Server(
        "mcp-server-ai",
        version=version,
        title="MCP Server AI",
        instructions="The gateway's models as tools (generate, embed, list_models, get_session) and its upstream MCP "
        "servers' tools as <server>__<tool>.",
        get_tool_input_schema=tools.input_schema,
        on_list_tools=handlers.list_tools,
        on_call_tool=handlers.call_tool,
        on_list_resources=handlers.list_resources,
        on_list_resource_templates=handlers.list_resource_templates,
        on_read_resource=handlers.read_resource,
    )
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=allowed_hosts, allowed_origins=allowed_origins
    )
    return StreamableHTTPSessionManager(
        app=server,
        stateless=True,
        json_response=False,
        security_settings=security,
        max_request_body_size=max_body_bytes,
    )


class _Handlers:
    def __init__(self, tools: McpTools, gateway: GatewayTools) -> None:
        self._tools = tools
        self._gateway = gateway

    async def list_tools(self, ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[_tool(listed) for listed in self._tools.listing(current_caller())])

    async def call_tool(self, ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        outcome = await self._tools.call(
            params.name,
            params.arguments or {},
            caller=current_caller(),
            headers=_headers(ctx),
            progress=_progress_sink(ctx),
        )
        return _result(outcome)

    async def list_resources(self, ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListResourcesResult:
        catalogue = types.Resource(
            uri=CATALOGUE_URI,
            name="models",
            title="The model catalogue",
            description="The models of the configured providers (as GET /api/v1/models)",
            mime_type=_JSON,
        )
        return types.ListResourcesResult(resources=[catalogue])

    async def list_resource_templates(
        self, ctx: Any, params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        session = types.ResourceTemplate(
            uri_template=SESSION_URI_TEMPLATE,
            name="session",
            title="A session's transcript",
            description="A session of this API key (end user from X-User-ID, default 'mcp')",
            mime_type=_JSON,
        )
        return types.ListResourceTemplatesResult(resource_templates=[session])

    async def read_resource(self, ctx: Any, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        uri = str(params.uri)
        try:
            body = await self._gateway.read_resource(uri, _headers(ctx))
        except DomainError as exc:
            code = RESOURCE_NOT_FOUND if exc.code == "not_found" else types.INVALID_PARAMS
            raise MCPError(code=code, message=f"{exc.code}: {exc.message}") from None
        text = json.dumps(body, ensure_ascii=False)
        return types.ReadResourceResult(contents=[types.TextResourceContents(uri=uri, mime_type=_JSON, text=text)])


def _tool(listed: ListedTool) -> types.Tool:
    annotations = types.ToolAnnotations.model_validate(listed.annotations) if listed.annotations else None
    return types.Tool(
        name=listed.name,
        title=listed.title,
        description=listed.description,
        input_schema=listed.input_schema,
        output_schema=listed.output_schema,
        annotations=annotations,
    )


def _result(outcome: ToolOutcome) -> types.CallToolResult:
    return types.CallToolResult.model_validate(
        {"content": list(outcome.content), "structuredContent": outcome.structured, "isError": outcome.is_error}
    )


def _headers(ctx: Any) -> Mapping[str, str]:
    request = getattr(ctx, "request", None)
    headers = getattr(request, "headers", None)
    return headers if headers is not None else {}


def _progress_sink(ctx: Any) -> ProgressSink | None:
    """Progress of an upstream call, sent on to this request's client when it asked for progress."""
    meta = ctx.meta or {}
    token = meta.get("progress_token", meta.get("progressToken")) if isinstance(meta, Mapping) else None
    if token is None:
        return None

    async def send(progress: float, total: float | None, message: str | None) -> None:
        await ctx.session.send_progress_notification(
            progress_token=token, progress=progress, total=total, message=message, related_request_id=ctx.request_id
        )

    return send

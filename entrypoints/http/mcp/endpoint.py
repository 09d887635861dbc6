"""``/mcp`` on the HTTP port: the raw-ASGI layer in front of the SDK's Streamable HTTP transport.

It sits where the native hot routes sit, inside request ids, observation, the
path check, CORS and the guard, so ``/mcp`` takes the same key check, rate limit
and metrics (``method="mcp"``) as every route; it answers every spelling the
router would resolve to ``/mcp`` (``canonical_path``: ``//mcp``, ``/mcp/``).

Before the SDK sees a POST, the body is read within ``MAX_REQUEST_BYTES`` and
refused, as a JSON-RPC error the client's SDK understands, when it is too large,
nests deeper than ``json_depth.MAX_JSON_DEPTH`` or is a batch (an array:
revisions since 2025-06-18 have no batches). The SDK then checks Host and Origin
against ``MCP_ALLOWED_HOSTS``/``MCP_ALLOWED_ORIGINS`` (its DNS-rebinding
protection: 421/403) and the content type.

The SDK is imported on the first ``/mcp`` request (in a worker thread, so the
loop keeps serving), unless upstream MCP servers made the process load it at
start: a gateway whose clients never use MCP never pays for it. ``running`` is
the HTTP listener's lifespan; the session manager runs inside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

from domain.errors import PayloadTooLarge
from entrypoints.asgi import ASGIApp, Message, Receive, Scope, Send
from entrypoints.http.shared.disconnect import ClientGone
from entrypoints.http.shared.fast_routes import headers_of, read_body
from entrypoints.http.shared.route_table import canonical_path
from entrypoints.json_depth import json_too_deep

MCP_PATH = "/mcp"
INVALID_REQUEST = -32600
SURFACE_MODULE = "entrypoints.http.mcp.surface"


class SessionManager(Protocol):
    """What the SDK's ``StreamableHTTPSessionManager`` is to this layer."""

    def run(self) -> contextlib.AbstractAsyncContextManager[None]: ...

    async def handle_request(self, scope: Scope, receive: Receive, send: Send) -> None: ...


class McpSurface:
    """The session manager, built and started on first use, stopped when the listener stops."""

    def __init__(self, build: Callable[[], SessionManager], *, max_body_bytes: int) -> None:
        self._build = build
        self.max_body_bytes = max_body_bytes
        self._manager: SessionManager | None = None
        self._lock = asyncio.Lock()
        self._stopping: asyncio.Event | None = None
        self._runner: asyncio.Task[None] | None = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        self._stopping = asyncio.Event()
        try:
            yield
        finally:
            self._stopping.set()
            if self._runner is not None:
                await asyncio.gather(self._runner, return_exceptions=True)

    async def manager(self) -> SessionManager | None:
        """The running session manager; ``None`` outside ``running`` (an app that was never started)."""
        if self._manager is not None:
            return self._manager
        async with self._lock:
            if self._manager is None and self._stopping is not None and not self._stopping.is_set():
                await asyncio.to_thread(importlib.import_module, SURFACE_MODULE)
                self._manager = await self._start(self._build(), self._stopping)
        return self._manager

    async def _start(self, manager: SessionManager, stopping: asyncio.Event) -> SessionManager:
        ready = asyncio.Event()

        async def run() -> None:
            async with manager.run():
                ready.set()
                await stopping.wait()

        self._runner = asyncio.create_task(run(), name="mcp-session-manager")
        readiness = asyncio.ensure_future(ready.wait())
        await asyncio.wait([readiness, self._runner], return_when=asyncio.FIRST_COMPLETED)
        readiness.cancel()
        if not ready.is_set():
            self._runner.result()  # raises what stopped it
        return manager


class McpEndpoint:
    def __init__(self, app: ASGIApp, surface: McpSurface) -> None:
        self._app = app
        self._surface = surface

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or canonical_path(scope["path"]) != MCP_PATH:
            await self._app(scope, receive, send)
            return
        if scope["method"] != "POST":
            # Stateless: no server-initiated stream to open with GET (the SDK's would never end, holding the
            # connection) and no session to DELETE. 405 with Allow is what the specification names for it.
            await _jsonrpc_error(send, 405, "this MCP endpoint is stateless: send each message as a POST", allow=True)
            return
        headers = headers_of(scope)
        if headers.get("content-type", "").split(";", 1)[0].strip().lower() != "application/json":
            await _jsonrpc_error(send, 415, "Content-Type must be application/json")
            return
        manager = await self._surface.manager()
        if manager is None:
            await _jsonrpc_error(send, 503, "the MCP surface is not running")
            return
        try:
            body = await read_body(headers, receive, self._surface.max_body_bytes)
        except PayloadTooLarge:
            await _jsonrpc_error(send, 413, "request body is too large")
            return
        except ClientGone:
            return
        refusal = _refusal(body)
        if refusal is not None:
            await _jsonrpc_error(send, *refusal)
            return
        await manager.handle_request(scope, _replay(body, receive), send)


def _refusal(body: bytes) -> tuple[int, str] | None:
    if json_too_deep(body):
        return 400, "invalid JSON-RPC request: JSON nests too deep"
    if body.lstrip()[:1] == b"[":
        return 400, "batch requests are not supported: send one JSON-RPC message per request"
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _jsonrpc_error(send: Send, status: int, message: str, *, allow: bool = False) -> None:
    error: dict[str, Any] = {"jsonrpc": "2.0", "id": None, "error": {"code": INVALID_REQUEST, "message": message}}
    body = json.dumps(error).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if allow:
        headers.append((b"allow", b"POST"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

"""``POST /api/v1/generate`` and ``/generate/stream`` answered in raw ASGI, just in front of Litestar.

These are the gateway's busiest routes, and profiling showed Litestar's request
and response machinery (routing, the ``Request`` object, signature parsing,
``Response`` rendering, its exception middleware) costing about as much CPU as
the rest of a call together (``bench/RESULTS.md``). This layer is the one code
path of both routes: it answers every POST that Litestar's router would resolve
to them (``canonical_path``: ``/api/v1/generate/`` and ``//api/v1//generate``
included), with the body rules of every route (strict JSON, ``MAX_REQUEST_BYTES``),
the context from the headers, the use-case and the error answers of
``entrypoints.http.shared.errors``. It sits inside the guard, CORS and
observation layers, like Litestar.

``declared_routes`` declares the same two routes to Litestar, for the OpenAPI
document and the 405 to other methods only: their bodies are never run.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from litestar import Response, post
from litestar.handlers import HTTPRouteHandler

from domain.errors import DomainError, PayloadTooLarge
from entrypoints.asgi import ASGIApp, Receive, Scope, Send
from entrypoints.http.native.answers import overhead_header, render_stream_event
from entrypoints.http.native.deps import HttpDeps
from entrypoints.http.native.documents import (
    GENERATION_ERRORS,
    SESSION_HEADERS,
    SESSION_LINKS,
    SSE_ANSWER,
    AnswerDoc,
    ok,
)
from entrypoints.http.shared.body import JsonBody, documented
from entrypoints.http.shared.disconnect import ClientGone, record_client_gone, unless_client_leaves
from entrypoints.http.shared.errors import answer_domain_error, error_answer, send_error
from entrypoints.http.shared.route_table import canonical_path
from entrypoints.http.shared.sse import EventPump, first_frame, relay_sse
from entrypoints.native_json import GenerateBody, answer_json
from entrypoints.request_context import current_request_id

log = logging.getLogger("mcp.http")

GENERATE_PATH = "/api/v1/generate"
STREAM_PATH = "/api/v1/generate/stream"
_encode = msgspec.json.Encoder().encode
_JSON = (b"content-type", b"application/json")


_Responder = Callable[[GenerateBody, dict[str, str], Receive, Send], Awaitable[None]]


class FastGenerate:
    def __init__(self, app: ASGIApp, deps: HttpDeps, *, max_body_bytes: int) -> None:
        self._app = app
        self._deps = deps
        self._max_body = max_body_bytes
        self._body = JsonBody(GenerateBody)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = canonical_path(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else ""
        if path == GENERATE_PATH:
            await self._answer(scope, receive, send, self._generate)
        elif path == STREAM_PATH:
            await self._answer(scope, receive, send, self._stream)
        else:
            await self._app(scope, receive, send)

    async def _answer(self, scope: Scope, receive: Receive, send: Send, respond: _Responder) -> None:
        headers = _headers(scope)
        try:
            data = self._body.decode(await self._read_body(headers, receive))
            await respond(data, headers, receive, send)
        except ClientGone:
            await record_client_gone(send)
        except DomainError as exc:
            await send_error(send, answer_domain_error(exc))
        except Exception as exc:  # as Litestar's handler for the unexpected: logged, no internals
            log.exception("unexpected error", exc_info=exc)
            await send_error(send, error_answer(500, "internal_error", "internal error", current_request_id()))

    async def _generate(self, data: GenerateBody, headers: dict[str, str], receive: Receive, send: Send) -> None:
        deps = self._deps
        generation = deps.build(data.fields(), deps.context_from(headers))
        answer = await unless_client_leaves(receive, deps.generate.execute(generation))
        await _respond(send, 200, _encode(answer_json(answer)), [_JSON, overhead_header(answer)])

    async def _stream(self, data: GenerateBody, headers: dict[str, str], receive: Receive, send: Send) -> None:
        """SSE as the Litestar route sends it: the first event decides between an error status and a 200."""
        deps = self._deps
        generation = deps.build(data.fields(), deps.context_from(headers))
        pump = EventPump(deps.generate_stream.execute(generation), render_stream_event)
        first = await first_frame(pump, receive)
        if isinstance(first, DomainError):
            raise first
        if first is None:
            await send_error(send, error_answer(500, "internal_error", "stream produced nothing", current_request_id()))
            return
        await relay_sse(first, pump, receive, send)

    async def _read_body(self, headers: dict[str, str], receive: Receive) -> bytes:
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_body:
            raise PayloadTooLarge("request body is too large")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body:
                raise PayloadTooLarge("request body is too large")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _headers(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in scope["headers"]:
        headers.setdefault(name.decode("latin-1"), value.decode("latin-1"))  # the first of repeated headers
    return headers


async def _respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# What the OpenAPI document says of the two routes (``entrypoints.http.shared.openapi``).
GENERATE_DOC = documented(
    GenerateBody, answers=(ok(AnswerDoc, links=SESSION_LINKS),), errors=GENERATION_ERRORS, headers=SESSION_HEADERS
)
STREAM_DOC = documented(GenerateBody, answers=(SSE_ANSWER,), errors=GENERATION_ERRORS, headers=SESSION_HEADERS)


class NotServedHere(RuntimeError):
    """A declared-only handler was run: ``FastGenerate`` is not in front of this Litestar app."""


def declared_routes() -> list[HTTPRouteHandler]:
    """The two routes as Litestar knows them: the OpenAPI document and a 405 for any method but POST.

    ``FastGenerate`` answers every POST that reaches these handlers' paths before
    Litestar routes it, so their bodies are unreachable in the gateway's app. Rather
    than a second copy of the route that no request takes, a body that does run
    raises ``NotServedHere``: a logged 500 (``handle_unexpected``), never an answer
    from another code path.
    """

    @post(GENERATE_PATH, status_code=200, summary="Generate one answer", operation_class=GENERATE_DOC)
    async def generate() -> Response[Any]:
        raise NotServedHere(f"POST {GENERATE_PATH} is answered by FastGenerate")

    @post(
        STREAM_PATH,
        status_code=200,
        summary="Stream one answer as Server-Sent Events",
        operation_class=STREAM_DOC,
    )
    async def generate_stream() -> Response[Any]:
        raise NotServedHere(f"POST {STREAM_PATH} is answered by FastGenerate")

    return [generate, generate_stream]

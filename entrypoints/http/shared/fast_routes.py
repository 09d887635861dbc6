"""The hot routes of every API dialect, answered in raw ASGI just in front of Litestar.

Profiling showed Litestar's request and response machinery (routing, the
``Request`` object, signature parsing, ``Response`` rendering, its exception
middleware) costing about as much CPU as the rest of a generation together
(``bench/RESULTS.md``). So each dialect's generation routes (the native
``/api/v1/generate`` and ``/generate/stream``, OpenAI's ``/v1/chat/completions``,
...) are ``FastRoute``s: a canonical path, the dialect's strict body type, its
error style and a responder. ``FastRoutes`` is the one layer that answers them,
for every spelling Litestar's router would resolve to the path
(``canonical_path``: ``/v1/chat/completions/`` and ``//v1//chat/completions``
included). What it does for every door:

- the body: bounded by ``MAX_REQUEST_BYTES`` (the declared length, then the
  bytes that arrive), refused when it is empty, nested deeper than the JSON
  depth limit or of the wrong types (``JsonBody``);
- a client that leaves while the body arrives: a 499 for the observers;
- the request's context from its headers (``request_context_from``);
- a domain error raised by the responder, before its answer started, in the
  door's error shape; anything unexpected a logged 500 in that shape.

The responder does the rest: map the body onto the use-case, call it (under
``unless_client_leaves``), and write the answer or the SSE stream in the
dialect's framing (``shared/sse``). It sits inside the guard, CORS and
observation layers, like Litestar.

``declared_post`` declares a fast route to Litestar, for the OpenAPI document
and the 405 to other methods only: its body never runs.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from litestar import Response, post
from litestar.handlers import HTTPRouteHandler

from domain.errors import DomainError, PayloadTooLarge
from domain.validation import RequestContext
from entrypoints.asgi import ASGIApp, Receive, Scope, Send
from entrypoints.http.shared.body import JsonBody, documented
from entrypoints.http.shared.disconnect import ClientGone, record_client_gone
from entrypoints.http.shared.errors import ErrorStyle, answer_domain_error, error_answer, send_error
from entrypoints.http.shared.route_table import canonical_path
from entrypoints.request_context import bind_request, current_caller, current_request_id

log = logging.getLogger("mcp.http")

T = TypeVar("T")
Headers = dict[str, str]
# (decoded body, the request's headers by lower-case name, receive, send): answers the request.
Responder = Callable[[T, Headers, Receive, Send], Awaitable[None]]
JSON_CONTENT = (b"content-type", b"application/json")


@dataclass(frozen=True, slots=True)
class FastRoute(Generic[T]):
    """One hot route of a dialect: ``POST path``, its body decoded strictly into ``body``'s type."""

    path: str  # canonical: what ``canonical_path`` makes of every spelling
    body: JsonBody[T]
    respond: Responder[T]
    errors: ErrorStyle  # the dialect's error shape (the route table names the same one for the path)


class FastRoutes:
    """The raw-ASGI layer in front of Litestar that answers every ``FastRoute``; the rest goes on to ``app``."""

    def __init__(self, app: ASGIApp, routes: Iterable[FastRoute[Any]], *, max_body_bytes: int) -> None:
        self._app = app
        self._routes: dict[str, FastRoute[Any]] = {}
        for route in routes:
            if route.path in self._routes or canonical_path(route.path) != route.path:
                raise ValueError(f"fast route {route.path!r} is declared twice or is not canonical")
            self._routes[route.path] = route
        self._max_body = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = None
        if scope["type"] == "http" and scope["method"] == "POST":
            route = self._routes.get(canonical_path(scope["path"]))
        if route is None:
            await self._app(scope, receive, send)
            return
        headers = headers_of(scope)
        try:
            data = route.body.decode(await read_body(headers, receive, self._max_body))
            await route.respond(data, headers, receive, send)
        except ClientGone:
            await record_client_gone(send)
        except DomainError as exc:
            await send_error(send, answer_domain_error(exc, style=route.errors))
        except Exception as exc:  # as Litestar's handler for the unexpected: logged, no internals
            log.exception("unexpected error", exc_info=exc)
            answer = error_answer(500, "internal_error", "internal error", current_request_id(), style=route.errors)
            await send_error(send, answer)


async def read_body(headers: Headers, receive: Receive, limit: int) -> bytes:
    """The whole request body, at most ``limit`` bytes (``PayloadTooLarge``); ``ClientGone`` if the client left."""
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge("request body is too large")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge("request body is too large")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def headers_of(scope: Scope) -> Headers:
    """The request's headers by lower-case name; of a repeated header, the first."""
    headers: Headers = {}
    for name, value in scope["headers"]:
        headers.setdefault(name.decode("latin-1"), value.decode("latin-1"))
    return headers


def request_context_from(headers: Mapping[str, str]) -> RequestContext:
    """The request's context from its headers (by lower-case name): the session, ``Cache-Control: no-cache``,
    and the request id and ``Caller`` that the outer layers bound."""
    user_id = headers.get("x-user-id", "").strip()
    session_id = headers.get("x-session-id", "").strip()
    request_id = current_request_id()  # RequestIdMiddleware bound it
    bind_request(request_id=request_id, user_id=user_id, session_id=session_id)
    return RequestContext(
        request_id=request_id,
        user_id=user_id,
        session_id=session_id,
        skip_cache_read="no-cache" in headers.get("cache-control", "").lower(),
        caller=current_caller(),
    )


async def send_json(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    """A complete answer: ``headers`` (the content type among them) gain the length."""
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class NotServedHere(RuntimeError):
    """A declared-only handler was run: ``FastRoutes`` is not in front of this Litestar app."""


def declared_post(path: str, body_type: type[Any], *, summary: str, name: str, **doc: Any) -> HTTPRouteHandler:
    """A fast route as Litestar knows it: the OpenAPI document and a 405 for any method but POST.

    ``FastRoutes`` answers every POST that reaches this path before Litestar routes it,
    so the handler's body is unreachable in the gateway's app. Rather than a second
    copy of the route that no request takes, a body that does run raises
    ``NotServedHere``: a logged 500 (``handle_unexpected``), never an answer from
    another code path. ``doc``: the rest of the route's ``RouteDoc`` (``openapi.documented``): its answers,
    the statuses it sends, its request headers.
    """

    async def declared() -> Response[Any]:
        raise NotServedHere(f"POST {path} is answered by FastRoutes")

    declared.__name__ = name  # Litestar names the operation after the function
    return post(path, status_code=200, summary=summary, name=name, operation_class=documented(body_type, **doc))(
        declared
    )

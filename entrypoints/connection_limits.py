"""uvicorn's httptools protocol, bounded against slow and greedy clients (issue 11, item 9).

Stock uvicorn waits for a request head forever, buffers a head of any size,
waits forever for a request body that stopped arriving, and accepts every
connection. On each listener (HTTP, WebSocket, metrics) this subclass adds:

- ``HEADER_TIMEOUT_SECONDS``: the request line and headers must be complete
  within this time from the connection's start (or from the first byte of
  the next request on a kept-alive connection); else 408 and close. A
  connection that sends nothing is closed the same way.
- ``MAX_HEADER_BYTES``: a request head larger than this is answered 431 and
  the connection closed, before the head is buffered any further. Counted as
  the bytes received while a head is incomplete (a pipelined head sharing a
  read with the request before it starts counting at the next read).
- ``BODY_TIMEOUT_SECONDS``: once the head is in, the longest silence between
  body bytes; then 408 (the application sees a disconnect) and close. Time
  during which the gateway itself stopped reading (flow control: the
  application is not consuming the body) does not count.
- ``MAX_CONNECTIONS``: open connections per listener, WebSockets included.
  A connection over the cap is answered 503 ``overloaded`` with
  ``Retry-After: 1`` and ``Connection: close`` once its request head is in
  (the head timeout and size limit still bound it); an upgrade over the cap
  gets the same 503 instead of the handshake. Connections already open are
  never cut.

uvicorn's own ``limit_concurrency`` was not used: it counts requests in flight
as well as connections, answers a bare ``text/plain`` 503, and leaves the
slow heads it is meant to fend off untouched.

Every answer made here has the gateway's error shape, ``{error, code,
requestId}``, and an ``X-Request-ID`` header; a stalled body on a path of
another API dialect gets that dialect's shape (``errors.ErrorStyle``).
"""

from __future__ import annotations

import asyncio
import http
import logging
from dataclasses import dataclass
from typing import Any, ClassVar, cast

from uvicorn._types import ASGI3Application, ASGIReceiveCallable, ASGISendCallable, Scope
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from entrypoints.config import Settings
from entrypoints.head_with_body import HeadWithBody
from entrypoints.http.shared.errors import ERROR_STYLE_STATE, NATIVE_ERRORS, ErrorStyle, error_answer
from entrypoints.http.shared.request_id import SECURITY_HEADERS
from entrypoints.request_context import accept_request_id, new_request_id

log = logging.getLogger("mcp.http")
_LINGER_SECONDS = 2.0
# On a graceful stop, how long an idle kept-alive connection stays open for a request already on its way.
_STOP_IDLE_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    header_timeout: float
    body_timeout: float
    max_head_bytes: int
    max_connections: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionLimits:
        return cls(
            header_timeout=settings.header_timeout_seconds,
            body_timeout=settings.body_timeout_seconds,
            max_head_bytes=settings.max_header_bytes,
            max_connections=settings.max_connections,
        )


def limited_protocol(limits: ConnectionLimits) -> type[LimitedHttpProtocol]:
    """The protocol class for one listener's ``uvicorn.Config(http=...)``, bound to ``limits``."""

    class Configured(LimitedHttpProtocol):
        pass

    Configured.limits = limits
    return Configured


class LimitedHttpProtocol(HttpToolsProtocol):
    limits: ClassVar[ConnectionLimits]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True  # between the end of one message and the end of the next head
        self._in_body = False
        self._head_bytes = 0
        self._body_seen = 0.0
        self._over_capacity = False
        self._discarding = False  # answered and closing: what still arrives is dropped
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._close_timer: asyncio.TimerHandle | None = None
        self._stopping = False

    # -- the connection ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self._over_capacity = True
            self.app = cast(ASGI3Application, _refuse_over_capacity)
            log.warning("connection refused: over MAX_CONNECTIONS", extra={"limit": self.limits.max_connections})
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def shutdown(self) -> None:
        """A graceful stop (SIGTERM): the listener is closed already; finish this connection's work, then close.

        Stock uvicorn closes an idle kept-alive connection at once. A client may have sent its next
        request on it a moment before (its pool cannot know): that request is lost with a reset, and
        under load, with two workers behind one port, every stop of a worker lost a few. Here an idle
        connection stays open for ``_STOP_IDLE_SECONDS``: a request that arrives is answered and the
        connection closed after it; one that sends nothing is closed then. A connection busy with an
        answer closes once it is sent, as before.
        """
        self._stopping = True
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False
            return
        self.loop.call_later(_STOP_IDLE_SECONDS, self._close_if_idle)

    def _close_if_idle(self) -> None:
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False  # a request arrived meanwhile: close after its answer
        elif self._head_bytes == 0:
            self.transport.close()
        # else a request head is arriving: on_headers_complete marks it the last one

    def data_received(self, data: bytes) -> None:
        if self._discarding:
            return
        if self._in_head:
            room = self.limits.max_head_bytes - self._head_bytes
            if len(data) > room:
                self._receive_past_head_limit(data, room)
                return
            self._head_bytes += len(data)
            if self._head_timer is None:
                self._arm_head_timer()
        elif self._in_body:
            self._body_seen = self.loop.time()
        super().data_received(data)
        if self._in_body and self._body_timer is None and not self.transport.is_closing():
            self._body_timer = self.loop.call_later(self.limits.body_timeout, self._on_body_timeout)

    def _receive_past_head_limit(self, data: bytes, room: int) -> None:
        """Feed what still fits; if the head did not end in it, 431. What follows a finished head goes on."""
        if room > 0:
            self._head_bytes += room
            super().data_received(data[:room])
        if self.transport.is_closing() or self.transport.get_protocol() is not self:
            return  # a malformed head (400) or a WebSocket upgrade took over
        if self._in_head:
            self._answer_and_close(431, "header_too_large", "the request head is larger than MAX_HEADER_BYTES")
            return
        self.data_received(data[room:])

    def handle_websocket_upgrade(self) -> None:
        self._cancel_timers()
        if self._over_capacity:
            request_id = accept_request_id(_header(self.headers, b"x-request-id"))
            self._answer_and_close(503, "overloaded", "too many open connections; retry later", request_id)
            return
        super().handle_websocket_upgrade()

    # -- parser callbacks ----------------------------------------------------------------------------

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle.transport is self.transport:
            # one write for the head and the body of a small answer (entrypoints/head_with_body.py)
            cycle.transport = HeadWithBody(self.transport, self.loop)  # type: ignore[assignment]
        if self._stopping and self.cycle is not None:
            self.cycle.keep_alive = False  # the last request of a connection of a stopping gateway
        upgrading = self.parser.should_upgrade() and self._should_upgrade()
        self._in_body = not upgrading
        self._body_seen = self.loop.time()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_body = False
        self._in_head = True
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    # -- timers ----------------------------------------------------------------------------------------

    def _arm_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.limits.header_timeout, self._on_head_timeout)

    def _on_head_timeout(self) -> None:
        self._head_timer = None
        if not self._in_head or self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self._arm_head_timer()  # a pipelined head waits behind an answer still being sent: not the client's fault
            return
        self._answer_and_close(408, "request_timeout", "the request head did not arrive within HEADER_TIMEOUT_SECONDS")

    def _on_body_timeout(self) -> None:
        self._body_timer = None
        if not self._in_body or self.transport.is_closing():
            return
        silent = self.loop.time() - self._body_seen
        if self.flow.read_paused:  # the application is not reading: the client may be waiting for us
            self._body_seen, silent = self.loop.time(), 0.0
        if silent < self.limits.body_timeout:
            self._body_timer = self.loop.call_later(self.limits.body_timeout - silent, self._on_body_timeout)
            return
        cycle = self.cycle
        if cycle.response_started:
            self.transport.close()
            return
        cycle.disconnected = True  # the application's receive() reports a disconnect, its send() writes nothing
        cycle.message_event.set()
        state = self.scope.get("state") or {}
        request_id = str(state.get("request_id") or new_request_id())
        style = state.get(ERROR_STYLE_STATE)  # the path's dialect, once the request-id layer has seen it
        self._answer_and_close(408, "request_timeout", "the request body stopped arriving", request_id, style)

    def _cancel_timers(self) -> None:
        for timer in (self._head_timer, self._body_timer, self._close_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = self._close_timer = None

    # -- answers ----------------------------------------------------------------------------------------

    def _answer_and_close(
        self, status: int, code: str, message: str, request_id: str | None = None, style: ErrorStyle | None = None
    ) -> None:
        """Answer, then close without losing the answer.

        Closing a socket with unread bytes in it sends a reset, which may destroy the answer before
        the client reads it; so the write side is shut after the answer and what the client still
        sends is read and dropped for ``_LINGER_SECONDS`` (TLS cannot half-close: closed at once).
        """
        request_id = request_id or new_request_id()
        self._cancel_timers()
        self._discarding = True
        self.transport.write(_error_bytes(status, code, message, request_id, style or NATIVE_ERRORS))
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self._close_timer = self.loop.call_later(_LINGER_SECONDS, self.transport.close)
        else:
            self.transport.close()
        client = f"{self.client[0]}:{self.client[1]}" if self.client else ""
        log.warning("connection closed: %s", message, extra={"status": status, "code": code, "client": client})


def _closing_error(
    status: int, code: str, message: str, request_id: str, style: ErrorStyle = NATIVE_ERRORS
) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """The headers and body of the one error writer's answer, with what the request-id layer adds and the close."""
    answer = error_answer(status, code, message, request_id, retry_after=1.0 if status == 503 else None, style=style)
    headers = [*answer.wire_headers(), (b"connection", b"close"), (b"x-request-id", request_id.encode())]
    return [*headers, *SECURITY_HEADERS], answer.body


def _error_bytes(status: int, code: str, message: str, request_id: str, style: ErrorStyle) -> bytes:
    headers, body = _closing_error(status, code, message, request_id, style)
    lines = [f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}".encode()]
    lines += [name + b": " + value for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _header(headers: list[tuple[bytes, bytes]] | None, name: bytes) -> str | None:
    for key, value in headers or ():
        if key == name:
            return value.decode("latin-1")
    return None


async def _refuse_over_capacity(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    """The whole application of a connection over ``MAX_CONNECTIONS``: 503, then uvicorn closes it."""
    headers = list(cast(Any, scope).get("headers", ()))
    request_id = accept_request_id(_header(headers, b"x-request-id"))
    response_headers, body = _closing_error(503, "overloaded", "too many open connections; retry later", request_id)
    await send({"type": "http.response.start", "status": 503, "headers": response_headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})

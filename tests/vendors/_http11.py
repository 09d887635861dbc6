"""A small, fast HTTP/1.1 server for the fake upstreams.

Built on ``asyncio.Protocol`` rather than a framework so the fakes cost almost
nothing per request (they also serve as the benchmark upstream): keep-alive,
``TCP_NODELAY`` on every accepted socket (without it a response can wait ~40 ms
for a delayed ACK), requests handled one at a time per connection, bodies by
``Content-Length``. A handler gets the parsed request and an ``Exchange`` to
answer through: a whole body, a chunked stream, or an abrupt reset.
"""

from __future__ import annotations

import asyncio
import socket
import ssl as ssl_module
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import cast
from urllib.parse import parse_qsl, unquote

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    411: "Length Required",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


@dataclass
class HttpRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    keep_alive: bool = True


@dataclass
class Exchange:
    """One request/response on a connection; ``closed_early`` turns true if the peer leaves first.

    ``status`` is the status line sent (0 until then); ``on_status`` callbacks get it before the first byte
    goes out, so that a fake's record says what it answered by the time the client has the answer.
    """

    transport: asyncio.Transport
    status: int = 0
    finished: bool = False
    closed_early: bool = False
    on_closed_early: list[Callable[[], None]] = field(default_factory=list)
    on_status: list[Callable[[int], None]] = field(default_factory=list)

    def _note_status(self, status: int) -> None:
        self.status = status
        for callback in self.on_status:
            callback(status)

    def respond(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self._note_status(status)
        head = _head(status, {"content-type": "application/json", **(headers or {})})
        self.transport.write(head + b"content-length: %d\r\n\r\n" % len(body) + body)
        self.finished = True

    def start_stream(self, status: int, headers: dict[str, str]) -> None:
        self._note_status(status)
        self.transport.write(_head(status, headers) + b"transfer-encoding: chunked\r\n\r\n")

    def send_chunk(self, data: bytes) -> None:
        self.transport.write(b"%x\r\n%s\r\n" % (len(data), data))

    def end_stream(self) -> None:
        self.transport.write(b"0\r\n\r\n")
        self.finished = True

    def reset(self) -> None:
        """Drop the connection without finishing the answer (a network reset)."""
        self.transport.abort()


Handler = Callable[[HttpRequest, Exchange], Awaitable[None]]


def _head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n").encode("latin-1")


class _Connection(asyncio.Protocol):
    def __init__(self, handler: Handler, connections: set[_Connection]) -> None:
        self._handler = handler
        self._connections = connections
        self._buffer = bytearray()
        self._task: asyncio.Task[None] | None = None
        self._exchange: Exchange | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._connections.add(self)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._task is None:
            self._next()

    def connection_lost(self, exc: Exception | None) -> None:
        self._connections.discard(self)
        exchange = self._exchange
        if exchange is not None and not exchange.finished:
            exchange.closed_early = True
            for callback in exchange.on_closed_early:
                callback()
        if self._task is not None:
            self._task.cancel()

    def _next(self) -> None:
        request = self._parse()
        if request is None or self.transport is None or self.transport.is_closing():
            return
        self._exchange = Exchange(self.transport)
        self._task = asyncio.get_running_loop().create_task(self._handle(request, self._exchange))

    async def _handle(self, request: HttpRequest, exchange: Exchange) -> None:
        try:
            await self._handler(request, exchange)
        finally:
            self._task = None
            if self.transport is not None and not self.transport.is_closing():
                if not request.keep_alive or not exchange.finished:
                    self.transport.close()
                else:
                    self._next()

    def _parse(self) -> HttpRequest | None:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        lines = bytes(self._buffer[:end]).decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        if len(self._buffer) < end + 4 + length:
            return None
        body = bytes(self._buffer[end + 4 : end + 4 + length])
        del self._buffer[: end + 4 + length]
        path, _, query = target.partition("?")
        keep_alive = headers.get("connection", "").lower() != "close" and version == "HTTP/1.1"
        return HttpRequest(method, unquote(path), dict(parse_qsl(query)), headers, body, keep_alive)


class HttpServer:
    """Serves ``handler`` on ``host:port`` (port 0 picks a free one)."""

    def __init__(
        self, handler: Handler, *, host: str = "127.0.0.1", port: int = 0, ssl: ssl_module.SSLContext | None = None
    ) -> None:
        self._handler = handler
        self._ssl = ssl
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None
        self._connections: set[_Connection] = set()

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Connection(self._handler, self._connections), self._host, self._port, backlog=1024, ssl=self._ssl
        )

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for connection in list(self._connections):
            if connection.transport is not None:
                connection.transport.abort()
        await self._server.wait_closed()
        self._server = None

"""A lean HTTP/1.1 client for one upstream origin: keep-alive connections over asyncio.

Why not httpx: on the gateway's hot path the general-purpose stack (the SDK's
request building, httpx, httpcore, anyio) cost about 2 ms of CPU per call,
twenty times the rest of the gateway (see ``bench/RESULTS.md``). This client
does only what a chat-completions call needs: POST a prebuilt body on a
reused connection (``TCP_NODELAY``, optional TLS) and hand back the status,
the headers and the body as it arrives, parsed by ``httptools`` (the C parser
uvicorn uses). Errors are plain ``OSError``/``ConnectionError`` and
``TimeoutError``; the adapter that owns the client translates them.

A connection goes back to the pool only when its answer was read to the end;
an answer abandoned part-way (cancellation, a consumer that stops reading)
closes its connection, which is how the upstream learns that nobody listens.
Proxy variables (``HTTPS_PROXY``) are not honoured: use ``UPSTREAM_CLIENT=sdk``
behind a proxy.
"""

from __future__ import annotations

import asyncio
import collections
import socket
import ssl
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httptools

# Idle connections older than this are dropped, not reused: common servers close theirs after 5 s, and
# a request written just as the server closes would fail.
KEEPALIVE_SECONDS = 4.0
_HIGH_WATER = 256 * 1024  # stop reading from the socket when this much body waits for the consumer


class UpstreamClosed(ConnectionError):
    """The connection ended before the answer was complete."""


class ConnectTimeout(OSError):
    """No connection within the connect limit (an ``OSError``, not a ``TimeoutError``: the caller's own
    deadlines raise ``TimeoutError`` and must stay distinguishable)."""


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._headers: dict[str, str] = {}
        self._head: asyncio.Future[None] | None = None
        self._body: collections.deque[bytes] = collections.deque()
        self._buffered = 0
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False
        self.status = 0
        self.complete = False
        self.keep_alive = True
        self.error: BaseException | None = None
        self.idle_since = 0.0

    # -- asyncio.Protocol ------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not subclasses
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(UpstreamClosed(f"malformed HTTP answer: {exc}"))
            self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.keep_alive = False
        if not self.complete:
            self._fail(UpstreamClosed(f"connection closed before the answer was complete ({exc or 'EOF'})"))

    # -- httptools callbacks ---------------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.status = self._parser.get_status_code()
        self.keep_alive = self._parser.should_keep_alive()
        if self._head is not None and not self._head.done():
            self._head.set_result(None)

    def on_body(self, body: bytes) -> None:
        self._body.append(body)
        self._buffered += len(body)
        if self._buffered > _HIGH_WATER and self.transport is not None and not self._paused:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        self.complete = True
        self._wake()

    # -- used by the client ----------------------------------------------------------------------
    def start(self, payload: bytes) -> asyncio.Future[None]:
        assert self.transport is not None
        self._parser = httptools.HttpResponseParser(self)
        self._headers, self.status, self.complete = {}, 0, False
        self._head = asyncio.get_running_loop().create_future()
        self.transport.write(payload)
        return self._head

    @property
    def headers(self) -> dict[str, str]:
        return self._headers

    @property
    def usable(self) -> bool:
        return self.error is None and self.keep_alive and self.transport is not None and not self.transport.is_closing()

    async def next_piece(self, deadline: float | None = None) -> bytes | None:
        """The next piece of body as it arrived, or ``None`` once the answer is complete.

        ``deadline`` (event-loop time) raises ``TimeoutError`` if nothing arrives by then. It is a
        plain timer on the waiter rather than ``asyncio.timeout``: a stream waits once per chunk, and
        the timer costs a fraction of a timeout context.
        """
        while not self._body:
            if self.complete:
                return None
            if self.error is not None:
                raise self.error
            loop = asyncio.get_running_loop()
            self._waiter = waiter = loop.create_future()
            timer = loop.call_at(deadline, _expire, waiter) if deadline is not None else None
            try:
                await waiter
            finally:
                self._waiter = None
                if timer is not None:
                    timer.cancel()
        piece = self._body.popleft()
        self._buffered -= len(piece)
        if self._paused and self._buffered < _HIGH_WATER // 2 and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return piece

    def abort(self) -> None:
        self.keep_alive = False
        if self.transport is not None:
            self.transport.abort()

    def _fail(self, error: BaseException) -> None:
        self.error = self.error or error
        if self._head is not None and not self._head.done():
            self._head.set_exception(error)
            self._head.exception()  # marked as retrieved: the caller may already be gone
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class Http1Response:
    """One answer: status and headers at once, the body by ``read`` or ``pieces``; then ``release``."""

    def __init__(self, client: Http1Client, connection: _Connection) -> None:
        self._client = client
        self._connection = connection
        self.status = connection.status
        self.headers = connection.headers
        self._released = False

    async def read(self) -> bytes:
        return b"".join([piece async for piece in self.pieces()])

    async def pieces(self) -> AsyncIterator[bytes]:
        while (piece := await self._connection.next_piece()) is not None:
            yield piece

    async def next_piece(self, deadline: float | None = None) -> bytes | None:
        """The next piece of the body, ``None`` at its end; ``TimeoutError`` if none by ``deadline`` (loop time)."""
        return await self._connection.next_piece(deadline)

    def release(self) -> None:
        """Back to the pool if the answer was read to its end; otherwise the connection is closed."""
        if self._released:
            return
        self._released = True
        connection = self._connection
        if connection.complete and connection.usable:
            self._client._put_back(connection)
        else:
            connection.abort()


class Http1Client:
    """Keep-alive HTTP/1.1 connections to the origin of ``base_url`` (``http`` or ``https``)."""

    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout: float = 5.0,
        max_idle: int = 4096,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected an http(s):// URL, got {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.base_path = parts.path.rstrip("/")
        self.host_header = parts.netloc.rpartition("@")[2]
        # https: the system's trust store unless a context is given (a private CA, tests).
        self._ssl = (ssl_context or ssl.create_default_context()) if parts.scheme == "https" else None
        self._connect_timeout = connect_timeout
        self._idle: collections.deque[_Connection] = collections.deque()
        self._max_idle = max_idle
        self._closed = False

    async def post(self, path: str, headers: bytes, body: bytes) -> Http1Response:
        """Send ``body`` to ``path``; ``headers`` are extra header lines, each ending in CRLF.

        Returns once the status line and headers are in. A failure is never retried here (a reset
        after the request left may have reached the service): the resilience wrappers decide.
        """
        payload = (
            b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n%s\r\n"
            % (path.encode(), self.host_header.encode(), len(body), headers)
        ) + body
        return await self._exchange(self._reusable() or await self._connect(), payload)

    async def _exchange(self, connection: _Connection, payload: bytes) -> Http1Response:
        try:
            await connection.start(payload)
        except BaseException:  # cancelled or failed: this connection is in an unknown state
            connection.abort()
            raise
        return Http1Response(self, connection)

    def _reusable(self) -> _Connection | None:
        horizon = time.monotonic() - KEEPALIVE_SECONDS
        while self._idle:
            connection = self._idle.pop()  # the most recently used one is the least likely to be closed
            if connection.usable and connection.idle_since > horizon:
                return connection
            connection.abort()
        return None

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._connect_timeout):
                _, connection = await loop.create_connection(
                    _Connection, self.host, self.port, ssl=self._ssl, server_hostname=self.host if self._ssl else None
                )
        except TimeoutError:
            raise ConnectTimeout(
                f"no connection to {self.host}:{self.port} within {self._connect_timeout:g} s"
            ) from None
        return connection

    def _put_back(self, connection: _Connection) -> None:
        if self._closed or len(self._idle) >= self._max_idle:
            connection.abort()
            return
        connection.idle_since = time.monotonic()
        self._idle.append(connection)

    async def close(self) -> None:
        self._closed = True
        while self._idle:
            connection = self._idle.pop()
            if connection.transport is not None:
                connection.transport.close()

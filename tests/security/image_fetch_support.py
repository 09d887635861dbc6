"""A scripted local image server, a fake resolver and a recording connector for the image-fetch tests."""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from ipaddress import ip_address

from adapters.images.address_policy import IPAddress

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 56
GIF = b"GIF89a" + b"\x00" * 58
PUBLIC = "93.184.215.14"  # a globally routable address the fake resolver hands out


def data_url(data: bytes, media_type: str = "image/png") -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


Handler = Callable[[asyncio.StreamWriter], Awaitable[None]]


def answer(status: int = 200, body: bytes = PNG, **headers: str) -> Handler:
    """A handler writing one complete answer; ``content_type="image/png"`` style keywords become headers."""
    lines = [f"HTTP/1.1 {status} X"] + [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    if "content_length" not in headers and "transfer_encoding" not in headers:
        lines.append(f"content-length: {len(body)}")
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    async def write(writer: asyncio.StreamWriter) -> None:
        writer.write(raw)
        await writer.drain()

    return write


def image(body: bytes = PNG, content_type: str = "image/png") -> Handler:
    return answer(200, body, content_type=content_type)


def redirect(location: str, status: int = 302) -> Handler:
    return answer(status, b"", location=location)


async def hang(writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(3600)


async def endless_body(writer: asyncio.StreamWriter) -> None:
    """A 200 with no length, delimited by the connection's end, that never ends."""
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: image/png\r\n\r\n" + PNG)
    while True:
        writer.write(b"\x00" * 65_536)
        await writer.drain()


async def drip(writer: asyncio.StreamWriter) -> None:
    """A byte at a time: never silent for long, never done."""
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: image/png\r\ncontent-length: 1000000\r\n\r\n")
    while True:
        writer.write(b"\x00")
        await writer.drain()
        await asyncio.sleep(0.05)


@dataclass
class Request:
    target: str
    headers: dict[str, str]
    server_name: str | None


@dataclass
class ImageServer:
    """Answers each path with its handler (404 otherwise) and records every request it read."""

    routes: dict[str, Handler]
    port: int = 0
    requests: list[Request] = field(default_factory=list)
    _sni: list[str | None] = field(default_factory=list)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            target = head[0].split(" ")[1]
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:] if line)}
            self.requests.append(Request(target, headers, self._sni[-1] if self._sni else None))
            await self.routes.get(target, answer(404, b"not found"))(writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass  # the fetcher hung up, which is what several tests provoke
        finally:
            writer.transport.abort()

    def remember_sni(self, _sock: object, server_name: str | None, _context: object) -> None:
        self._sni.append(server_name)


@asynccontextmanager
async def image_server(routes: dict[str, Handler], tls: ssl.SSLContext | None = None) -> AsyncIterator[ImageServer]:
    server = ImageServer(routes)
    if tls is not None:
        tls.sni_callback = server.remember_sni  # type: ignore[assignment]
    listener = await asyncio.start_server(server._serve, "127.0.0.1", 0, ssl=tls)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listener.close()
        with suppress(Exception):
            await asyncio.wait_for(listener.wait_closed(), 1)


class FakeResolver:
    """Maps names to addresses; a name with several answers gives them in turn (the last one repeats)."""

    def __init__(self, names: dict[str, Sequence[Sequence[str]]]) -> None:
        self._names = {name: [list(answer) for answer in answers] for name, answers in names.items()}
        self.asked: list[str] = []

    async def resolve(self, host: str, port: int) -> Sequence[IPAddress]:
        self.asked.append(host)
        answers = self._names.get(host)
        if not answers:
            raise OSError(f"no such name {host!r}")
        current = answers.pop(0) if len(answers) > 1 else answers[0]
        return [ip_address(address) for address in current]


class LocalConnector:
    """Records the address the fetcher connects to, and connects to the local server instead."""

    def __init__(self, server: ImageServer) -> None:
        self._server = server
        self.opened: list[tuple[str, int, str | None]] = []

    async def open(
        self, address: str, port: int, *, ssl_context: ssl.SSLContext | None, server_hostname: str | None
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        self.opened.append((address, port, server_hostname))
        return await asyncio.open_connection(
            "127.0.0.1", self._server.port, ssl=ssl_context, server_hostname=server_hostname
        )

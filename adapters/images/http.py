"""``HttpImageFetcher``: images by URL, behind a guard against server-side request forgery.

Why not httpx, nor the lean provider client: httpx is installed only because
litestar needs it (the openai SDK brings its own fork, httpx2), and making it
connect to a checked address means rewriting each URL to an IP literal, giving
the name back through the ``sni_hostname`` extension and a Host header, and
disabling its redirects and pool: working against the library at every point
the guard depends on. ``adapters/providers/http1_client.py`` is a POST-only
keep-alive pool for one configured origin that resolves the name on every
connect, the one thing this fetcher must not do. So: asyncio streams, ``ssl``
and ``httptools`` (the lean client's parser), where each step is in plain view.

Per hop, under one ``IMAGE_FETCH_TIMEOUT_SECONDS`` for the whole fetch:

1. the scheme is ``https`` (``http`` only with ``IMAGE_FETCH_ALLOW_HTTP``), no credentials in the URL;
2. the host is resolved once, off the event loop (``loop.getaddrinfo`` runs in
   the executor), and every address it resolved to is checked by
   ``AddressPolicy``: one refused address refuses the URL;
3. the connection goes to a checked address, never to the name, so a second
   DNS answer (rebinding) cannot swap in an internal address; TLS is verified
   against the original name, sent as SNI, and the Host header names it too;
4. redirects (301, 302, 303, 307, 308, at most ``MAX_REDIRECTS``) are followed
   by hand, each ``Location`` going through 1 to 3 again;
5. the answer must be a 200 whose type, size and magic bytes pass
   (``http_exchange``, ``domain.images``).

Errors::

    InvalidRequest (400)          the URL is refused: scheme, credentials, address, redirects, type, size
    └── ImageFetchFailed (400)    the image could not be got: DNS, connect, TLS, status, malformed, timeout
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Sequence
from ipaddress import ip_address
from typing import Protocol
from urllib.parse import urljoin

from adapters.images.address_policy import AddressPolicy, IPAddress
from adapters.images.http_exchange import REDIRECT_STATUSES, Answer, Target, declared_type, read_answer, split_url
from domain.errors import ImageFetchFailed, InvalidRequest
from domain.images import DEFAULT_MAX_IMAGE_BYTES, FetchedImage, check_image, is_data_url, parse_data_url

MAX_REDIRECTS = 3


class Resolver(Protocol):
    """Names to addresses; raises ``OSError`` when a name does not resolve."""

    async def resolve(self, host: str, port: int) -> Sequence[IPAddress]: ...


class Connector(Protocol):
    """Opens a stream to one address (TLS with ``server_hostname`` as SNI and the name verified)."""

    async def open(
        self, address: str, port: int, *, ssl_context: ssl.SSLContext | None, server_hostname: str | None
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]: ...


class LoopResolver:
    """``getaddrinfo`` through the running loop, which runs it in the executor: a slow DNS never blocks the loop."""

    async def resolve(self, host: str, port: int) -> Sequence[IPAddress]:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        # A link-local IPv6 answer carries a zone (``fe80::1%eth0``); the address alone is what is judged.
        return list(dict.fromkeys(ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos))


class TcpConnector:
    """``asyncio.open_connection`` to the address given, nothing else resolved."""

    async def open(
        self, address: str, port: int, *, ssl_context: ssl.SSLContext | None, server_hostname: str | None
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(address, port, ssl=ssl_context, server_hostname=server_hostname)


class HttpImageFetcher:
    """The ``ImageFetcher`` port over HTTP(S); see the module docstring for the guard.

    ``policy``, ``resolver``, ``connector`` and ``ssl_context`` are for tests (a
    local server needs ``AddressPolicy(allow_loopback=True)``); the defaults are
    the production ones: public addresses only, the system resolver and trust store.
    """

    def __init__(
        self,
        *,
        max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
        timeout_seconds: float = 10.0,
        allow_http: bool = False,
        policy: AddressPolicy | None = None,
        resolver: Resolver | None = None,
        connector: Connector | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._max_bytes = max_bytes
        self._timeout = timeout_seconds
        self._allow_http = allow_http
        self._policy = policy or AddressPolicy()
        self._resolver = resolver or LoopResolver()
        self._connector = connector or TcpConnector()
        self._ssl = ssl_context or ssl.create_default_context()

    async def fetch(self, url: str, *, field: str = "image") -> FetchedImage:
        if is_data_url(url):
            return parse_data_url(url, max_bytes=self._max_bytes, field=field)
        try:
            async with asyncio.timeout(self._timeout):
                return await self._follow(url, field)
        except TimeoutError:
            raise ImageFetchFailed(
                f"{field}: no image within IMAGE_FETCH_TIMEOUT_SECONDS ({self._timeout:g} s)"
            ) from None

    async def _follow(self, url: str, field: str) -> FetchedImage:
        for _ in range(MAX_REDIRECTS + 1):
            target = self._target(url, field)
            answer = await self._get(target, field)
            if answer.status not in REDIRECT_STATUSES:
                return self._image(answer, field)
            url = _next_url(target, answer, field)
        raise InvalidRequest(f"{field}: the image URL redirected more than {MAX_REDIRECTS} times")

    def _target(self, url: str, field: str) -> Target:
        scheme = split_url(url, field).scheme.lower()
        if scheme == "http" and not self._allow_http:
            raise InvalidRequest(f"{field}: http image URLs are refused (IMAGE_FETCH_ALLOW_HTTP=false): use https")
        if scheme not in ("http", "https"):
            raise InvalidRequest(f"{field}: an image URL must be https:// or a data: URL")
        return Target(url, field=field)

    async def _get(self, target: Target, field: str) -> Answer:
        addresses = await self._checked_addresses(target, field)
        reader, writer = await self._connect(target, addresses, field)
        try:
            writer.write(target.request())
            return await read_answer(reader, max_bytes=self._max_bytes, field=field)
        except OSError as exc:
            message = f"{field}: the connection to the image host {target.host!r} failed ({type(exc).__name__})"
            raise ImageFetchFailed(message) from None
        finally:
            writer.transport.abort()  # never reused: one connection per hop, closed at once

    async def _checked_addresses(self, target: Target, field: str) -> Sequence[IPAddress]:
        addresses = _literal(target.host) or await self._resolve(target, field)
        for address in addresses:
            if (reason := self._policy.refusal(address)) is not None:
                raise InvalidRequest(f"{field}: the image host {target.host!r} points at {reason}; only public hosts")
        return addresses

    async def _resolve(self, target: Target, field: str) -> Sequence[IPAddress]:
        try:
            addresses = await self._resolver.resolve(target.host, target.port)
        except OSError:
            addresses = ()
        if not addresses:
            raise ImageFetchFailed(f"{field}: the image host {target.host!r} does not resolve")
        return addresses

    async def _connect(
        self, target: Target, addresses: Sequence[IPAddress], field: str
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        tls = self._ssl if target.tls else None
        failure: OSError | None = None
        for address in addresses:
            try:
                return await self._connector.open(
                    str(address), target.port, ssl_context=tls, server_hostname=target.host if tls else None
                )
            except OSError as exc:
                failure = exc
        reason = "its TLS certificate is not valid" if isinstance(failure, ssl.SSLError) else type(failure).__name__
        raise ImageFetchFailed(f"{field}: could not connect to the image host {target.host!r} ({reason})")

    def _image(self, answer: Answer, field: str) -> FetchedImage:
        if answer.status != 200:
            raise ImageFetchFailed(f"{field}: the image server answered HTTP {answer.status}")
        return check_image(bytes(answer.body), declared=declared_type(answer), max_bytes=self._max_bytes, field=field)


def _literal(host: str) -> Sequence[IPAddress]:
    """The address a host that is an IP literal names; empty for a name."""
    try:
        return (ip_address(host),)
    except ValueError:
        return ()


def _next_url(target: Target, answer: Answer, field: str) -> str:
    location = answer.headers.get("location", "").strip()
    if not location:
        raise ImageFetchFailed(f"{field}: the image server answered HTTP {answer.status} without a Location")
    return urljoin(target.url, location)

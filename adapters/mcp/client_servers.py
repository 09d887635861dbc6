"""``GuardedClientServers``: MCP servers a request names by URL (``MCP_ALLOW_CLIENT_SERVERS``), behind the
request-forgery guard of the image fetcher (``adapters.images.address_policy``).

A client-supplied URL would otherwise let any caller make the gateway connect
to its own network: the metadata service, a database, an admin port. So:

1. the URL is ``http`` or ``https`` with a host and no credentials, else 400 naming the field;
2. before anything is sent, the host is resolved (off the event loop) and every
   address it resolves to is checked by ``AddressPolicy`` (loopback, private,
   link-local and metadata, unspecified, multicast, reserved, IPv4 inside IPv6):
   one refused address is a 400 naming the field;
3. every connection the HTTP client then opens, the redirects it follows
   included, goes through ``GuardedBackend``, which resolves and checks again
   and connects to the checked address itself, never to the name: a second DNS
   answer (rebinding) cannot swap in an internal address; TLS still verifies
   the name (httpcore sends the URL's host as SNI);
4. one timeout (``MCP_CLIENT_SERVER_TIMEOUT_SECONDS``) bounds the connection and
   the tool list, and each tool call.

The SDK follows a redirect only within the URL's origin; the guard does not
depend on it. Nothing else of the client reaches the server: no headers.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from ipaddress import ip_address
from typing import Any
from urllib.parse import urlsplit

import httpcore2
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types.jsonrpc import REQUEST_TIMEOUT

from adapters.images.address_policy import AddressPolicy, IPAddress
from adapters.images.http import LoopResolver, Resolver
from adapters.mcp.client import BROKEN_CONNECTION, tool_outcome, upstream_tool
from domain.errors import DomainError, InvalidRequest, UpstreamError, UpstreamTimeout
from domain.tool_servers import ClientToolSession, ToolOutcome, UpstreamTool

_PAGE_LIMIT = 5  # pages of tools/list read from a client's server at most


class AddressRefused(httpcore2.ConnectError):
    """A connection the guard did not open: the name resolved to an address that is not public."""


class GuardedBackend(httpcore2.AsyncNetworkBackend):
    """httpcore's network backend that resolves the name itself and connects only to a checked address."""

    def __init__(self, policy: AddressPolicy, resolver: Resolver, inner: httpcore2.AsyncNetworkBackend) -> None:
        self._policy, self._resolver, self._inner = policy, resolver, inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        address = await checked_address(host, port, self._policy, self._resolver)
        if isinstance(address, str):
            raise AddressRefused(address)
        return await self._inner.connect_tcp(str(address), port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        raise AddressRefused("a client's MCP server is reached over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


async def checked_address(host: str, port: int, policy: AddressPolicy, resolver: Resolver) -> IPAddress | str:
    """The address to connect to, or why none may be: every address the host resolves to must pass."""
    host = host.strip("[]")
    try:
        addresses: Sequence[IPAddress] = [ip_address(host)]
    except ValueError:
        try:
            addresses = await resolver.resolve(host, port)
        except OSError:
            return "its host name does not resolve"
    if not addresses:
        return "its host name does not resolve"
    for address in addresses:
        refusal = policy.refusal(address)
        if refusal is not None:
            return f"it resolves to {refusal}"
    return addresses[0]


def guarded_transport(backend: GuardedBackend, ssl_context: ssl.SSLContext) -> httpx2.AsyncHTTPTransport:
    transport = httpx2.AsyncHTTPTransport(retries=0)
    # httpx2 2.16 takes no network backend; its pool is made again with one (the same pool class it builds).
    transport._pool = httpcore2.AsyncConnectionPool(ssl_context=ssl_context, network_backend=backend)
    return transport


class GuardedClientServers:
    """The ``ClientToolServers`` port; ``policy`` and ``resolver`` are for tests (the defaults: public only)."""

    def __init__(
        self,
        *,
        timeout_seconds: float = 10.0,
        policy: AddressPolicy | None = None,
        resolver: Resolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._timeout = timeout_seconds
        self._policy = policy or AddressPolicy()
        self._resolver = resolver or LoopResolver()
        self._ssl = ssl_context or ssl.create_default_context()

    @contextlib.asynccontextmanager
    async def connect(self, url: str, *, field: str) -> AsyncIterator[ClientToolSession]:
        host, port = _host_and_port(url, field)
        address = await checked_address(host, port, self._policy, self._resolver)
        if isinstance(address, str):
            raise InvalidRequest(f"{field}: the server URL is refused: {address} (only public addresses)")
        backend = GuardedBackend(self._policy, self._resolver, httpcore2.AnyIOBackend())
        http = httpx2.AsyncClient(
            transport=guarded_transport(backend, self._ssl), timeout=httpx2.Timeout(self._timeout, read=None)
        )
        client = Client(
            streamable_http_client(url, http_client=http), mode="legacy", cache=None, read_timeout_seconds=self._timeout
        )
        try:
            async with contextlib.AsyncExitStack() as stack:
                await stack.enter_async_context(http)
                try:
                    async with asyncio.timeout(self._timeout):
                        connected = await stack.enter_async_context(client)
                except TimeoutError:
                    raise UpstreamTimeout(f"{field}: the MCP server did not answer in time") from None
                except (MCPError, *BROKEN_CONNECTION) as exc:
                    raise UpstreamError(f"{field}: the MCP server could not be reached: {_reason(exc)}") from None
                yield _Session(connected, field, self._timeout)
        except BaseExceptionGroup as group:  # the SDK's task group wraps what failed in it, and what the body raised
            raise _unwrapped(group, field) from None


def _unwrapped(group: BaseExceptionGroup[BaseException], field: str) -> BaseException:
    """The gateway's own error in the group (the request's), else the transport's failure as an ``UpstreamError``."""
    leaves = list(_leaves(group))
    for leaf in leaves:
        if isinstance(leaf, DomainError):
            return leaf
    for leaf in leaves:
        if isinstance(leaf, (MCPError, *BROKEN_CONNECTION)):
            return UpstreamError(f"{field}: the MCP server could not be reached: {_reason(leaf)}")
    return group


def _leaves(exc: BaseException) -> Iterator[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _leaves(inner)
    else:
        yield exc


class _Session:
    def __init__(self, client: Client, field: str, timeout: float) -> None:
        self._client, self._field, self._timeout = client, field, timeout

    async def list_tools(self) -> tuple[UpstreamTool, ...]:
        tools: list[UpstreamTool] = []
        cursor: str | None = None
        try:
            async with asyncio.timeout(self._timeout):
                for _ in range(_PAGE_LIMIT):
                    page = await self._client.list_tools(cursor=cursor)
                    tools.extend(upstream_tool(tool) for tool in page.tools)
                    cursor = page.next_cursor
                    if not cursor:
                        break
        except TimeoutError:
            raise UpstreamTimeout(f"{self._field}: the MCP server did not list its tools in time") from None
        except (MCPError, *BROKEN_CONNECTION) as exc:
            raise UpstreamError(f"{self._field}: the MCP server's tools/list failed: {_reason(exc)}") from None
        return tuple(tools)

    async def call_tool(self, tool: str, arguments: dict[str, Any]) -> ToolOutcome:
        try:
            async with asyncio.timeout(self._timeout):
                result = await self._client.call_tool(tool, arguments, read_timeout_seconds=self._timeout + 1)
        except TimeoutError:
            raise UpstreamTimeout(f"{self._field}: the MCP server did not answer in time") from None
        except MCPError as exc:
            if exc.code == REQUEST_TIMEOUT:
                raise UpstreamTimeout(f"{self._field}: the MCP server did not answer in time") from None
            return ToolOutcome(
                content=({"type": "text", "text": f"error {exc.code}: {exc.error.message}"},), is_error=True
            )
        except BROKEN_CONNECTION as exc:
            raise UpstreamError(f"{self._field}: the MCP server failed: {_reason(exc)}") from None
        return tool_outcome(result)


def _host_and_port(url: str, field: str) -> tuple[str, int]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidRequest(f"{field}: {url[:200]!r} is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InvalidRequest(f"{field}: an MCP server URL is http or https")
    if parts.username is not None or parts.password is not None:
        raise InvalidRequest(f"{field}: the server URL may not carry credentials")
    if not parts.hostname:
        raise InvalidRequest(f"{field}: the server URL names no host")
    return parts.hostname, port or (443 if scheme == "https" else 80)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, MCPError):
        return exc.error.message[:200]
    return (str(exc) or type(exc).__name__)[:200]

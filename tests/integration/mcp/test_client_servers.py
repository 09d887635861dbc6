"""GuardedClientServers (adapters/mcp/client_servers): an MCP server a request names by URL, behind the SSRF guard.

Against the tests' HTTP MCP server (on 127.0.0.1, so the working case needs a
policy that lets loopback through) and against the attacks: loopback, ::1, the
metadata address, a name resolving to a private address, a name that resolves
to a public address for the check and to a private one after (rebinding), and
a redirect to a private address, which the guard refuses on its own, whatever
the SDK does with redirects.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator, Sequence
from ipaddress import IPv4Address, ip_address

import httpcore2
import httpx2
import pytest

from adapters.images.address_policy import AddressPolicy, IPAddress
from adapters.mcp.client_servers import AddressRefused, GuardedBackend, GuardedClientServers, guarded_transport
from domain.errors import InvalidRequest, UpstreamError
from tests.support.mcp_peers import HttpUpstream

FIELD = "tools[0].server_url"


class FixedResolver:
    """Names to the addresses a test decides; ``answers`` are given out in turn (the last one stays)."""

    def __init__(self, names: dict[str, list[list[str]]]) -> None:
        self._names = names
        self.asked: list[str] = []

    async def resolve(self, host: str, port: int) -> Sequence[IPAddress]:
        self.asked.append(host)
        answers = self._names.get(host)
        if answers is None:
            raise OSError("no such name")
        current = answers.pop(0) if len(answers) > 1 else answers[0]
        return [ip_address(a) for a in current]


class LoopbackOnlyAs127:
    """The loopback policy of a test, but 127.0.0.2 counts as private (a stand-in for an internal address)."""

    def __init__(self) -> None:
        self._inner = AddressPolicy(allow_loopback=True)

    def refusal(self, address: IPAddress) -> str | None:
        return "a private address" if address == IPv4Address("127.0.0.2") else self._inner.refusal(address)


@pytest.fixture(scope="module")
def upstream() -> Iterator[HttpUpstream]:
    with HttpUpstream() as running:
        yield running


async def test_a_public_server_is_listed_and_called(upstream: HttpUpstream) -> None:
    servers = GuardedClientServers(timeout_seconds=5, policy=AddressPolicy(allow_loopback=True))
    async with servers.connect(upstream.url, field=FIELD) as session:
        names = [tool.name for tool in await session.list_tools()]
        echoed = await session.call_tool("echo", {"text": "hi"})
        failed = await session.call_tool("fail", {})
    assert "echo" in names and "add" in names
    assert echoed.structured == {"text": "hi", "length": 2} and not echoed.is_error
    assert failed.is_error


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        pytest.param("http://127.0.0.1:9/mcp", "a loopback address", id="loopback"),
        pytest.param("http://[::1]:9/mcp", "a loopback address", id="ipv6-loopback"),
        pytest.param("http://169.254.169.254/latest/meta-data", "link-local", id="metadata"),
        pytest.param("http://[::ffff:169.254.169.254]/", "link-local", id="metadata-in-ipv6"),
        pytest.param("http://10.1.2.3/mcp", "private", id="private"),
        pytest.param("http://0.0.0.0:8090/mcp", "unspecified", id="unspecified"),
        pytest.param("http://internal.example/mcp", "private", id="name-to-private"),
        pytest.param("http://localhost:8090/mcp", "a loopback address", id="localhost"),
    ],
)
async def test_an_internal_address_is_refused_before_anything_is_sent(url: str, reason: str) -> None:
    resolver = FixedResolver({"internal.example": [["93.184.216.34", "192.168.1.20"]], "localhost": [["127.0.0.1"]]})
    servers = GuardedClientServers(timeout_seconds=2, resolver=resolver)
    with pytest.raises(InvalidRequest, match=rf"^tools\[0\]\.server_url: the server URL is refused: .*{reason}"):
        async with servers.connect(url, field=FIELD):
            pass


@pytest.mark.parametrize(
    ("url", "what"),
    [
        ("ftp://example.com/mcp", "http or https"),
        ("http://user:secret@example.com/mcp", "credentials"),
        ("http:///mcp", "no host"),
        ("http://[::1/mcp", "not a valid URL"),
    ],
)
async def test_a_malformed_url_is_a_400_naming_the_field(url: str, what: str) -> None:
    with pytest.raises(InvalidRequest, match=rf"^tools\[0\]\.server_url: .*{what}"):
        async with GuardedClientServers().connect(url, field=FIELD):
            pass


async def test_a_name_that_rebinds_to_an_internal_address_after_the_check_is_not_connected_to(
    upstream: HttpUpstream,
) -> None:
    port = httpx2.URL(upstream.url).port
    resolver = FixedResolver({"rebind.example": [["127.0.0.1"], ["127.0.0.2"]]})  # checked once, then internal
    servers = GuardedClientServers(timeout_seconds=5, policy=LoopbackOnlyAs127(), resolver=resolver)  # type: ignore[arg-type]
    with pytest.raises(UpstreamError, match="could not be reached"):
        async with servers.connect(f"http://rebind.example:{port}/mcp", field=FIELD):
            pass
    assert resolver.asked.count("rebind.example") >= 2  # the connection resolved and checked again


async def test_a_redirect_to_an_internal_address_is_refused_by_the_guard_itself(upstream: HttpUpstream) -> None:
    async def redirecting(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://internal.example/\r\nContent-Length: 0\r\n\r\n"
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(redirecting, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    resolver = FixedResolver({"internal.example": [["127.0.0.2"]]})
    backend = GuardedBackend(LoopbackOnlyAs127(), resolver, httpcore2.AnyIOBackend())  # type: ignore[arg-type]
    client = httpx2.AsyncClient(transport=guarded_transport(backend, ssl.create_default_context()))
    async with server, client:
        with pytest.raises(httpx2.ConnectError, match="it resolves to a private address"):
            await client.get(f"http://127.0.0.1:{port}/", follow_redirects=True)
    assert resolver.asked == ["internal.example"]
    assert issubclass(AddressRefused, httpcore2.ConnectError)

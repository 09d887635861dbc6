"""Two gateway processes sharing Redis behind one MCP client, which they answer alternately (docs/api.md#mcp).

/mcp is stateless: no ``Mcp-Session-Id``, nothing kept in a process between
requests, so a client whose requests a load balancer spreads over replicas
works as with one. The client here is the SDK's, with an HTTP transport that
sends each request to the other process in turn; a conversation started on one
continues on the other through the shared session store.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.support.server import ServerProcess
from tests.support.services import running

pytestmark = pytest.mark.redis


class Alternating(httpx2.AsyncBaseTransport):
    """Sends each request to the next of ``ports`` in turn, whatever port its URL names."""

    def __init__(self, ports: list[int]) -> None:
        self._ports = ports
        self._inner = httpx2.AsyncHTTPTransport()
        self.sent: list[int] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        port = self._ports[len(self.sent) % len(self._ports)]
        self.sent.append(port)
        request.url = request.url.copy_with(port=port)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@pytest.fixture(scope="module")
def pair(redis_url: str, redis_run_prefix: str) -> Iterator[tuple[ServerProcess, ...]]:
    env = {
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": f"{redis_run_prefix}{uuid.uuid4().hex[:12]}:",
        "SESSION_BACKEND": "redis",
        "CACHE_BACKEND": "redis",
    }
    with running(ServerProcess(env), ServerProcess(env)) as servers:
        yield servers


def _mcp_requests(server: ServerProcess) -> float:
    metrics = httpx.get(server.base_url + "/metrics", timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith('mcp_requests_total{method="mcp"')
    )


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_two_processes_answer_one_client_alternately(pair: tuple[ServerProcess, ...], mode: str) -> None:
    a, b = pair
    before = (_mcp_requests(a), _mcp_requests(b))
    transport = Alternating([a.http_port, b.http_port])
    session = "alt-" + secrets.token_hex(4)
    async with (
        httpx2.AsyncClient(transport=transport, timeout=httpx2.Timeout(30.0, read=60.0)) as http,
        Client(streamable_http_client(a.base_url + "/mcp", http_client=http), mode=mode, cache=None) as client,
    ):
        names = [tool.name for tool in (await client.list_tools()).tools]
        answers = [
            (await client.call_tool("generate", {"prompt": f"question {turn}", "sessionId": session}))
            for turn in (1, 2, 3)
        ]
        transcript = await client.call_tool("get_session", {"sessionId": session})
    assert names[:4] == ["generate", "embed", "list_models", "get_session"]
    assert [answer.structured_content["content"] for answer in answers] == [
        f"Mock answer (turn {turn}): question {turn}" for turn in (1, 2, 3)
    ]
    assert transcript.structured_content["messageCount"] == 6
    assert set(transport.sent) == {a.http_port, b.http_port}
    after = (_mcp_requests(a), _mcp_requests(b))
    assert after[0] > before[0] and after[1] > before[1]  # both processes answered

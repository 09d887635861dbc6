"""The MCP peers of the tests: the SDK's client against a running gateway, and the test upstream process.

``mcp_client`` is the official ``mcp.Client`` over Streamable HTTP with an API
key; ``HttpUpstream`` runs ``tests.support.mcp_upstream`` on a fixed free port,
which a test may kill and start again on the same port; ``time_server`` is the
``MCP_SERVERS`` entry of the reference server ``mcp-server-time`` on stdio.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import httpx2
from mcp import Client

from tests.support.server import REPO_ROOT, ServerProcess, free_port
from tests.support.services import eventually


@contextlib.asynccontextmanager
async def mcp_client(
    server: ServerProcess, key: str | None = None, *, mode: str = "auto", headers: dict[str, str] | None = None
) -> AsyncIterator[Client]:
    headers = {**(headers or {}), **({"Authorization": f"Bearer {key}"} if key else {})}
    async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0, read=60.0)) as http:
        from mcp.client.streamable_http import streamable_http_client

        transport = streamable_http_client(server.base_url + "/mcp", http_client=http)
        async with Client(transport, mode=mode, cache=None) as client:
            yield client


def time_server() -> dict[str, Any]:
    return {"command": sys.executable, "args": ["-m", "mcp_server_time", "--local-timezone", "UTC"]}


class HttpUpstream:
    """``tests.support.mcp_upstream`` on its own port; ``kill`` and ``start`` again at will."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> HttpUpstream:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.mcp_upstream", str(self.port)],
            cwd=REPO_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        eventually(self._answers, timeout=30, what=f"the test MCP server on port {self.port}")
        return self

    def _answers(self) -> bool:
        try:
            httpx.get(self.url, timeout=0.5)
        except httpx.HTTPError:
            return False
        return True

    def kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(10)

    def __enter__(self) -> HttpUpstream:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.kill()

"""A gateway without MCP_SERVERS does not load the MCP SDK at start; the first /mcp request does."""

from __future__ import annotations

import subprocess
import sys

from tests.support.server import REPO_ROOT

PROBE = """
import asyncio, sys
import httpx
from entrypoints.bootstrap.container import build_container, close_container, open_container
from entrypoints.config import load_settings
from entrypoints.http.app import create_http_app
from entrypoints.http.mcp.deps import build_mcp_surface

async def main():
    settings = load_settings([], environ={"ACCESS_LOG": "false"}, dotenv=None)
    container = build_container(settings)
    await open_container(container)
    surface = build_mcp_surface(container, settings)
    app = create_http_app(container, settings, mcp=surface)
    print("at start:", "mcp" in sys.modules)
    async with surface.running():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            await client.get("/healthz")
            print("after /healthz:", "mcp" in sys.modules)
            body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
            headers = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"}
            answer = await client.post("/mcp", json=body, headers=headers)
            print("after /mcp:", "mcp" in sys.modules, answer.status_code, '"generate"' in answer.text)
    await close_container(container)

asyncio.run(main())
"""


def test_the_sdk_is_loaded_by_the_first_mcp_request_not_at_start() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["at start: False", "after /healthz: False", "after /mcp: True 200 True"]

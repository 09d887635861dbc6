"""A small Streamable HTTP MCP server for the tests, run as its own process so a test can kill it.

    python -m tests.support.mcp_upstream PORT

Tools: ``echo`` (structured), ``add``, ``slow`` (reports progress, then answers;
``cancellations`` counts the slow calls cancelled),
``fail`` (a tool error), ``secret_read`` (for the deny patterns) and ``grow``,
which adds a tool ``grown`` and announces ``notifications/tools/list_changed``.
Built with the SDK's own ``MCPServer``, so what the gateway meets is what a
team's Python MCP server is.
"""

from __future__ import annotations

import asyncio
import sys

import uvicorn
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import BaseModel


class Echoed(BaseModel):
    text: str
    length: int


def build() -> MCPServer:
    server = MCPServer("test-upstream", version="1.0")
    cancelled: list[int] = []

    @server.tool(description="Echo a text back, with its length")
    def echo(text: str) -> Echoed:
        return Echoed(text=text, length=len(text))

    @server.tool(description="Add two integers")
    def add(a: int, b: int) -> int:
        return a + b

    @server.tool(description="Wait, reporting progress, then answer")
    async def slow(steps: int, ctx: Context) -> str:
        try:
            for step in range(steps):
                await ctx.report_progress(step + 1, steps, f"step {step + 1}")
                await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            cancelled.append(steps)
            raise
        return f"done after {steps} steps"

    @server.tool(description="How many slow calls were cancelled by their client")
    def cancellations() -> int:
        return len(cancelled)

    @server.tool(description="Always fails")
    def fail() -> str:
        raise ToolError("this tool always fails")

    @server.tool(description="Must never be offered (denied by pattern)")
    def secret_read() -> str:
        return "the secret"

    @server.tool(description="Add the tool 'grown' and announce the change")
    async def grow(ctx: Context) -> str:
        def grown() -> str:
            return "I was added later"

        server.add_tool(grown, name="grown", description="Added by grow")
        await ctx.session.send_tool_list_changed()
        return "grown"

    return server


def main() -> None:
    port = int(sys.argv[1])
    security = TransportSecuritySettings(allowed_hosts=["127.0.0.1:*"], allowed_origins=["http://127.0.0.1:*"])
    app = build().streamable_http_app(transport_security=security)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()

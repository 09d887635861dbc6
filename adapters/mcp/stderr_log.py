"""A stdio MCP server's stderr, read line by line into the gateway's log.

The SDK hands the child process a file to write its stderr to; here that is the
write end of a pipe whose read end the event loop reads, so nothing blocks and
nothing is lost in a file nobody reads. Lines are cut at ``MAX_LINE_CHARS``
(a server that writes megabytes without a newline cannot grow the buffer).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from typing import IO

log = logging.getLogger("mcp.tools.stderr")

MAX_LINE_CHARS = 2000
_READ_LIMIT = 64 * 1024


@contextlib.asynccontextmanager
async def stderr_log(server: str) -> AsyncIterator[IO[str]]:
    read_fd, write_fd = os.pipe()
    reader_file = os.fdopen(read_fd, "rb", buffering=0)
    writer_file = os.fdopen(write_fd, "w", buffering=1, encoding="utf-8", errors="replace")
    loop = asyncio.get_running_loop()
    stream = asyncio.StreamReader(limit=_READ_LIMIT)
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stream), reader_file)
    relay = asyncio.create_task(_relay(server, stream), name=f"mcp-{server}-stderr")
    try:
        yield writer_file
    finally:
        writer_file.close()  # the child's copy keeps the pipe open until it exits
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(relay), timeout=1.0)
        relay.cancel()
        transport.close()


async def _relay(server: str, stream: asyncio.StreamReader) -> None:
    while True:
        try:
            line = await stream.readline()
        except (ValueError, asyncio.LimitOverrunError):  # a line past the read limit: drop what was buffered
            line = await stream.read(_READ_LIMIT)
        if not line:
            return
        text = line.decode("utf-8", errors="replace").rstrip()
        if text:
            log.info("mcp server stderr", extra={"mcp_server": server, "line": text[:MAX_LINE_CHARS]})

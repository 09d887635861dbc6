"""Memory of idle WebSocket connections held by one gateway process (issue 18, item 4).

    .venv/bin/python -m bench.idle_connections --count 10000

Starts one gateway (embedded default, ``MAX_CONNECTIONS`` raised above the count), opens ``count``
WebSocket connections to ``/ws`` (the HTTP/1.1 upgrade written by hand, so that the client side costs
little), holds them idle, checks that every one is still open (each answers a ping frame with a pong),
and reports the gateway's RSS before, with all of them open, and after they closed. RSS does not depend
on how loaded the machine is; the time to open them does.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from bench.procs import REPO, base_env, free_port, start, wait_ready

_PING = bytes([0x89, 0x80]) + os.urandom(4)  # a masked, empty ping frame (clients must mask)


async def _open(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60)
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(f"upgrade refused: {head[:80]!r}")
    return reader, writer


async def _pong(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    """Ping; answer the server's own pings (it pings every 20 s) until our pong comes back."""
    writer.write(_PING)
    try:
        while True:
            head = await asyncio.wait_for(reader.readexactly(2), 30)
            payload = await reader.readexactly(head[1] & 0x7F)  # control frames: at most 125 bytes, unmasked
            opcode = head[0] & 0x0F
            if opcode == 0xA:
                return True
            if opcode == 0x9:
                mask = os.urandom(4)
                masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
                writer.write(bytes([0x8A, 0x80 | len(payload)]) + mask + masked)
            elif opcode == 0x8:
                return False  # the server closed it
    except (TimeoutError, asyncio.IncompleteReadError, OSError):
        return False


async def run(count: int, batch: int) -> int:
    logdir = Path(tempfile.mkdtemp(prefix="bench-idle-ws-"))
    http, ws = free_port(), free_port()
    env = {
        **base_env(),
        "PYTHONPATH": str(REPO),
        "HOST": "127.0.0.1",
        "HTTP_PORT": str(http),
        "WS_PORT": str(ws),
        "GRPC_PORT": "0",
        "LOG_LEVEL": "warning",
        "MAX_CONNECTIONS": str(count + 100),
    }
    gateway = start("gateway", [sys.executable, "-m", "entrypoints.cli", "serve"], env, http, logdir, logdir)
    try:
        await wait_ready(gateway)
        await asyncio.sleep(1)
        idle = gateway.rss_mb()
        began = time.perf_counter()
        connections: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        for offset in range(0, count, batch):
            connections += await asyncio.gather(*(_open(ws) for _ in range(min(batch, count - offset))))
        opened = time.perf_counter() - began
        await asyncio.sleep(5)
        held = gateway.rss_mb()
        alive = sum(await asyncio.gather(*(_pong(r, w) for r, w in connections)))
        for _, writer in connections:
            writer.close()
        await asyncio.sleep(3)
        after = gateway.rss_mb()
        per = (held - idle) * 1024 / max(1, count)
        print(
            f"{count} idle WebSocket connections: opened in {opened:.1f} s, {alive} answered a ping after 5 s idle; "
            f"gateway RSS idle {idle:.1f} MiB, with them open {held:.1f} MiB ({per:.1f} KiB each), "
            f"after they closed {after:.1f} MiB"
        )
        return 0 if alive == count else 1
    finally:
        gateway.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500, help="connections opened at once")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, args.count * 2 + 1000) if hard != resource.RLIM_INFINITY else args.count * 2 + 1000
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    return asyncio.run(run(args.count, args.batch))


if __name__ == "__main__":
    sys.exit(main())

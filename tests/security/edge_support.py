"""What the edge tests share: a raw HTTP/1.1 request, and a gateway given time to start on a busy machine.

httpx and browsers tidy a URL before sending it (dot segments resolved,
non-ASCII header values refused); these tests need the exact request target
and header bytes to reach the server, and the answer's exact header bytes back.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tests.support.server import ServerProcess

START_TIMEOUT = 90.0  # importing every listener's stack takes long on a loaded CI runner


@contextmanager
def running_gateway(
    env: Mapping[str, str] | None = None, *, ws: bool = False, grpc: bool = False
) -> Iterator[ServerProcess]:
    server = ServerProcess(env, ws=ws, grpc=grpc).start(timeout=START_TIMEOUT)
    try:
        yield server
    finally:
        server.stop()


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: bytes) -> bytes | None:
        return next((value for key, value in self.headers if key.lower() == name), None)

    def json(self) -> Any:
        return json.loads(self.body)


def raw_request(
    port: int, method: str, target: str, headers: dict[str, str] | None = None, body: bytes = b"", *, extra: bytes = b""
) -> RawResponse:
    """``target`` goes on the request line as given; ``extra`` is appended verbatim to the header block."""
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    head = "\r\n".join(lines).encode("ascii") + b"\r\n" + extra + b"\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head + body)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head_bytes, _, rest = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head_bytes.split(b"\r\n")
    parsed = [tuple(line.split(b":", 1)) for line in header_lines]
    response_headers = [(key.strip().lower(), value.strip()) for key, value in parsed]
    return RawResponse(status=int(status_line.split()[1]), headers=response_headers, body=rest)

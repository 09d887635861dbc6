"""Raw-socket clients that stop reading (a tiny receive buffer, so that the server's writes back up) or leave.

The WebSocket is spoken by hand (RFC 6455: the upgrade and masked text frames)
because a library client reads the socket on its own; here nothing is read
after the handshake unless the test asks.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import time
from collections.abc import Iterable

RECEIVE_BUFFER = 4096


def _connect(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)  # before connect: it sets the window
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    return sock


def _read_head(sock: socket.socket) -> bytes:
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            raise ConnectionError(f"closed before the end of the response head: {head!r}")
        head += chunk
    return head


class RawConnection:
    """A connection whose owner reads nothing unless it calls ``dropped_by_server``."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def send_until_refused(self, payloads: Iterable[bytes], patience: float = 3.0) -> int:
        """Send ``payloads`` until the server stops taking them (it no longer reads); how many went whole."""
        self.sock.settimeout(patience)
        sent = 0
        try:
            for payload in payloads:
                self.sock.sendall(payload)
                sent += 1
        except (TimeoutError, ConnectionError):  # refused: not read for a while, or already dropped
            pass
        finally:
            self.sock.settimeout(10)
        return sent

    def dropped_by_server(self, within: float = 20.0) -> bool:
        """Read what is left; ``True`` once the server has closed or reset the connection."""
        deadline = time.monotonic() + within
        self.sock.settimeout(1)
        while time.monotonic() < deadline:
            try:
                if not self.sock.recv(1 << 16):
                    return True
            except (ConnectionResetError, BrokenPipeError):
                return True
            except TimeoutError:
                continue
        return False

    def close(self) -> None:
        """Leave. With unread data in the receive buffer the kernel sends a reset, as for a killed client."""
        self.sock.close()


def open_websocket(port: int, query: str = "") -> RawConnection:
    sock = _connect(port)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws{query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = _read_head(sock)
    assert head.startswith(b"HTTP/1.1 101"), head
    return RawConnection(sock)


def text_frame(payload: object) -> bytes:
    """One masked WebSocket text frame carrying ``payload`` as JSON (clients must mask)."""
    data = json.dumps(payload).encode()
    mask = os.urandom(4)
    size = len(data)
    if size < 126:
        header = struct.pack("!BB", 0x81, 0x80 | size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x81, 0x80 | 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 0x80 | 127, size)
    key = (mask * (size // 4 + 1))[:size]
    masked = (int.from_bytes(data, "big") ^ int.from_bytes(key, "big")).to_bytes(size, "big")  # XOR, fast
    return header + mask + masked


def open_post(port: int, path: str, body: object, headers: dict[str, str] | None = None) -> RawConnection:
    """POST a JSON body and read nothing of the answer."""
    sock = _connect(port)
    data = json.dumps(body).encode()
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Content-Type: application/json"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    lines.append(f"Content-Length: {len(data)}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + data)
    return RawConnection(sock)

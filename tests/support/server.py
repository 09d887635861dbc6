"""Start the real gateway process on free ports, and wait until it answers.

Every end-to-end test talks to a server started this way: the same console
entry point users run, its own ports, its own environment.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """One gateway process. ``env`` is added to a clean environment of embedded defaults."""

    def __init__(self, env: Mapping[str, str] | None = None, *, ws: bool = False, grpc: bool = False) -> None:
        self.http_port = free_port()
        self.ws_port = free_port() if ws else 0
        self.grpc_port = free_port() if grpc else 0
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", "/tmp"),
            "HOST": "127.0.0.1",
            "HTTP_PORT": str(self.http_port),
            "WS_PORT": str(self.ws_port),
            "GRPC_PORT": str(self.grpc_port),
            "MOCK_LATENCY_MS": "0",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        # A test of TLS sets these: the readiness probe then speaks HTTPS and trusts its CA.
        self.scheme = "http"
        self.verify: ssl.SSLContext | bool = True
        self._log = tempfile.NamedTemporaryFile(prefix="mcp-server-", suffix=".log", delete=False)  # noqa: SIM115
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.http_port}"

    def start(self, timeout: float = 60.0) -> ServerProcess:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "entrypoints.cli", "serve"],
            cwd=self._workdir(),
            env={**self.env, "PYTHONPATH": str(REPO_ROOT)},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.logs()}")
            try:
                if httpx.get(self.base_url + "/healthz", timeout=0.5, verify=self.verify).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server did not answer within {timeout}s:\n{self.logs()}")

    def _workdir(self) -> str:
        # An empty working directory, so that no developer's .env leaks into the test.
        return tempfile.mkdtemp(prefix="mcp-server-cwd-")

    def signal(self, sig: int = signal.SIGTERM) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def wait(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def logs(self) -> str:
        return Path(self._log.name).read_text(errors="replace")

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

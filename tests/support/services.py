"""Helpers of the end-to-end tests of real state: throwaway Redis and PostgreSQL, polling, one generation.

``RedisServer`` is a ``redis-server`` of the test's own, on a port of its own,
that the test may kill and start again on the same port; ``PostgresCluster``
the same for PostgreSQL. ``eventually`` polls instead of sleeping;
``generate`` is one call of ``POST /api/v1/generate``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import httpx

from tests.conftest import service_unavailable
from tests.support.server import ServerProcess, free_port

T = TypeVar("T")


def eventually(probe: Callable[[], T | None], *, timeout: float = 15.0, what: str = "condition") -> T:
    """Call ``probe`` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        time.sleep(0.05)


class RedisServer:
    """A ``redis-server`` without persistence on a fixed free port; ``kill`` and ``start`` again at will."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server") or ""
        if not binary:
            service_unavailable("redis-server is not installed")
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self._process = subprocess.Popen(
            [*args, "--daemonize", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        eventually(self._answers, timeout=10, what=f"redis-server answering on port {self.port}")
        return self

    def kill(self) -> None:
        """Gone at once, as a crash would leave it: no shutdown, no save."""
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=10)
            self._process = None

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False


@contextmanager
def running(*servers: ServerProcess) -> Iterator[tuple[ServerProcess, ...]]:
    """Start the servers at once (so that they race on the migrations), ready; stop them all afterwards."""
    try:
        with ThreadPoolExecutor(max_workers=len(servers)) as starting:
            for started in [starting.submit(lambda s: wait_ready(s.start()), server) for server in servers]:
                started.result()
        yield servers
    finally:
        for server in servers:
            server.stop()


def wait_ready(server: ServerProcess, timeout: float = 15.0) -> None:
    """Until ``/readyz`` says the cache and the session store answer."""

    def ready() -> bool:
        return httpx.get(server.base_url + "/readyz", timeout=5).status_code == 200

    eventually(ready, timeout=timeout, what=f"readiness of the server on port {server.http_port}")


def generate(server: ServerProcess, prompt: str, *, user: str = "", session: str = "") -> httpx.Response:
    """``POST /api/v1/generate`` on the mock provider, in a session when ``session`` is given."""
    headers = {"X-User-ID": user} if user else {}
    if session:
        headers["X-Session-ID"] = session
    return httpx.post(server.base_url + "/api/v1/generate", json={"prompt": prompt}, headers=headers, timeout=30)


class PostgresCluster:
    """A throwaway PostgreSQL cluster (``initdb`` + ``pg_ctl``) on a free port, stopped and started at will.

    PostgreSQL refuses to run as root, so as root its commands run as the ``postgres`` user.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres?connect_timeout=2"
        self._bin = _postgres_bin_dir()
        self._root = Path(tempfile.mkdtemp(prefix="mcp-pg-"))
        self._data = self._root / "data"
        if os.geteuid() == 0:
            shutil.chown(self._root, user="postgres")
        self._run("initdb", "-D", str(self._data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")

    def start(self) -> PostgresCluster:
        options = f"-p {self.port} -k {self._root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self._data), "-o", options, "-l", str(self._root / "log"), "-w", "start")
        return self

    def stop(self) -> None:
        """Gone at once, as a crash would leave it (the next start recovers)."""
        self._run("pg_ctl", "-D", str(self._data), "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        if (self._data / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self._root, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        command = [str(self._bin / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)


def _postgres_bin_dir() -> Path:
    on_path = shutil.which("pg_ctl")
    candidates = [Path(on_path).parent] if on_path else []
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for candidate in candidates:
        if (candidate / "initdb").exists():
            return candidate
    service_unavailable("the PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    raise AssertionError("unreachable")

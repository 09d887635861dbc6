"""deploy/healthcheck.py, the image's HEALTHCHECK: exit 0 only when /healthz answers 200."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "healthcheck.py"


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *_args: object) -> None:  # keep test output quiet
        pass


def _serve(status: int) -> Iterator[int]:
    handler = type("Handler", (_Health,), {"status": status})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def healthy_port() -> Iterator[int]:
    yield from _serve(200)


@pytest.fixture
def failing_port() -> Iterator[int]:
    yield from _serve(503)


def _probe(port: int) -> int:
    env = {**os.environ, "HTTP_PORT": str(port), "ENABLE_TLS": "false"}
    return subprocess.run([sys.executable, str(SCRIPT)], env=env, capture_output=True, timeout=30).returncode


def test_a_server_answering_200_on_healthz_is_healthy(healthy_port: int) -> None:
    assert _probe(healthy_port) == 0


def test_a_server_answering_503_is_unhealthy(failing_port: int) -> None:
    assert _probe(failing_port) == 1


def test_nothing_listening_is_unhealthy() -> None:
    server = _serve(200)
    port = next(server)
    server.close()  # runs the generator's finally: the server is gone and the port closed

    assert _probe(port) == 1

"""Disconnects and shutdown: nothing is left running, nothing acknowledged is lost (docs/api.md#shutdown, #stream)."""

from __future__ import annotations

import signal
import socket
import time

import httpx

from tests.support.server import ServerProcess
from tests.support.sse import parse_events

LONG_PROMPT = " ".join(f"w{i}" for i in range(60))


def pool_stats(server: ServerProcess) -> dict[str, int]:
    return httpx.get(server.base_url + "/api/v1/pool/stats").json()  # type: ignore[no-any-return]


def test_a_client_that_disconnects_mid_stream_cancels_the_provider_call() -> None:
    with ServerProcess({"MOCK_LATENCY_MS": "50"}) as server:
        with httpx.stream(
            "POST", server.base_url + "/api/v1/generate/stream", json={"prompt": LONG_PROMPT}, timeout=30
        ) as response:
            lines = response.iter_lines()
            first = next(parse_events(lines))
            assert first["finished"] is False
            assert pool_stats(server)["current_concurrent"] == 1
        # The connection is closed here, after a few words of a 63-word answer.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and pool_stats(server)["current_concurrent"]:
            time.sleep(0.05)
        stats = pool_stats(server)
        assert stats["current_concurrent"] == 0
        assert stats["total_cancelled"] == 1
        assert stats["total_processed"] == 0


def test_sigterm_during_a_stream_lets_it_finish() -> None:
    server = ServerProcess({"MOCK_LATENCY_MS": "30", "SHUTDOWN_GRACE_SECONDS": "20"}).start()
    try:
        with httpx.stream(
            "POST", server.base_url + "/api/v1/generate/stream", json={"prompt": LONG_PROMPT}, timeout=30
        ) as response:
            events = parse_events(response.iter_lines())
            collected = [next(events)]
            server.signal(signal.SIGTERM)
            collected.extend(events)
        assert collected[-1]["finished"] is True
        assert "".join(e["content"] for e in collected[:-1]).endswith(LONG_PROMPT)
        assert server.wait(20) == 0
        # New connections are refused once it has stopped.
        try:
            httpx.get(server.base_url + "/healthz", timeout=1)
            raise AssertionError("server still accepting after shutdown")
        except httpx.ConnectError:
            pass
    finally:
        server.stop()


def test_a_request_sent_on_an_idle_kept_alive_connection_as_sigterm_arrives_is_still_answered() -> None:
    """Found by ``python -m bench.chaos`` (fault ``sigterm``): a client's pool reuses an idle connection
    without knowing the worker behind it is stopping. Stock uvicorn closed such connections at once and
    the request sent on one was lost; now it is answered, and the connection closed after it."""
    server = ServerProcess({"SHUTDOWN_GRACE_SECONDS": "20"}).start()
    try:
        with socket.create_connection(("127.0.0.1", server.http_port), timeout=10) as conn:
            request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            conn.sendall(request)
            assert read_one_answer(conn).startswith(b"HTTP/1.1 200")
            server.signal(signal.SIGTERM)
            wait_until_refused(server.http_port)  # the stop has begun: the listener is closed, this connection idle
            conn.sendall(request)
            answer = b""
            while chunk := conn.recv(65536):  # until the server closes the connection after its answer
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200"), answer
        assert server.wait(20) == 0
    finally:
        server.stop()


def read_one_answer(conn: socket.socket) -> bytes:
    """One whole HTTP/1.1 answer with a Content-Length (the connection stays open for the next)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line for line in head.lower().split(b"\r\n") if line.startswith(b"content-length:"))[15:])
    while len(body) < length:
        body += conn.recv(65536)
    return head + b"\r\n\r\n" + body


def wait_until_refused(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except ConnectionRefusedError:
            return
        time.sleep(0.01)
    raise AssertionError(f"port {port} still accepts connections")


def test_a_wrong_setting_stops_the_start_naming_the_variable() -> None:
    server = ServerProcess({"POOL_MAX_CONCURRENT": "lots"})
    try:
        server.start(timeout=10)
        raise AssertionError("server started with a wrong setting")
    except RuntimeError as exc:
        assert "POOL_MAX_CONCURRENT" in str(exc)
    finally:
        server.stop()

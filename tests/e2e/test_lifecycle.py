"""Disconnects and shutdown: nothing is left running, nothing acknowledged is lost (docs/api.md#shutdown, #stream)."""

from __future__ import annotations

import signal
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


def test_a_wrong_setting_stops_the_start_naming_the_variable() -> None:
    server = ServerProcess({"POOL_MAX_CONCURRENT": "lots"})
    try:
        server.start(timeout=10)
        raise AssertionError("server started with a wrong setting")
    except RuntimeError as exc:
        assert "POOL_MAX_CONCURRENT" in str(exc)
    finally:
        server.stop()

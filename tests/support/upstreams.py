"""Fake upstreams for end-to-end tests, and the HTTP calls those tests make to the gateway.

The gateway runs as a separate process, so a fake must keep answering while a
test blocks on an HTTP call: ``ThreadedFake`` runs one fake server on an event
loop of its own in a background thread. The test scripts it between calls and
reads what it received; anything that must happen on the fake's loop (clearing
its records, waiting for one of its events) goes through ``ThreadedFake.run``.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Generic, Protocol, TypeVar

import httpx

from tests.support.server import ServerProcess
from tests.support.sse import read_stream

T = TypeVar("T")


class FakeServer(Protocol):
    async def start(self) -> Any: ...

    async def stop(self) -> None: ...


F = TypeVar("F", bound=FakeServer)


class ThreadedFake(Generic[F]):
    """A fake server made by ``make`` and served from its own thread; ``fake`` is the live object."""

    def __init__(self, make: Callable[[], F]) -> None:
        self._make = make
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-upstream", daemon=True)
        self._fake: F | None = None

    @property
    def fake(self) -> F:
        assert self._fake is not None, "fake not started"
        return self._fake

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 15.0) -> T:
        """Run ``coroutine`` on the fake's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def __enter__(self) -> ThreadedFake[F]:
        self._thread.start()
        self._fake = self.run(self._start())
        return self

    async def _start(self) -> F:
        fake = self._make()  # made on its own loop, so that its asyncio objects belong there
        await fake.start()
        return fake

    def __exit__(self, *_: object) -> None:
        if self._fake is not None:
            self.run(self._fake.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()


@contextmanager
def gateway(env: Mapping[str, str]) -> Iterator[ServerProcess]:
    """A gateway process with the cache off, so that every request reaches the upstream."""
    with ServerProcess({"CACHE_ENABLED": "false", "LOG_LEVEL": "warning", **env}) as server:
        yield server


def eventually(check: Callable[[], T], *, within: float = 10.0, interval: float = 0.05) -> T:
    """The first truthy result of ``check``, polled until ``within`` seconds have passed."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)


def generate(
    server: ServerProcess, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> httpx.Response:
    return httpx.post(server.base_url + "/api/v1/generate", json=dict(body), headers=dict(headers or {}), timeout=30)


def stream(
    server: ServerProcess, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> tuple[httpx.Response, list[dict[str, Any]]]:
    """The streamed answer's response and its events (none when the answer is an error status)."""
    with httpx.stream(
        "POST", server.base_url + "/api/v1/generate/stream", json=dict(body), headers=dict(headers or {}), timeout=30
    ) as response:
        if response.status_code != 200:
            response.read()
            return response, []
        return response, read_stream(response)


def batch(server: ServerProcess, requests: list[dict[str, Any]]) -> dict[str, Any]:
    response = httpx.post(server.base_url + "/api/v1/generate/batch", json={"requests": requests}, timeout=30)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def circuits(server: ServerProcess) -> dict[str, str]:
    status: dict[str, Any] = httpx.get(server.base_url + "/api/v1/status", timeout=10).json()
    found: dict[str, str] = status["circuits"]
    return found


def streamed_text(events: list[dict[str, Any]]) -> str:
    return "".join(event.get("content", "") for event in events if not event.get("finished"))


@contextmanager
def first_event_then_leave(server: ServerProcess, body: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Open a stream, hand over its first event, and drop the connection when the block ends."""
    with (
        httpx.Client(timeout=30) as client,
        client.stream("POST", server.base_url + "/api/v1/generate/stream", json=dict(body)) as response,
    ):
        assert response.status_code == 200, response.read()
        lines = response.iter_lines()
        line = next(line for line in lines if line.startswith("data:"))
        yield json.loads(line[5:])

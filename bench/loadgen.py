"""A small HTTP/1.1 load generator: raw asyncio connections, exact percentiles.

Every latency of the measured window is kept and sorted, so percentiles are
exact (no histogram buckets). Two modes:

- closed loop (``concurrency``): N keep-alive connections, each sends its next
  request as soon as the previous answer is complete;
- open loop (``rate``): requests are due at fixed intervals and latency is
  counted from the moment a request was *due*, so a stalled server shows up
  in the figures instead of silently slowing the generator down (no
  coordinated omission).

Streams (SSE) are timed per event: time to the first event that carries text,
and the gaps between text events. The response parser is ``httptools`` (the C
parser uvicorn uses), so the generator costs little CPU next to what it measures.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httptools

# A text-bearing SSE event, whatever the JSON spacing: "content":"x" or "content": "x" (native and OpenAI chat),
# "text":"x" (Anthropic), "delta":"x" (the Responses API's response.output_text.delta).
_TEXT_EVENT = re.compile(rb'"(?:content|text|delta)":\s?"[^"]')

BodyFactory = Callable[[int], bytes]


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    path: str
    body: BodyFactory
    headers: tuple[tuple[str, str], ...] = ()
    stream: bool = False

    def request_bytes(self, n: int) -> bytes:
        body = self.body(n)
        head = [f"POST {self.path} HTTP/1.1", f"Host: {self.host}:{self.port}", "Content-Type: application/json"]
        head += [f"{k}: {v}" for k, v in self.headers]
        head.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(head) + "\r\n\r\n").encode() + body


@dataclass
class Result:
    """One finished exchange: status, total latency and, for streams, event timings (seconds)."""

    status: int
    latency: float
    ttft: float | None = None
    gaps: list[float] = field(default_factory=list)
    text_events: int = 0


class _Exchange(asyncio.Protocol):
    """One keep-alive connection; ``send`` runs one request and resolves with its ``Result``."""

    def __init__(self, stream: bool) -> None:
        self._stream = stream
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._done: asyncio.Future[Result] | None = None
        self._started = 0.0
        self._last_text = 0.0
        self._result = Result(0, 0.0)
        self._tail = b""
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_exception(ConnectionError(f"connection lost: {exc}"))
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if self._done is not None and not self._done.done():
                self._done.set_exception(exc)

    def send(self, payload: bytes, started: float) -> asyncio.Future[Result]:
        assert self._transport is not None
        self._done = asyncio.get_running_loop().create_future()
        self._started = self._last_text = started
        self._result = Result(0, 0.0)
        self._tail = b""
        self._transport.write(payload)
        return self._done

    # httptools callbacks
    def on_status(self, _status: bytes) -> None:
        self._result.status = self._parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        if not self._stream:
            return
        now = time.perf_counter()
        # An event can straddle two TCP reads: look at the new bytes plus a short tail of the old ones.
        window = self._tail + body
        found = len(_TEXT_EVENT.findall(window)) - len(_TEXT_EVENT.findall(self._tail))
        self._tail = window[-16:]
        if found <= 0:
            return
        result = self._result
        if result.ttft is None:
            result.ttft = now - self._started
        else:
            result.gaps.append(now - self._last_text)
        result.gaps.extend([0.0] * (found - 1))
        result.text_events += found
        self._last_text = now

    def on_message_complete(self) -> None:
        self._result.latency = time.perf_counter() - self._started
        if self._done is not None and not self._done.done():
            self._done.set_result(self._result)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def connect(host: str, port: int, stream: bool = False) -> _Exchange:
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(lambda: _Exchange(stream), host, port)
    return protocol


@dataclass
class Run:
    """What one measured window produced."""

    results: list[Result]
    seconds: float
    errors: int = 0
    error_sample: str = ""

    @property
    def rps(self) -> float:
        return len(self.results) / self.seconds if self.seconds else 0.0

    def ok(self) -> list[Result]:
        return [r for r in self.results if r.status == 200]

    @property
    def failed(self) -> int:
        return self.errors + sum(1 for r in self.results if r.status != 200)


def percentile(values: list[float], p: float) -> float:
    """Exact percentile (nearest rank) of ``values``; ``nan`` when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-p * len(ordered) // 100))))
    return ordered[rank - 1]


class _Counter:
    def __init__(self) -> None:
        self._n = itertools.count()

    def next(self) -> int:
        return next(self._n)


async def closed_loop(
    target: Target,
    *,
    concurrency: int,
    seconds: float,
    warmup: float = 1.0,
    requests: int | None = None,
    deadline: float | None = None,
) -> Run:
    """``concurrency`` connections back to back; measure for ``seconds`` (or until ``requests`` are done).

    ``deadline`` (seconds) bounds each exchange (a stalled stream counts as an error instead of hanging the run).
    """
    conns = await _open(target, concurrency)
    counter = _Counter()
    results: list[Result] = []
    errors: list[str] = []
    loop = asyncio.get_running_loop()
    start_at = loop.time() + warmup
    stop_at = start_at + seconds
    budget = itertools.count() if requests is None else iter(range(requests))

    async def worker(conn: _Exchange) -> None:
        while True:
            now = loop.time()
            measuring = now >= start_at
            if now >= stop_at or (measuring and next(budget, None) is None):
                return
            try:
                pending = conn.send(target.request_bytes(counter.next()), time.perf_counter())
                result = await (asyncio.wait_for(pending, deadline) if deadline else pending)
            except Exception as exc:
                errors.append(repr(exc))
                return
            if measuring:
                results.append(result)

    began = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in conns))
    elapsed = time.perf_counter() - began - warmup
    _close(conns)
    return Run(results, max(elapsed, 1e-9), len(errors), errors[0] if errors else "")


async def open_loop(target: Target, *, rate: float, seconds: float, connections: int, warmup: float = 1.0) -> Run:
    """Requests due every ``1/rate`` s over up to ``connections`` connections; latency counted from when due."""
    conns = await _open(target, connections)
    idle: asyncio.Queue[_Exchange] = asyncio.Queue()
    for conn in conns:
        idle.put_nowait(conn)
    counter = _Counter()
    results: list[Result] = []
    errors: list[str] = []
    pending: set[asyncio.Task[None]] = set()
    began = time.perf_counter()
    measure_from = began + warmup
    total = int(rate * (warmup + seconds))

    async def one(conn: _Exchange, due: float) -> None:
        try:
            result = await conn.send(target.request_bytes(counter.next()), due)
        except Exception as exc:
            errors.append(repr(exc))
            return
        if due >= measure_from:
            results.append(result)
        idle.put_nowait(conn)

    for i in range(total):
        due = began + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        conn = await idle.get()  # when all are busy, the wait counts in the latency (measured from ``due``)
        task = asyncio.create_task(one(conn, due))
        pending.add(task)
        task.add_done_callback(pending.discard)
    await asyncio.gather(*pending)
    _close(conns)
    return Run(results, seconds, len(errors), errors[0] if errors else "")


async def _open(target: Target, count: int) -> list[_Exchange]:
    conns: list[_Exchange] = []
    for start in range(0, count, 200):  # a burst of thousands of SYNs at once overflows small backlogs
        batch = range(start, min(count, start + 200))
        conns += await asyncio.gather(*(connect(target.host, target.port, target.stream) for _ in batch))
    return conns


def _close(conns: list[_Exchange]) -> None:
    for conn in conns:
        conn.close()

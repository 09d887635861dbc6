"""The mixed load of ``bench.chaos``: every surface at a steady rate, each answer checked and classified.

Open loop: one request is due every ``1/rate`` seconds whatever the server does, so a
stalled gateway shows up as failures and latency instead of slowing the load down.
Each request is one of the kinds in ``MIX`` (in turn, by weight). What is counted:

- a stateless request (generate, batch, OpenAI door, WebSocket, gRPC, stream) that
  did not get its answer is **failed**, whatever the cause;
- a stream (SSE, WebSocket, gRPC stream) that ended without its final event and
  without an error event is **truncated**; one that ended with an error event is
  **errored** (the client was told; not a goal figure);
- a session turn that was answered 200 is **acknowledged** and remembered; the
  read-back at the end lists every acknowledged turn missing from its session.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets
from grpclib.client import Channel
from grpclib.const import Cardinality
from grpclib.exceptions import GRPCError, StreamTerminatedError

from entrypoints.grpc.generated import proto as pb

MODEL = "bench-model"
TIMEOUT = 30.0
TURNS_PER_SESSION = 40  # a fresh session after this many turns, well under SESSION_MAX_MESSAGES / 2
MIX: tuple[tuple[str, int], ...] = (
    ("generate", 4),
    ("stream", 3),
    ("session", 2),
    ("openai", 2),
    ("ws", 1),
    ("grpc", 1),
    ("grpc_stream", 1),
    ("batch", 1),
)
STATELESS = frozenset(kind for kind, _ in MIX) - {"session"}


@dataclass
class Outcome:
    kind: str
    started: float  # monotonic
    ok: bool
    errored: bool = False  # a stream that ended with an error event
    truncated: bool = False  # a stream that ended with neither its final event nor an error event
    detail: str = ""
    took: float = 0.0  # seconds from due to done


@dataclass
class Tally:
    """What happened to the requests that started inside one window of time."""

    sent: int = 0
    ok: int = 0
    failed: int = 0
    errored: int = 0
    truncated: int = 0
    turns_acknowledged: int = 0
    turns_refused: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    details: Counter[str] = field(default_factory=Counter)


class MixedLoad:
    """Drives the gateway at ``rate`` requests per second until ``stop()``; keeps every outcome."""

    def __init__(self, http_port: int, ws_port: int, grpc_port: int, *, rate: float, users: int = 8) -> None:
        self.rate = rate
        self.outcomes: list[Outcome] = []
        self.acknowledged: dict[tuple[str, str], list[str]] = {}  # (user, session) -> prompts answered 200
        # Many small pools that never queue: httpcore's pool scans every connection for every waiting
        # request on each event, so one pool under a few hundred requests in flight spends more CPU than
        # the requests (tried: the generator's loop then spun in that scan and the load stopped).
        self._pools = [
            httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{http_port}",
                timeout=TIMEOUT,
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=8),
            )
            for _ in range(32)
        ]
        self._next_pool = itertools.cycle(self._pools)
        self._ws_url = f"ws://127.0.0.1:{ws_port}/ws"
        self._grpc_port = grpc_port
        self._channel: Channel | None = None
        self._kinds = itertools.cycle([kind for kind, weight in MIX for _ in range(weight)])
        self._seq = itertools.count()
        self._users = [f"chaos-user-{i}" for i in range(users)]
        self._sessions: dict[str, tuple[str, int]] = {}
        self._running = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._ticker: asyncio.Task[None] | None = None
        self.stream_chunks = 0  # 0: the fake's default; set by a phase that needs long streams

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._running = True
        self._ticker = asyncio.get_running_loop().create_task(self._tick())

    async def stop(self) -> None:
        """No new requests; wait for those in flight (each bounded by its own timeout)."""
        self._running = False
        if self._ticker is not None:
            await self._ticker
        if self._tasks:
            await asyncio.wait(self._tasks)

    async def close(self) -> None:
        for pool in self._pools:
            await pool.aclose()
        if self._channel is not None:
            self._channel.close()

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def _tick(self) -> None:
        interval = 1.0 / self.rate
        due = time.monotonic()
        loop = asyncio.get_running_loop()
        while self._running:
            now = time.monotonic()
            while due <= now and self._running:
                task = loop.create_task(self._one(next(self._kinds), due))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                due += interval
            await asyncio.sleep(max(0.0, due - time.monotonic()))

    @property
    def _http(self) -> httpx.AsyncClient:
        return next(self._next_pool)

    def burst(self, kind: str, count: int) -> None:
        """``count`` requests of ``kind`` at once, on top of the steady load (counted with it)."""
        loop = asyncio.get_running_loop()
        now = time.monotonic()
        for _ in range(count):
            task = loop.create_task(self._one(kind, now))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _one(self, kind: str, due: float) -> None:
        call: Callable[[], Awaitable[Outcome]] = getattr(self, f"_{kind}")
        try:
            outcome = await asyncio.wait_for(call(), TIMEOUT + 5)
            outcome.started = due
        except Exception as exc:  # every failure of the client side is a failed request of the load
            outcome = Outcome(kind, due, ok=False, detail=f"{kind}: {type(exc).__name__}")
        outcome.took = time.monotonic() - due
        self.outcomes.append(outcome)

    # ---- the kinds of request ----------------------------------------------------------------

    def _prompt(self, kind: str) -> str:
        return f"chaos {kind} {next(self._seq)} {uuid.uuid4().hex[:6]}"

    def _body(self, kind: str) -> dict[str, Any]:
        body: dict[str, Any] = {"prompt": self._prompt(kind), "model": MODEL, "maxTokens": 64}
        return body

    async def _generate(self) -> Outcome:
        response = await self._http.post("/api/v1/generate", json=self._body("generate"))
        ok = response.status_code == 200 and bool(response.json().get("content"))
        return Outcome("generate", 0, ok, detail="" if ok else f"generate: {response.status_code}")

    async def _batch(self) -> Outcome:
        items = [self._body("batch") for _ in range(3)]
        response = await self._http.post("/api/v1/generate/batch", json={"requests": items})
        if response.status_code != 200:
            return Outcome("batch", 0, False, detail=f"batch: {response.status_code}")
        body = response.json()
        ok = body.get("succeeded") == 3
        codes = ",".join(sorted({str(r.get("code")) for r in body.get("responses", []) if "error" in r}))
        return Outcome("batch", 0, ok, detail="" if ok else f"batch item: {codes}")

    async def _openai(self) -> Outcome:
        body = {"model": MODEL, "messages": [{"role": "user", "content": self._prompt("openai")}], "max_tokens": 64}
        response = await self._http.post("/v1/chat/completions", json=body)
        ok = response.status_code == 200 and bool(response.json()["choices"][0]["message"].get("content"))
        return Outcome("openai", 0, ok, detail="" if ok else f"openai: {response.status_code}")

    async def _stream(self) -> Outcome:
        finished = errored = False
        async with self._http.stream("POST", "/api/v1/generate/stream", json=self._body("stream")) as response:
            if response.status_code != 200:
                await response.aread()
                return Outcome("stream", 0, False, detail=f"stream: {response.status_code}")
            try:
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    event = json.loads(line[5:])
                    if "error" in event:
                        errored = True
                    elif event.get("finished"):
                        finished = True
            except httpx.HTTPError as exc:
                return _stream_end("stream", finished, errored, type(exc).__name__)
        return _stream_end("stream", finished, errored, "connection ended")

    async def _ws(self) -> Outcome:
        finished = errored = False
        try:
            async with websockets.connect(self._ws_url, open_timeout=10) as socket:
                await socket.send(json.dumps({**self._body("ws"), "id": 1}))
                while not (finished or errored):
                    frame = json.loads(await socket.recv())
                    if "error" in frame:
                        errored = True
                    elif frame.get("finished"):
                        finished = True
        except (OSError, websockets.exceptions.WebSocketException) as exc:
            if not (finished or errored):
                handshake = isinstance(exc, websockets.exceptions.InvalidStatus | OSError)
                if handshake:
                    return Outcome("ws", 0, False, detail=f"ws: {type(exc).__name__}")
                return _stream_end("ws", finished, errored, type(exc).__name__)
        return _stream_end("ws", finished, errored, "")

    def _grpc_channel(self) -> Channel:
        if self._channel is None:
            self._channel = Channel("127.0.0.1", self._grpc_port)
        return self._channel

    async def _grpc(self) -> Outcome:
        request = pb.GenerateRequest(prompt=self._prompt("grpc"), model=MODEL, max_tokens=64)
        try:
            reply = await self._grpc_unary(request)
        except (GRPCError, StreamTerminatedError, OSError) as exc:
            return Outcome("grpc", 0, False, detail=f"grpc: {_grpc_name(exc)}")
        ok = bool(reply and reply.content)
        return Outcome("grpc", 0, ok, detail="" if ok else "grpc: empty")

    async def _grpc_unary(self, request: pb.GenerateRequest) -> Any:
        async with self._grpc_channel().request(
            "/proto.AIService/Generate", Cardinality.UNARY_UNARY, pb.GenerateRequest, pb.GenerateResponse, timeout=30
        ) as call:
            await call.send_message(request, end=True)
            reply = await call.recv_message()
            await call.recv_trailing_metadata()
            return reply

    async def _grpc_stream(self) -> Outcome:
        request = pb.GenerateRequest(prompt=self._prompt("grpc_stream"), model=MODEL, max_tokens=64)
        finished = began = False
        try:
            async with self._grpc_channel().request(
                "/proto.AIService/GenerateStream",
                Cardinality.UNARY_STREAM,
                pb.GenerateRequest,
                pb.StreamChunk,
                timeout=30,
            ) as call:
                await call.send_message(request, end=True)
                while (chunk := await call.recv_message()) is not None:
                    began = True
                    finished = finished or bool(chunk.finished)
                await call.recv_trailing_metadata()
        except GRPCError as exc:
            # A status after the stream began is gRPC's error event; before it, the call failed.
            if not began:
                return Outcome("grpc_stream", 0, False, detail=f"grpc_stream: {_grpc_name(exc)}")
            return _stream_end("grpc_stream", finished, True, _grpc_name(exc))
        except (StreamTerminatedError, OSError) as exc:
            return _stream_end("grpc_stream", finished, False, type(exc).__name__)
        return _stream_end("grpc_stream", finished, False, "no final chunk")

    async def _session(self) -> Outcome:
        user = self._users[next(self._seq) % len(self._users)]
        session, turns = self._sessions.get(user, ("", TURNS_PER_SESSION))
        if turns >= TURNS_PER_SESSION:
            session, turns = f"chaos-{uuid.uuid4().hex[:12]}", 0
        self._sessions[user] = (session, turns + 1)
        prompt = self._prompt("session")
        headers = {"X-User-ID": user, "X-Session-ID": session}
        body = {"prompt": prompt, "model": MODEL, "maxTokens": 64}
        response = await self._http.post("/api/v1/generate", json=body, headers=headers)
        if response.status_code == 200:
            self.acknowledged.setdefault((user, session), []).append(prompt)
            return Outcome("session", 0, True)
        return Outcome("session", 0, False, detail=f"session: {response.status_code}")

    # ---- reading back ------------------------------------------------------------------------

    async def missing_turns(self) -> tuple[int, int, list[str]]:
        """(acknowledged turns, missing ones, a few examples): every session read back from the gateway."""
        acknowledged = missing = 0
        examples: list[str] = []
        for (user, session), prompts in self.acknowledged.items():
            acknowledged += len(prompts)
            stored = await self._read_session(user, session)
            found = {m.get("content") for m in stored if m.get("role") == "user"}
            lost = [p for p in prompts if p not in found]
            missing += len(lost)
            examples += [f"{session}: {p}" for p in lost[:2]]
        return acknowledged, missing, examples[:6]

    async def _read_session(self, user: str, session: str) -> list[dict[str, Any]]:
        for _ in range(20):  # the store may still be coming back from the last fault
            with contextlib.suppress(httpx.HTTPError):
                response = await self._http.get(f"/api/v1/sessions/{session}", headers={"X-User-ID": user})
                if response.status_code == 200:
                    messages: list[dict[str, Any]] = response.json()["messages"]
                    return messages
                if response.status_code == 404:
                    return []
            await asyncio.sleep(0.5)
        return []


def _stream_end(kind: str, finished: bool, errored: bool, how: str) -> Outcome:
    if finished and not errored:
        return Outcome(kind, 0, True)
    if errored:
        return Outcome(kind, 0, False, errored=True, detail=f"{kind}: error event")
    return Outcome(kind, 0, False, truncated=True, detail=f"{kind}: truncated ({how})")


def _grpc_name(exc: BaseException) -> str:
    return exc.status.name if isinstance(exc, GRPCError) else type(exc).__name__


def tally(outcomes: list[Outcome], start: float, end: float) -> Tally:
    found = Tally()
    for outcome in outcomes:
        if not start <= outcome.started < end:
            continue
        found.sent += 1
        found.by_kind[outcome.kind] += 1
        if outcome.kind == "session":
            if outcome.ok:
                found.turns_acknowledged += 1
            else:
                found.turns_refused += 1
                found.details[outcome.detail] += 1
            continue
        if outcome.ok:
            found.ok += 1
        elif outcome.truncated:
            found.truncated += 1
        elif outcome.errored:
            found.errored += 1
        else:
            found.failed += 1
        if outcome.detail:
            found.details[outcome.detail] += 1
    return found

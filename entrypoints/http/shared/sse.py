"""Server-Sent Events (docs/api.md#stream): framing, heartbeat, errors, disconnects.

The use-case's events are pumped by one producer task into a small bounded
queue; the response drains it. That lets the response send a ``: ping``
comment after 15 s of silence without disturbing the producer, and lets the
handler wait for the first event before committing to a 200, so that a refusal
that happens early (a foreign session, a full pool) is still a proper status.
When the client goes away the response is cancelled, and it cancels the
producer, which cancels the upstream call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from typing import Any

import msgspec

from application.closing import closing_iterator
from domain.errors import DomainError
from entrypoints.asgi import Receive, Send
from entrypoints.http.shared.disconnect import AnyReceive, ClientGone, unless_client_leaves
from entrypoints.native_json import error_chunk_json
from entrypoints.request_context import current_request_id

log = logging.getLogger("mcp.sse")

HEARTBEAT_SECONDS = 15.0
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"}
PING = b": ping\n\n"
_encode = msgspec.json.Encoder().encode
_DONE = object()
_PING = object()


def frame(payload: object) -> bytes:
    return b"data: " + _encode(payload) + b"\n\n"


def native_error_frame(error: DomainError) -> bytes:
    """A failure after the stream started, as the native API reports it: a final ``data:`` chunk with the error."""
    return frame(error_chunk_json(error, current_request_id()))


class EventPump:
    """Runs ``source`` in its own task and hands its frames to the response.

    ``render`` frames one event, ``render_error`` a failure once the stream has started, ``ping`` what is
    sent after a silence (each dialect has its own SSE framing: the native chunks and ``: ping`` comments,
    OpenAI's ``chat.completion.chunk`` events, Anthropic's typed events and ``ping`` events, ...).
    """

    def __init__(
        self,
        source: AsyncIterator[Any],
        render: Callable[[Any], bytes],
        render_error: Callable[[DomainError], bytes] = native_error_frame,
        *,
        ping: bytes = PING,
    ) -> None:
        self._render_error = render_error
        self._ping = ping
        self._queue: asyncio.Queue[object] = asyncio.Queue(maxsize=64)
        self._task = asyncio.create_task(self._produce(source, render))
        self._last_sent = 0.0
        self._timer: asyncio.TimerHandle | None = None

    async def _produce(self, source: AsyncIterator[Any], render: Callable[[Any], bytes]) -> None:
        try:
            # Closed on the way out: a pump cancelled while it waits on a full queue (a client that stopped
            # reading, then left) would otherwise leave the use-case suspended, holding its slot until GC.
            async with closing_iterator(source) as events:
                async for event in events:
                    await self._queue.put(render(event))
        except DomainError as exc:
            await self._queue.put(exc)
        except Exception as exc:  # the stream has started: report, never hang
            log.exception("stream failed")
            await self._queue.put(DomainError(f"stream failed: {type(exc).__name__}"))
        await self._queue.put(_DONE)

    async def first(self) -> bytes | DomainError | None:
        """The first frame, the error that came instead, or ``None`` for an empty stream."""
        item = await self._queue.get()
        if item is _DONE:
            return None
        if isinstance(item, DomainError | bytes):
            return item
        raise TypeError(f"unexpected item {item!r}")

    async def rest(self, heartbeat: float = HEARTBEAT_SECONDS) -> AsyncGenerator[bytes, None]:
        # One timer per stream checks for silence every ``heartbeat`` seconds and queues a ping; a
        # timeout around every wait for the next chunk would cost more than relaying the chunk.
        loop = asyncio.get_running_loop()
        self._last_sent = loop.time()
        self._timer = loop.call_later(heartbeat, self._check_silence, heartbeat)
        try:
            while True:
                item = await self._queue.get()
                self._last_sent = loop.time()
                if item is _PING:
                    yield self._ping
                    continue
                if item is _DONE:
                    return
                if isinstance(item, DomainError):
                    yield self._render_error(item)
                    return
                assert isinstance(item, bytes)
                yield item
        finally:
            if self._timer is not None:
                self._timer.cancel()
            self.cancel()

    def _check_silence(self, heartbeat: float) -> None:
        loop = asyncio.get_running_loop()
        quiet_for = loop.time() - self._last_sent
        if quiet_for >= heartbeat and self._queue.empty():
            self._queue.put_nowait(_PING)
            quiet_for = 0.0
        self._timer = loop.call_later(heartbeat - quiet_for, self._check_silence, heartbeat)

    def cancel(self) -> None:
        if not self._task.done():
            self._task.cancel()


async def first_frame(pump: EventPump, receive: AnyReceive) -> bytes | DomainError | None:
    """``pump.first()``; a client that leaves before it cancels the pump (and the upstream call): ``ClientGone``."""
    try:
        return await unless_client_leaves(receive, pump.first())
    except ClientGone:
        pump.cancel()
        raise


SSE_START_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    *((name.lower().encode(), value.encode()) for name, value in SSE_HEADERS.items()),
    (b"content-type", b"text/event-stream; charset=utf-8"),
)


async def relay_sse(
    first: bytes, pump: EventPump, receive: Receive, send: Send, *, heartbeat: float = HEARTBEAT_SECONDS
) -> None:
    """A 200 SSE answer in raw ASGI: ``first``, then the pump's frames (a ping after ``heartbeat`` seconds of
    silence), then the end of the body.

    When the client leaves (or is dropped for not reading: ``entrypoints.write_deadline``), the relay is
    cancelled and with it the pump, which cancels the upstream call (what Litestar's streaming response
    does with a task group).
    """
    try:
        await unless_client_leaves(receive, _relay(first, pump, send, heartbeat))
    except ClientGone:
        pass  # the 200 went out; the answer was cut short and nobody is left to tell
    finally:
        pump.cancel()


async def _relay(first: bytes, pump: EventPump, send: Send, heartbeat: float) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": list(SSE_START_HEADERS)})
    await send({"type": "http.response.body", "body": first, "more_body": True})
    async with aclosing(pump.rest(heartbeat)) as frames:
        async for item in frames:
            await send({"type": "http.response.body", "body": item, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def stream_after(first: bytes, pump: EventPump) -> AsyncIterator[bytes]:
    yield first
    async for item in pump.rest():
        yield item

"""One WebSocket connection: a reader, a worker and a single writer (docs/api.md#websocket).

The reader takes frames off the socket and queues them; the worker answers
them one at a time, in the order they came; every outgoing frame goes through
one queue to the one writer task, so frames are never written concurrently.
On a server shutdown (``DRAIN_EVENT``) the answer in flight is finished,
requests still queued or arriving are refused with ``shutting_down``, and the
socket is closed with 1012 (service restart) once the worker is idle.

The three tasks run in one task group, and the connection ends when either end
of the socket does: the reader sees a disconnect, or the writer finds the client
gone (a send that fails, or one that outlived the write deadline of
``entrypoints.write_deadline``) or has sent the closing frame. Whoever sees it,
all three are cancelled: the upstream call of the answer in progress with them,
and its pool slot and session lock released. A reader blocked on a full inbox
or a worker blocked on a full outbox is cancelled like the others, so a client
that stops reading and then leaves pins nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, MutableMapping
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, cast

from application.generate_stream import GenerateStream
from domain.api_keys import ANONYMOUS, Principal
from domain.catalogue import Catalogue
from domain.errors import DomainError, ShuttingDown
from domain.models import Caller, StreamEvent
from domain.validation import RequestContext, RequestLimits, build_request
from entrypoints.http.shared.errors import status_of
from entrypoints.request_context import bind_request, caller_from, new_request_id
from entrypoints.telemetry.observer import Telemetry
from entrypoints.telemetry.record import note_error
from entrypoints.ws.draining import DRAIN_EVENT
from entrypoints.ws.frames import BadFrame, WsRequest, decode_request, error_frame, event_frame

log = logging.getLogger("mcp.ws")

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# Requests read ahead of the one being answered; beyond that the reader stops reading (TCP backpressure).
PENDING_REQUESTS = 16
PENDING_FRAMES = 64
_CLOSE_FOR_RESTART = {"type": "websocket.close", "code": 1012}


@dataclass(frozen=True, slots=True)
class WsDeps:
    catalogue: Catalogue
    limits: RequestLimits
    generate_stream: GenerateStream


MessageGate = Callable[[Caller], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class MessageGuard:
    """Per-message protection and observation of one socket (docs/api.md#rate-limits, #metrics).

    ``gate(caller)`` takes a rate-limit token from the caller's bucket or raises
    ``RateLimited`` (answered with an error frame; the socket stays open);
    ``telemetry`` counts each message as one ``ws`` request.
    """

    principal: Principal = ANONYMOUS
    client: str = ""
    gate: MessageGate | None = None
    telemetry: Telemetry | None = None


@dataclass(frozen=True, slots=True)
class SessionDefaults:
    """The session named in the query string; a message's own ``userId``/``sessionId`` win."""

    user_id: str = ""
    session_id: str = ""


class _SocketClosed(Exception):
    """Raised by the reader or the writer when the socket is closed: it ends the connection's task group."""


class WsConnection:
    def __init__(
        self, deps: WsDeps, receive: Receive, send: Send, session: SessionDefaults, guard: MessageGuard | None = None
    ) -> None:
        self._deps = deps
        self._guard = guard or MessageGuard()
        self._receive = receive
        self._send = send
        self._session = session
        self._inbox: asyncio.Queue[str | bytes | None] = asyncio.Queue(PENDING_REQUESTS)
        self._outbox: asyncio.Queue[str | None] = asyncio.Queue(PENDING_FRAMES)  # None: close the socket
        self._draining = False

    async def run(self) -> None:
        """Serve the socket until either end of it closes; then nothing of this connection is left running."""
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._read())
                tasks.create_task(self._work())
                tasks.create_task(self._write())
        except* _SocketClosed:
            pass

    async def _read(self) -> None:
        while True:
            message = await self._receive()
            if message["type"] == "websocket.disconnect":
                raise _SocketClosed
            if message["type"] == DRAIN_EVENT:
                self._draining = True
                await self._inbox.put(None)  # wakes an idle worker so that it closes the socket
            elif message["type"] == "websocket.receive":
                text = message.get("text")
                await self._inbox.put(text if text is not None else message.get("bytes") or b"")

    async def _write(self) -> None:
        while True:
            frame = await self._outbox.get()
            message = {"type": "websocket.send", "text": frame} if frame is not None else _CLOSE_FOR_RESTART
            try:
                await self._send(message)
            except OSError:  # the client is gone (uvicorn's ClientDisconnected), or dropped for not reading
                raise _SocketClosed from None
            if frame is None:
                raise _SocketClosed

    async def _work(self) -> None:
        while not (self._draining and self._inbox.empty()):
            raw = await self._inbox.get()
            if raw is not None:
                await self._answer(raw)
        await self._outbox.put(None)

    async def _answer(self, raw: str | bytes) -> None:
        request_id = new_request_id()
        bind_request(request_id=request_id)  # the user and session are known once the frame is read
        telemetry = self._guard.telemetry
        record = telemetry.begin("ws", span_name="WS /ws message") if telemetry is not None else None
        error = await self._answer_or_error(raw, request_id)
        if telemetry is not None and record is not None:
            status = "200" if error is None else str(status_of(error))
            telemetry.finish(record, status, failed=error is not None, fields={"path": "/ws"})

    async def _answer_or_error(self, raw: str | bytes, request_id: str) -> DomainError | None:
        ident: object = None
        try:
            request = decode_request(raw)
            ident = request.id
            if self._draining:
                raise ShuttingDown("the gateway is shutting down; reconnect and send the request again")
            await self._relay(request, request_id, ident)
        except BadFrame as exc:
            return await self._refuse(exc, request_id, exc.ident)
        except DomainError as exc:
            return await self._refuse(exc, request_id, ident)
        except Exception:  # a bug must not end the socket: answer this request and go on
            log.exception("websocket request failed")
            return await self._refuse(DomainError("internal error"), request_id, ident)
        return None

    async def _refuse(self, error: DomainError, request_id: str, ident: object) -> DomainError:
        note_error(error.code)
        await self._outbox.put(error_frame(error, request_id, ident))
        return error

    async def _relay(self, request: WsRequest, request_id: str, ident: object) -> None:
        context = self._context(request, request_id)
        guard = self._guard
        if guard.gate is not None:
            await guard.gate(context.caller)
        generation = build_request(
            request.fields(), catalogue=self._deps.catalogue, limits=self._deps.limits, context=context
        )
        events = cast(AsyncGenerator[StreamEvent, None], self._deps.generate_stream.execute(generation))
        async with aclosing(events):
            async for event in events:
                await self._outbox.put(event_frame(event, ident))

    def _context(self, request: WsRequest, request_id: str) -> RequestContext:
        user_id = (request.userId if request.userId is not None else self._session.user_id).strip()
        session_id = (request.sessionId if request.sessionId is not None else self._session.session_id).strip()
        bind_request(request_id=request_id, user_id=user_id, session_id=session_id)
        caller = caller_from(self._guard.principal, self._guard.client)
        return RequestContext(request_id=request_id, user_id=user_id, session_id=session_id, caller=caller)

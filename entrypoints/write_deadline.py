"""A deadline on every write to an HTTP or WebSocket client that has stopped reading (``CLIENT_WRITE_TIMEOUT_SECONDS``).

How back-pressure shows up under uvicorn: when a client stops reading, the
kernel's send buffer fills, the transport keeps what the app writes in its own
buffer, and once that passes the high-water mark (64 KiB) it calls the
protocol's ``pause_writing``. From then on every ``send`` of the app awaits the
``resume_writing`` of a client that may never read again (HTTP:
``FlowControl.drain``; WebSocket: the protocol's ``writable`` event), holding
whatever the app holds meanwhile: a pool slot, a session lock, the upstream call.

These protocols give a send that has to wait ``write_timeout`` seconds. Past
that the transport is aborted (a reset: ``close`` would wait to flush the buffer
to the very client that does not read) and the app learns that the client is
gone the way uvicorn tells it: on HTTP the send returns and ``receive`` says
``http.disconnect`` (the SSE relays then cancel the upstream call); on
WebSocket the send raises ``ClientDisconnected`` (``WsConnection`` then ends
all its tasks). A send that need not wait costs one attribute check.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Self, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.utils import ClientDisconnected

from entrypoints.http.middleware import ASGIApp, Message, Receive, Scope, Send
from entrypoints.ws.draining import DrainingWebSocketProtocol

log = logging.getLogger("mcp.server")

DEFAULT_WRITE_TIMEOUT_SECONDS = 30.0


class _Deadline:
    """What both protocols share: the timeout, and giving up on the client once it has passed."""

    write_timeout = DEFAULT_WRITE_TIMEOUT_SECONDS
    transport: asyncio.Transport

    @classmethod
    def with_write_timeout(cls, seconds: float) -> type[Self]:
        """This protocol with its own deadline (uvicorn takes a class and builds one per connection)."""
        return cast("type[Self]", type(cls.__name__, (cls,), {"write_timeout": seconds}))

    async def _send_within_deadline(self, send: Callable[[Any], Awaitable[None]], message: Any) -> bool:
        """``send(message)``; ``False`` when the client took none of it within the deadline (then it is dropped)."""
        try:
            async with asyncio.timeout(self.write_timeout):
                await send(message)
        except TimeoutError:
            log.info("client stopped reading: connection dropped", extra={"timeout_seconds": self.write_timeout})
            self.transport.abort()
            return False
        return True


class DeadlineHttpProtocol(_Deadline, HttpToolsProtocol):
    """uvicorn's httptools protocol whose app gets a ``send`` with a deadline."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        app = cast(ASGIApp, self.app)

        async def app_with_deadline(scope: Scope, receive: Receive, send: Send) -> None:
            async def send_within_deadline(message: Message) -> None:
                if self.flow.write_paused:
                    await self._send_within_deadline(send, message)  # dropped: later sends are no-ops
                else:
                    await send(message)

            await app(scope, receive, send_within_deadline)

        self.app = cast(Any, app_with_deadline)


class DeadlineWebSocketProtocol(_Deadline, DrainingWebSocketProtocol):
    """The gateway's WebSocket protocol (it drains on shutdown) whose ``send`` has a deadline."""

    async def send(self, message: Any) -> None:
        if self.writable.is_set():
            await super().send(message)
        elif not await self._send_within_deadline(super().send, message):
            raise ClientDisconnected

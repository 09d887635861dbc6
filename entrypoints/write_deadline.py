"""A deadline on every write to an HTTP or WebSocket client that stopped reading (``CLIENT_WRITE_TIMEOUT_SECONDS``).

How back-pressure shows up under uvicorn: when a client stops reading, the
kernel's send buffer fills, the transport keeps what the app writes in its own
buffer, and once that passes the high-water mark (64 KiB) it calls the
protocol's ``pause_writing``. From then on every ``send`` of the app awaits the
``resume_writing`` of a client that may never read again (HTTP:
``FlowControl.drain``; WebSocket: the protocol's ``writable`` event), holding
whatever the app holds meanwhile: a pool slot, a session lock, the upstream call.

Two mixins, composed onto uvicorn's protocol classes by ``with_write_deadline``
(any subclass of them too), give a send that has to wait ``write_timeout`` seconds. Past
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
from typing import Any, TypeVar, cast

from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.utils import ClientDisconnected

from entrypoints.asgi import ASGIApp, Message, Receive, Scope, Send
from entrypoints.ws.draining import DrainingWebSocketProtocol

log = logging.getLogger("mcp.server")

P = TypeVar("P", bound=asyncio.Protocol)


class _WriteDeadline:
    """What both mixins share: the timeout, and giving up on the client once it has passed."""

    write_timeout: float
    transport: asyncio.Transport

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


class HttpWriteDeadline(_WriteDeadline):
    """Mixin for a uvicorn HTTP protocol (it keeps the app in ``app`` and its flow control in ``flow``):
    the app gets a ``send`` with a deadline."""

    app: Any
    flow: FlowControl

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

        self.app = app_with_deadline


class WebSocketWriteDeadline(_WriteDeadline):
    """Mixin for uvicorn's websockets-sansio protocol (it keeps a ``writable`` event): ``send`` has a deadline."""

    writable: asyncio.Event

    async def send(self, message: Any) -> None:
        if self.writable.is_set():
            await super().send(message)  # type: ignore[misc]
        elif not await self._send_within_deadline(super().send, message):  # type: ignore[misc]
            raise ClientDisconnected


def with_write_deadline(mixin: type[_WriteDeadline], protocol: type[P], seconds: float) -> type[P]:
    """``protocol`` (a class: uvicorn builds one per connection) with ``mixin``'s deadline of ``seconds``."""
    name = f"{protocol.__name__}WithWriteDeadline"
    return cast("type[P]", type(name, (mixin, protocol), {"write_timeout": seconds}))


def websocket_protocol(seconds: float) -> type[asyncio.Protocol]:
    """The WebSocket protocol (both ports): websockets-sansio that drains on shutdown, with the write deadline."""
    return with_write_deadline(WebSocketWriteDeadline, DrainingWebSocketProtocol, seconds)

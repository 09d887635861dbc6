"""uvicorn's WebSocket protocol, taught to drain on shutdown (docs/api.md#shutdown).

Stock uvicorn answers a server shutdown by closing every socket with 1012 at
once, cutting answers mid-stream. This subclass hands the application a
``DRAIN_EVENT`` instead; ``WsConnection`` then finishes the answer in flight,
refuses what is still queued, and closes with 1012 (service restart) itself.
uvicorn keeps waiting for open connections up to ``timeout_graceful_shutdown``
(the grace period) and only then cancels what is left. Sockets whose
handshake is not complete, or that are already closing, shut down as before.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

DRAIN_EVENT = "mcp.websocket.drain"


class DrainingWebSocketProtocol(WebSocketsSansIOProtocol):
    drain_requested = False

    def shutdown(self) -> None:
        if self.handshake_complete and not self.close_sent and not self.drain_requested:
            self.drain_requested = True
            event: Any = {"type": DRAIN_EVENT}  # not an ASGI event: only our /ws endpoint is served here
            self.queue.put_nowait(event)
            return
        super().shutdown()

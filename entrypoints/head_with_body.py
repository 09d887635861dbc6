"""One socket write for a whole small HTTP response instead of two (issue 18, item 2).

uvicorn writes a response's status line and headers when the app sends ``http.response.start``, and
the body when it sends ``http.response.body``: two ``write`` calls, two TCP segments and, on a
connection to a client on the same host, two wake-ups of the client. Under load the first of them was
the costliest line of the gateway's profile (bench/RESULTS.md, round two, "Every candidate tried").

``HeadWithBody`` stands in for the connection's transport in one request's ``RequestResponseCycle``: it
holds the cycle's first write (the head, or a ``100 Continue`` before it) until the next write, and
writes both with one ``writelines`` (one ``writev`` on uvloop, no copy of the body). If nothing follows
within the same turn of the event loop (a stream whose first event comes later), the held bytes go out
at the end of that turn on their own, so a stream's head is never later than one loop turn. Everything
else is the transport's own: ``close`` writes what is held first, so nothing is lost, and the bytes
leave in the order they were written.
"""

from __future__ import annotations

import asyncio
from typing import Any


class HeadWithBody:
    """The transport seen by one request/response cycle: its first write waits for the second."""

    __slots__ = ("_first", "_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None
        self._first = True

    def write(self, data: bytes) -> None:
        if self._first:
            self._first = False
            self._held = data
            self._loop.call_soon(self.flush)
            return
        held = self._held
        if held is None:
            self._transport.write(data)
            return
        self._held = None
        self._transport.writelines((held, data))

    def flush(self) -> None:
        """Write what is held (the end of the loop turn, or a close)."""
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():
                self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        # abort, get_extra_info, get_write_buffer_size, pause/resume_reading: the transport's own
        return getattr(self._transport, name)

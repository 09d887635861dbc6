"""Stop working for an HTTP client that has gone away.

uvicorn does not cancel a request's task when its client disconnects: it only
makes ``receive()`` answer ``http.disconnect`` and every later ``send`` a no-op.
A use-case left running would pay for the provider call and store turns nobody
asked for any more (a cut-short batch stored every item). ``unless_client_leaves``
runs the work in the request's own task and, once it has lasted
``WATCH_AFTER_SECONDS``, watches ``receive()`` beside it: the moment the client
goes, the work is cancelled, and with it the provider call in flight and every
batch item not yet started.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, TypeVar

from litestar import Request, Response

from entrypoints.asgi import Send

T = TypeVar("T")
# Any ASGI receive: the gateway's own layers' and Litestar's ``request.receive`` alike.
AnyReceive = Callable[[], Awaitable[Mapping[str, object]]]

# nginx's "client closed request": what the access log and metrics record for an answer nobody received.
CLIENT_CLOSED_REQUEST = 499


class ClientGone(Exception):
    """The client disconnected before its answer was ready: there is nobody to answer."""


# Calls answered sooner than this are never watched: a task (or even a timer) per request would cost a few
# percent of a fast request's CPU, and such a call is over before a disconnect could save anything. A longer
# call gets its watcher within twice this time and is cancelled as soon as its client leaves.
WATCH_AFTER_SECONDS = 0.05


async def unless_client_leaves(receive: AnyReceive, work: Coroutine[Any, Any, T]) -> T:
    """``await work``, unless the client disconnects first: then ``work`` is cancelled and ``ClientGone`` raised.

    Call it once the request body has been read: from then on the only message left is the disconnect.
    """
    task = asyncio.current_task()
    assert task is not None
    watchlist = _watchlist()
    watch = watchlist.watch(receive, task)
    try:
        return await work
    except asyncio.CancelledError:
        if not watch.saw_disconnect:
            raise
        task.uncancel()  # our own cancellation, done with; the request's task goes on to record the outcome
        raise ClientGone from None
    finally:
        watchlist.forget(watch)


class _DisconnectWatch:
    """Once started, a task that waits for ``http.disconnect`` and then cancels the request's task."""

    __slots__ = ("_receive", "_request", "_watcher", "saw_disconnect", "since")

    def __init__(self, receive: AnyReceive, request: asyncio.Task[Any], since: float) -> None:
        self._receive = receive
        self._request = request
        self._watcher: asyncio.Task[None] | None = None
        self.saw_disconnect = False
        self.since = since

    def start(self) -> None:
        self._watcher = asyncio.create_task(self._watch())

    def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()

    async def _watch(self) -> None:
        while (await self._receive())["type"] != "http.disconnect":
            pass
        self.saw_disconnect = True
        self._request.cancel()


class _Watchlist:
    """The calls of one event loop not watched yet; one timer, running only while there are some, starts
    the watchers of those that have lasted ``WATCH_AFTER_SECONDS``."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._waiting: set[_DisconnectWatch] = set()
        self._timer: asyncio.TimerHandle | None = None

    def watch(self, receive: AnyReceive, request: asyncio.Task[Any]) -> _DisconnectWatch:
        watch = _DisconnectWatch(receive, request, self.loop.time())
        self._waiting.add(watch)
        if self._timer is None:
            self._timer = self.loop.call_later(WATCH_AFTER_SECONDS, self._start_lasting)
        return watch

    def forget(self, watch: _DisconnectWatch) -> None:
        self._waiting.discard(watch)
        watch.stop()

    def _start_lasting(self) -> None:
        due = self.loop.time() - WATCH_AFTER_SECONDS
        lasting = [watch for watch in self._waiting if watch.since <= due]
        self._waiting.difference_update(lasting)
        for watch in lasting:
            watch.start()
        self._timer = self.loop.call_later(WATCH_AFTER_SECONDS, self._start_lasting) if self._waiting else None


_current: _Watchlist | None = None  # the running loop's: one loop serves every listener of the process


def _watchlist() -> _Watchlist:
    global _current
    loop = asyncio.get_running_loop()
    if _current is None or _current.loop is not loop:
        _current = _Watchlist(loop)
    return _current


async def record_client_gone(send: Send) -> None:
    """Mark the answer as 499 for the layers that observe it; uvicorn sends nothing to a disconnected client."""
    await send({"type": "http.response.start", "status": CLIENT_CLOSED_REQUEST, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def handle_client_gone(_: Request[Any, Any, Any], __: ClientGone) -> Response[None]:
    """Litestar's answer to ``ClientGone``: a 499 that only the observing layers see."""
    return Response(None, status_code=CLIENT_CLOSED_REQUEST)

"""Stop working for an HTTP client that has gone away.

uvicorn does not cancel a request's task when its client disconnects: it only
makes ``receive()`` answer ``http.disconnect`` and every later ``send`` a no-op.
A use-case left running would pay for the provider call and store turns nobody
asked for any more (a cut-short batch stored every item). ``unless_client_leaves``
watches ``receive()`` while the work runs in the request's own task, and
cancels it the moment the client goes, which cancels the provider call in
flight and every batch item not yet started.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, TypeVar

from litestar import Request, Response

from entrypoints.http.middleware import Send

T = TypeVar("T")
# Any ASGI receive: the gateway's own layers' and Litestar's ``request.receive`` alike.
AnyReceive = Callable[[], Awaitable[Mapping[str, object]]]

# nginx's "client closed request": what the access log and metrics record for an answer nobody received.
CLIENT_CLOSED_REQUEST = 499


class ClientGone(Exception):
    """The client disconnected before its answer was ready: there is nobody to answer."""


async def unless_client_leaves(receive: AnyReceive, work: Coroutine[Any, Any, T]) -> T:
    """``await work``, unless the client disconnects first: then ``work`` is cancelled and ``ClientGone`` raised.

    Call it once the request body has been read: from then on the only message left is the disconnect.
    """
    task = asyncio.current_task()
    assert task is not None
    gone = False

    async def watch() -> None:
        nonlocal gone
        while (await receive())["type"] != "http.disconnect":
            pass
        gone = True
        task.cancel()

    watcher = asyncio.create_task(watch())
    try:
        return await work
    except asyncio.CancelledError:
        if not gone:
            raise
        task.uncancel()  # our own cancellation, done with; the request's task goes on to record the outcome
        raise ClientGone from None
    finally:
        watcher.cancel()


async def record_client_gone(send: Send) -> None:
    """Mark the answer as 499 for the layers that observe it; uvicorn sends nothing to a disconnected client."""
    await send({"type": "http.response.start", "status": CLIENT_CLOSED_REQUEST, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def handle_client_gone(_: Request[Any, Any, Any], __: ClientGone) -> Response[None]:
    """Litestar's answer to ``ClientGone``: a 499 that only the observing layers see."""
    return Response(None, status_code=CLIENT_CLOSED_REQUEST)

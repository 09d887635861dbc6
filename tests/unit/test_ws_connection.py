"""One WebSocket connection over a fake ASGI socket: order, one writer, errors, disconnects (docs/api.md#websocket)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from domain.catalogue import Catalogue
from domain.catalogue_data import DEFAULT_MODELS, MOCK_MODELS
from domain.models import ProviderCall, ProviderChunk, Usage
from domain.validation import RequestLimits
from entrypoints.ws.connection import SessionDefaults, WsConnection, WsDeps
from entrypoints.ws.draining import DRAIN_EVENT
from tests.fakes import ScriptedProvider
from tests.unit.usecases import App, build_app


class FakeSocket:
    """The ASGI side of a socket: the test pushes client messages; sends are recorded, overlaps detected."""

    def __init__(self) -> None:
        self.incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sent: list[dict[str, Any]] = []
        self.overlapping_sends = 0
        self._sending = False
        self.frame_arrived = asyncio.Event()

    def client_sends(self, payload: object) -> None:
        text = payload if isinstance(payload, str) else json.dumps(payload)
        self.incoming.put_nowait({"type": "websocket.receive", "text": text})

    def client_disconnects(self) -> None:
        self.incoming.put_nowait({"type": "websocket.disconnect", "code": 1001})

    async def receive(self) -> dict[str, Any]:
        return await self.incoming.get()

    async def send(self, message: dict[str, Any]) -> None:
        self.overlapping_sends += self._sending
        self._sending = True
        await asyncio.sleep(0)  # a real socket write yields; a second writer would slip in here
        self._sending = False
        self.sent.append(json.loads(message["text"]) if "text" in message else dict(message))
        self.frame_arrived.set()

    async def frames_until(self, count: int) -> list[dict[str, Any]]:
        while len(self.sent) < count:
            self.frame_arrived.clear()
            await asyncio.wait_for(self.frame_arrived.wait(), 5)
        return self.sent


def connection(app: App, socket: FakeSocket, session: SessionDefaults | None = None) -> WsConnection:
    catalogue = Catalogue(MOCK_MODELS, configured=["mock"], default_models=DEFAULT_MODELS)
    deps = WsDeps(catalogue=catalogue, limits=RequestLimits(), generate_stream=app.stream)
    return WsConnection(deps, socket.receive, socket.send, session or SessionDefaults())


async def test_requests_sent_together_are_answered_one_after_the_other_by_one_writer() -> None:
    app, socket = build_app(ScriptedProvider("one two three")), FakeSocket()
    socket.client_sends({"prompt": "first", "id": "a"})
    socket.client_sends({"prompt": "second", "id": "b"})
    running = asyncio.create_task(connection(app, socket).run())

    frames = await socket.frames_until(8)
    socket.client_disconnects()
    await running

    assert [f["id"] for f in frames] == ["a"] * 4 + ["b"] * 4
    assert [f["finished"] for f in frames] == [False, False, False, True] * 2
    assert socket.overlapping_sends == 0


async def test_an_unreadable_frame_is_answered_in_its_turn_and_the_socket_goes_on() -> None:
    app, socket = build_app(ScriptedProvider("fine")), FakeSocket()
    socket.client_sends("][")
    socket.client_sends([1, 2])
    socket.client_sends({"prompt": "ok", "id": 3})
    running = asyncio.create_task(connection(app, socket).run())

    frames = await socket.frames_until(4)
    socket.client_disconnects()
    await running

    assert [(f.get("code"), f["id"]) for f in frames[:2]] == [("invalid_request", None)] * 2
    assert frames[2:] == [
        {"content": "fine", "index": 0, "finished": False, "id": 3},
        {**frames[3], "finished": True, "id": 3},
    ]


class StallingProvider(ScriptedProvider):
    """Sends its first word, then waits for its gate (by default for ever), then ends the answer."""

    async def stream(self, call: ProviderCall) -> AsyncIterator[ProviderChunk]:
        yield ProviderChunk(text="first")
        try:
            await (self.gate or asyncio.Event()).wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        yield ProviderChunk(text=" last")
        yield ProviderChunk(usage=Usage(prompt_tokens=1, completion_tokens=2), finish_reason="stop")


async def test_a_disconnect_mid_stream_cancels_the_provider_call_and_frees_the_slot() -> None:
    app, socket = build_app(StallingProvider()), FakeSocket()
    socket.client_sends({"prompt": "wait", "id": 1})
    running = asyncio.create_task(connection(app, socket).run())
    await socket.frames_until(1)

    socket.client_disconnects()
    await running

    assert app.provider.cancelled == 1
    assert app.pool.active == 0 and app.pool.cancelled == 1


async def test_message_fields_override_the_session_of_the_query_string() -> None:
    app, socket = build_app(ScriptedProvider("hi")), FakeSocket()
    socket.client_sends({"prompt": "from query"})
    socket.client_sends({"prompt": "from fields", "userId": "u2", "sessionId": "s2"})
    running = asyncio.create_task(connection(app, socket, SessionDefaults(user_id="u1", session_id="s1")).run())

    frames = await socket.frames_until(4)
    socket.client_disconnects()
    await running

    assert [f["sessionId"] for f in frames if f["finished"]] == ["s1", "s2"]
    assert (await app.sessions.get("s1")) is not None and (await app.sessions.get("s2")) is not None


async def test_a_drain_finishes_the_current_answer_refuses_the_rest_and_closes_with_1012() -> None:
    gate = asyncio.Event()
    app, socket = build_app(StallingProvider(gate=gate)), FakeSocket()
    socket.client_sends({"prompt": "current", "id": 1})
    socket.client_sends({"prompt": "waiting", "id": 2})
    running = asyncio.create_task(connection(app, socket).run())
    await socket.frames_until(1)  # the first answer is under way

    socket.incoming.put_nowait({"type": DRAIN_EVENT})
    gate.set()
    closing = await socket.frames_until(5)
    socket.client_disconnects()
    await running

    assert [(f["id"], f["finished"]) for f in closing[:3]] == [(1, False), (1, False), (1, True)]
    assert (closing[3]["id"], closing[3]["code"]) == (2, "shutting_down")
    assert closing[4] == {"type": "websocket.close", "code": 1012}

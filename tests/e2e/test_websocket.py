"""The WebSocket API (docs/api.md#websocket) through the ``websockets`` client, against the real server process."""

from __future__ import annotations

import json
import signal
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.support.realtime import get_json, pool_stats, realtime_server, settled_pool, words
from tests.support.server import ServerProcess

ALLOWED_ORIGIN = "http://allowed.example"


@pytest.fixture(scope="module")
def gateway() -> Iterator[ServerProcess]:
    env = {"MOCK_LATENCY_MS": "20", "CORS_ALLOWED_ORIGINS": ALLOWED_ORIGIN, "WS_MAX_FRAME_BYTES": "4096"}
    with realtime_server(env) as running:
        yield running


def ws_url(server: ServerProcess, port: str = "ws", query: str = "") -> str:
    number = server.ws_port if port == "ws" else server.http_port
    return f"ws://127.0.0.1:{number}/ws{query}"


async def send(socket: ClientConnection, payload: dict[str, Any]) -> None:
    await socket.send(json.dumps(payload))


async def frame(socket: ClientConnection) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(await socket.recv(decode=True))
    return decoded


async def answer(socket: ClientConnection) -> list[dict[str, Any]]:
    """The frames of one answer, up to and including the one with ``finished``."""
    frames = [await frame(socket)]
    while not frames[-1]["finished"]:
        frames.append(await frame(socket))
    return frames


def text_of(frames: list[dict[str, Any]]) -> str:
    return "".join(f["content"] for f in frames if not f["finished"])


def unique(text: str) -> str:
    return f"{text} {uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize("port", ["ws", "http"])
async def test_a_request_is_answered_with_chunks_and_a_final_frame_carrying_its_id(
    gateway: ServerProcess, port: str
) -> None:
    prompt = unique("hello socket")
    async with websockets.connect(ws_url(gateway, port)) as socket:
        await send(socket, {"prompt": prompt, "id": "first", "maxTokens": 100})
        frames = await answer(socket)

    assert text_of(frames) == f"Mock answer (turn 1): {prompt}"
    assert all(f["id"] == "first" for f in frames)
    assert [f["index"] for f in frames] == list(range(len(frames)))
    final = frames[-1]
    assert final["content"] == "" and final["totalTokens"] == final["promptTokens"] + final["completionTokens"]
    assert final["provider"] == "mock" and final["requestId"].startswith("req-")


async def test_two_requests_on_one_socket_are_answered_in_order(gateway: ServerProcess) -> None:
    first, second = unique("one"), unique("two")
    async with websockets.connect(ws_url(gateway)) as socket:
        await send(socket, {"prompt": first, "id": 1})
        await send(socket, {"prompt": second, "id": 2})
        answers = [await answer(socket), await answer(socket)]

    assert [{f["id"] for f in frames} for frames in answers] == [{1}, {2}]
    assert [text_of(frames) for frames in answers] == [
        f"Mock answer (turn 1): {first}",
        f"Mock answer (turn 1): {second}",
    ]


async def test_invalid_json_gets_an_error_frame_and_the_socket_stays_usable(gateway: ServerProcess) -> None:
    async with websockets.connect(ws_url(gateway)) as socket:
        await socket.send("{not json")
        error = await frame(socket)
        await send(socket, {"prompt": unique("still here"), "id": "after"})
        frames = await answer(socket)

    assert error["code"] == "invalid_request" and "JSON" in error["error"]
    assert error["finished"] is True and error["id"] is None
    assert frames[-1]["id"] == "after" and frames[-1]["finished"]


@pytest.mark.parametrize(
    ("payload", "mentions"),
    [
        ({"prompt": "", "id": 7}, "prompt"),
        ({"prompt": "x", "temperature": 9, "id": 7}, "temperature"),
        ({"prompt": "x", "maxTokens": "many", "id": 7}, "maxTokens"),
        ({"prompt": "x", "model": "no-such-model", "id": 7}, "no-such-model"),
        ({"prompt": "x", "userId": "only-the-user", "id": 7}, "X-Session-ID"),
    ],
)
async def test_an_invalid_request_gets_an_error_frame_with_its_id(
    gateway: ServerProcess, payload: dict[str, Any], mentions: str
) -> None:
    async with websockets.connect(ws_url(gateway)) as socket:
        await send(socket, payload)
        error = await frame(socket)

    assert error["id"] == 7 and error["finished"] is True
    assert error["code"] in ("invalid_request", "unknown_model")
    assert mentions in error["error"]


async def test_a_session_from_message_fields_keeps_history_across_sockets(gateway: ServerProcess) -> None:
    session = {"userId": "dora", "sessionId": "ws-" + uuid.uuid4().hex}
    async with websockets.connect(ws_url(gateway)) as socket:
        await send(socket, {"prompt": "first", **session})
        first = text_of(await answer(socket))
    async with websockets.connect(ws_url(gateway, "http")) as socket:
        await send(socket, {"prompt": "second", **session})
        second = text_of(await answer(socket))

    assert first.startswith("Mock answer (turn 1):") and second.startswith("Mock answer (turn 2):")
    stored = await get_json(gateway, f"/api/v1/sessions/{session['sessionId']}", {"X-User-ID": "dora"})
    assert len(stored["messages"]) == 4


async def test_a_session_from_query_parameters_applies_to_every_request(gateway: ServerProcess) -> None:
    query = f"?userId=eve&sessionId=ws-{uuid.uuid4().hex}"
    async with websockets.connect(ws_url(gateway, query=query)) as socket:
        await send(socket, {"prompt": "first"})
        await send(socket, {"prompt": "second"})
        answers = [text_of(await answer(socket)), text_of(await answer(socket))]

    assert answers[0].startswith("Mock answer (turn 1):") and answers[1].startswith("Mock answer (turn 2):")


async def test_a_disconnect_mid_stream_cancels_the_upstream_call(gateway: ServerProcess) -> None:
    cancelled_before = (await pool_stats(gateway))["total_cancelled"]
    async with websockets.connect(ws_url(gateway)) as socket:
        await send(socket, {"prompt": words(300, "long"), "id": "cut"})
        assert (await frame(socket))["content"] == "Mock"
        await frame(socket)

    stats = await settled_pool(gateway, cancelled_before)
    assert stats["total_cancelled"] == cancelled_before + 1
    assert stats["current_concurrent"] == 0


@pytest.mark.parametrize("port", ["ws", "http"])
async def test_a_disallowed_origin_is_refused_with_403(gateway: ServerProcess, port: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(ws_url(gateway, port), origin="http://evil.example"):
            pass

    assert refused.value.response.status_code == 403


@pytest.mark.parametrize(
    "origin",
    [None, ALLOWED_ORIGIN, "SAME_HOST"],
    ids=["no origin (not a browser)", "listed in CORS_ALLOWED_ORIGINS", "the gateway's own pages"],
)
async def test_allowed_origins_may_connect(gateway: ServerProcess, origin: str | None) -> None:
    if origin == "SAME_HOST":
        origin = f"http://127.0.0.1:{gateway.ws_port}"
    async with websockets.connect(ws_url(gateway), origin=origin) as socket:
        await send(socket, {"prompt": unique("origin"), "id": "o"})
        assert (await answer(socket))[-1]["finished"]


async def test_development_mode_lets_localhost_pages_connect() -> None:
    with realtime_server({"IN_MODE": "development"}) as server:
        async with websockets.connect(ws_url(server), origin="http://localhost:3000") as socket:
            await send(socket, {"prompt": "dev", "id": "d"})
            assert (await answer(socket))[-1]["finished"]
        with pytest.raises(InvalidStatus):
            async with websockets.connect(ws_url(server), origin="http://localhost.evil.example"):
                pass


async def test_a_frame_over_the_size_limit_closes_the_socket_with_1009(gateway: ServerProcess) -> None:
    async with websockets.connect(ws_url(gateway), max_size=None) as socket:
        await send(socket, {"prompt": "x" * 5000})
        with pytest.raises(ConnectionClosed) as closed:
            await frame(socket)

    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_the_server_answers_pings(gateway: ServerProcess) -> None:
    async with websockets.connect(ws_url(gateway), ping_interval=None) as socket:
        latency = await (await socket.ping())

    assert latency >= 0


async def test_upgrades_on_other_paths_of_the_websocket_port_are_refused(gateway: ServerProcess) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(f"ws://127.0.0.1:{gateway.ws_port}/elsewhere"):
            pass

    assert refused.value.response.status_code == 403


async def test_shutdown_finishes_the_answer_in_flight_refuses_the_queued_one_and_closes_with_1012() -> None:
    with realtime_server({"MOCK_LATENCY_MS": "30"}) as server:
        async with websockets.connect(ws_url(server)) as socket:
            prompt = words(40, "drain")
            await send(socket, {"prompt": prompt, "id": "running"})
            await send(socket, {"prompt": "queued behind it", "id": "queued"})
            assert (await frame(socket))["content"] == "Mock"
            server.signal(signal.SIGTERM)
            running = await answer(socket)
            refused = await frame(socket)
            with pytest.raises(ConnectionClosed) as closed:
                await frame(socket)
        assert server.wait(30) == 0

    assert running[-1]["finished"] and text_of(running).endswith(prompt)
    assert (refused["id"], refused["code"]) == ("queued", "shutting_down")
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012

"""Clients that stop reading or go away leave nothing running (issue 11, items 3 and 14).

A WebSocket that stops reading and then leaves used to keep its pool slot and
its session lock for ever; a client that stops reading (SSE, WebSocket, gRPC
stream) kept them for as long as it liked; a non-streaming generate or batch
went on to the end, paying for and storing turns nobody waited for. Each test
checks what the server still holds afterwards (pool figures, the session) and
that the session can be used again, within a bounded wait.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from grpclib.client import Channel
from grpclib.config import Configuration
from grpclib.exceptions import StreamTerminatedError

from domain.catalogue import Catalogue
from domain.catalogue_data import DEFAULT_MODELS, MOCK_MODELS
from domain.validation import RequestLimits
from entrypoints.config import ConfigError, load_settings
from entrypoints.grpc.generated import proto as pb
from entrypoints.ws.connection import PENDING_FRAMES, PENDING_REQUESTS, SessionDefaults, WsConnection, WsDeps
from tests.fakes import ScriptedProvider
from tests.security.raw_clients import open_post, open_websocket, text_frame
from tests.support.grpc_calls import Outcome, call, stream_replies
from tests.support.server import ServerProcess
from tests.unit.usecases import build_app, request

SLOW_CALL_MS = 2000  # the slow gateway's mock takes this long per answer
# A prompt (and so an answer) of several MB: more than the kernel buffers and the transport's together hold.
BIG_ANSWERS = {"MAX_PROMPT_CHARS": "7000000", "MAX_REQUEST_BYTES": "8000000"}


@pytest.fixture(scope="module")
def patient() -> Iterator[ServerProcess]:
    """The default write timeout (30 s): here only the client's leaving can end a stalled socket."""
    yield from running(ServerProcess({**BIG_ANSWERS, "MOCK_LATENCY_MS": "0"}, ws=True))


@pytest.fixture(scope="module")
def strict() -> Iterator[ServerProcess]:
    """A one-second write timeout, and room for a single answer bigger than the kernel's buffers."""
    env = {**BIG_ANSWERS, "MOCK_LATENCY_MS": "0", "CLIENT_WRITE_TIMEOUT_SECONDS": "1"}
    yield from running(ServerProcess(env, ws=True, grpc=True))


@pytest.fixture(scope="module")
def slow() -> Iterator[ServerProcess]:
    yield from running(ServerProcess({"MOCK_LATENCY_MS": str(SLOW_CALL_MS)}, grpc=True))


def running(server: ServerProcess) -> Iterator[ServerProcess]:
    server.start(timeout=60)  # three gateways per module, on a machine that may be busy
    try:
        yield server
    finally:
        server.stop()


def stats(server: ServerProcess) -> dict[str, Any]:
    figures: dict[str, Any] = httpx.get(server.base_url + "/api/v1/pool/stats", timeout=30).json()
    return figures


def wait_for(
    server: ServerProcess, condition: Callable[[dict[str, Any]], bool], within: float = 20.0
) -> dict[str, Any]:
    """The pool figures once ``condition`` holds, or the last ones seen after ``within`` seconds."""
    deadline = time.monotonic() + within
    figures = stats(server)
    while not condition(figures) and time.monotonic() < deadline:
        time.sleep(0.05)
        figures = stats(server)
    return figures


def released_after_cancelling(before: dict[str, Any]) -> Callable[[dict[str, Any]], bool]:
    return lambda now: now["total_cancelled"] > before["total_cancelled"] and now["current_concurrent"] == 0


def in_flight(before: dict[str, Any], started: int = 1) -> Callable[[dict[str, Any]], bool]:
    return lambda now: tasks(now) >= tasks(before) + started and now["current_concurrent"] == 1


def tasks(figures: dict[str, Any]) -> int:
    """Provider calls that asked for a pool slot so far."""
    count: int = figures["pool_stats"]["total_tasks"]
    return count


def session_headers() -> dict[str, str]:
    return {"X-User-ID": "mallory", "X-Session-ID": f"cut-{uuid.uuid4().hex}"}


def next_turn(server: ServerProcess, headers: dict[str, str]) -> httpx.Response:
    """A turn on the session: it can only run once the session's lock is free."""
    return httpx.post(
        server.base_url + "/api/v1/generate", json={"prompt": "still there?"}, headers=headers, timeout=20
    )


def stored_messages(server: ServerProcess, headers: dict[str, str]) -> int:
    response = httpx.get(f"{server.base_url}/api/v1/sessions/{headers['X-Session-ID']}", headers=headers, timeout=10)
    return len(response.json()["messages"]) if response.status_code == 200 else 0


def long_prompt(index: int, words: int = 4096, word_chars: int = 23) -> str:
    """Distinct words (the mock answers at most 4096) that the mock streams back one frame or chunk each."""
    return " ".join(f"p{index}w{word:04d}".ljust(word_chars, "x") for word in range(words))


def ws_requests(count: int) -> Iterator[bytes]:
    """Requests of 33 KB whose answers are 4096 frames (270 KB): a dozen fill every buffer on the way."""
    for index in range(count):
        yield text_frame({"prompt": long_prompt(index, word_chars=1), "id": index})


# --- WebSocket: the three tasks end together ---------------------------------------------------------------


class ClientThatStopsReading:
    """The ASGI side of a socket whose client reads ``readable`` frames, then nothing, then leaves."""

    def __init__(self, readable: int) -> None:
        self.incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.readable = readable
        self.sent = 0
        self.stalled = asyncio.Event()
        self._gone = asyncio.Event()

    def sends(self, payload: str) -> None:
        self.incoming.put_nowait({"type": "websocket.receive", "text": payload})

    def leaves(self) -> None:
        self._gone.set()
        self.incoming.put_nowait({"type": "websocket.disconnect", "code": 1006})

    async def receive(self) -> dict[str, Any]:
        return await self.incoming.get()

    async def send(self, message: dict[str, Any]) -> None:
        if self.sent >= self.readable:
            self.stalled.set()
            await self._gone.wait()  # the transport's buffer is full: uvicorn's send waits for it to drain
            raise OSError("client disconnected")  # uvicorn's ClientDisconnected is an OSError
        self.sent += 1


async def test_a_socket_left_with_its_reader_and_worker_blocked_ends_and_frees_the_slot_and_the_lock() -> None:
    app = build_app(ScriptedProvider(" ".join(f"w{i}" for i in range(PENDING_FRAMES * 4))))
    catalogue = Catalogue(MOCK_MODELS, configured=["mock"], default_models=DEFAULT_MODELS)
    deps = WsDeps(catalogue=catalogue, limits=RequestLimits(), generate_stream=app.stream)
    socket = ClientThatStopsReading(readable=10)
    for index in range(PENDING_REQUESTS * 2):  # more than the inbox holds: the reader blocks on it
        socket.sends(f'{{"prompt": "q{index}", "id": {index}}}')
    running = asyncio.create_task(
        WsConnection(deps, socket.receive, socket.send, SessionDefaults(user_id="u", session_id="s")).run()
    )
    await asyncio.wait_for(socket.stalled.wait(), 5)  # the writer waits on the client; the worker and reader will too

    socket.leaves()
    await asyncio.wait_for(running, 5)

    assert app.pool.active == 0 and app.pool.cancelled == 1
    answer = await asyncio.wait_for(app.generate.execute(request("again", user_id="u", session_id="s")), 5)
    assert answer.session_id == "s"


def test_a_websocket_that_stops_reading_and_then_closes_frees_its_slot_and_its_session(
    patient: ServerProcess,
) -> None:
    before = stats(patient)
    headers = session_headers()
    client = open_websocket(patient.ws_port, f"?userId={headers['X-User-ID']}&sessionId={headers['X-Session-ID']}")
    sent = client.send_until_refused(ws_requests(1000))
    assert sent < 1000  # the server stopped reading: its inbox is full, and its answers go unread
    client.close()

    after = wait_for(patient, released_after_cancelling(before))
    assert after["current_concurrent"] == 0 and after["total_cancelled"] == before["total_cancelled"] + 1
    assert next_turn(patient, headers).status_code == 200


def test_a_websocket_that_stops_reading_is_dropped_after_the_write_timeout(strict: ServerProcess) -> None:
    before = stats(strict)
    headers = session_headers()
    client = open_websocket(strict.ws_port, f"?userId={headers['X-User-ID']}&sessionId={headers['X-Session-ID']}")
    client.send_until_refused(ws_requests(40))

    after = wait_for(strict, released_after_cancelling(before))
    assert after["current_concurrent"] == 0 and after["total_cancelled"] == before["total_cancelled"] + 1
    assert client.dropped_by_server()
    assert next_turn(strict, headers).status_code == 200


def test_an_sse_client_that_stops_reading_and_then_closes_frees_its_slot(patient: ServerProcess) -> None:
    before = stats(patient)
    client = open_post(patient.http_port, "/api/v1/generate/stream", {"prompt": long_prompt(0, word_chars=1500)})
    wait_for(patient, in_flight(before))
    time.sleep(1)  # the answer backs up: the relay waits on the client, the producer on the relay's full queue
    client.close()

    after = wait_for(patient, released_after_cancelling(before))
    assert after["current_concurrent"] == 0 and after["total_cancelled"] == before["total_cancelled"] + 1


# --- SSE and gRPC streams: the write timeout cancels the upstream call -------------------------------------


def test_an_sse_client_that_stops_reading_is_dropped_and_its_upstream_call_cancelled(strict: ServerProcess) -> None:
    before = stats(strict)
    headers = session_headers()
    body = {"prompt": long_prompt(0, word_chars=1500)}  # one answer of 6 MB
    client = open_post(strict.http_port, "/api/v1/generate/stream", body, headers)

    after = wait_for(strict, released_after_cancelling(before))
    assert after["current_concurrent"] == 0 and after["total_cancelled"] == before["total_cancelled"] + 1
    assert client.dropped_by_server()
    assert stored_messages(strict, headers) == 0  # a stream cut short stores nothing
    assert next_turn(strict, headers).status_code == 200


async def test_a_grpc_stream_that_stops_being_read_is_cancelled_after_the_write_timeout(
    strict: ServerProcess,
) -> None:
    before = stats(strict)
    window = 65_535  # the smallest HTTP/2 window: the answer (~130 KB) cannot fit in it
    config = Configuration(http2_connection_window_size=window, http2_stream_window_size=window)
    async with Channel("127.0.0.1", strict.grpc_port, config=config) as channel:
        outcome = Outcome()
        replies = stream_replies(channel, "GenerateStream", pb.GenerateRequest(prompt=long_prompt(1)), outcome)
        await anext(replies)  # then read nothing

        after = await asyncio.to_thread(wait_for, strict, released_after_cancelling(before))
        with pytest.raises(StreamTerminatedError):  # the server reset the stream: no answer, cut or whole
            async for _ in replies:
                pass

    assert after["current_concurrent"] == 0 and after["total_cancelled"] == before["total_cancelled"] + 1


# --- Non-streaming calls: a client that leaves cancels the work ------------------------------------------


def test_a_generate_whose_client_leaves_cancels_the_upstream_call_and_stores_no_turn(slow: ServerProcess) -> None:
    before = stats(slow)
    headers = session_headers()
    client = open_post(slow.http_port, "/api/v1/generate", {"prompt": "never mind"}, headers)
    wait_for(slow, in_flight(before))
    client.close()

    after = wait_for(slow, released_after_cancelling(before))
    assert after["total_cancelled"] == before["total_cancelled"] + 1
    assert after["total_processed"] == before["total_processed"]
    assert stored_messages(slow, headers) == 0
    assert next_turn(slow, headers).status_code == 200


def test_a_batch_whose_client_leaves_stops_and_stores_only_the_turns_finished_before(slow: ServerProcess) -> None:
    before = stats(slow)
    headers = session_headers()  # one session: its ten items run one after the other
    body = {"requests": [{"prompt": f"item {index}"} for index in range(10)]}
    client = open_post(slow.http_port, "/api/v1/generate/batch", body, headers)
    wait_for(slow, in_flight(before, started=2))  # the first item is done, the second under way
    client.close()

    after = wait_for(slow, released_after_cancelling(before))
    time.sleep(SLOW_CALL_MS / 1000 + 0.5)  # time enough for a third item to start, were the batch still running
    later = stats(slow)
    assert after["total_cancelled"] == before["total_cancelled"] + 1
    assert tasks(later) == tasks(before) + 2  # nothing started after the client left
    assert stored_messages(slow, headers) == 2  # one turn: the item finished before the cut


async def test_a_grpc_generate_that_the_client_cancels_cancels_the_upstream_call(slow: ServerProcess) -> None:
    before = stats(slow)
    metadata = {"x-user-id": "mallory", "x-session-id": f"cut-{uuid.uuid4().hex}"}
    async with Channel("127.0.0.1", slow.grpc_port) as channel:
        running = asyncio.create_task(call(channel, "Generate", pb.GenerateRequest(prompt="never mind"), metadata))
        await asyncio.to_thread(wait_for, slow, in_flight(before))
        running.cancel()  # grpclib resets the HTTP/2 stream; the server cancels the handler's task

        after = await asyncio.to_thread(wait_for, slow, released_after_cancelling(before))

    assert after["total_cancelled"] == before["total_cancelled"] + 1
    assert after["total_processed"] == before["total_processed"]
    headers = {"X-User-ID": metadata["x-user-id"], "X-Session-ID": metadata["x-session-id"]}
    assert await asyncio.to_thread(stored_messages, slow, headers) == 0


# --- The setting ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_a_write_timeout_that_cannot_work_is_a_configuration_error_naming_it(value: str) -> None:
    with pytest.raises(ConfigError, match="CLIENT_WRITE_TIMEOUT_SECONDS"):
        load_settings(environ={"CLIENT_WRITE_TIMEOUT_SECONDS": value}, dotenv=None)


def test_the_write_timeout_defaults_to_thirty_seconds() -> None:
    assert load_settings(environ={}, dotenv=None).client_write_timeout_seconds == 30.0

"""A small response leaves in one socket write; a stream's head never waits past one loop turn (issue 18).

The unit cases drive ``HeadWithBody`` over a recording transport; the protocol cases run the gateway's
own HTTP protocol class (``limited_protocol`` with the write deadline, as ``entrypoints.server`` builds
it) over the same recording transport, with uvicorn's real ``RequestResponseCycle``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import uvicorn
from uvicorn.server import ServerState

from entrypoints.connection_limits import ConnectionLimits, limited_protocol
from entrypoints.head_with_body import HeadWithBody
from entrypoints.write_deadline import HttpWriteDeadline, with_write_deadline


class RecordingTransport(asyncio.Transport):
    """Every call that puts bytes on the wire, in order: ("write", b"...") or ("writelines", (b"...", ...))."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, Any]] = []
        self.closed = False
        self.written = asyncio.Event()  # set by every call that puts bytes on the wire

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.calls.append(("write", bytes(data)))
        self.written.set()

    def writelines(self, list_of_data: Any) -> None:
        self.calls.append(("writelines", tuple(bytes(d) for d in list_of_data)))
        self.written.set()

    async def until(self, done: Any) -> None:
        """Until ``done()`` is true of what was written (within 5 s)."""
        async with asyncio.timeout(5):
            while not done():
                self.written.clear()
                await self.written.wait()

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8090)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def wire(self) -> bytes:
        out = b""
        for kind, data in self.calls:
            out += data if kind == "write" else b"".join(data)
        return out


async def test_head_and_body_in_the_same_turn_are_one_call() -> None:
    transport = RecordingTransport()
    held = HeadWithBody(transport, asyncio.get_running_loop())
    held.write(b"HEAD")
    assert transport.calls == []
    held.write(b"BODY")
    assert transport.calls == [("writelines", (b"HEAD", b"BODY"))]
    held.write(b"MORE")
    await asyncio.sleep(0)  # the end-of-turn flush finds nothing held
    assert transport.calls == [("writelines", (b"HEAD", b"BODY")), ("write", b"MORE")]


async def test_a_head_alone_goes_out_at_the_end_of_the_loop_turn() -> None:
    transport = RecordingTransport()
    held = HeadWithBody(transport, asyncio.get_running_loop())
    held.write(b"HEAD")
    await asyncio.sleep(0)
    assert transport.calls == [("write", b"HEAD")]
    held.write(b"FIRST EVENT")
    assert transport.calls == [("write", b"HEAD"), ("write", b"FIRST EVENT")]


async def test_close_writes_what_is_held_first() -> None:
    transport = RecordingTransport()
    held = HeadWithBody(transport, asyncio.get_running_loop())
    held.write(b"HEAD")
    held.close()
    assert transport.calls == [("write", b"HEAD")]
    assert transport.closed and held.is_closing()
    await asyncio.sleep(0)
    assert transport.calls == [("write", b"HEAD")]  # nothing twice


async def test_nothing_is_written_to_a_transport_already_closing() -> None:
    transport = RecordingTransport()
    held = HeadWithBody(transport, asyncio.get_running_loop())
    held.write(b"HEAD")
    transport.close()  # the connection went away (uvicorn closes its own transport, not the cycle's)
    await asyncio.sleep(0)
    assert transport.calls == []


async def test_other_transport_methods_are_the_transports_own() -> None:
    transport = RecordingTransport()
    held = HeadWithBody(transport, asyncio.get_running_loop())
    assert held.get_extra_info("peername") == ("127.0.0.1", 50000)
    assert held.get_write_buffer_size() == 0


# ---- the gateway's protocol class with uvicorn's real cycle ---------------------------------------------


def _protocol(app: Any) -> tuple[asyncio.Protocol, RecordingTransport]:
    limits = ConnectionLimits(header_timeout=5, body_timeout=5, max_head_bytes=16_384, max_connections=10)
    protocol_class = with_write_deadline(HttpWriteDeadline, limited_protocol(limits), 5.0)
    config = uvicorn.Config(app, http=protocol_class, lifespan="off", log_config=None, access_log=False)
    config.load()
    protocol = protocol_class(config=config, server_state=ServerState(), app_state={})
    transport = RecordingTransport()
    protocol.connection_made(transport)
    return protocol, transport


async def _answered(transport: RecordingTransport, marker: bytes) -> None:
    await transport.until(lambda: marker in transport.wire())


REQUEST = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"


async def test_a_whole_response_is_one_call_on_the_wire() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"5")]})
        await send({"type": "http.response.body", "body": b"hello"})

    protocol, transport = _protocol(app)
    protocol.data_received(REQUEST)
    await _answered(transport, b"hello")
    assert len(transport.calls) == 1
    kind, parts = transport.calls[0]
    assert kind == "writelines"
    assert parts[0].startswith(b"HTTP/1.1 200 OK\r\n") and parts[1] == b"hello"


async def test_keep_alive_requests_each_get_one_call() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    protocol, transport = _protocol(app)
    for n in range(1, 4):
        protocol.data_received(REQUEST)
        await transport.until(lambda: len(transport.calls) >= n)  # noqa: B023 (awaited at once)
    assert [kind for kind, _ in transport.calls] == ["writelines"] * 3
    assert transport.wire().count(b"HTTP/1.1 200 OK") == 3


async def test_a_streams_head_leaves_before_its_first_event() -> None:
    release = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        await release.wait()
        await send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    protocol, transport = _protocol(app)
    protocol.data_received(REQUEST)
    await _answered(transport, b"HTTP/1.1 200 OK")
    assert b"data: 1" not in transport.wire()  # the head went out alone, while the app waited
    release.set()
    await _answered(transport, b"0\r\n\r\n")
    assert transport.wire().index(b"HTTP/1.1 200") < transport.wire().index(b"data: 1")


@pytest.mark.parametrize("status", [204, 304])
async def test_a_response_with_no_body_still_leaves(status: int) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    protocol, transport = _protocol(app)
    protocol.data_received(REQUEST)
    await _answered(transport, f"HTTP/1.1 {status}".encode())
    assert transport.wire().endswith(b"\r\n\r\n")

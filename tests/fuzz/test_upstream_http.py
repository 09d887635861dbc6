"""The lean HTTP/1.1 client and its chat-completions reader, fed any bytes as an upstream's answer.

A loopback server reads the request, writes the fuzzed answer (cut into
pieces at fuzzed offsets, so the parser sees every split) and closes. The
only outcomes allowed are an answer (a ``Completion`` or a stream of
``ProviderChunk``) or an ``UpstreamError``; a timeout waiting for bytes after
the server closed would be a hang, so it fails the property too.
"""

from __future__ import annotations

import asyncio

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from adapters.providers.chat_completions import Hints, Target
from adapters.providers.chat_completions_http import HttpChatCompletions, openai_endpoint
from domain.errors import UpstreamError, UpstreamTimeout
from domain.models import Completion, Message, ProviderCall, ProviderChunk
from tests.fuzz import short

CALL = ProviderCall(model="m", messages=(Message(role="user", content="hi"),), max_tokens=16, temperature=0.0)
TARGET = Target(name="m", reasoning=False)
HINTS = Hints(provider="fuzz", credentials="NOTHING", not_found=lambda code, target, message: message)
# Far above what a loopback answer needs; reaching it means the client waited on a closed connection.
HANG_SECONDS = 5.0

_text = st.text(max_size=20)
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)
_choice = st.fixed_dictionaries(
    {},
    optional={
        "message": st.fixed_dictionaries({}, optional={"content": st.none() | _text}) | _json_values,
        "delta": st.fixed_dictionaries({}, optional={"content": st.none() | _text}) | _json_values,
        "finish_reason": st.none() | st.sampled_from(["stop", "length"]) | _json_values,
    },
)
_event = st.fixed_dictionaries(
    {},
    optional={
        "choices": st.lists(_choice, max_size=2) | _json_values,
        "usage": st.fixed_dictionaries(
            {}, optional={"prompt_tokens": st.integers(), "completion_tokens": st.integers()}
        ),
        "error": st.fixed_dictionaries({}, optional={"message": _text, "code": st.none() | _text | st.integers()}),
    },
)
_json_body = _event.map(msgspec.json.encode) | st.binary(max_size=64)
_sse_line = st.one_of(
    _json_body.map(lambda data: b"data: " + data),
    st.sampled_from([b"data: [DONE]", b"data:", b": comment", b"event: x", b"retry: 5", b"data:[DONE]"]),
    st.binary(max_size=16),
)
_sse_body = st.lists(
    st.tuples(st.lists(_sse_line, min_size=1, max_size=3), st.sampled_from([b"\n", b"\r\n", b"\r"])),
    max_size=6,
).map(lambda events: b"".join(sep.join(lines) + sep + sep for lines, sep in events))
_header = st.one_of(
    st.sampled_from(
        [
            b"Content-Type: application/json",
            b"Content-Type: text/event-stream",
            b"Transfer-Encoding: chunked",
            b"Connection: close",
            b"Connection: keep-alive",
            b"Retry-After: 3",
            b"retry-after-ms: 1e309",
            b"Content-Length: 0",
            b"Content-Length: -1",
            b"Content-Length: 99999999999999999999",
        ]
    ),
    st.tuples(st.binary(max_size=12), st.binary(max_size=24)).map(lambda kv: kv[0] + b": " + kv[1]),
)


@st.composite
def upstream_answers(draw: st.DrawFn) -> bytes:
    """Mostly well-formed HTTP/1.1 answers (so fuzzing gets past the status line), with every part varied."""
    status = draw(
        st.sampled_from([200, 200, 200, 100, 204, 304, 400, 401, 404, 408, 429, 500, 503]) | st.integers(0, 999)
    )
    version = draw(st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2", b"HTTP/1.1 "]))
    body = draw(_sse_body | _json_body)
    headers = draw(st.lists(_header, max_size=4))
    framing = draw(st.sampled_from(["length", "chunked", "close", "wrong-length"]))
    if framing == "length":
        headers.append(b"Content-Length: %d" % len(body))
    elif framing == "wrong-length":
        headers.append(b"Content-Length: %d" % draw(st.integers(0, 2 * len(body) + 2)))
    elif framing == "chunked":
        headers.append(b"Transfer-Encoding: chunked")
        size = draw(st.integers(1, 8))
        pieces = [body[i : i + size] for i in range(0, len(body), size)]
        body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + draw(st.sampled_from([b"0\r\n\r\n", b""]))
    head = b"%s %d Fuzz\r\n" % (version, status) + b"".join(h + b"\r\n" for h in headers) + b"\r\n"
    return head + body


async def _serve_once(answer: bytes, cuts: list[int]) -> tuple[asyncio.Server, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            await reader.readexactly(length)  # all of the request read: closing then sends FIN, not RST
            start = 0
            for cut in [*sorted({c % (len(answer) + 1) for c in cuts}), len(answer)]:
                writer.write(answer[start:cut])
                await writer.drain()
                start = cut
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client gave up early: that is its business
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def _exchange(answer: bytes, cuts: list[int], streaming: bool) -> Completion | list[ProviderChunk]:
    server, port = await _serve_once(answer, cuts)
    endpoint = openai_endpoint(f"http://127.0.0.1:{port}/v1", api_key="k", connect_timeout=HANG_SECONDS)
    api = HttpChatCompletions(endpoint, hints=HINTS, first_byte_timeout=HANG_SECONDS, idle_timeout=HANG_SECONDS)
    try:
        if streaming:
            return [chunk async for chunk in api.stream(CALL, TARGET)]
        return await api.generate(CALL, TARGET)
    finally:
        await endpoint.close()
        server.close()
        await server.wait_closed()


def check_upstream_answer(answer: bytes, cuts: list[int], streaming: bool) -> None:
    try:
        result = asyncio.run(_exchange(answer, cuts, streaming))
    except UpstreamTimeout as exc:
        assert "did not send" not in exc.message, f"the client hung on a closed connection: {exc.message}"
        return  # a 408 status is the upstream's own timeout: an ordinary domain error
    except UpstreamError:
        return
    if isinstance(result, Completion):
        assert isinstance(result.content, str) and isinstance(result.finish_reason, str)
    else:
        assert result and result[-1].finish_reason is not None
        assert all(isinstance(chunk.text, str) for chunk in result)


@short(100)
@given(answer=upstream_answers() | st.binary(max_size=512), cuts=st.lists(st.integers(0, 4096), max_size=3))
def test_any_upstream_answer_is_a_completion_or_an_upstream_error(answer: bytes, cuts: list[int]) -> None:
    check_upstream_answer(answer, cuts, streaming=False)


@short(100)
@given(answer=upstream_answers() | st.binary(max_size=512), cuts=st.lists(st.integers(0, 4096), max_size=3))
def test_any_upstream_stream_is_chunks_or_an_upstream_error(answer: bytes, cuts: list[int]) -> None:
    check_upstream_answer(answer, cuts, streaming=True)

"""Attacks on the OpenAI-compatible door: odd paths, hostile bodies, absurd values, stream abuse.

Every refusal is a 4xx in OpenAI's shape, nothing a client sends is a 500, and
a client that leaves cancels its work; the server answers normally afterwards
and has logged no unexpected error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.security.edge_support import raw_request, running_gateway
from tests.security.raw_clients import open_post
from tests.security.test_disconnects import in_flight, released_after_cancelling, session_headers, stats, wait_for
from tests.support.server import ServerProcess

CHAT = "/v1/chat/completions"
HI = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def gateway() -> Iterator[ServerProcess]:
    with running_gateway({"MOCK_LATENCY_MS": "400", "LOG_LEVEL": "info"}) as server:
        yield server


def post(gateway: ServerProcess, body: object, **headers: str) -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(
        gateway.base_url + CHAT, content=raw, headers={"Content-Type": "application/json", **headers}, timeout=30
    )


def assert_refused(response: httpx.Response, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    return error


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize(
    "body",
    [
        {"model": "mock-1", "messages": "hi"},
        {"model": "mock-1", "messages": [{"role": "user", "content": 42}]},
        {"model": "mock-1", "messages": [{"role": "user"}], "temperature": "0.2"},
        {"model": "mock-1", "messages": [{"role": "hacker", "content": "hi"}]},
        {"model": "mock-1", "messages": [{"role": "assistant", "tool_calls": {"id": "x"}}]},
        {"model": "mock-1", "messages": [{"role": "user", "content": [{"type": "video", "url": "x"}]}]},
        {"model": "mock-1", "messages": [{"role": "user", "content": [{"type": "input_audio"}]}]},
        {"model": ["mock-1"], "messages": HI},
        {"model": "mock-1", "messages": HI, "stream": "yes"},
        {"model": "mock-1", "messages": HI, "n": 10**30},
        {"model": "mock-1", "messages": HI, "n": 1000},
        {"model": "mock-1", "messages": HI, "n": -1},
        {"model": "mock-1", "messages": HI, "max_tokens": 10**12},
        {"model": "mock-1", "messages": HI, "max_completion_tokens": -5},
        {"model": "mock-1", "messages": HI, "temperature": 1e308},
        {"model": "mock-1", "messages": HI, "top_p": -1},
        {"model": "mock-1", "messages": HI, "stop": [f"s{i}" for i in range(100)]},
        {"model": "mock-1", "messages": HI, "seed": 2**70},
        {"model": "mock-1", "messages": HI, "metadata": {"k": {"nested": True}}},
        {"model": "mock-1", "messages": HI, "tools": [{"type": "function", "function": {"name": "bad name!"}}]},
        {"model": "mock-1", "messages": HI, "reasoning_effort": "maximum"},
        {"model": "mock\x00-1", "messages": HI},
        {"model": "mock-1", "messages": [{"role": "user", "content": "nul \x00 inside"}]},
        {"model": "mock-1", "messages": [{"role": "user", "content": "x" * 200_000}]},
        {"model": "mock/", "messages": HI},
    ],
)
def test_a_hostile_body_is_a_400_in_openais_shape(gateway: ServerProcess, body: dict[str, Any]) -> None:
    assert_refused(post(gateway, body))


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"   ",
        b"null",
        b"[]",
        b'{"model":',
        b"\xff\xfe",
        ('{"model":"mock-1","messages":' + nested(5000) + "}").encode(),
    ],
)
def test_malformed_or_deep_json_is_a_400_in_openais_shape(gateway: ServerProcess, raw: bytes) -> None:
    assert_refused(post(gateway, raw))


def test_too_many_tools_are_refused_before_any_provider_call(gateway: ServerProcess) -> None:
    tools = [{"type": "function", "function": {"name": f"t{i}"}} for i in range(500)]
    assert_refused(post(gateway, {"model": "mock-1", "messages": HI, "tools": tools}))


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "gopher://x", "data:text/html;base64,PGI+", "data:image/png,raw"]
)
def test_an_image_url_that_is_no_web_image_is_refused(gateway: ServerProcess, url: str) -> None:
    """Addresses the gateway must not reach are refused where it fetches: tests/security/test_image_fetch_ssrf."""
    content = [{"type": "text", "text": "see"}, {"type": "image_url", "image_url": {"url": url}}]
    assert_refused(post(gateway, {"model": "mock-1", "messages": [{"role": "user", "content": content}]}))


def test_bad_session_headers_are_refused_in_openais_shape(gateway: ServerProcess) -> None:
    assert_refused(
        post(gateway, {"model": "mock-1", "messages": HI}, **{"X-User-ID": "../../etc", "X-Session-ID": "s"})
    )
    assert_refused(post(gateway, {"model": "mock-1", "messages": HI}, **{"X-Session-ID": "only-one"}))


def test_unknown_fields_are_ignored(gateway: ServerProcess) -> None:
    body = {"model": "mock-1", "messages": HI, "frequency_penalty": 0.5, "logit_bias": {"1": 2}, "x": {"y": [1]}}
    assert post(gateway, body).status_code == 200


def test_every_spelling_of_the_route_is_the_raw_route_and_an_encoded_slash_is_refused(gateway: ServerProcess) -> None:
    body = json.dumps({"model": "mock-1", "messages": [{"role": "user", "content": "spelled"}]}).encode()
    for target in (CHAT + "/", "/" + CHAT, "//v1//chat/completions//"):
        answer = raw_request(gateway.http_port, "POST", target, {"Content-Type": "application/json"}, body)
        assert answer.status == 200, target
        assert answer.json()["object"] == "chat.completion"
    for target in ("/v1/models/a%2F..%2Fb", "/v1/models/..%2F..%2Fapi/v1/cache/invalidate", "/v1%2Fmodels/x"):
        encoded = raw_request(gateway.http_port, "GET", target, {}, b"")
        assert encoded.status == 400, target
        assert set(encoded.json()["error"]) == {"message", "type", "param", "code"}
    model_id = raw_request(gateway.http_port, "GET", "/v1/models/mock%2Fmock-1", {}, b"")
    assert model_id.status == 200 and model_id.json()["id"] == "mock-1"  # one opaque id: the same to everyone
    assert raw_request(gateway.http_port, "POST", "/V1/chat/completions", {}, body).status == 404


def test_a_stream_refused_before_its_first_event_is_a_json_error_not_a_stream(gateway: ServerProcess) -> None:
    for body in (
        {"model": "nobody", "messages": HI, "stream": True},
        {"model": "mock-1", "messages": HI, "stream": True, "n": 3},
    ):
        answer = post(gateway, body)
        assert answer.headers["content-type"] == "application/json"
        assert answer.status_code in (400, 404)


@pytest.mark.parametrize("stream", [False, True])
def test_a_client_that_leaves_cancels_its_call_and_the_door_keeps_answering(
    gateway: ServerProcess, stream: bool
) -> None:
    before = stats(gateway)
    body = {"model": "mock-1", "messages": [{"role": "user", "content": "never mind"}], "stream": stream}
    client = open_post(gateway.http_port, CHAT, body, session_headers())
    wait_for(gateway, in_flight(before))
    client.close()
    after = wait_for(gateway, released_after_cancelling(before))
    assert after["total_cancelled"] == before["total_cancelled"] + 1
    assert post(gateway, {"model": "mock-1", "messages": HI}).status_code == 200


def test_nothing_above_was_an_unexpected_error(gateway: ServerProcess) -> None:
    assert "unexpected error" not in gateway.logs() and "Traceback" not in gateway.logs()

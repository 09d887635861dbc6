"""Attacks on the Anthropic door: hostile bodies, absurd values, odd block sequences, odd paths, clients leaving.

Every refusal is a 4xx in Anthropic's shape, nothing a client sends is a 500,
and a client that leaves cancels its work; the server answers normally
afterwards and has logged no unexpected error.
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

MESSAGES = "/v1/messages"
HI: Any = [{"role": "user", "content": "hi"}]
EPHEMERAL = {"type": "ephemeral"}


@pytest.fixture(scope="module")
def gateway() -> Iterator[ServerProcess]:
    with running_gateway({"MOCK_LATENCY_MS": "400", "LOG_LEVEL": "info"}) as server:
        yield server


def post(gateway: ServerProcess, body: object, path: str = MESSAGES, **headers: str) -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(
        gateway.base_url + path, content=raw, headers={"Content-Type": "application/json", **headers}, timeout=30
    )


def assert_refused(response: httpx.Response, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == "error" and set(body["error"]) == {"type", "message"} and body["error"]["message"]
    assert body["error"]["type"] == ("invalid_request_error" if status == 400 else body["error"]["type"])
    return dict(body["error"])


def ask(**fields: Any) -> dict[str, Any]:
    return {"model": "mock-1", "max_tokens": 50, "messages": HI, **fields}


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


def blocks(*content: Any, role: str = "user") -> list[Any]:
    return [{"role": role, "content": list(content)}]


@pytest.mark.parametrize(
    "body",
    [
        {"model": "mock-1", "messages": HI},  # no max_tokens
        ask(max_tokens=-1),
        ask(max_tokens=10**12),
        ask(max_tokens=True),
        ask(messages="hi"),
        ask(messages=[{"role": "user", "content": 42}]),
        ask(messages=[{"role": "user"}]),
        ask(messages=[{"role": "user", "content": []}]),
        ask(messages=[{"role": "tool", "content": "x"}]),
        ask(model=["mock-1"]),
        ask(model=""),
        ask(model="mock\x00-1"),
        ask(stream="yes"),
        ask(temperature="0.2"),
        ask(temperature=-0.1),
        ask(top_p=0),
        ask(top_k=0),
        ask(top_k=10**9),
        ask(stop_sequences=[f"s{i}" for i in range(100)]),
        ask(stop_sequences=[""]),
        ask(system=[{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA=="}}]),
        ask(system=42),
        ask(metadata={"user_id": 7}),
        ask(thinking={"type": "enabled"}),
        ask(thinking={"type": "enabled", "budget_tokens": 50}),  # not below max_tokens
        ask(thinking={"type": "always"}),
        ask(tools=[{"name": "bad name!", "input_schema": {"type": "object"}}]),
        ask(tools=[{"name": "t"}]),  # no input_schema
        ask(tools=[{"type": "web_search_20250305", "name": "web_search"}]),
        ask(tools=[{"name": "t", "input_schema": {"type": "object"}}], tool_choice={"type": "tool", "name": "other"}),
        ask(tool_choice={"type": "sometimes"}),
        ask(messages=blocks({"type": "document", "source": {"type": "text", "data": "x"}})),
        ask(messages=blocks({"type": "text"})),
        ask(messages=blocks({"type": "text", "text": "nul \x00 inside"})),
        ask(messages=[{"role": "user", "content": "x" * 200_000}]),
        ask(messages=blocks({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "!!"}})),
        ask(
            messages=blocks({"type": "image", "source": {"type": "base64", "media_type": "text/html", "data": "AA=="}})
        ),
        ask(messages=blocks({"type": "image", "source": {"type": "file", "file_id": "f"}})),
        ask(messages=blocks({"type": "image", "source": {"type": "url", "url": "file:///etc/passwd"}})),
        ask(messages=blocks({"type": "tool_use", "id": "t1", "name": "f", "input": {}})),  # a user cannot call
        ask(messages=blocks({"type": "thinking", "thinking": "t", "signature": "s"})),
        ask(messages=[*HI, *blocks({"type": "tool_result", "tool_use_id": "t1"}, role="assistant")]),
        ask(messages=blocks({"type": "tool_result", "tool_use_id": "nobody", "content": "x"})),
        ask(messages=blocks({"type": "text", "text": "first"}, {"type": "tool_result", "tool_use_id": "t"})),
        ask(messages=blocks({"type": "tool_result", "tool_use_id": "t", "content": [{"type": "tool_use"}]})),
        ask(messages=blocks({"type": "tool_use", "id": "t1", "name": "f", "input": "not an object"}, role="assistant")),
        ask(messages=blocks({"type": "redacted_thinking", "data": "%%%"}, role="assistant")),
        ask(messages=blocks(*({"type": "text", "text": f"b{i}", "cache_control": EPHEMERAL} for i in range(5)))),
        ask(messages=blocks({"type": "text", "text": "x", "cache_control": {"type": "forever"}})),
    ],
)
def test_a_hostile_body_is_a_400_in_anthropics_shape(gateway: ServerProcess, body: dict[str, Any]) -> None:
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
def test_malformed_or_deep_json_is_a_400_on_both_routes(gateway: ServerProcess, raw: bytes) -> None:
    assert_refused(post(gateway, raw))
    assert_refused(post(gateway, raw, path=MESSAGES + "/count_tokens"))


def test_too_many_tools_are_refused_before_any_provider_call(gateway: ServerProcess) -> None:
    tools = [{"name": f"t{i}", "input_schema": {"type": "object"}} for i in range(500)]
    assert_refused(post(gateway, ask(tools=tools)))


def test_unknown_fields_and_any_version_header_are_accepted(gateway: ServerProcess) -> None:
    body = ask(service_tier="auto", container=None, x={"y": [1]})
    body["messages"] = blocks({"type": "text", "text": "hi", "citations": None, "extra": 1})
    answer = post(gateway, body, **{"anthropic-version": "not-a-date", "anthropic-beta": "anything,at-all"})
    assert answer.status_code == 200 and answer.json()["type"] == "message"


def test_bad_session_headers_are_refused_in_anthropics_shape(gateway: ServerProcess) -> None:
    assert_refused(post(gateway, ask(), **{"X-User-ID": "../../etc", "X-Session-ID": "s"}))
    assert_refused(post(gateway, ask(), **{"X-Session-ID": "only-one"}))


def test_every_spelling_of_the_route_is_the_raw_route(gateway: ServerProcess) -> None:
    body = json.dumps(ask()).encode()
    for target in (MESSAGES + "/", "/" + MESSAGES, "//v1//messages//"):
        answer = raw_request(gateway.http_port, "POST", target, {"Content-Type": "application/json"}, body)
        assert answer.status == 200, target
        assert answer.json()["type"] == "message"
    encoded = raw_request(gateway.http_port, "POST", "/v1/messages%2Fcount_tokens", {}, body)
    assert encoded.status in (400, 404) and encoded.json()["type"] == "error"


def test_a_stream_refused_before_its_first_event_is_a_json_error_not_a_stream(gateway: ServerProcess) -> None:
    for body in (ask(model="nobody", stream=True), ask(max_tokens=0, stream=True)):
        answer = post(gateway, body)
        assert answer.headers["content-type"] == "application/json"
        assert answer.status_code in (400, 404) and answer.json()["type"] == "error"


@pytest.mark.parametrize("stream", [False, True])
def test_a_client_that_leaves_cancels_its_call_and_the_door_keeps_answering(
    gateway: ServerProcess, stream: bool
) -> None:
    before = stats(gateway)
    body = ask(messages=[{"role": "user", "content": "never mind"}], stream=stream)
    client = open_post(gateway.http_port, MESSAGES, body, session_headers())
    wait_for(gateway, in_flight(before))
    client.close()
    after = wait_for(gateway, released_after_cancelling(before))
    assert after["total_cancelled"] == before["total_cancelled"] + 1
    assert post(gateway, ask()).status_code == 200


def test_nothing_above_was_an_unexpected_error(gateway: ServerProcess) -> None:
    assert "unexpected error" not in gateway.logs() and "Traceback" not in gateway.logs()

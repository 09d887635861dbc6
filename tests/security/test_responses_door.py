"""Attacks on the Responses API door: other keys' responses, odd ids and paths, chains, hostile and huge bodies.

Every refusal is a 4xx in OpenAI's shape, a response of another key is a 404
identical to an unknown one, nothing a client sends is a 500, and the server
has logged no unexpected error.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from domain.api_keys import hash_api_key
from tests.security.edge_support import raw_request, running_gateway
from tests.support.server import ServerProcess

RESPONSES = "/v1/responses"
KEYS = {name: f"mcp_{name}_{secrets.token_urlsafe(18)}" for name in ("alice", "mallory", "admin")}
WEATHER = {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}


@pytest.fixture(scope="module")
def gateway() -> Iterator[ServerProcess]:
    entries = ",".join(
        hash_api_key(key, role="admin" if name == "admin" else "user", salt=secrets.token_bytes(16))
        for name, key in KEYS.items()
    )
    env = {"API_KEYS": entries, "MOCK_LATENCY_MS": "0", "LOG_LEVEL": "info", "SESSION_MAX_MESSAGES": "6",
           "MAX_REQUEST_BYTES": "262144"}  # fmt: skip
    with running_gateway(env) as server:
        yield server


def auth(name: str = "alice") -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[name]}"}


def create(gateway: ServerProcess, body: object, name: str = "alice") -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", **auth(name)}
    return httpx.post(gateway.base_url + RESPONSES, content=raw, headers=headers, timeout=30)


def created_id(gateway: ServerProcess, body: dict[str, Any], name: str = "alice") -> str:
    response = create(gateway, body, name)
    assert response.status_code == 200, response.text
    response_id: str = response.json()["id"]
    return response_id


def assert_openai_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    return error


def test_another_key_reads_deletes_lists_and_continues_nothing(gateway: ServerProcess) -> None:
    mine = created_id(gateway, {"model": "mock-1", "input": "secret plans"})
    unknown = "resp_" + secrets.token_hex(24)
    for method, path in (("GET", ""), ("DELETE", ""), ("GET", "/input_items")):
        theirs = httpx.request(method, f"{gateway.base_url}{RESPONSES}/{mine}{path}", headers=auth("mallory"))
        nobody = httpx.request(method, f"{gateway.base_url}{RESPONSES}/{unknown}{path}", headers=auth("mallory"))
        assert_openai_error(theirs, 404)
        assert theirs.json()["error"]["message"].replace(mine, "X") == nobody.json()["error"]["message"].replace(
            unknown, "X"
        )
    stolen = create(gateway, {"model": "mock-1", "input": "go on", "previous_response_id": mine}, "mallory")
    assert_openai_error(stolen, 404)
    keyless = httpx.get(f"{gateway.base_url}{RESPONSES}/{mine}")
    assert_openai_error(keyless, 401)
    # still there, untouched, for its owner
    assert httpx.get(f"{gateway.base_url}{RESPONSES}/{mine}", headers=auth()).json()["id"] == mine


@pytest.mark.parametrize(
    "target",
    [
        "/v1/responses/resp_x%2F..%2F..%2Fapi%2Fv1%2Fstatus",
        "/v1/responses/..%2F..%2Fapi%2Fv1%2Fsessions%2Fs",
        "/v1/responses/%00",
        "/v1/responses/resp_%2A",
        "/v1/responses/" + "a" * 300,
        "/v1/responses/resp_%20x",
    ],
)
def test_odd_ids_are_refused_in_openais_shape(gateway: ServerProcess, target: str) -> None:
    answer = raw_request(gateway.http_port, "GET", target, {"Authorization": f"Bearer {KEYS['alice']}"}, b"")
    assert answer.status in (400, 404), answer.body
    assert set(answer.json()["error"]) == {"message", "type", "param", "code"}


def test_paths_below_a_response_are_404_in_openais_shape(gateway: ServerProcess) -> None:
    mine = created_id(gateway, {"model": "mock-1", "input": "paths"})
    for suffix in ("/x", "/input_items/x", "/../../api/v1/status", "/input_items/../../../api/v1/status"):
        answer = raw_request(gateway.http_port, "GET", f"{RESPONSES}/{mine}{suffix}", auth(), b"")  # dots as sent
        assert answer.status in (400, 404), suffix  # a dot segment is refused before routing
        assert set(answer.json()["error"]) == {"message", "type", "param", "code"}
    assert_openai_error(httpx.put(f"{gateway.base_url}{RESPONSES}/{mine}", headers=auth()), 405)
    every_spelling = raw_request(gateway.http_port, "GET", f"//v1//responses/{mine}/", auth(), b"")
    assert every_spelling.status == 200 and every_spelling.json()["id"] == mine


def test_a_chain_cannot_loop_and_forks_stay_apart(gateway: ServerProcess) -> None:
    root = created_id(gateway, {"model": "mock-1", "input": "root"})
    left = created_id(gateway, {"model": "mock-1", "input": "left branch", "previous_response_id": root})
    right = create(gateway, {"model": "mock-1", "input": "right branch", "previous_response_id": root})
    assert "left" not in right.json()["output"][0]["content"][0]["text"]
    assert "turn 2" in right.json()["output"][0]["content"][0]["text"]
    # an id names a finished response: a chain only ever points back, so no request can name itself or a later one
    again = create(gateway, {"model": "mock-1", "input": "again", "previous_response_id": left})
    assert again.status_code == 200 and again.json()["id"] not in (root, left)


def test_a_long_tool_chain_stays_bounded_and_usable(gateway: ServerProcess) -> None:
    previous = created_id(gateway, {"model": "mock-1", "input": "start"})
    for n in range(6):  # each round is a user turn, a call, its result and the answer: beyond SESSION_MAX_MESSAGES=6
        asked = create(gateway, {"model": "mock-1", "input": f"round {n}: get_weather", "tools": [WEATHER],
                                 "previous_response_id": previous})  # fmt: skip
        assert asked.status_code == 200, asked.text
        call = next(item for item in asked.json()["output"] if item["type"] == "function_call")
        result = {"type": "function_call_output", "call_id": call["call_id"], "output": f"r{n}"}
        answered = create(gateway, {"model": "mock-1", "input": [result], "tools": [WEATHER],
                                    "previous_response_id": asked.json()["id"]})  # fmt: skip
        assert answered.status_code == 200, answered.text
        previous = answered.json()["id"]


@pytest.mark.parametrize(
    "body",
    [
        {"model": "mock-1", "input": {"role": "user"}},
        {"model": "mock-1", "input": [{"role": "hacker", "content": "hi"}]},
        {"model": "mock-1", "input": [{"role": "user", "content": [{"type": "video"}]}]},
        {"model": "mock-1", "input": [{"type": "function_call_output", "output": "no call id"}]},
        {"model": "mock-1", "input": [{"type": "function_call_output", "call_id": "nobody", "output": "x"}]},
        {"model": "mock-1", "input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": "{"}]},
        {"model": "mock-1", "input": [{"type": "reasoning", "summary": [], "encrypted_content": "!!"}]},
        {"model": "mock-1", "input": [{"role": "user", "content": [{"type": "input_image", "image_url": "file:///etc/passwd"}]}]},
        {"model": "mock-1", "input": [{"role": "user", "content": [{"type": "input_image", "file_id": "file-1"}]}]},
        {"model": "mock-1", "input": "nul \x00 inside"},
        {"model": "mock-1", "input": "x" * 200_000},
        {"model": "mock-1", "input": [{"role": "user", "content": "many"}] * 8000},
        {"model": "mock-1", "input": "x", "metadata": {"k": {"nested": True}}},
        {"model": "mock-1", "input": "x", "reasoning": {"effort": "maximum"}},
        {"model": "mock-1", "input": "x", "tool_choice": {"type": "function"}},
        {"model": "mock-1", "input": "x", "tools": [{"type": "function", "name": "bad name!"}]},
        {"model": "mock-1", "input": "x", "previous_response_id": ""},
        {"model": "mock-1", "input": "x", "previous_response_id": "resp_" + "a" * 200},
        {"model": "mock-1", "input": "x", "conversation": "conv_1"},
        {"model": "mock-1", "input": "x", "stream": "yes"},
        {"model": "mock\x00-1", "input": "x"},
        {"model": "", "input": "x"},
    ],
)  # fmt: skip
def test_a_hostile_body_is_a_4xx_in_openais_shape(gateway: ServerProcess, body: dict[str, Any]) -> None:
    answer = create(gateway, body)
    assert answer.status_code in (400, 413), answer.text
    assert set(answer.json()["error"]) == {"message", "type", "param", "code"}


@pytest.mark.parametrize("raw", [b"{", b"[]", b'"x"', b"{" + b'"a":[' * 200 + b"]" * 200 + b"}"])
def test_malformed_or_deep_json_is_a_400_in_openais_shape(gateway: ServerProcess, raw: bytes) -> None:
    assert_openai_error(create(gateway, raw), 400)


def test_a_stream_refused_before_its_first_event_is_a_json_error(gateway: ServerProcess) -> None:
    for body in (
        {"model": "nobody", "input": "x", "stream": True},
        {"model": "mock-1", "input": "x", "stream": True, "previous_response_id": "resp_" + "0" * 48},
    ):
        answer = create(gateway, body)
        assert answer.headers["content-type"] == "application/json"
        assert answer.status_code == 404


def test_a_session_and_a_chain_together_are_refused(gateway: ServerProcess) -> None:
    mine = created_id(gateway, {"model": "mock-1", "input": "one history"})
    raw = json.dumps({"model": "mock-1", "input": "x", "previous_response_id": mine}).encode()
    headers = {**auth(), "Content-Type": "application/json", "X-User-ID": "u", "X-Session-ID": "s"}
    assert_openai_error(httpx.post(gateway.base_url + RESPONSES, content=raw, headers=headers), 400)


def test_unknown_fields_are_ignored(gateway: ServerProcess) -> None:
    body = {"model": "mock-1", "input": "x", "include": ["reasoning.encrypted_content"], "truncation": "auto",
            "service_tier": "auto", "prompt_cache_key": "k", "safety_identifier": "s", "x": {"y": [1]}}  # fmt: skip
    assert create(gateway, body).status_code == 200


def test_nothing_above_was_an_unexpected_error(gateway: ServerProcess) -> None:
    assert "unexpected error" not in gateway.logs() and "Traceback" not in gateway.logs()

"""Deeply nested JSON is an invalid request, not a 500 (issue 11, item 10).

``{"prompt":"hi","x":[[[[…]]]]}`` with 1000 levels (2 KB) made msgspec raise
``RecursionError``: a 500 ``internal_error`` on every JSON route and an
``internal_error`` frame on the WebSocket. Now every decoder of client JSON
refuses nesting deeper than ``MAX_JSON_DEPTH`` with 400 ``invalid_request``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

import httpx
import pytest
import websockets

from entrypoints.json_depth import MAX_JSON_DEPTH, json_too_deep
from tests.support.realtime import realtime_server
from tests.support.server import ServerProcess


def nested(levels: int, opener: str = "[", closer: str = "]") -> str:
    return opener * levels + closer * levels


def body_with(levels: int, **fields: object) -> bytes:
    """A valid request for every route (the fields each needs) plus a field nested ``levels`` deep."""
    base = json.dumps({"prompt": "hi", "cache_key": "k", **fields})
    return (base[:-1] + ', "x": ' + nested(levels) + "}").encode()


# -- the check itself -----------------------------------------------------------------------------


def _reference(text: str) -> bool | None:
    """Walk the JSON as the decoder does: refused when too deep, or left open past the bound's worth of
    brackets (malformed anyway); ``None`` when the decoder would stop first at a backslash outside strings,
    after which the check may only err on the side of refusing."""
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            escaped, in_string = (False, True) if escaped else (char == "\\", char != '"')
        elif char == '"':
            in_string = True
        elif char == "\\":
            return None
        elif char in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return True
        elif char in "]}":
            depth -= 1
            if depth < 0:  # an unmatched closer: the decoder fails here
                return False
    return depth > 0 and sum(text.count(c) for c in "[{") > MAX_JSON_DEPTH


@pytest.mark.parametrize(
    ("text", "too_deep"),
    [
        ('{"prompt":"hi","x":' + nested(1000) + "}", True),
        ('{"x":' + nested(MAX_JSON_DEPTH - 1) + "}", False),
        ('{"x":' + nested(MAX_JSON_DEPTH) + "}", True),
        ('{"a":' * MAX_JSON_DEPTH + "1" + "}" * MAX_JSON_DEPTH, False),
        ('{"a":' * (MAX_JSON_DEPTH + 1) + "1" + "}" * (MAX_JSON_DEPTH + 1), True),
        ('{"prompt":"' + "[" * 5000 + '"}', False),  # brackets inside a string do not nest
        ('{"prompt":"\\"' + "[" * 5000 + '"}', False),  # nor after an escaped quote
        ('{"a":"' + "]" * 500 + '","x":' + nested(70) + "}", True),  # closers in a string do not hide depth
        ('{"a":"\\\\","x":' + nested(70) + "}", True),  # an escaped backslash ends its string
        ('{"x":[' + "[]," * 5000 + "[]]}", False),  # wide is fine
        ('{"x":' + "[" * 100_000, True),
        ('{"requests":[' + ",".join(['{"prompt":"p"}'] * 1000) + "]}", False),
    ],
)
def test_nesting_past_the_bound_is_found_in_bytes_and_text(text: str, too_deep: bool) -> None:
    assert json_too_deep(text) is too_deep
    assert json_too_deep(text.encode()) is too_deep


def test_the_check_agrees_with_a_walk_of_the_document() -> None:
    rng = random.Random(11)
    checked = 0
    pieces = ["[", "]", "{", "}", '"', "\\", "a", ",", '"[["', '"]]"']
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 200)))
        if rng.random() < 0.4:
            text = "[" * rng.randint(40, 70) + text + "]" * rng.randint(0, 80)
        verdict = _reference(text)
        if verdict is None:
            continue
        checked += 1
        assert json_too_deep(text) is verdict, text
    assert checked > 1000


# -- every JSON route and the WebSocket, on the real server -------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with realtime_server({"MOCK_LATENCY_MS": "0"}) as running:
        yield running


JSON = {"content-type": "application/json"}
JSON_ROUTES = [
    "/api/v1/generate",
    "/api/v1/generate/stream",
    "/api/v1/validate",
    "/api/v1/cache/invalidate",
]


@pytest.mark.parametrize("levels", [1000, 100_000])
@pytest.mark.parametrize("path", JSON_ROUTES)
def test_a_deeply_nested_body_is_a_400_on_every_json_route(server: ServerProcess, path: str, levels: int) -> None:
    response = httpx.post(server.base_url + path, content=body_with(levels), headers=JSON, timeout=30)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_request"
    assert "nests deeper" in response.json()["error"]


@pytest.mark.parametrize("path", ["/api/v1/generate/batch", "/api/v1/generate/batch/stream"])
@pytest.mark.parametrize("inside", ["item", "body"])
def test_a_deeply_nested_batch_is_a_400(server: ServerProcess, path: str, inside: str) -> None:
    deep = nested(1000)
    raw = '{"requests":[{"prompt":"hi","x":' + deep + "}]}" if inside == "item" else '{"requests":[],"x":' + deep + "}"
    response = httpx.post(server.base_url + path, content=raw, headers=JSON, timeout=30)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_request"


@pytest.mark.parametrize("path", [*JSON_ROUTES, "/api/v1/generate/batch"])
def test_nesting_within_the_bound_is_still_accepted(server: ServerProcess, path: str) -> None:
    body = body_with(MAX_JSON_DEPTH - 3, requests=[{"prompt": "hi"}])
    response = httpx.post(server.base_url + path, content=body, headers=JSON, timeout=30)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("port", ["ws", "http"])
@pytest.mark.parametrize("where", ["field", "id"])
async def test_a_deeply_nested_websocket_message_is_an_invalid_request_frame(
    server: ServerProcess, port: str, where: str
) -> None:
    number = server.ws_port if port == "ws" else server.http_port
    deep = nested(1000)
    message = '{"prompt":"hi","x":' + deep + "}" if where == "field" else '{"prompt":"hi","id":' + deep + "}"
    async with websockets.connect(f"ws://127.0.0.1:{number}/ws", max_size=None) as socket:
        await socket.send(message)
        error = json.loads(await socket.recv())
        await socket.send(json.dumps({"prompt": "still here", "id": "after"}))
        while not (answer := json.loads(await socket.recv()))["finished"]:
            pass

    assert error["code"] == "invalid_request" and "nests deeper" in error["error"]
    assert error["finished"] is True and error["id"] is None
    assert answer["id"] == "after" and "error" not in answer

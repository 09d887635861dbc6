"""``/api/v1/generate`` and ``/generate/stream`` have one code path: ``FastRoutes``, whatever the spelling.

Litestar's router resolves ``/api/v1/generate/``, ``//api/v1//generate`` and the
like to the same route; ``FastRoutes`` resolves them the same way
(``canonical_path``) and answers every one. Litestar only declares the two
routes (OpenAPI, 405): a declared body that runs answers a logged 500
``internal_error`` (the in-process test below), so a 200 with the raw route's
answer, and no such log line, shows that Litestar's handler was never entered.
The request target goes on the wire as written (``raw_request``): httpx would tidy it.
"""

from __future__ import annotations

import json
from typing import cast

import httpx

from entrypoints.asgi import ASGIApp
from entrypoints.config import load_settings
from entrypoints.http.app import create_litestar
from entrypoints.http.native.fast_generate import GENERATE_PATH, STREAM_PATH
from tests.integration.gateway_app import in_process_gateway
from tests.security.edge_support import raw_request
from tests.support.server import ServerProcess

JSON = {"Content-Type": "application/json"}
DECLARED_ONLY = "is answered by FastRoutes"


def spellings(path: str) -> list[str]:
    """Targets Litestar's router resolves to ``path``: trailing, leading and inner slashes doubled or added."""
    inner = path.replace("/v1/", "/v1//")
    return [path, path + "/", path + "//", "/" + path, "//" + path + "/", inner, inner + "/"]


def test_every_spelling_of_generate_is_answered_by_the_raw_route(server: ServerProcess) -> None:
    for number, target in enumerate(spellings(GENERATE_PATH)):
        prompt = f"spelling {number}"  # one prompt each: no answer comes from the cache
        response = raw_request(server.http_port, "POST", target, JSON, json.dumps({"prompt": prompt}).encode())
        assert response.status == 200, target
        assert response.json()["content"] == f"Mock answer (turn 1): {prompt}", target
        assert response.header(b"x-gateway-overhead-ms") is not None, target
    assert DECLARED_ONLY not in server.logs()


def test_every_spelling_of_generate_stream_is_answered_by_the_raw_route(server: ServerProcess) -> None:
    for number, target in enumerate(spellings(STREAM_PATH)):
        body = json.dumps({"prompt": f"stream spelling {number}"}).encode()
        response = raw_request(server.http_port, "POST", target, JSON, body)
        assert response.status == 200, target
        assert (response.header(b"content-type") or b"").startswith(b"text/event-stream"), target
        assert b'"finished":true' in response.body, target
    assert DECLARED_ONLY not in server.logs()


def test_another_method_on_either_route_is_refused_by_the_litestar_declaration(server: ServerProcess) -> None:
    for path in (GENERATE_PATH, STREAM_PATH):
        for target in (path, path + "/"):
            response = httpx.get(server.base_url + target, timeout=30)
            assert response.status_code == 405, target
            assert response.json()["code"] == "method_not_allowed"


async def test_a_declared_only_handler_that_runs_answers_a_500_and_never_a_generation() -> None:
    """Litestar without ``FastRoutes`` in front: what any spelling would get if the raw route missed it."""
    async with in_process_gateway(traced=False) as gateway:
        litestar = create_litestar(gateway.container, load_settings([], environ={}, dotenv=None))
        transport = httpx.ASGITransport(app=cast(ASGIApp, litestar))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            for path in (GENERATE_PATH, STREAM_PATH):
                response = await client.post(path + "/", json={"prompt": "hello"})
                assert response.status_code == 500, path
                assert response.json()["code"] == "internal_error"

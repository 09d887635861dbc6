"""API keys and roles, rate limits, CORS and request size on the real server (docs/api.md#authentication to #cors)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import httpx
import pytest
import websockets
from grpclib.client import Channel
from grpclib.const import Status

from domain.api_keys import hash_api_key
from entrypoints.grpc.generated import proto as pb
from tests.security.edge_support import raw_request
from tests.support.grpc_calls import call
from tests.support.server import ServerProcess

USER_KEY = "mcp_user_" + secrets.token_urlsafe(24)
ADMIN_KEY = "mcp_admin_" + secrets.token_urlsafe(24)
API_KEYS = ",".join(
    (
        hash_api_key(USER_KEY, role="user", salt=secrets.token_bytes(16)),
        hash_api_key(ADMIN_KEY, role="admin", salt=secrets.token_bytes(16)),
    )
)


@pytest.fixture(scope="module")
def keyed() -> Iterator[ServerProcess]:
    with ServerProcess({"API_KEYS": API_KEYS}, ws=True, grpc=True) as running:
        yield running


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_without_a_key_a_route_answers_401_in_the_error_shape(keyed: ServerProcess) -> None:
    response = httpx.post(keyed.base_url + "/api/v1/generate", json={"prompt": "hi"})
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "unauthenticated" and body["requestId"] == response.headers["x-request-id"]
    assert httpx.get(keyed.base_url + "/api/v1/models", headers=bearer("mcp_not_a_key_at_all")).status_code == 401


def test_a_user_key_generates_by_bearer_or_x_api_key(keyed: ServerProcess) -> None:
    for headers in (bearer(USER_KEY), {"X-API-Key": USER_KEY}):
        assert httpx.post(keyed.base_url + "/api/v1/generate", json={"prompt": "hi"}, headers=headers).is_success


def test_admin_routes_need_an_admin_key(keyed: ServerProcess) -> None:
    url = keyed.base_url + "/api/v1/cache/invalidate"
    refused = httpx.post(url, json={"cache_key": "ai:abc"}, headers=bearer(USER_KEY))
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    assert httpx.post(url, json={"cache_key": "ai:abc"}, headers=bearer(ADMIN_KEY)).status_code == 200
    unblock = keyed.base_url + "/api/v1/cache/blacklist/ai:abc"
    assert httpx.delete(unblock, headers=bearer(USER_KEY)).status_code == 403
    assert httpx.delete(unblock, headers=bearer(ADMIN_KEY)).status_code == 200


def test_health_and_metrics_need_no_key(keyed: ServerProcess) -> None:
    for path in ("/health", "/healthz", "/readyz", "/metrics"):
        assert httpx.get(keyed.base_url + path).status_code == 200, path


def test_metrics_need_a_key_when_metrics_auth_is_on() -> None:
    with ServerProcess({"API_KEYS": API_KEYS, "METRICS_AUTH": "true"}) as server:
        assert httpx.get(server.base_url + "/metrics").status_code == 401
        assert httpx.get(server.base_url + "/metrics", headers=bearer(USER_KEY)).status_code == 200


async def test_a_websocket_needs_a_key_at_the_upgrade(keyed: ServerProcess) -> None:
    url = f"ws://127.0.0.1:{keyed.ws_port}/ws"
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(url):
            pass
    assert refused.value.response.status_code == 401
    assert json.loads(refused.value.response.body or b"{}")["code"] == "unauthenticated"
    async with websockets.connect(url, additional_headers=bearer(USER_KEY)) as socket:
        await socket.send(json.dumps({"prompt": "keyed websocket"}))
        while not (frame := json.loads(await socket.recv())).get("finished"):
            pass
        assert "error" not in frame


def test_http_takes_the_key_as_azure_clients_send_it_and_a_blank_key_header_is_no_key(keyed: ServerProcess) -> None:
    assert httpx.get(keyed.base_url + "/api/v1/models", headers={"api-key": USER_KEY}).status_code == 200
    blank_beside_bearer = raw_request(keyed.http_port, "GET", "/api/v1/models", {"api-key": "", **bearer(USER_KEY)})
    assert blank_beside_bearer.status == 200
    blank_alone = raw_request(keyed.http_port, "GET", "/api/v1/models", {"X-API-Key": "", "api-key": ""})
    assert blank_alone.status == 401 and blank_alone.json()["code"] == "unauthenticated"


async def test_websocket_and_grpc_take_the_key_as_azure_clients_send_it(keyed: ServerProcess) -> None:
    azure = {"api-key": USER_KEY}
    async with websockets.connect(f"ws://127.0.0.1:{keyed.ws_port}/ws", additional_headers=azure) as socket:
        await socket.send(json.dumps({"prompt": "azure-keyed websocket"}))
        while not (frame := json.loads(await socket.recv())).get("finished"):
            pass
        assert "error" not in frame
    channel = Channel("127.0.0.1", keyed.grpc_port)
    try:
        allowed = await call(channel, "Generate", pb.GenerateRequest(prompt="hi"), azure)
        blank = await call(channel, "Generate", pb.GenerateRequest(prompt="hi"), {"api-key": " ", "x-api-key": " "})
    finally:
        channel.close()
    assert allowed.error is None
    assert blank.error is not None and blank.error.status is Status.UNAUTHENTICATED


async def test_grpc_calls_need_a_key(keyed: ServerProcess) -> None:
    channel = Channel("127.0.0.1", keyed.grpc_port)
    try:
        anonymous = await call(channel, "Generate", pb.GenerateRequest(prompt="hi"))
        wrong = await call(channel, "Generate", pb.GenerateRequest(prompt="hi"), {"authorization": "Bearer nope"})
        allowed = await call(channel, "Generate", pb.GenerateRequest(prompt="hi"), {"x-api-key": USER_KEY})
    finally:
        channel.close()
    assert anonymous.error is not None and anonymous.error.status is Status.UNAUTHENTICATED
    assert wrong.error is not None and wrong.error.status is Status.UNAUTHENTICATED
    assert allowed.error is None


# With keys, each key has its own bucket: one key per surface keeps these tests apart on one server.
LIMITED_KEYS = {name: "mcp_" + name + "_" + secrets.token_urlsafe(24) for name in ("http", "other", "ws", "grpc")}


@pytest.fixture(scope="module")
def limited() -> Iterator[ServerProcess]:
    entries = ",".join(hash_api_key(key, role="user", salt=secrets.token_bytes(16)) for key in LIMITED_KEYS.values())
    env = {"RATE_LIMIT_ENABLED": "true", "RATE_LIMIT_RPS": "0.01", "RATE_LIMIT_BURST": "2", "API_KEYS": entries}
    with ServerProcess(env, ws=True, grpc=True) as running:
        yield running


def test_past_the_burst_http_answers_429_with_retry_after_and_ratelimit_headers(limited: ServerProcess) -> None:
    headers = {"X-User-ID": "http-caller", **bearer(LIMITED_KEYS["http"])}
    answers = [httpx.get(limited.base_url + "/api/v1/models", headers=headers) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[0].headers["ratelimit-limit"] == "2" and answers[0].headers["ratelimit-remaining"] == "1"
    refused = answers[2]
    assert int(refused.headers["retry-after"]) >= 1 and refused.headers["ratelimit-remaining"] == "0"
    assert refused.json()["code"] == "rate_limited"
    other_user = {"X-User-ID": "someone-else", **bearer(LIMITED_KEYS["http"])}
    assert httpx.get(limited.base_url + "/api/v1/models", headers=other_user).status_code == 429  # same key
    other_key = bearer(LIMITED_KEYS["other"])
    assert httpx.get(limited.base_url + "/api/v1/models", headers=other_key).status_code == 200


async def test_past_the_burst_a_websocket_gets_an_error_frame_and_stays_open(limited: ServerProcess) -> None:
    url = f"ws://127.0.0.1:{limited.ws_port}/ws"
    async with websockets.connect(url, additional_headers=bearer(LIMITED_KEYS["ws"])) as socket:
        finals = []
        for n in range(3):
            await socket.send(json.dumps({"prompt": f"limited {n}", "id": n}))
            while not (frame := json.loads(await socket.recv())).get("finished"):
                pass
            finals.append(frame)
    assert ["error" in frame for frame in finals] == [False, False, True]
    assert finals[2]["code"] == "rate_limited" and finals[2]["id"] == 2


async def test_past_the_burst_grpc_answers_resource_exhausted(limited: ServerProcess) -> None:
    channel = Channel("127.0.0.1", limited.grpc_port)
    metadata = {"x-user-id": "grpc-caller", "x-api-key": LIMITED_KEYS["grpc"]}
    try:
        outcomes = [await call(channel, "ListModels", pb.ListModelsRequest(), metadata) for _ in range(3)]
    finally:
        channel.close()
    assert [o.error is None for o in outcomes] == [True, True, False]
    error = outcomes[2].error
    assert error is not None and error.status is Status.RESOURCE_EXHAUSTED
    assert outcomes[2].trailing.get("x-error-code") == "rate_limited"


@pytest.fixture(scope="module")
def cors() -> Iterator[ServerProcess]:
    with ServerProcess({"CORS_ALLOWED_ORIGINS": "https://app.example", "CORS_ALLOW_CREDENTIALS": "true"}) as running:
        yield running


def preflight(server: ServerProcess, origin: str) -> httpx.Response:
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-user-id",
    }
    return httpx.options(server.base_url + "/api/v1/generate", headers=headers)


def test_a_preflight_from_an_allowed_origin_is_answered(cors: ServerProcess) -> None:
    response = preflight(cors, "https://app.example")
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "https://app.example"
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "X-User-ID" in response.headers["access-control-allow-headers"]
    assert response.headers["access-control-allow-credentials"] == "true"
    answer = httpx.post(
        cors.base_url + "/api/v1/generate", json={"prompt": "hi"}, headers={"Origin": "https://app.example"}
    )
    assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == "https://app.example"


def test_a_preflight_from_another_origin_is_refused(cors: ServerProcess) -> None:
    response = preflight(cors, "https://evil.example")
    assert response.status_code == 403 and "access-control-allow-origin" not in response.headers
    assert response.json()["code"] == "origin_not_allowed"


def test_requests_without_an_origin_are_not_cors(cors: ServerProcess) -> None:
    response = httpx.get(cors.base_url + "/api/v1/models")
    assert response.status_code == 200 and "access-control-allow-origin" not in response.headers


def test_a_bad_cors_origin_stops_the_start_with_a_message_naming_the_variable() -> None:
    server = ServerProcess({"CORS_ALLOWED_ORIGINS": "app.example.com"})
    with pytest.raises(RuntimeError, match="CORS_ALLOWED_ORIGINS"):
        server.start(timeout=15)
    assert server.process is not None and server.process.returncode == 2
    assert "Traceback" not in server.logs()


def test_a_body_over_max_request_bytes_is_413_in_the_error_shape(cors: ServerProcess) -> None:
    body = json.dumps({"prompt": "x" * (2 * 1024 * 1024)})
    response = httpx.post(
        cors.base_url + "/api/v1/generate", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"

"""The OpenAI-compatible door on the real server: the ``openai`` SDK as the client (docs/api.md#openai-compatible-api).

An SDK exception class raised where OpenAI would raise it is the test of the
error shape and status; the refusals of the shared layers (the key check, the
rate limit, the path check, CORS, the body limits) are checked on ``/v1`` paths
to come out in OpenAI's shape as well.
"""

from __future__ import annotations

import json
import secrets
import socket
import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from domain.api_keys import hash_api_key
from tests.security.edge_support import raw_request
from tests.support.server import ServerProcess

KEYS = {name: f"mcp_{name}_{secrets.token_urlsafe(18)}" for name in ("sdk", "azure", "limited", "edges", "admin")}
BURST = 20


@pytest.fixture(scope="module")
def gateway() -> Iterator[ServerProcess]:
    entries = ",".join(
        hash_api_key(key, role="admin" if name == "admin" else "user", salt=secrets.token_bytes(16))
        for name, key in KEYS.items()
    )
    env = {
        "API_KEYS": entries,
        "RATE_LIMIT_ENABLED": "true",
        "RATE_LIMIT_RPS": "0.01",
        "RATE_LIMIT_BURST": str(BURST),
        "CORS_ALLOWED_ORIGINS": "https://app.example",
        "BODY_TIMEOUT_SECONDS": "1",
        "MAX_REQUEST_BYTES": "65536",
    }
    with ServerProcess(env) as running:
        yield running


def client(gateway: ServerProcess, key: str = KEYS["sdk"]) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.base_url + "/v1", api_key=key, max_retries=0)


def assert_openai_error(body: object, error_type: str, code: str | None = None) -> dict[str, object]:
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"], error
    assert error["type"] == error_type, error
    if code is not None:
        assert error["code"] == code, error
    return error


def test_the_sdk_gets_a_chat_completion(gateway: ServerProcess) -> None:
    raw = client(gateway).chat.completions.with_raw_response.create(
        model="mock/mock-1", messages=[{"role": "user", "content": "hello door"}]
    )
    completion = raw.parse()
    assert completion.object == "chat.completion" and completion.model == "mock-1"
    assert completion.choices[0].message.content == "Mock answer (turn 1): hello door"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.total_tokens > 0
    assert raw.headers["x-cache"] == "miss" and float(raw.headers["x-gateway-overhead-ms"]) >= 0
    assert completion.id == "chatcmpl-" + raw.headers["x-request-id"]


def test_the_sdk_lists_the_models_of_the_configured_providers(gateway: ServerProcess) -> None:
    models = client(gateway).models.list()
    ids = [model.id for model in models]
    assert "mock-1" in ids and all(model.owned_by == "mock" for model in models)
    assert client(gateway).models.retrieve("mock-1").owned_by == "mock"


def test_an_unknown_model_is_the_sdks_not_found_error(gateway: ServerProcess) -> None:
    for model in ("no-such-model", "azure/gpt-4o"):  # azure is not configured here
        with pytest.raises(openai.NotFoundError) as caught:
            client(gateway).chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
        assert_openai_error(
            caught.value.body and {"error": caught.value.body}, "invalid_request_error", "model_not_found"
        )


def test_a_wrong_type_is_the_sdks_bad_request_error(gateway: ServerProcess) -> None:
    with pytest.raises(openai.BadRequestError, match="temperature") as caught:
        client(gateway).chat.completions.create(
            model="mock-1", messages=[{"role": "user", "content": "hi"}], extra_body={"temperature": "hot"}
        )
    assert caught.value.param == "temperature"


def test_no_key_or_a_wrong_key_is_the_sdks_authentication_error(gateway: ServerProcess) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        client(gateway, key="mcp_nobody_" + secrets.token_urlsafe(18)).models.list()
    assert caught.value.status_code == 401
    answer = httpx.post(gateway.base_url + "/v1/chat/completions", json={"model": "mock-1", "messages": []})
    assert answer.status_code == 401 and answer.headers["www-authenticate"].startswith("Bearer")
    assert_openai_error(answer.json(), "authentication_error", "invalid_api_key")


def test_azure_clients_api_key_header_is_accepted(gateway: ServerProcess) -> None:
    body = {"model": "mock-1", "messages": [{"role": "user", "content": "from azure"}]}
    answer = httpx.post(gateway.base_url + "/v1/chat/completions", json=body, headers={"api-key": KEYS["azure"]})
    assert answer.status_code == 200, answer.text


def test_past_the_burst_the_sdk_raises_its_rate_limit_error_with_retry_after(gateway: ServerProcess) -> None:
    limited = client(gateway, KEYS["limited"])
    for _ in range(BURST):
        limited.models.list()
    with pytest.raises(openai.RateLimitError) as caught:
        limited.models.list()
    assert int(caught.value.response.headers["retry-after"]) >= 1
    assert_openai_error(caught.value.response.json(), "rate_limit_error", "rate_limit_exceeded")


def test_an_origin_that_cors_refuses_is_the_sdks_permission_denied_error(gateway: ServerProcess) -> None:
    browser = openai.OpenAI(
        base_url=gateway.base_url + "/v1",
        api_key=KEYS["edges"],
        max_retries=0,
        default_headers={"Origin": "https://evil.example"},
    )
    with pytest.raises(openai.PermissionDeniedError) as caught:
        browser.chat.completions.create(model="mock-1", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.code == "origin_not_allowed" and caught.value.type == "permission_error"


def test_the_shared_layers_refuse_in_openais_shape_on_v1_paths(gateway: ServerProcess) -> None:
    key = {"Authorization": f"Bearer {KEYS['edges']}", "Content-Type": "application/json"}
    ambiguous = raw_request(gateway.http_port, "POST", "/v1/chat/completions/%2e%2e/x", key, b"{}")
    assert ambiguous.status == 400
    assert_openai_error(ambiguous.json(), "invalid_request_error", "invalid_request")
    huge = raw_request(gateway.http_port, "POST", "/v1/chat/completions", key, b"[" * 70_000)
    assert huge.status == 413
    assert_openai_error(huge.json(), "invalid_request_error", "payload_too_large")
    foreign = httpx.get(gateway.base_url + "/v1/models", headers={**key, "Origin": "https://evil.example"})
    assert foreign.status_code == 403
    assert_openai_error(foreign.json(), "permission_error", "origin_not_allowed")
    wrong_method = httpx.get(gateway.base_url + "/v1/chat/completions", headers=key)
    assert wrong_method.status_code == 405
    assert_openai_error(wrong_method.json(), "invalid_request_error", "method_not_allowed")
    native = httpx.get(gateway.base_url + "/api/v1/nothing-here", headers=key)
    assert native.json()["code"] == "not_found"  # the native paths keep the native shape


def test_a_stalled_body_on_a_v1_path_is_408_in_openais_shape(gateway: ServerProcess) -> None:
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {KEYS['edges']}\r\nContent-Length: 100\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", gateway.http_port), timeout=10) as sock:
        sock.sendall(head.encode() + b'{"model":')
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    status_line, _, rest = received.partition(b"\r\n")
    assert b" 408 " in status_line
    assert_openai_error(json.loads(rest.partition(b"\r\n\r\n")[2]), "invalid_request_error", "request_timeout")


def test_chat_completions_are_counted_under_their_own_method_label(gateway: ServerProcess) -> None:
    client(gateway).chat.completions.create(model="mock-1", messages=[{"role": "user", "content": "count me"}])
    deadline = time.monotonic() + 5
    metrics = ""
    while time.monotonic() < deadline and 'method="openai_chat"' not in metrics:
        metrics = httpx.get(gateway.base_url + "/metrics").text
    assert 'mcp_requests_total{method="openai_chat"' in metrics.replace(", ", ",")

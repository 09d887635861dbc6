"""The Anthropic door's protection on the real server: keys, CORS, the rate limit, the shared layers' refusals.

The ``anthropic`` SDK raising its own class where Anthropic would is the test of
the status and shape: ``x-api-key`` (the SDK's header) or ``Authorization:
Bearer`` carries the key; the shared layers' refusals (the path check, the body
limits, the 405, a stalled body) on ``/v1/messages`` paths come out in
Anthropic's ``{"type": "error", "error": {"type", "message"}}`` too.
"""

from __future__ import annotations

import json
import secrets
import socket
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest

from domain.api_keys import hash_api_key
from tests.security.edge_support import raw_request
from tests.support.server import ServerProcess

KEYS = {name: f"mcp_{name}_{secrets.token_urlsafe(18)}" for name in ("sdk", "bearer", "limited", "edges")}
BURST = 10
HI: Any = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def gateway() -> Iterator[ServerProcess]:
    entries = ",".join(hash_api_key(key, role="user", salt=secrets.token_bytes(16)) for key in KEYS.values())
    env = {
        "API_KEYS": entries,
        "RATE_LIMIT_ENABLED": "true",
        "RATE_LIMIT_RPS": "0.01",
        "RATE_LIMIT_BURST": str(BURST),
        "CORS_ALLOWED_ORIGINS": "https://app.example",
        "BODY_TIMEOUT_SECONDS": "1",
        "MAX_REQUEST_BYTES": "65536",
        "LOG_LEVEL": "warning",
    }
    with ServerProcess(env) as running:
        yield running


def client(gateway: ServerProcess, key: str = KEYS["sdk"]) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.base_url, api_key=key, max_retries=0)


def assert_anthropic_error(body: object, error_type: str) -> None:
    assert isinstance(body, dict) and body["type"] == "error", body
    assert set(body["error"]) == {"type", "message"} and body["error"]["message"], body
    assert body["error"]["type"] == error_type, body


def test_the_sdks_key_header_and_a_bearer_token_are_accepted(gateway: ServerProcess) -> None:
    message = client(gateway).messages.create(model="mock-1", max_tokens=20, messages=HI)
    assert message.content[0].type == "text"
    body = {"model": "mock-1", "max_tokens": 20, "messages": HI}
    headers = {"Authorization": f"Bearer {KEYS['bearer']}", "anthropic-version": "1999-01-01"}
    assert httpx.post(gateway.base_url + "/v1/messages", json=body, headers=headers).status_code == 200


def test_no_key_or_a_wrong_key_is_the_sdks_authentication_error(gateway: ServerProcess) -> None:
    with pytest.raises(anthropic.AuthenticationError) as caught:
        client(gateway, key="mcp_nobody_" + secrets.token_urlsafe(18)).messages.create(
            model="mock-1", max_tokens=20, messages=HI
        )
    assert_anthropic_error(caught.value.body, "authentication_error")
    keyless = httpx.post(gateway.base_url + "/v1/messages/count_tokens", json={"model": "mock-1", "messages": HI})
    assert keyless.status_code == 401
    assert_anthropic_error(keyless.json(), "authentication_error")


@pytest.mark.parametrize(
    "target", ["/v1/messages/", "//v1//messages", "/v1/messages/count_tokens/", "/v1/messages/../messages"]
)
def test_a_wrong_key_on_any_spelling_of_the_routes_is_401_in_anthropics_shape(
    gateway: ServerProcess, target: str
) -> None:
    body = json.dumps({"model": "mock-1", "max_tokens": 5, "messages": HI}).encode()
    headers = {"Content-Type": "application/json", "x-api-key": "mcp_wrong_" + secrets.token_urlsafe(18)}
    answer = raw_request(gateway.http_port, "POST", target, headers, body)
    assert answer.status in (400, 401), target
    assert_anthropic_error(answer.json(), "authentication_error" if answer.status == 401 else "invalid_request_error")


def test_a_foreign_origin_is_the_sdks_permission_denied_error(gateway: ServerProcess) -> None:
    with pytest.raises(anthropic.PermissionDeniedError) as caught:
        client(gateway).messages.create(
            model="mock-1", max_tokens=20, messages=HI, extra_headers={"Origin": "https://evil.example"}
        )
    assert_anthropic_error(caught.value.body, "permission_error")


def test_an_unknown_model_or_provider_is_the_sdks_not_found_error(gateway: ServerProcess) -> None:
    for model in ("no-such-model", "azure/gpt-4o"):  # azure is not configured here
        with pytest.raises(anthropic.NotFoundError) as caught:
            client(gateway).messages.create(model=model, max_tokens=20, messages=HI)
        assert_anthropic_error(caught.value.body, "not_found_error")


def test_past_the_burst_the_sdk_raises_its_rate_limit_error_with_retry_after(gateway: ServerProcess) -> None:
    limited = client(gateway, KEYS["limited"])
    for _ in range(BURST):
        limited.messages.count_tokens(model="mock-1", messages=HI)
    with pytest.raises(anthropic.RateLimitError) as caught:
        limited.messages.create(model="mock-1", max_tokens=20, messages=HI)
    assert int(caught.value.response.headers["retry-after"]) >= 1
    assert_anthropic_error(caught.value.body, "rate_limit_error")


def test_the_shared_layers_refuse_in_anthropics_shape(gateway: ServerProcess) -> None:
    key = {"x-api-key": KEYS["edges"], "Content-Type": "application/json"}
    ambiguous = raw_request(gateway.http_port, "POST", "/v1/messages/%2e%2e/x", key, b"{}")
    assert ambiguous.status == 400
    assert_anthropic_error(ambiguous.json(), "invalid_request_error")
    huge = raw_request(gateway.http_port, "POST", "/v1/messages", key, b"[" * 70_000)
    assert huge.status == 413
    assert_anthropic_error(huge.json(), "request_too_large")
    wrong_method = httpx.get(gateway.base_url + "/v1/messages", headers=key)
    assert wrong_method.status_code == 405
    assert_anthropic_error(wrong_method.json(), "invalid_request_error")
    below = httpx.post(gateway.base_url + "/v1/messages/batches", headers=key, json={})
    assert below.status_code == 404
    assert_anthropic_error(below.json(), "not_found_error")


def test_a_stalled_body_is_408_in_anthropics_shape(gateway: ServerProcess) -> None:
    head = (
        "POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"x-api-key: {KEYS['edges']}\r\nContent-Length: 100\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", gateway.http_port), timeout=10) as sock:
        sock.sendall(head.encode() + b'{"model":')
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    status_line, _, rest = received.partition(b"\r\n")
    assert b" 408 " in status_line
    assert_anthropic_error(json.loads(rest.partition(b"\r\n\r\n")[2]), "invalid_request_error")


def test_another_keys_session_is_not_found(gateway: ServerProcess) -> None:
    session = {"X-User-ID": "shared-user", "X-Session-ID": "anthropic-owned-session"}
    client(gateway, KEYS["sdk"]).messages.create(model="mock-1", max_tokens=20, messages=HI, extra_headers=session)
    with pytest.raises(anthropic.NotFoundError) as caught:
        client(gateway, KEYS["edges"]).messages.create(
            model="mock-1", max_tokens=20, messages=HI, extra_headers=session
        )
    assert_anthropic_error(caught.value.body, "not_found_error")

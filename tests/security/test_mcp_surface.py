"""/mcp attacked: keys, path spellings, bodies (huge, deep, batches), Host and Origin, rate limits.

``/mcp`` sits behind the same layers as every route, so it must answer as
they do: 401 without a valid key, every spelling the router resolves to
``/mcp`` is ``/mcp`` (and another case is no route), ambiguous paths are 400; a
body over ``MAX_REQUEST_BYTES``, nested deeper than the gateway allows or
holding a JSON-RPC batch is refused before the SDK parses it, and the process
answers the next request; the SDK's DNS-rebinding protection refuses a Host or
Origin not configured; the caller's bucket pays for each request.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import httpx
import pytest

from domain.api_keys import Role, hash_api_key, presented_key
from tests.security.edge_support import raw_request
from tests.support.server import ServerProcess

USER = presented_key("mcpuser", secrets.token_hex(24))
ADMIN = presented_key("mcpadmin", secrets.token_hex(24))


def _entry(key: str, role: Role) -> str:
    _, lookup_id, secret = key.split("_", 2)
    return hash_api_key(secret, role=role, salt=secrets.token_bytes(16), lookup_id=lookup_id)


API_KEYS = f"{_entry(USER, 'user')},{_entry(ADMIN, 'admin')}"
LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
MAX_BODY = 65_536


def _mcp_headers(key: str | None = USER, **extra: str) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-11-25",
        **extra,
    }
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return headers


@pytest.fixture(scope="module")
def gateway() -> Iterator[ServerProcess]:
    with ServerProcess({"API_KEYS": API_KEYS, "MAX_REQUEST_BYTES": str(MAX_BODY)}) as running:
        yield running


def _post(gateway: ServerProcess, body: bytes, key: str | None = USER, **headers: str) -> httpx.Response:
    return httpx.post(gateway.base_url + "/mcp", content=body, headers=_mcp_headers(key, **headers), timeout=30)


def _listed(response: httpx.Response) -> list[str]:
    """The tool names of a tools/list answer sent as SSE."""
    data = [line[5:] for line in response.text.splitlines() if line.startswith("data:")]
    return [tool["name"] for tool in json.loads(data[-1])["result"]["tools"]]


def test_without_a_valid_key_mcp_is_a_401_in_the_gateways_error_shape(gateway: ServerProcess) -> None:
    for key in (None, presented_key("mcpuser", secrets.token_hex(24)), "not-a-key"):
        response = _post(gateway, json.dumps(LIST).encode(), key)
        assert response.status_code == 401
        assert response.json()["code"] == "unauthenticated"
    assert _listed(_post(gateway, json.dumps(LIST).encode()))[:4] == ["generate", "embed", "list_models", "get_session"]


@pytest.mark.parametrize("target", ["//mcp", "/mcp/", "///mcp//"])
def test_every_spelling_the_router_resolves_to_mcp_is_mcp_behind_the_key_check(
    gateway: ServerProcess, target: str
) -> None:
    body = json.dumps(LIST).encode()
    assert raw_request(gateway.http_port, "POST", target, _mcp_headers(None), body).status == 401
    answered = raw_request(gateway.http_port, "POST", target, _mcp_headers(), body)
    assert answered.status == 200 and b'"generate"' in answered.body


@pytest.mark.parametrize(("target", "status"), [("/MCP", 404), ("/mcp/../mcp", 400), ("/mcp%2F", 400), ("/mcpx", 404)])
def test_other_spellings_are_no_way_around_the_guard(gateway: ServerProcess, target: str, status: int) -> None:
    body = json.dumps(LIST).encode()
    without_key = raw_request(gateway.http_port, "POST", target, _mcp_headers(None), body).status
    assert without_key == (400 if status == 400 else 401)
    assert raw_request(gateway.http_port, "POST", target, _mcp_headers(), body).status == status


def test_a_body_over_the_limit_is_refused_and_the_next_request_is_served(gateway: ServerProcess) -> None:
    huge = {**LIST, "params": {"padding": "x" * (MAX_BODY + 1)}}
    refused = _post(gateway, json.dumps(huge).encode())
    assert refused.status_code == 413
    assert refused.json()["error"]["code"] == -32600
    assert _listed(_post(gateway, json.dumps(LIST).encode()))


def test_deeply_nested_json_is_refused_before_it_is_parsed(gateway: ServerProcess) -> None:
    deep = b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"generate","arguments":{"a":'
    deep += b"[" * 20_000 + b"]" * 20_000 + b"}}}"
    refused = _post(gateway, deep)
    assert refused.status_code == 400 and "nests too deep" in refused.json()["error"]["message"]
    assert _listed(_post(gateway, json.dumps(LIST).encode()))


def test_a_json_rpc_batch_is_refused(gateway: ServerProcess) -> None:
    refused = _post(gateway, json.dumps([LIST, {**LIST, "id": 2}]).encode())
    assert refused.status_code == 400 and "batch" in refused.json()["error"]["message"]


def test_malformed_json_rpc_is_a_json_rpc_error_not_a_crash(gateway: ServerProcess) -> None:
    for body in (b"{", b'"just a string"', b'{"jsonrpc":"2.0","id":1}', b'{"jsonrpc":"2.0","id":1,"method":"nope"}'):
        response = _post(gateway, body)
        assert 200 <= response.status_code < 500, (body, response.status_code)
        assert "error" in response.text
    assert _listed(_post(gateway, json.dumps(LIST).encode()))


def test_a_host_or_origin_not_configured_is_refused_by_the_dns_rebinding_protection(gateway: ServerProcess) -> None:
    body = json.dumps(LIST).encode()
    assert _post(gateway, body, Host="attacker.example").status_code == 421
    assert _post(gateway, body, Origin="https://attacker.example").status_code == 403
    assert _listed(_post(gateway, body, Origin=f"http://127.0.0.1:{gateway.http_port}"))
    assert _post(gateway, body, **{"Content-Type": "text/plain"}).status_code == 415  # refused before the SDK


def test_a_user_key_cannot_read_the_upstream_servers_in_any_spelling(gateway: ServerProcess) -> None:
    for target in ("/api/v1/mcp/servers", "//api/v1/mcp/servers/"):
        user = raw_request(gateway.http_port, "GET", target, {"Authorization": f"Bearer {USER}"})
        admin = raw_request(gateway.http_port, "GET", target, {"Authorization": f"Bearer {ADMIN}"})
        assert (user.status, admin.status) == (403, 200)
        assert json.loads(admin.body) == {"servers": [], "count": 0}


def test_each_mcp_request_takes_a_token_from_the_callers_bucket() -> None:
    env = {"API_KEYS": API_KEYS, "RATE_LIMIT_ENABLED": "true", "RATE_LIMIT_RPS": "0.01", "RATE_LIMIT_BURST": "2"}
    with ServerProcess(env) as limited:
        statuses = [_post(limited, json.dumps(LIST).encode()).status_code for _ in range(3)]
        admin = _post(limited, json.dumps(LIST).encode(), ADMIN)
        refused = _post(limited, json.dumps(LIST).encode())
    assert statuses == [200, 200, 429]
    assert admin.status_code == 200  # another key, another bucket
    assert refused.json()["code"] == "rate_limited" and "retry-after" in refused.headers


@pytest.mark.parametrize("method", ["GET", "DELETE", "PUT"])
def test_methods_a_stateless_endpoint_does_not_serve_are_405_with_allow_at_once(
    gateway: ServerProcess, method: str
) -> None:
    """A GET once opened the SDK's server-initiated stream, which never ended: a connection held per request."""
    answer = httpx.request(method, gateway.base_url + "/mcp", headers=_mcp_headers(), timeout=10)
    assert answer.status_code == 405
    assert answer.headers["allow"] == "POST"
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["error"]["code"] == -32600


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/jsonx", "multipart/form-data"])
def test_a_post_that_is_not_json_is_a_415_in_json_rpc(gateway: ServerProcess, content_type: str | None) -> None:
    headers = _mcp_headers()
    if content_type is None:
        del headers["Content-Type"]
    else:
        headers["Content-Type"] = content_type
    answer = httpx.post(gateway.base_url + "/mcp", content=json.dumps(LIST), headers=headers, timeout=10)
    assert answer.status_code == 415
    assert answer.headers["content-type"] == "application/json"
    assert "application/json" in answer.json()["error"]["message"]
    assert _post(gateway, json.dumps(LIST).encode(), **{"Content-Type": "application/json; charset=utf-8"}).is_success

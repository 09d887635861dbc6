"""Issue 11 item 12: input a store cannot hold is refused (400) before the provider is paid, on every surface.

Against PostgreSQL, the strictest store: a NUL in a prompt, system prompt or
model, or an over-long or odd id, used to pass validation, reach the provider
and then fail the store (503). Every id the gateway accepts at creation must
also be readable and deletable through ``/api/v1/sessions/{id}``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import websockets
from grpclib.client import Channel
from grpclib.const import Status

from domain.errors import InvalidRequest
from domain.validation import MAX_ID_LENGTH, SESSION_ID_FIELD, USER_ID_FIELD, check_id
from entrypoints.grpc.generated import proto as pb
from tests.conftest import scratch_database
from tests.support.grpc_calls import call
from tests.support.server import ServerProcess

ACCEPTED_IDS = ["a", "A" * MAX_ID_LENGTH, "user@example.com", "tenant:42:chat", "a..b", "x-", "9_._-:@", "Ab.C"]
REFUSED_IDS = [".", "..", "-x", "_x", "a/b", "a%2Fb", "a b", "a?b", "a#b", "ñandú", "x" * (MAX_ID_LENGTH + 1), "a\tb"]


@pytest.fixture(scope="module")
def gateway(postgres_maintenance_url: str) -> Iterator[ServerProcess]:
    with (
        scratch_database(postgres_maintenance_url) as database,
        ServerProcess({"SESSION_BACKEND": "postgres", "POSTGRES_URL": database}, ws=True, grpc=True) as running,
    ):
        yield running


def session() -> dict[str, str]:
    return {"X-User-ID": "ana", "X-Session-ID": "s-" + uuid.uuid4().hex}


def provider_calls(server: ServerProcess) -> int:
    stats = httpx.get(server.base_url + "/api/v1/pool/stats").json()
    return int(stats["total_processed"]) + int(stats["total_failed"]) + int(stats["total_cancelled"])


def assert_refused(response: httpx.Response, field: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "invalid_request" and field in body["error"], body


@pytest.mark.parametrize("value", ACCEPTED_IDS)
def test_an_accepted_id_is_a_valid_id(value: str) -> None:
    assert check_id(value, "X-Session-ID") == value


@pytest.mark.parametrize("value", REFUSED_IDS)
def test_a_refused_id_names_its_field(value: str) -> None:
    with pytest.raises(InvalidRequest, match="X-Session-ID"):
        check_id(value, "X-Session-ID")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"prompt": "hi\u0000there"}, "prompt"),
        ({"prompt": "hi", "system": "be\u0000brief"}, "system"),
        ({"prompt": "hi", "systemPrompt": "be\u0000brief"}, "system"),
        ({"prompt": "hi", "provider": "mock", "model": "mock\u00001"}, "model"),
    ],
)
@pytest.mark.parametrize("route", ["/api/v1/generate", "/api/v1/generate/stream"])
def test_a_nul_in_the_text_is_refused_before_the_provider(
    gateway: ServerProcess, route: str, body: dict[str, str], field: str
) -> None:
    before = provider_calls(gateway)
    assert_refused(httpx.post(gateway.base_url + route, json=body, headers=session(), timeout=30), field)
    assert provider_calls(gateway) == before


@pytest.mark.parametrize(
    ("headers", "field"),
    [
        ({"X-User-ID": "ana", "X-Session-ID": "s" * 4096}, SESSION_ID_FIELD),
        ({"X-User-ID": "ana", "X-Session-ID": "a/b"}, SESSION_ID_FIELD),
        ({"X-User-ID": "u" * (MAX_ID_LENGTH + 1), "X-Session-ID": "s-1"}, USER_ID_FIELD),
        ({"X-User-ID": "org/ana", "X-Session-ID": "s-1"}, USER_ID_FIELD),
    ],
)
@pytest.mark.parametrize("route", ["/api/v1/generate", "/api/v1/generate/stream"])
def test_an_id_no_store_can_hold_is_refused_before_the_provider(
    gateway: ServerProcess, route: str, headers: dict[str, str], field: str
) -> None:
    before = provider_calls(gateway)
    assert_refused(httpx.post(gateway.base_url + route, json={"prompt": "hi"}, headers=headers, timeout=30), field)
    assert provider_calls(gateway) == before


@pytest.mark.parametrize("route", ["/api/v1/generate/batch", "/api/v1/generate/batch/stream"])
def test_a_batch_with_a_bad_session_header_is_refused_as_a_whole(gateway: ServerProcess, route: str) -> None:
    before = provider_calls(gateway)
    headers = {"X-User-ID": "ana", "X-Session-ID": "s" * 4096}
    response = httpx.post(gateway.base_url + route, json={"requests": [{"prompt": "a"}]}, headers=headers, timeout=30)
    assert_refused(response, SESSION_ID_FIELD)
    assert provider_calls(gateway) == before


def test_a_nul_in_a_batch_item_fails_that_item_only(gateway: ServerProcess) -> None:
    body = {"requests": [{"prompt": "fine"}, {"prompt": "bad\u0000"}]}
    response = httpx.post(gateway.base_url + "/api/v1/generate/batch", json=body, headers=session(), timeout=30)
    assert response.status_code == 200
    first, second = response.json()["responses"]
    assert "error" not in first and second["code"] == "invalid_request" and "prompt" in second["error"]


@pytest.mark.parametrize("value", [*ACCEPTED_IDS, *(i for i in REFUSED_IDS if i.isascii() and i.isprintable())])
def test_every_id_accepted_at_creation_can_be_read_and_deleted(gateway: ServerProcess, value: str) -> None:
    created = httpx.post(
        gateway.base_url + "/api/v1/generate",
        json={"prompt": "remember"},
        headers={"X-User-ID": "ana", "X-Session-ID": value},
        timeout=30,
    )
    if value not in ACCEPTED_IDS:
        assert_refused(created, SESSION_ID_FIELD)
        return
    assert created.status_code == 200, created.text
    # A client puts the id in the path percent-encoded, as any path segment.
    url, owner = f"{gateway.base_url}/api/v1/sessions/{quote(value, safe='')}", {"X-User-ID": "ana"}
    read = httpx.get(url, headers=owner)
    assert read.status_code == 200, read.text
    assert (read.json()["sessionId"], read.json()["messageCount"]) == (value, 2)
    assert httpx.delete(url, headers=owner).json() == {"deleted": True, "sessionId": value}
    assert httpx.get(url, headers=owner).status_code == 404


@pytest.mark.parametrize("path_id", ["a%20b", "x" * (MAX_ID_LENGTH + 1), "%C3%B1"])
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_reading_or_deleting_an_id_that_cannot_exist_is_a_400(
    gateway: ServerProcess, method: str, path_id: str
) -> None:
    response = httpx.request(method, f"{gateway.base_url}/api/v1/sessions/{path_id}", headers={"X-User-ID": "ana"})
    assert_refused(response, "session id")


async def first_frame(url: str, message: dict[str, Any]) -> dict[str, Any]:
    async with websockets.connect(url) as socket:
        await socket.send(json.dumps(message))
        frame: dict[str, Any] = json.loads(await socket.recv())
        return frame


@pytest.mark.parametrize(
    ("query", "message", "field"),
    [
        ("", {"prompt": "hi", "userId": "ana", "sessionId": "s" * 4096}, SESSION_ID_FIELD),
        ("?userId=ana%2Fb&sessionId=s-1", {"prompt": "hi"}, USER_ID_FIELD),
        ("", {"prompt": "hi\u0000", "userId": "ana", "sessionId": "s-1"}, "prompt"),
        ("", {"prompt": "hi", "system": "\u0000", "userId": "ana", "sessionId": "s-1"}, "system"),
    ],
)
async def test_websocket_fields_and_query_are_validated_before_the_provider(
    gateway: ServerProcess, query: str, message: dict[str, Any], field: str
) -> None:
    before = provider_calls(gateway)
    frame = await first_frame(f"ws://127.0.0.1:{gateway.ws_port}/ws{query}", message)
    assert frame["code"] == "invalid_request" and field in frame["error"], frame
    assert provider_calls(gateway) == before


@pytest.mark.parametrize(
    ("metadata", "request_", "field"),
    [
        ({"x-user-id": "ana", "x-session-id": "s" * 4096}, pb.GenerateRequest(prompt="hi"), SESSION_ID_FIELD),
        ({"x-user-id": "a b", "x-session-id": "s-1"}, pb.GenerateRequest(prompt="hi"), USER_ID_FIELD),
        ({"x-user-id": "ana", "x-session-id": "s-1"}, pb.GenerateRequest(prompt="hi\u0000"), "prompt"),
        (
            {"x-user-id": "ana", "x-session-id": "s-1"},
            pb.GenerateRequest(prompt="hi", system_prompt="\u0000"),
            "system",
        ),
    ],
)
@pytest.mark.parametrize("method", ["Generate", "GenerateStream"])
async def test_grpc_metadata_and_fields_are_validated_before_the_provider(
    gateway: ServerProcess, method: str, metadata: dict[str, str], request_: pb.GenerateRequest, field: str
) -> None:
    before = provider_calls(gateway)
    async with Channel("127.0.0.1", gateway.grpc_port) as channel:
        outcome = await call(channel, method, request_, metadata)
    assert outcome.error is not None and outcome.error.status is Status.INVALID_ARGUMENT
    assert field in (outcome.error.message or "") and outcome.trailing["x-error-code"] == "invalid_request"
    assert provider_calls(gateway) == before

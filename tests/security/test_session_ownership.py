"""Issue 11 item 2: a session belongs to the API key that created it, on every surface and every store.

Two user keys and one admin key. Key B sending key A's end-user id (``X-User-ID``,
``userId``, ``x-user-id``) must not read, continue or delete A's session, and
must get exactly the answer an unknown session id gets, so that nothing tells
whether the id is in use. The admin key reads and deletes any session. Without
keys the client-sent user id is trusted as before (foreign sessions are a 404
there too).
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
import websockets
from grpclib.client import Channel
from grpclib.const import Status

from domain.api_keys import hash_api_key
from entrypoints.grpc.generated import proto as pb
from tests.conftest import scratch_database
from tests.support.grpc_calls import Outcome, call
from tests.support.server import ServerProcess
from tests.support.sse import read_stream

KEY_A = "mcp_a_" + secrets.token_urlsafe(24)
KEY_B = "mcp_b_" + secrets.token_urlsafe(24)
ADMIN_KEY = "mcp_admin_" + secrets.token_urlsafe(24)
API_KEYS = ",".join(
    hash_api_key(key, role=role, salt=secrets.token_bytes(16))
    for key, role in ((KEY_A, "user"), (KEY_B, "user"), (ADMIN_KEY, "admin"))
)


@pytest.fixture(scope="module", params=["memory", "redis", "postgres", "postgres+redis"])
def keyed(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    """A keyed gateway over each session store: the owner must survive every one of them."""
    with ExitStack() as stack:
        env = {"API_KEYS": API_KEYS, **session_store(request, stack)}
        yield stack.enter_context(ServerProcess(env, ws=True, grpc=True))


def session_store(request: pytest.FixtureRequest, stack: ExitStack) -> dict[str, str]:
    if request.param == "memory":
        return {}
    if request.param == "redis":
        return {"SESSION_BACKEND": "redis", **redis_of(request)}
    database = stack.enter_context(scratch_database(request.getfixturevalue("postgres_maintenance_url")))
    env = {"SESSION_BACKEND": "postgres", "POSTGRES_URL": database}
    if request.param == "postgres+redis":
        env.update(USE_REDIS_CACHE="true", **redis_of(request))
    return env


def redis_of(request: pytest.FixtureRequest) -> dict[str, str]:
    prefix = f"{request.getfixturevalue('redis_run_prefix')}{uuid.uuid4().hex[:12]}:"
    return {"REDIS_URL": request.getfixturevalue("redis_url"), "REDIS_KEY_PREFIX": prefix}


@pytest.fixture(scope="module")
def keyless() -> Iterator[ServerProcess]:
    with ServerProcess() as running:
        yield running


def new_session() -> str:
    return "s-" + uuid.uuid4().hex


def headers(key: str | None, user: str | None = None, session: str | None = None) -> dict[str, str]:
    sent = {"Authorization": f"Bearer {key}"} if key else {}
    if user is not None:
        sent["X-User-ID"] = user
    if session is not None:
        sent["X-Session-ID"] = session
    return sent


def turn(server: ServerProcess, key: str | None, user: str, session: str, prompt: str) -> httpx.Response:
    return httpx.post(
        server.base_url + "/api/v1/generate", json={"prompt": prompt}, headers=headers(key, user, session), timeout=30
    )


def read(server: ServerProcess, key: str | None, session: str, user: str | None) -> httpx.Response:
    return httpx.get(f"{server.base_url}/api/v1/sessions/{session}", headers=headers(key, user), timeout=30)


def delete(server: ServerProcess, key: str | None, session: str, user: str | None) -> httpx.Response:
    return httpx.delete(f"{server.base_url}/api/v1/sessions/{session}", headers=headers(key, user), timeout=30)


def not_found(session: str) -> dict[str, str]:
    return {"error": f"session '{session}' not found", "code": "not_found"}


def answer_of(response: httpx.Response) -> tuple[int, dict[str, Any]]:
    """Status and body, less the request id (which differs on every request by design)."""
    body = response.json()
    assert body.pop("requestId") == response.headers["x-request-id"]
    return response.status_code, body


def header_names(response: httpx.Response) -> list[str]:
    return sorted(name for name in response.headers if name not in ("date", "content-length"))


def messages_of(server: ServerProcess, key: str, session: str, user: str) -> list[str]:
    response = read(server, key, session, user)
    assert response.status_code == 200, response.text
    return [m["content"] for m in response.json()["messages"]]


def test_another_key_reaches_nothing_of_a_session_even_as_the_same_end_user(keyed: ServerProcess) -> None:
    sid = new_session()
    assert turn(keyed, KEY_A, "alice", sid, "first").status_code == 200

    foreign_read, foreign_delete = read(keyed, KEY_B, sid, "alice"), delete(keyed, KEY_B, sid, "alice")
    foreign_turn = turn(keyed, KEY_B, "alice", sid, "let me in")
    foreign_stream = httpx.post(
        keyed.base_url + "/api/v1/generate/stream", json={"prompt": "x"}, headers=headers(KEY_B, "alice", sid)
    )
    for response in (foreign_read, foreign_delete, foreign_turn, foreign_stream):
        assert answer_of(response) == (404, not_found(sid))

    # Nothing was appended, and the owner still has it all.
    assert messages_of(keyed, KEY_A, sid, "alice") == ["first", "Mock answer (turn 1): first"]
    assert delete(keyed, KEY_A, sid, "alice").status_code == 200

    # Now the id is unknown: the answers are the very same.
    unknown_read, unknown_delete = read(keyed, KEY_B, sid, "alice"), delete(keyed, KEY_B, sid, "alice")
    assert answer_of(unknown_read) == answer_of(foreign_read)
    assert answer_of(unknown_delete) == answer_of(foreign_delete)
    assert header_names(unknown_read) == header_names(foreign_read)
    assert header_names(unknown_delete) == header_names(foreign_delete)


def test_another_key_cannot_append_through_a_batch(keyed: ServerProcess) -> None:
    sid = new_session()
    assert turn(keyed, KEY_A, "alice", sid, "mine").status_code == 200
    body = {"requests": [{"prompt": "one"}, {"prompt": "two"}]}
    batch = httpx.post(
        keyed.base_url + "/api/v1/generate/batch", json=body, headers=headers(KEY_B, "alice", sid), timeout=30
    )
    assert batch.status_code == 200
    assert [(r["code"], r["error"]) for r in batch.json()["responses"]] == [("not_found", not_found(sid)["error"])] * 2
    with httpx.stream(
        "POST", keyed.base_url + "/api/v1/generate/batch/stream", json=body, headers=headers(KEY_B, "alice", sid)
    ) as streamed:
        events = read_stream(streamed)
    assert [e.get("code") for e in events if not e.get("finished")] == ["not_found"] * 2
    assert messages_of(keyed, KEY_A, sid, "alice") == ["mine", "Mock answer (turn 1): mine"]


def test_within_one_key_only_the_same_end_user_reaches_the_session(keyed: ServerProcess) -> None:
    sid = new_session()
    assert turn(keyed, KEY_A, "alice", sid, "hers").status_code == 200
    assert answer_of(read(keyed, KEY_A, sid, "bob")) == (404, not_found(sid))
    assert answer_of(turn(keyed, KEY_A, "bob", sid, "mine now")) == (404, not_found(sid))
    assert turn(keyed, KEY_A, "alice", sid, "again").json()["content"] == "Mock answer (turn 2): again"


def test_the_admin_key_reads_and_deletes_any_session_but_does_not_continue_it(keyed: ServerProcess) -> None:
    sid = new_session()
    assert turn(keyed, KEY_A, "alice", sid, "private").status_code == 200

    for user in (None, "someone-else"):
        seen = read(keyed, ADMIN_KEY, sid, user)
        assert seen.status_code == 200, seen.text
        assert seen.json()["userId"] == "alice" and seen.json()["messageCount"] == 2
    assert answer_of(turn(keyed, ADMIN_KEY, "alice", sid, "as admin")) == (404, not_found(sid))

    assert delete(keyed, ADMIN_KEY, sid, None).json() == {"deleted": True, "sessionId": sid}
    assert answer_of(read(keyed, KEY_A, sid, "alice")) == (404, not_found(sid))


def test_a_user_key_must_name_its_end_user_to_read_a_session(keyed: ServerProcess) -> None:
    sid = new_session()
    assert turn(keyed, KEY_A, "alice", sid, "hi").status_code == 200
    refused = read(keyed, KEY_A, sid, None)
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_request"


async def test_websocket_fields_and_query_do_not_reach_another_keys_session(keyed: ServerProcess) -> None:
    sid = new_session()
    assert turn(keyed, KEY_A, "alice", sid, "over http").status_code == 200
    url = f"ws://127.0.0.1:{keyed.ws_port}/ws"

    async with websockets.connect(url, additional_headers=headers(KEY_B)) as socket:
        await socket.send(json.dumps({"id": 1, "prompt": "x", "userId": "alice", "sessionId": sid}))
        by_fields = json.loads(await socket.recv())
    async with websockets.connect(f"{url}?userId=alice&sessionId={sid}", additional_headers=headers(KEY_B)) as socket:
        await socket.send(json.dumps({"id": 2, "prompt": "x"}))
        by_query = json.loads(await socket.recv())
    for frame in (by_fields, by_query):
        assert {k: frame[k] for k in ("error", "code", "finished")} == {**not_found(sid), "finished": True}

    async with websockets.connect(f"{url}?userId=alice&sessionId={sid}", additional_headers=headers(KEY_A)) as socket:
        await socket.send(json.dumps({"prompt": "over ws"}))
        while not (frame := json.loads(await socket.recv()))["finished"]:
            pass
    assert "error" not in frame
    assert messages_of(keyed, KEY_A, sid, "alice")[2:] == ["over ws", "Mock answer (turn 2): over ws"]


async def test_grpc_metadata_does_not_reach_another_keys_session(keyed: ServerProcess) -> None:
    sid = new_session()
    assert turn(keyed, KEY_A, "alice", sid, "over http").status_code == 200
    intruder = {"x-api-key": KEY_B, "x-user-id": "alice", "x-session-id": sid}
    owner = {"x-api-key": KEY_A, "x-user-id": "alice", "x-session-id": sid}

    async with Channel("127.0.0.1", keyed.grpc_port) as channel:
        refused = [
            await call(channel, m, pb.GenerateRequest(prompt="x"), intruder) for m in ("Generate", "GenerateStream")
        ]
        continued = await call(channel, "Generate", pb.GenerateRequest(prompt="over grpc"), owner)

    for outcome in refused:
        assert_not_found(outcome, sid)
    assert continued.reply.content == "Mock answer (turn 2): over grpc"
    assert len(messages_of(keyed, KEY_A, sid, "alice")) == 4


def assert_not_found(outcome: Outcome, session: str) -> None:
    assert outcome.error is not None and outcome.error.status is Status.NOT_FOUND
    assert outcome.error.message == not_found(session)["error"]
    assert outcome.trailing["x-error-code"] == "not_found"


def test_without_keys_the_user_id_is_trusted_and_a_foreign_session_is_a_404_too(keyless: ServerProcess) -> None:
    sid = new_session()
    assert turn(keyless, None, "alice", sid, "one").status_code == 200
    assert turn(keyless, None, "alice", sid, "two").json()["content"] == "Mock answer (turn 2): two"

    foreign: list[httpx.Response] = [
        turn(keyless, None, "mallory", sid, "three"),
        read(keyless, None, sid, "mallory"),
        delete(keyless, None, sid, "mallory"),
    ]
    assert [answer_of(r) for r in foreign] == [(404, not_found(sid))] * 3
    assert read(keyless, None, sid, None).status_code == 400  # nobody is an admin without keys
    seen = read(keyless, None, sid, "alice").json()
    assert (seen["userId"], seen["messageCount"]) == ("alice", 4)
    assert delete(keyless, None, sid, "alice").status_code == 200
    assert answer_of(read(keyless, None, sid, "mallory")) == answer_of(foreign[1])

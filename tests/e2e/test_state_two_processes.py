"""Two gateway processes sharing one Redis and one PostgreSQL (docs/api.md#cache, #sessions).

Each module run gets a fresh, empty database (the gateways migrate it at
startup) and a Redis key prefix of its own.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator

import httpx
import pytest
import redis

from tests.conftest import scratch_database
from tests.support.server import ServerProcess
from tests.support.services import generate, running

TURN = re.compile(r"^Mock answer \(turn (\d+)\): (.*)$")


def shared_state_env(redis_url: str, prefix: str, postgres_url: str) -> dict[str, str]:
    return {
        "CACHE_BACKEND": "redis",
        "SESSION_BACKEND": "postgres",
        "USE_REDIS_CACHE": "true",
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": prefix,
        "POSTGRES_URL": postgres_url,
    }


@pytest.fixture(scope="module")
def shared_env(redis_url: str, redis_run_prefix: str, postgres_maintenance_url: str) -> Iterator[dict[str, str]]:
    with scratch_database(postgres_maintenance_url) as database:
        yield shared_state_env(redis_url, f"{redis_run_prefix}{uuid.uuid4().hex[:12]}:", database)


@pytest.fixture(scope="module")
def pair(shared_env: dict[str, str]) -> Iterator[tuple[ServerProcess, ...]]:
    with running(ServerProcess(shared_env), ServerProcess(shared_env)) as servers:
        yield servers


def session_of(server: ServerProcess, session: str, user: str) -> dict[str, object]:
    response = httpx.get(f"{server.base_url}/api/v1/sessions/{session}", headers={"X-User-ID": user}, timeout=30)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_a_session_started_on_one_process_continues_on_the_other(pair: tuple[ServerProcess, ...]) -> None:
    a, b = pair
    assert generate(a, "first question", user="alice", session="s-shared").json()["content"] == (
        "Mock answer (turn 1): first question"
    )
    # B's provider received A's turn as history.
    assert generate(b, "second question", user="alice", session="s-shared").json()["content"] == (
        "Mock answer (turn 2): second question"
    )
    assert session_of(a, "s-shared", "alice") == session_of(b, "s-shared", "alice")
    assert session_of(a, "s-shared", "alice")["messageCount"] == 4
    assert generate(b, "not yours", user="mallory", session="s-shared").status_code == 404


def test_an_answer_stored_by_one_process_is_a_hit_on_the_other(pair: tuple[ServerProcess, ...]) -> None:
    a, b = pair
    fresh = generate(a, "what is shared?").json()
    hit = generate(b, "what is shared?").json()
    assert fresh["cached"] is False and hit["cached"] is True
    assert hit["content"] == fresh["content"]
    assert hit["metadata"]["cache_key"] == fresh["metadata"]["cache_key"]


def ask_from(source: str, server: ServerProcess, prompt: str, *, session: str) -> None:
    """A turn of user hank's ``session`` sent from the loopback address ``source`` (a reporter of its own)."""
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=30) as client:
        headers = {"X-User-ID": "hank", "X-Session-ID": session}
        response = client.post(server.base_url + "/api/v1/generate", json={"prompt": prompt}, headers=headers)
    assert response.status_code == 200, response.text


def test_complaints_heard_by_either_process_retire_the_answer_on_both(pair: tuple[ServerProcess, ...]) -> None:
    a, b = pair
    key = generate(a, "sort this list", user="hank", session="s-bad").json()["metadata"]["cache_key"]
    assert generate(b, "sort this list").json()["cached"] is True

    # A shared answer retires on complaints from several reporters (without keys, client addresses), heard by
    # either process: the first reporter complains on a, the others answer and complain on b and a.
    generate(a, "that code has a bug, no funciona", user="hank", session="s-bad")
    for number, (server, source) in enumerate(((b, "127.0.0.2"), (a, "127.0.0.3")), start=1):
        ask_from(source, server, "sort this list", session=f"s-bad-{number}")
        ask_from(source, server, "that code has a bug, no funciona", session=f"s-bad-{number}")
    assert [generate(b, "sort this list").json()["cached"] for _ in range(2)] == [False, False]

    assert httpx.delete(f"{b.base_url}/api/v1/cache/blacklist/{key}", timeout=30).json()["cleared"] is True
    assert generate(a, "sort this list").json()["cached"] is False
    assert generate(b, "sort this list").json()["cached"] is True


def test_concurrent_turns_sent_to_both_processes_lose_nothing_and_keep_their_order(
    pair: tuple[ServerProcess, ...],
) -> None:
    a, b = pair
    prompts = [f"p{i}" for i in range(12)]

    async def send_all() -> list[httpx.Response]:
        headers = {"X-User-ID": "carol", "X-Session-ID": "s-race"}
        async with httpx.AsyncClient(timeout=60) as client:
            return await asyncio.gather(
                *(
                    client.post(f"{(a, b)[i % 2].base_url}/api/v1/generate", json={"prompt": p}, headers=headers)
                    for i, p in enumerate(prompts)
                )
            )

    responses = asyncio.run(send_all())
    assert [r.status_code for r in responses] == [200] * len(prompts)

    messages = session_of(b, "s-race", "carol")["messages"]
    assert isinstance(messages, list) and len(messages) == 2 * len(prompts)
    asked = [m["content"] for m in messages[0::2]]
    answered = [TURN.match(m["content"]) for m in messages[1::2]]
    assert sorted(asked) == sorted(prompts)
    # Each stored answer saw exactly the turns stored before it, and answers the prompt stored with it.
    assert [(int(m[1]), m[2]) for m in answered if m] == [(n, p) for n, p in enumerate(asked, start=1)]
    assert session_of(a, "s-race", "carol") == session_of(b, "s-race", "carol")


def test_a_restarted_process_keeps_its_sessions_and_the_cache(
    redis_url: str, redis_prefix: str, postgres_maintenance_url: str
) -> None:
    with scratch_database(postgres_maintenance_url) as database:
        env = shared_state_env(redis_url, redis_prefix, database)
        with running(ServerProcess(env)) as (before,):
            generate(before, "remember this", user="dave", session="s-restart")
            generate(before, "and this", user="dave", session="s-restart")
            stored = generate(before, "cache this").json()
            kept = session_of(before, "s-restart", "dave")

        # Without its Redis copy, the session must come back from PostgreSQL.
        copy = f"{redis_prefix}session:{{s-restart}}"
        with redis.Redis.from_url(redis_url) as client:
            assert client.delete(copy, f"{copy}:messages") == 2
        with running(ServerProcess(env)) as (after,):
            assert session_of(after, "s-restart", "dave") == kept
            assert generate(after, "one more", user="dave", session="s-restart").json()["content"] == (
                "Mock answer (turn 3): one more"
            )
            hit = generate(after, "cache this").json()
            assert hit["cached"] is True and hit["metadata"]["cache_key"] == stored["metadata"]["cache_key"]

"""The feedback loop through the real server (docs/api.md#feedback), on the embedded stores and Redis + PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import scratch_database
from tests.support.server import ServerProcess
from tests.support.services import generate, running
from tests.support.sse import read_stream

COMPLAINT = "that code has a bug, no funciona"
# Without API keys a reporter is a client address; loopback gives a test several (issue 11 item 13).
REPORTERS = ("127.0.0.1", "127.0.0.2", "127.0.0.3")


@pytest.fixture(scope="module", params=["memory", "redis+postgres"])
def gateway(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    if request.param == "memory":
        with running(ServerProcess()) as (server,):
            yield server
        return
    redis_url: str = request.getfixturevalue("redis_url")
    prefix = f"{request.getfixturevalue('redis_run_prefix')}{uuid.uuid4().hex[:12]}:"
    with scratch_database(request.getfixturevalue("postgres_maintenance_url")) as database:
        env = {
            "CACHE_BACKEND": "redis",
            "SESSION_BACKEND": "postgres",
            "USE_REDIS_CACHE": "true",
            "REDIS_URL": redis_url,
            "REDIS_KEY_PREFIX": prefix,
            "POSTGRES_URL": database,
        }
        with running(ServerProcess(env)) as (server,):
            yield server


def answer(
    server: ServerProcess, prompt: str, *, user: str = "", session: str = "", source: str = ""
) -> dict[str, Any]:
    if source:
        headers = {"X-User-ID": user, "X-Session-ID": session} if session else {}
        with httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=30) as client:
            response = client.post(server.base_url + "/api/v1/generate", json={"prompt": prompt}, headers=headers)
    else:
        response = generate(server, prompt, user=user, session=session)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def quality_of(server: ServerProcess, key: str) -> dict[str, Any] | None:
    stats = httpx.get(server.base_url + "/api/v1/cache/stats", params={"limit": 100}, timeout=30).json()
    return next((q for q in stats["problematic_caches"] if q["cache_key"] == key), None)


def streamed_final(server: ServerProcess, prompt: str) -> dict[str, Any]:
    with httpx.stream("POST", server.base_url + "/api/v1/generate/stream", json={"prompt": prompt}, timeout=30) as r:
        assert r.status_code == 200
        final: dict[str, Any] = read_stream(r)[-1]
    assert final["finished"] is True
    return final


def test_complaints_from_three_reporters_retire_the_previous_answer_until_an_admin_clears_it(
    gateway: ServerProcess,
) -> None:
    prompt = f"write a sort function {uuid.uuid4().hex[:6]}"
    first = answer(gateway, prompt, user="alice", session="s-complain-0", source=REPORTERS[0])
    key = first["metadata"]["cache_key"]
    assert first["cached"] is False
    assert answer(gateway, prompt)["cached"] is True  # the same request, without a session, shares the key

    for n, source in enumerate(REPORTERS):
        if n:
            assert answer(gateway, prompt, user="alice", session=f"s-complain-{n}", source=source)["cached"] is True
        answer(gateway, COMPLAINT, user="alice", session=f"s-complain-{n}", source=source)
        quality = quality_of(gateway, key)
        assert quality is not None and quality["problem_reports"] == n + 1
        assert quality["is_blacklisted"] is (n == len(REPORTERS) - 1)

    # Blacklisted: answered by the provider again, and neither stored nor read, streams included.
    for _ in range(2):
        again = answer(gateway, prompt)
        assert again["cached"] is False and again["metadata"]["cache_key"] == key
    assert streamed_final(gateway, prompt)["cached"] is False
    assert answer(gateway, prompt)["cached"] is False

    cleared = httpx.delete(f"{gateway.base_url}/api/v1/cache/blacklist/{key}", timeout=30)
    assert cleared.status_code == 200 and cleared.json() == {"cache_key": key, "cleared": True}
    lifted = quality_of(gateway, key)
    assert lifted is not None and lifted["is_blacklisted"] is False
    assert answer(gateway, prompt)["cached"] is False
    assert answer(gateway, prompt)["cached"] is True


@pytest.mark.parametrize("follow_up", ["Can you change the button color?", "Add a prefix to each line"])
def test_an_ordinary_follow_up_is_not_a_complaint(gateway: ServerProcess, follow_up: str) -> None:
    session = f"s-{uuid.uuid4().hex[:8]}"
    prompt = f"draw a button {session}"
    key = answer(gateway, prompt, user="bob", session=session)["metadata"]["cache_key"]

    assert answer(gateway, follow_up, user="bob", session=session)["content"].startswith("Mock answer (turn 2)")
    assert quality_of(gateway, key) is None
    assert answer(gateway, prompt)["cached"] is True


def test_an_admin_invalidation_blacklists_a_key_at_once(gateway: ServerProcess) -> None:
    prompt = f"an answer the admin dislikes {uuid.uuid4().hex[:6]}"
    key = answer(gateway, prompt)["metadata"]["cache_key"]
    assert answer(gateway, prompt)["cached"] is True

    invalidated = httpx.post(
        gateway.base_url + "/api/v1/cache/invalidate", json={"cache_key": key, "reason": "wrong"}, timeout=30
    )
    assert invalidated.status_code == 200 and invalidated.json()["blacklisted"] is True
    assert answer(gateway, prompt)["cached"] is False
    assert answer(gateway, prompt)["cached"] is False

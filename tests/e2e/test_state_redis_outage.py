"""Redis that dies under a running gateway (docs/api.md#cache): misses meanwhile, hits again when it returns."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import scratch_database
from tests.support.server import ServerProcess
from tests.support.services import RedisServer, eventually, generate, running, wait_ready


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.kill()


@pytest.fixture
def gateway(redis_server: RedisServer) -> Iterator[ServerProcess]:
    env = {"CACHE_BACKEND": "redis", "REDIS_URL": redis_server.url, "REDIS_KEY_PREFIX": "outage:"}
    with ServerProcess(env) as server:
        wait_ready(server)
        yield server


def readiness(server: ServerProcess) -> int:
    return httpx.get(server.base_url + "/readyz", timeout=5).status_code


def test_a_dead_redis_turns_the_cache_into_misses_and_hits_return_with_it(
    redis_server: RedisServer, gateway: ServerProcess
) -> None:
    first = generate(gateway, "capital of France?")
    assert first.status_code == 200 and first.json()["cached"] is False
    assert generate(gateway, "capital of France?").json()["cached"] is True

    redis_server.kill()
    for attempt in range(3):
        fresh = generate(gateway, "capital of France?")
        assert fresh.status_code == 200, fresh.text
        assert fresh.json()["cached"] is False
        assert fresh.json()["content"] == "Mock answer (turn 1): capital of France?"
        assert generate(gateway, f"something new {attempt}").status_code == 200
    assert readiness(gateway) == 503

    # Same port, empty memory: the gateway reconnects by itself, stores again and hits again.
    redis_server.start()
    eventually(lambda: readiness(gateway) == 200, what="readiness after Redis returned")
    assert generate(gateway, "capital of France?").json()["cached"] is False
    again = generate(gateway, "capital of France?")
    assert again.status_code == 200 and again.json()["cached"] is True
    assert again.json()["content"] == first.json()["content"]


def test_a_stream_still_answers_while_redis_is_gone(redis_server: RedisServer, gateway: ServerProcess) -> None:
    redis_server.kill()
    with httpx.stream(
        "POST", gateway.base_url + "/api/v1/generate/stream", json={"prompt": "stream it"}, timeout=30
    ) as response:
        assert response.status_code == 200
        body = response.read().decode()
    assert '"finished":true' in body.replace(" ", "")
    assert '"error"' not in body


def test_sessions_in_postgresql_lose_nothing_while_their_redis_copy_is_gone(
    redis_server: RedisServer, postgres_maintenance_url: str
) -> None:
    with scratch_database(postgres_maintenance_url) as database:
        env = {
            "CACHE_BACKEND": "redis",
            "SESSION_BACKEND": "postgres",
            "USE_REDIS_CACHE": "true",
            "REDIS_URL": redis_server.url,
            "POSTGRES_URL": database,
        }
        with running(ServerProcess(env)) as (server,):
            assert generate(server, "one", user="gina", session="s-copy").status_code == 200

            redis_server.kill()
            during = generate(server, "two", user="gina", session="s-copy")
            assert during.status_code == 200, during.text
            assert during.json()["content"] == "Mock answer (turn 2): two"

            redis_server.start()  # empty: the copy comes back from PostgreSQL
            eventually(lambda: readiness(server) == 200, what="readiness after Redis returned")
            after = generate(server, "three", user="gina", session="s-copy").json()
            assert after["content"] == "Mock answer (turn 3): three"
            messages = httpx.get(
                server.base_url + "/api/v1/sessions/s-copy", headers={"X-User-ID": "gina"}, timeout=30
            ).json()["messages"]
            assert [m["content"] for m in messages[0::2]] == ["one", "two", "three"]

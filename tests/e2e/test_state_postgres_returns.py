"""PostgreSQL that goes away and comes back under a running gateway (docs/api.md#sessions).

A throwaway cluster of the test's own, stopped as a crash would stop it and
started again on the same port: the gateway is never restarted.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.server import ServerProcess
from tests.support.services import PostgresCluster, eventually, generate, running


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster()
    yield cluster
    cluster.remove()


def sessions_in(cluster: PostgresCluster) -> dict[str, str]:
    return {"SESSION_BACKEND": "postgres", "POSTGRES_URL": cluster.url}


def readiness(server: ServerProcess) -> int:
    return httpx.get(server.base_url + "/readyz", timeout=30).status_code


def test_sessions_fail_clearly_while_postgresql_is_down_and_resume_when_it_returns(cluster: PostgresCluster) -> None:
    cluster.start()
    with running(ServerProcess(sessions_in(cluster))) as (server,):
        assert generate(server, "before", user="erin", session="s-crash").status_code == 200

        cluster.stop()
        down = generate(server, "during", user="erin", session="s-crash")
        assert down.status_code == 503 and down.json()["code"] == "storage_unavailable"
        assert generate(server, "stateless meanwhile").status_code == 200
        assert readiness(server) == 503

        cluster.start()
        eventually(lambda: readiness(server) == 200, what="readiness after PostgreSQL returned")
        after = generate(server, "after", user="erin", session="s-crash")
        assert after.status_code == 200, after.text
        assert after.json()["content"] == "Mock answer (turn 2): after"


def test_a_gateway_started_before_postgresql_migrates_it_when_it_answers(cluster: PostgresCluster) -> None:
    with ServerProcess(sessions_in(cluster)) as server:
        assert readiness(server) == 503

        cluster.start()
        # Ready means usable: once /readyz says so, the tables are there.
        eventually(lambda: readiness(server) == 200, timeout=30, what="readiness once PostgreSQL answers")
        first = generate(server, "on time", user="frank", session="s-late")
        assert first.status_code == 200, first.text
        assert first.json()["content"] == "Mock answer (turn 1): on time"

"""PostgreSQL that is not there (docs/api.md#sessions): sessions answer 503 clearly, stateless requests still work."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.server import ServerProcess, free_port
from tests.support.services import generate


@pytest.fixture(scope="module")
def gateway() -> Iterator[ServerProcess]:
    """Sessions in a PostgreSQL on a port where nothing listens."""
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres?connect_timeout=1"
    with ServerProcess({"SESSION_BACKEND": "postgres", "POSTGRES_URL": nowhere}) as server:
        yield server


def test_a_session_turn_is_refused_with_storage_unavailable(gateway: ServerProcess) -> None:
    response = generate(gateway, "remember me", user="alice", session="s-down")
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "storage_unavailable"
    assert "PostgreSQL" in body["error"] and "session" in body["error"]


def test_reading_a_session_is_refused_with_storage_unavailable(gateway: ServerProcess) -> None:
    response = httpx.get(gateway.base_url + "/api/v1/sessions/s-down", headers={"X-User-ID": "alice"}, timeout=30)
    assert response.status_code == 503 and response.json()["code"] == "storage_unavailable"


def test_a_stateless_request_still_answers(gateway: ServerProcess) -> None:
    response = generate(gateway, "no session here")
    assert response.status_code == 200, response.text
    assert response.json()["content"] == "Mock answer (turn 1): no session here"


def test_readiness_reports_the_missing_session_store(gateway: ServerProcess) -> None:
    response = httpx.get(gateway.base_url + "/readyz", timeout=30)
    assert response.status_code == 503
    assert response.json() == {"ready": False, "cache": True, "sessions": False}

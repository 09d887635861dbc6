"""Conversational sessions through the real server (docs/api.md#sessions)."""

from __future__ import annotations

import httpx

from tests.support.server import ServerProcess


def turn(server: ServerProcess, prompt: str, user: str, session: str) -> httpx.Response:
    return httpx.post(
        server.base_url + "/api/v1/generate",
        json={"prompt": prompt},
        headers={"X-User-ID": user, "X-Session-ID": session},
        timeout=30,
    )


def test_three_turns_send_the_history_to_the_provider_and_are_kept(server: ServerProcess) -> None:
    answers = [turn(server, f"question {n}", "alice", "s-three").json() for n in (1, 2, 3)]
    # The mock counts the user messages it received: the history reached it as real messages.
    assert [a["content"] for a in answers] == [f"Mock answer (turn {n}): question {n}" for n in (1, 2, 3)]
    assert answers[2]["promptTokens"] > answers[0]["promptTokens"]
    assert all(a["sessionId"] == "s-three" for a in answers)

    session = httpx.get(server.base_url + "/api/v1/sessions/s-three", headers={"X-User-ID": "alice"}).json()
    assert [m["role"] for m in session["messages"]] == ["user", "assistant"] * 3
    assert session["messages"][4]["content"] == "question 3"


def test_another_users_session_answers_as_if_it_did_not_exist(server: ServerProcess) -> None:
    assert turn(server, "mine", "alice", "s-owned").status_code == 200
    assert turn(server, "not yours", "mallory", "s-owned").status_code == 404
    peek = httpx.get(server.base_url + "/api/v1/sessions/s-owned", headers={"X-User-ID": "mallory"})
    assert peek.status_code == 404 and peek.json()["code"] == "not_found"


def test_a_deleted_session_is_gone(server: ServerProcess) -> None:
    turn(server, "remember this", "bob", "s-delete")
    headers = {"X-User-ID": "bob"}
    assert httpx.delete(server.base_url + "/api/v1/sessions/s-delete", headers=headers).status_code == 200
    assert httpx.get(server.base_url + "/api/v1/sessions/s-delete", headers=headers).status_code == 404
    assert turn(server, "again", "bob", "s-delete").json()["content"] == "Mock answer (turn 1): again"


def test_concurrent_turns_on_one_session_lose_nothing(server: ServerProcess) -> None:
    import asyncio

    async def run() -> None:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            headers = {"X-User-ID": "carol", "X-Session-ID": "s-busy"}
            await asyncio.gather(
                *(client.post("/api/v1/generate", json={"prompt": f"p{i}"}, headers=headers) for i in range(8))
            )

    asyncio.run(run())
    session = httpx.get(server.base_url + "/api/v1/sessions/s-busy", headers={"X-User-ID": "carol"}).json()
    assert session["messageCount"] == 16
    assert sorted(m["content"] for m in session["messages"] if m["role"] == "user") == [f"p{i}" for i in range(8)]
    turns = [m["content"] for m in session["messages"] if m["role"] == "assistant"]
    assert sorted(int(t.split("(turn ")[1].split(")")[0]) for t in turns) == list(range(1, 9))

"""Issue 11, item 13, end to end: a shared cached answer is retired by several reporters or by a trusted one.

Before the fix one anonymous follow-up, even a new question ("thanks! now how do
I raise an exception in python?"), deleted and blacklisted the cached answer for
everyone. Now a new question is no complaint, a reporter is the API key (else
the client address) and counts once per answer, and retiring takes
FEEDBACK_MIN_REPORTERS (3) reporters, or one admin key or key marked +feedback.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest

from domain.api_keys import hash_api_key, parse_key_entries
from tests.support.server import ServerProcess

COMPLAINT = "that code has a bug, no funciona"
NEW_QUESTION = "thanks! now how do I raise an exception in python?"

USER_KEYS = ["mcp_user_" + secrets.token_urlsafe(24) for _ in range(3)]
QA_KEY = "mcp_qa_" + secrets.token_urlsafe(24)
ADMIN_KEY = "mcp_admin_" + secrets.token_urlsafe(24)
ENTRIES = {
    **{key: hash_api_key(key, role="user", salt=secrets.token_bytes(16)) for key in USER_KEYS},
    QA_KEY: hash_api_key(QA_KEY, role="user", salt=secrets.token_bytes(16)).replace("user:", "user+feedback:", 1),
    ADMIN_KEY: hash_api_key(ADMIN_KEY, role="admin", salt=secrets.token_bytes(16)),
}


def reporter(key: str) -> str:
    (entry,) = parse_key_entries(ENTRIES[key])
    return f"key:{entry.key_id}"


@pytest.fixture(scope="module")
def keyed() -> Iterator[ServerProcess]:
    with ServerProcess({"API_KEYS": ",".join(ENTRIES.values())}) as server:
        yield server


@pytest.fixture(scope="module")
def open_gateway() -> Iterator[ServerProcess]:
    with ServerProcess() as server:
        yield server


def ask(server: ServerProcess, prompt: str, *, key: str = "", session: str = "") -> dict[str, Any]:
    headers = {"X-API-Key": key} if key else {}
    if session:
        headers |= {"X-User-ID": "end-user", "X-Session-ID": session}
    response = httpx.post(server.base_url + "/api/v1/generate", json={"prompt": prompt}, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def cached_answer(server: ServerProcess, *, key: str = "") -> tuple[str, str]:
    """A fresh prompt answered once, so that its answer is in the shared cache: (prompt, cache key)."""
    prompt = f"write a sort function {uuid.uuid4().hex[:8]}"
    first = ask(server, prompt, key=key)
    assert first["cached"] is False
    return prompt, first["metadata"]["cache_key"]


def follow_up(server: ServerProcess, prompt: str, text: str, *, key: str = "") -> None:
    """In a new session: the cached prompt, then ``text`` about its answer."""
    session = f"s-{uuid.uuid4().hex[:12]}"
    assert ask(server, prompt, key=key, session=session)["cached"] is True
    ask(server, text, key=key, session=session)


def quality_of(server: ServerProcess, cache_key: str) -> dict[str, Any] | None:
    response = httpx.get(
        server.base_url + "/api/v1/cache/stats", params={"limit": 100}, headers={"X-API-Key": ADMIN_KEY}, timeout=30
    )
    assert response.status_code == 200, response.text
    return next((q for q in response.json()["problematic_caches"] if q["cache_key"] == cache_key), None)


def still_cached(server: ServerProcess, prompt: str, *, key: str = "") -> bool:
    return bool(ask(server, prompt, key=key)["cached"])


def retirements(server: ServerProcess, cache_key: str) -> list[dict[str, Any]]:
    lines = []
    for raw in server.logs().splitlines():
        try:
            line = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            continue
        if isinstance(line, dict) and line.get("message") == "cached answer retired" and line["cache_key"] == cache_key:
            lines.append(line)
    return lines


def test_a_single_anonymous_follow_up_question_does_not_retire(open_gateway: ServerProcess) -> None:
    prompt, cache_key = cached_answer(open_gateway)

    follow_up(open_gateway, prompt, NEW_QUESTION)

    assert still_cached(open_gateway, prompt)
    assert quality_of(open_gateway, cache_key) is None  # not even recorded: a new question is no complaint


def test_a_single_anonymous_complaint_counts_but_does_not_retire(open_gateway: ServerProcess) -> None:
    prompt, cache_key = cached_answer(open_gateway)

    follow_up(open_gateway, prompt, COMPLAINT)

    quality = quality_of(open_gateway, cache_key)
    assert quality is not None and quality["problem_reports"] == 1 and quality["is_blacklisted"] is False
    assert still_cached(open_gateway, prompt)


def test_one_reporter_reporting_five_times_counts_once(keyed: ServerProcess) -> None:
    key = USER_KEYS[0]
    prompt, cache_key = cached_answer(keyed, key=key)

    for _ in range(5):
        follow_up(keyed, prompt, COMPLAINT, key=key)

    quality = quality_of(keyed, cache_key)
    assert quality is not None and quality["problem_reports"] == 1 and quality["is_blacklisted"] is False
    assert still_cached(keyed, prompt, key=key)


def test_three_distinct_keys_retire_and_the_log_line_names_them(keyed: ServerProcess) -> None:
    prompt, cache_key = cached_answer(keyed, key=USER_KEYS[0])

    for key in USER_KEYS[:2]:
        follow_up(keyed, prompt, COMPLAINT, key=key)
    assert still_cached(keyed, prompt, key=USER_KEYS[0])
    follow_up(keyed, prompt, COMPLAINT, key=USER_KEYS[2])

    quality = quality_of(keyed, cache_key)
    assert quality is not None and quality["problem_reports"] == 3 and quality["is_blacklisted"] is True
    assert not still_cached(keyed, prompt, key=USER_KEYS[0])
    (line,) = retirements(keyed, cache_key)
    assert line["rule"] == "distinct_reporters"
    assert line["reporters"] == [reporter(key) for key in USER_KEYS]
    assert line["level"] == "warning"


@pytest.mark.parametrize("trusted", [ADMIN_KEY, QA_KEY], ids=["admin-key", "feedback-key"])
def test_a_trusted_key_retires_alone(keyed: ServerProcess, trusted: str) -> None:
    prompt, cache_key = cached_answer(keyed, key=trusted)

    follow_up(keyed, prompt, COMPLAINT, key=trusted)

    quality = quality_of(keyed, cache_key)
    assert quality is not None and quality["is_blacklisted"] is True
    assert not still_cached(keyed, prompt, key=trusted)
    (line,) = retirements(keyed, cache_key)
    assert (line["rule"], line["reporters"]) == ("trusted_reporter", [reporter(trusted)])


def test_a_trusted_key_asking_a_new_question_retires_nothing(keyed: ServerProcess) -> None:
    prompt, cache_key = cached_answer(keyed, key=ADMIN_KEY)

    follow_up(keyed, prompt, NEW_QUESTION, key=ADMIN_KEY)

    assert still_cached(keyed, prompt, key=ADMIN_KEY)
    assert retirements(keyed, cache_key) == []

"""Issue 11 item 8: a batch pays the rate limit per item and cannot take the whole worker pool.

Before: a batch took one rate-limit token whatever its size (three 1000-item
batches passed a burst of 3), and one batch ran up to ``POOL_MAX_CONCURRENT``
items at once, starving interactive calls. Now the guard takes one token and
the batch route the other n-1 (429 + Retry-After when they are not there), and
one batch holds at most ``BATCH_MAX_CONCURRENCY`` pool slots (default a
quarter of the pool).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator

import httpx
import pytest

from domain.api_keys import hash_api_key
from entrypoints.config import load_settings
from tests.support.server import ServerProcess

KEYS = {name: "mcp_" + name + "_" + secrets.token_urlsafe(24) for name in ("big", "small", "stream")}


@pytest.fixture(scope="module")
def limited() -> Iterator[ServerProcess]:
    entries = ",".join(hash_api_key(key, role="user", salt=secrets.token_bytes(16)) for key in KEYS.values())
    env = {"RATE_LIMIT_ENABLED": "true", "RATE_LIMIT_RPS": "0.01", "RATE_LIMIT_BURST": "3", "API_KEYS": entries}
    with ServerProcess({**env, "ACCESS_LOG": "false"}) as running:
        yield running


def batch(count: int, tag: str) -> dict[str, object]:
    return {"requests": [{"prompt": f"{tag} item {n}"} for n in range(count)]}


def test_three_thousand_item_batches_against_a_burst_of_three_are_refused(limited: ServerProcess) -> None:
    headers = {"X-API-Key": KEYS["big"]}
    answers = [
        httpx.post(limited.base_url + "/api/v1/generate/batch", json=batch(1000, "big"), headers=headers, timeout=30)
        for _ in range(3)
    ]
    assert [answer.status_code for answer in answers] == [429, 429, 429]
    assert answers[0].json()["code"] == "rate_limited" and "burst of 3" in answers[0].json()["error"]
    assert int(answers[0].headers["retry-after"]) >= 1


def test_a_batch_costs_one_token_per_item(limited: ServerProcess) -> None:
    headers = {"X-API-Key": KEYS["small"]}
    url = limited.base_url + "/api/v1/generate/batch"
    first = httpx.post(url, json=batch(2, "small"), headers=headers, timeout=30)
    assert first.status_code == 200 and first.json()["count"] == 2
    second = httpx.post(url, json=batch(2, "small"), headers=headers, timeout=30)  # 1 token left, 2 needed
    assert second.status_code == 429 and second.json()["code"] == "rate_limited"


def test_a_batch_stream_costs_one_token_per_item_too(limited: ServerProcess) -> None:
    headers = {"X-API-Key": KEYS["stream"]}
    answer = httpx.post(
        limited.base_url + "/api/v1/generate/batch/stream", json=batch(4, "stream"), headers=headers, timeout=30
    )
    assert answer.status_code == 429 and answer.json()["code"] == "rate_limited"


# --- pool slots held by one batch --------------------------------------------------------------
POOL = 8  # default BATCH_MAX_CONCURRENCY: a quarter of it, 2


@pytest.fixture(scope="module")
def slow_pool() -> Iterator[ServerProcess]:
    env = {"POOL_MAX_CONCURRENT": str(POOL), "MOCK_LATENCY_MS": "150", "ACCESS_LOG": "false"}
    with ServerProcess(env) as running:
        yield running


async def watch_pool(http: httpx.AsyncClient, until: asyncio.Event) -> int:
    most = 0
    while not until.is_set():
        most = max(most, (await http.get("/api/v1/pool/stats")).json()["current_concurrent"])
        await asyncio.sleep(0.01)
    return most


async def test_one_batch_holds_at_most_a_quarter_of_the_pool_and_interactive_calls_get_through(
    slow_pool: ServerProcess,
) -> None:
    async with httpx.AsyncClient(base_url=slow_pool.base_url, timeout=60) as http:
        done = asyncio.Event()
        watcher = asyncio.create_task(watch_pool(http, done))
        running = asyncio.create_task(http.post("/api/v1/generate/batch", json=batch(16, f"cap {time.time()}")))
        await asyncio.sleep(0.2)
        interactive = await http.post("/api/v1/generate", json={"prompt": f"interactive {time.time()}"})
        answer = await running
        done.set()
        most = await watcher
    assert answer.status_code == 200 and answer.json()["succeeded"] == 16
    assert interactive.status_code == 200
    assert 1 <= most <= POOL // 4 + 1  # the batch's two slots, plus the interactive call's own


def test_batch_max_concurrency_defaults_to_a_quarter_of_the_pool_and_never_exceeds_it() -> None:
    assert load_settings(environ={"POOL_MAX_CONCURRENT": "8"}, dotenv=None).batch_fan_out == 2
    assert load_settings(environ={"POOL_MAX_CONCURRENT": "2"}, dotenv=None).batch_fan_out == 1
    explicit = {"POOL_MAX_CONCURRENT": "8", "BATCH_MAX_CONCURRENCY": "5"}
    assert load_settings(environ=explicit, dotenv=None).batch_fan_out == 5
    too_many = {"POOL_MAX_CONCURRENT": "8", "BATCH_MAX_CONCURRENCY": "50"}
    assert load_settings(environ=too_many, dotenv=None).batch_fan_out == 8

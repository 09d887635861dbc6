"""Two gateway processes sharing one Redis share one rate limit (docs/api.md#rate-limits)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import httpx

from tests.support.server import ServerProcess

RATE = 20.0
BURST = 10
SECONDS = 3.0


async def hammer(base_url: str, until: float, outcomes: Counter[tuple[str, int]]) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        while time.monotonic() < until:
            response = await http.get("/api/v1/models", headers={"X-User-ID": "one-caller"})
            outcomes[(base_url, response.status_code)] += 1


async def test_two_replicas_together_admit_no_more_than_the_configured_rate(redis_url: str, redis_prefix: str) -> None:
    env = {
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": redis_prefix,
        "RATE_LIMIT_ENABLED": "true",
        "RATE_LIMIT_RPS": str(RATE),
        "RATE_LIMIT_BURST": str(BURST),
        "ACCESS_LOG": "false",
    }
    with ServerProcess(env) as first, ServerProcess(env) as second:
        outcomes: Counter[tuple[str, int]] = Counter()
        started = time.monotonic()
        until = started + SECONDS
        await asyncio.gather(
            *(hammer(server.base_url, until, outcomes) for server in (first, second) for _ in range(4))
        )
        elapsed = time.monotonic() - started

    admitted = sum(count for (_, status), count in outcomes.items() if status == 200)
    refused = sum(count for (_, status), count in outcomes.items() if status == 429)
    allowed = BURST + RATE * elapsed
    assert refused > 0, "the callers never reached the limit"
    assert admitted <= allowed * 1.05, f"{admitted} admitted, at most {allowed:.0f} allowed"
    assert admitted >= RATE * SECONDS * 0.5, f"only {admitted} admitted: the limit is not the configured one"
    assert all(outcomes[(server.base_url, 200)] > 0 for server in (first, second))

"""How the container builds access control (API keys, rate limits).

Rate limits live in Redis when ``REDIS_URL`` is set (``RATE_LIMIT_BACKEND=auto``
or ``redis``), so that replicas share them, with an in-process limiter as the
fallback while Redis fails; in memory otherwise. Each surface translates its
transport's credentials into ``AccessControl`` calls in its own package:

- HTTP: ``entrypoints.http.shared.guard.GuardMiddleware``;
- WebSocket: ``entrypoints.ws.access`` (the key at the upgrade, a token per request message);
- gRPC: ``entrypoints.grpc.access`` (the key and a token per call).
"""

from __future__ import annotations

import logging
import math
from typing import Any

from adapters.observability.prometheus import PrometheusMetrics
from adapters.rate_limit.memory import MemoryRateLimiter
from application.access import AccessControl
from domain.api_keys import KeyRing, parse_key_entries
from domain.ports import Clock, RateLimiter
from domain.rate_limit import Bucket
from entrypoints.config import Settings

log = logging.getLogger("mcp.protection")


def build_access(settings: Settings, clock: Clock, redis_client: Any, metrics: PrometheusMetrics) -> AccessControl:
    keys = KeyRing(parse_key_entries(settings.api_keys))
    if keys.slow_without_id:
        log.warning(
            "%d pbkdf2_sha256 API_KEYS entries have no $id=: every unknown key costs a KDF for each of them;"
            " re-issue them with `mcp-server-ai hash-key`, or append $id=<id> and have clients send mcp_<id>_<key>",
            keys.slow_without_id,
        )
    return AccessControl(keys=keys, limiter=build_limiter(settings, clock, redis_client, metrics))


def build_limiter(
    settings: Settings, clock: Clock, redis_client: Any, metrics: PrometheusMetrics
) -> RateLimiter | None:
    if not settings.rate_limit_enabled:
        return None
    bucket = Bucket(rate=settings.rate_limit_rps, burst=settings.rate_limit_burst)
    overall = None
    if settings.rate_limit_global_rps > 0:
        burst = settings.rate_limit_global_burst or max(1, math.ceil(settings.rate_limit_global_rps))
        overall = Bucket(rate=settings.rate_limit_global_rps, burst=burst)
    memory = MemoryRateLimiter(per_subject=bucket, overall=overall, clock=clock)
    if redis_client is None or settings.rate_limit_backend == "memory":
        return memory
    from adapters.rate_limit.redis import RedisRateLimiter  # imports the redis client, used only here

    return RedisRateLimiter(
        redis_client,
        per_subject=bucket,
        overall=overall,
        fallback=memory,
        clock=clock,
        key_prefix=settings.redis_key_prefix,
        on_error=lambda _operation: metrics.error("rate_limit_backend"),
    )

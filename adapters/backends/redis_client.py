"""The one Redis client of the process, built from ``REDIS_URL``.

Shared by the response cache, the session store and anything else that needs
Redis, so that the process holds a single connection pool.
"""

from __future__ import annotations

import redis.asyncio as redis
from redis.backoff import NoBackoff
from redis.retry import Retry

# One immediate retry replaces a pooled connection that died while Redis was
# restarted; more (or a backoff) would only make a down Redis slower to miss.
_RETRIES = 1


def create_redis_client(
    url: str, *, socket_timeout: float, connect_timeout: float, max_connections: int | None = None
) -> redis.Redis:
    """A client for ``redis://[user:password@]host:port/db`` or ``rediss://`` (TLS) URLs.

    Nothing connects here: the first command opens the first connection, and
    redis-py reconnects by itself after Redis comes back.
    """
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError(f"REDIS_URL must start with redis://, rediss:// or unix://, got {url!r}")
    return redis.Redis.from_url(
        url,
        socket_timeout=socket_timeout,
        socket_connect_timeout=connect_timeout,
        retry=Retry(NoBackoff(), _RETRIES),
        health_check_interval=0,
        max_connections=max_connections,
    )

"""The response cache in Redis (docs/api.md#cache).

Entries are ``CacheEntry`` values encoded as msgpack by msgspec, stored with
``SET key value EX ttl``. Redis failing is never the request's problem: every
failure (refused, timed out, reset, an undecodable value) is a miss or a no-op,
logged, counted in ``errors`` and reported to ``on_error``. redis-py opens a new
connection on the next command, so caching resumes by itself when Redis returns.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import cast

import msgspec
import redis.asyncio as redis
from redis.exceptions import RedisError

from adapters.backends.redis_client import create_redis_client
from domain.models import CacheEntry

__all__ = ["RedisCache", "create_redis_client"]

logger = logging.getLogger(__name__)

# What a broken or vanished Redis raises through redis-py, plus values we cannot read.
_FAILURES = (RedisError, OSError, asyncio.TimeoutError, msgspec.DecodeError)


class RedisCache:
    """``Cache`` over a shared Redis; keys are ``key_prefix + key``.

    ``on_error(operation)`` is called once per failed operation (``get``,
    ``set``, ``delete``, ``ping``) so that metrics can count them.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        key_prefix: str = "",
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self._client = client
        self._prefix = key_prefix
        self._on_error = on_error
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder = msgspec.msgpack.Decoder(CacheEntry)
        self.errors = 0

    async def get(self, key: str) -> CacheEntry | None:
        try:
            raw = await self._client.get(self._prefix + key)
            # The client does not decode responses, so a value is always bytes.
            return None if raw is None else self._decoder.decode(cast(bytes, raw))
        except _FAILURES as exc:
            self._failed("get", key, exc)
            return None

    async def set(self, key: str, entry: CacheEntry, ttl_seconds: int) -> None:
        if ttl_seconds <= 0:
            return
        try:
            await self._client.set(self._prefix + key, self._encoder.encode(entry), ex=ttl_seconds)
        except _FAILURES as exc:
            self._failed("set", key, exc)

    async def delete(self, key: str) -> bool:
        try:
            return bool(await self._client.delete(self._prefix + key))
        except _FAILURES as exc:
            self._failed("delete", key, exc)
            return False

    async def ping(self) -> bool:
        try:
            return bool(await self._client.ping())
        except _FAILURES as exc:
            self._failed("ping", "", exc)
            return False

    def _failed(self, operation: str, key: str, exc: BaseException) -> None:
        self.errors += 1
        # The key is a hash, never user text, so it is safe to log.
        logger.warning("redis cache %s failed, treated as a miss: %s (key=%s)", operation, exc, key or "-")
        if self._on_error is not None:
            self._on_error(operation)

"""Stored responses in Redis (``SESSION_BACKEND=redis``): one key each, expiring with the response.

    {prefix}response:{<id>}    msgpack-encoded ``StoredResponse``, ``PXAT`` its ``expires_at``

Redis expires the key itself, so every replica sees the same expiry and nothing
needs sweeping. Every Redis failure raises ``StorageUnavailable``.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import TypeVar

import msgspec
import redis.asyncio as redis

from adapters.sessions.redis import REDIS_FAILURES
from domain.errors import StorageUnavailable
from domain.stored_responses import StoredResponse

_T = TypeVar("_T")


class RedisResponseStore:
    def __init__(self, client: redis.Redis, *, key_prefix: str = "") -> None:
        self._client = client
        self._prefix = key_prefix
        self._encode = msgspec.msgpack.Encoder().encode
        self._decoder = msgspec.msgpack.Decoder(StoredResponse)

    async def put(self, response: StoredResponse) -> None:
        key, value = self._key(response.id), self._encode(response)
        expires_at_ms = math.ceil(response.expires_at * 1000)
        await _storage("store", lambda: self._client.set(key, value, pxat=expires_at_ms))

    async def get(self, response_id: str, *, now: float) -> StoredResponse | None:
        async def read() -> StoredResponse | None:
            raw = await self._client.get(self._key(response_id))
            if raw is None:
                return None
            return self._decoder.decode(raw.encode() if isinstance(raw, str) else raw)

        stored = await _storage("read", read)
        return stored if stored is not None and stored.expires_at > now else None

    async def delete(self, response_id: str) -> bool:
        return bool(await _storage("delete", lambda: self._client.delete(self._key(response_id))))

    def _key(self, response_id: str) -> str:
        return f"{self._prefix}response:{{{response_id}}}"


async def _storage(action: str, operation: Callable[[], Awaitable[_T]]) -> _T:
    try:
        return await operation()
    except REDIS_FAILURES as exc:
        raise StorageUnavailable(f"response storage (Redis) unavailable, could not {action} the response") from exc

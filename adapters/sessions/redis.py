"""Sessions in Redis (docs/api.md#sessions) as the store of record.

A session is two keys sharing one hash tag, so they live in the same cluster slot:

    {prefix}session:{<id>}            hash: user_id, created_at, updated_at
    {prefix}session:{<id>}:messages   list: msgpack-encoded ``Message`` values, oldest first

(the copy in front of PostgreSQL, ``redis_session_copy.py``, keeps the same two
keys and two more of its own in the same slot).

Appending and trimming happen in one Lua script, so concurrent appends from
several processes never lose or interleave a message, and both keys expire
together ``ttl_seconds`` after the last write. ``lock`` is a Redis lock
(``SET NX PX`` with a random token, renewed while held, released by a
compare-and-delete script) so that two processes serialise turns on one session.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import msgspec
import redis.asyncio as redis
from redis.exceptions import RedisError

from domain.errors import StorageUnavailable
from domain.models import Message, Session

logger = logging.getLogger(__name__)

REDIS_FAILURES = (RedisError, OSError, asyncio.TimeoutError, msgspec.DecodeError)
_T = TypeVar("_T")
_Arg = bytes | str | int

# KEYS: meta, messages. ARGV: user_id, now, max_messages, ttl_seconds, message...
_APPEND = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'user_id', ARGV[1], 'created_at', ARGV[2])
end
redis.call('HSET', KEYS[1], 'updated_at', ARGV[2])
if #ARGV > 4 then redis.call('RPUSH', KEYS[2], unpack(ARGV, 5)) end
local keep = tonumber(ARGV[3])
if keep > 0 then redis.call('LTRIM', KEYS[2], -keep, -1) else redis.call('DEL', KEYS[2]) end
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
local meta = redis.call('HMGET', KEYS[1], 'user_id', 'created_at', 'updated_at')
return {meta, redis.call('LRANGE', KEYS[2], 0, -1)}
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


class RedisSessionRepo:
    """``SessionRepo`` in Redis; every Redis failure raises ``StorageUnavailable``.

    ``lock`` waits up to
    ``lock_wait_seconds`` (polling every few milliseconds) and holds a lock that
    expires ``lock_ttl_seconds`` after its holder stops renewing it, so a
    crashed process cannot block a session for long.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        ttl_seconds: int,
        key_prefix: str = "",
        lock_ttl_seconds: float = 30.0,
        lock_wait_seconds: float = 120.0,
        lock_poll_seconds: float = 0.02,
    ) -> None:
        if ttl_seconds < 1:
            raise ValueError("ttl_seconds must be at least 1")
        self._client = client
        self._ttl = int(ttl_seconds)
        self._prefix = key_prefix
        self._lock_ttl_ms = int(lock_ttl_seconds * 1000)
        self._lock_wait = lock_wait_seconds
        self._lock_poll = lock_poll_seconds
        self._append_script = client.register_script(_APPEND)
        self._release_script = client.register_script(_RELEASE)
        self._renew_script = client.register_script(_RENEW)
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder = msgspec.msgpack.Decoder(Message)

    async def get(self, session_id: str) -> Session | None:
        async def read() -> Session | None:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.hmget(self._meta_key(session_id), "user_id", "created_at", "updated_at")
                pipe.lrange(self._messages_key(session_id), 0, -1)
                meta, messages = await pipe.execute()
            return decode_session(self._decoder, session_id, meta, messages)

        return await redis_storage("read", read)

    async def append(
        self, session_id: str, user_id: str, messages: Sequence[Message], *, max_messages: int, now: float
    ) -> Session:
        args: list[_Arg] = [user_id, repr(now), max_messages, self._ttl]
        args += [self._encoder.encode(message) for message in messages]
        keys = [self._meta_key(session_id), self._messages_key(session_id)]

        async def write() -> Session | None:
            meta, stored = await self._append_script(keys=keys, args=args)
            return decode_session(self._decoder, session_id, meta, stored)

        session = await redis_storage("append to", write)
        if session is None:  # cannot happen: the script has just written the hash
            raise StorageUnavailable("session storage (Redis) lost a session while appending to it")
        return session

    async def delete(self, session_id: str) -> bool:
        keys = (self._meta_key(session_id), self._messages_key(session_id))
        return bool(await redis_storage("delete", lambda: self._client.delete(*keys)))

    @asynccontextmanager
    async def lock(self, session_id: str) -> AsyncIterator[None]:
        key, token = self._lock_key(session_id), secrets.token_hex(16)
        await self._acquire(key, token)
        renewal = asyncio.create_task(self._keep_renewing(key, token))
        try:
            yield
        finally:
            renewal.cancel()
            await self._release(key, token)

    async def ping(self) -> bool:
        try:
            return bool(await self._client.ping())
        except REDIS_FAILURES:
            return False

    async def _acquire(self, key: str, token: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._lock_wait
        while not await redis_storage("lock", lambda: self._client.set(key, token, nx=True, px=self._lock_ttl_ms)):
            if loop.time() >= deadline:
                raise StorageUnavailable(
                    f"timed out after {self._lock_wait:g} s waiting for another turn on this session"
                )
            await asyncio.sleep(self._lock_poll)

    async def _keep_renewing(self, key: str, token: str) -> None:
        while True:
            await asyncio.sleep(self._lock_ttl_ms / 3000)
            try:
                await self._renew_script(keys=[key], args=[token, self._lock_ttl_ms])
            except REDIS_FAILURES as exc:
                logger.warning("could not renew the session lock %s: %s", key, exc)

    async def _release(self, key: str, token: str) -> None:
        try:
            await self._release_script(keys=[key], args=[token])
        except REDIS_FAILURES as exc:
            # Raising here would hide the turn's own outcome; the lock expires on its own.
            logger.warning("could not release the session lock %s, it will expire: %s", key, exc)

    def _meta_key(self, session_id: str) -> str:
        return session_key(self._prefix, session_id)

    def _messages_key(self, session_id: str) -> str:
        return session_key(self._prefix, session_id, ":messages")

    def _lock_key(self, session_id: str) -> str:
        return session_key(self._prefix, session_id, ":lock")


def session_key(prefix: str, session_id: str, part: str = "") -> str:
    """``{prefix}session:{<id>}`` and its parts: the hash tag keeps them all in one cluster slot."""
    return f"{prefix}session:{{{session_id}}}{part}"


def decode_session(
    decoder: msgspec.msgpack.Decoder[Message], session_id: str, meta: list[Any], messages: list[bytes]
) -> Session | None:
    """A session from its hash fields (``user_id``, ``created_at``, ``updated_at``) and encoded messages."""
    user_id, created_at, updated_at = meta
    if user_id is None:
        return None
    return Session(
        id=session_id,
        user_id=user_id.decode(),
        messages=tuple(decoder.decode(raw) for raw in messages),
        created_at=float(created_at),
        updated_at=float(updated_at),
    )


async def redis_storage(action: str, operation: Callable[[], Awaitable[_T]]) -> _T:
    """``operation``'s result; a Redis failure becomes ``StorageUnavailable``."""
    try:
        return await operation()
    except REDIS_FAILURES as exc:
        raise StorageUnavailable(f"session storage (Redis) unavailable, could not {action} the session") from exc

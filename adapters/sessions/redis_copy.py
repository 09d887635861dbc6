"""The shared Redis copy of PostgreSQL sessions (``SessionCopy`` of ``CachedSessionRepo``).

Four keys per session, sharing one hash tag so that each script touches one
cluster slot:

    {prefix}session:{<id>}            hash: user_id, created_at, updated_at (as ``RedisSessionRepo``)
    {prefix}session:{<id>}:messages   list: msgpack-encoded ``Message`` values, oldest first
    {prefix}session:{<id>}:gen        the generation: advanced by every change, compared by every fill
    {prefix}session:{<id>}:changing   how many changes are under way; expires after ``change_seconds``

Every operation is one Lua script, so each comparison and the write it guards
are atomic. The rules they implement are in ``cached_sessions.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import redis.asyncio as redis

from adapters.sessions.cached import CopyRead
from adapters.sessions.redis import decode_session, redis_storage, session_key
from domain.models import Message, Session

_Arg = bytes | str | int

# KEYS of every script: meta, messages, gen, changing. ARGV[1]: ttl_seconds.
# write_copy(i): the session in ARGV[i..] (user_id, created_at, updated_at, message...) becomes the copy.
_PRELUDE = """
local function changing() return tonumber(redis.call('GET', KEYS[4]) or '0') > 0 end
local function generation() return redis.call('GET', KEYS[3]) or '0' end
local function advance()
  redis.call('INCR', KEYS[3])
  redis.call('EXPIRE', KEYS[3], ARGV[1])
  redis.call('DEL', KEYS[1], KEYS[2])
end
local function write_copy(i)
  redis.call('HSET', KEYS[1], 'user_id', ARGV[i], 'created_at', ARGV[i + 1], 'updated_at', ARGV[i + 2])
  if #ARGV > i + 2 then redis.call('RPUSH', KEYS[2], unpack(ARGV, i + 3)) end
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  redis.call('EXPIRE', KEYS[2], ARGV[1])
  redis.call('EXPIRE', KEYS[3], ARGV[1])
end
"""

# -> {0} while changing; {1, meta, messages} for a copy; {2, generation} when there is none.
_PEEK = (
    _PRELUDE
    + """
if changing() then return {0} end
local meta = redis.call('HMGET', KEYS[1], 'user_id', 'created_at', 'updated_at')
if meta[1] then return {1, meta, redis.call('LRANGE', KEYS[2], 0, -1)} end
return {2, generation()}
"""
)

# ARGV[2]: the generation peek saw; ARGV[3..]: the session. -> 1 when stored.
_FILL = (
    _PRELUDE
    + """
if changing() or generation() ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
write_copy(3)
return 1
"""
)

# ARGV[2]: change_seconds in ms. -> the generation of this change.
_BEGIN = (
    _PRELUDE
    + """
redis.call('INCR', KEYS[4])
redis.call('PEXPIRE', KEYS[4], ARGV[2])
advance()
return tonumber(generation())
"""
)

# ARGV[2]: the change's generation; ARGV[3..]: the session after it, if any. -> 1 when stored.
_END = (
    _PRELUDE
    + """
local alone = generation() == ARGV[2]
local others = redis.call('DECR', KEYS[4])
if others <= 0 then redis.call('DEL', KEYS[4]) end
advance()
if alone and others <= 0 and #ARGV > 2 then
  write_copy(3)
  return 1
end
return 0
"""
)

_INVALIDATE = _PRELUDE + "advance()\nreturn 1\n"


class RedisSessionCopy:
    """``SessionCopy`` in Redis: copies live ``ttl_seconds`` after they were last written.

    ``change_seconds`` bounds how long a change that was never finished (Redis
    failed after the store of record was written) keeps readers on the store
    of record; it must exceed the longest write to the store of record.
    Every Redis failure raises ``StorageUnavailable``.
    """

    def __init__(
        self, client: redis.Redis, *, ttl_seconds: int, key_prefix: str = "", change_seconds: float = 30.0
    ) -> None:
        if ttl_seconds < 1:
            raise ValueError("ttl_seconds must be at least 1")
        self._client = client
        self._ttl = int(ttl_seconds)
        self._prefix = key_prefix
        self._change_ms = int(change_seconds * 1000)
        self._peek = client.register_script(_PEEK)
        self._fill = client.register_script(_FILL)
        self._begin = client.register_script(_BEGIN)
        self._end = client.register_script(_END)
        self._invalidate = client.register_script(_INVALIDATE)
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder = msgspec.msgpack.Decoder(Message)

    async def peek(self, session_id: str) -> CopyRead:
        keys = self._keys(session_id)
        reply: list[Any] = await redis_storage("read", lambda: self._peek(keys=keys, args=[self._ttl]))
        if reply[0] == 1:
            return CopyRead(session=decode_session(self._decoder, session_id, reply[1], reply[2]), version=None)
        return CopyRead(session=None, version=int(reply[1]) if reply[0] == 2 else None)

    async def fill(self, session: Session, version: int) -> bool:
        args: list[_Arg] = [self._ttl, version, *self._encoded(session)]
        return bool(await redis_storage("fill", lambda: self._fill(keys=self._keys(session.id), args=args)))

    async def begin_change(self, session_id: str) -> int:
        keys, args = self._keys(session_id), [self._ttl, self._change_ms]
        return int(await redis_storage("announce a change to", lambda: self._begin(keys=keys, args=args)))

    async def end_change(self, session_id: str, generation: int, session: Session | None) -> None:
        args: list[_Arg] = [self._ttl, generation, *(self._encoded(session) if session is not None else ())]
        await redis_storage("finish a change of", lambda: self._end(keys=self._keys(session_id), args=args))

    async def invalidate(self, session_ids: Sequence[str]) -> None:
        async def drop_all() -> None:
            async with self._client.pipeline(transaction=False) as pipe:
                for session_id in session_ids:
                    await self._invalidate(keys=self._keys(session_id), args=[self._ttl], client=pipe)
                await pipe.execute()

        await redis_storage("drop", drop_all)

    def _encoded(self, session: Session) -> list[_Arg]:
        head: list[_Arg] = [session.user_id, repr(session.created_at), repr(session.updated_at)]
        return head + [self._encoder.encode(message) for message in session.messages]

    def _keys(self, session_id: str) -> list[str]:
        return [session_key(self._prefix, session_id, part) for part in ("", ":messages", ":gen", ":changing")]

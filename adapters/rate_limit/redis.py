"""Token buckets in Redis, so that N replicas share one limit (docs/api.md#rate-limits).

One Lua script reads, refills and takes from the subject's bucket and the
global one atomically, with Redis' own clock (``TIME``) so that replicas with
skewed clocks still agree. The script only returns the tokens it found; the
decision is computed by the same ``domain.rate_limit`` code the memory limiter
runs. All keys carry the ``{ratelimit}`` hash tag, so the two keys of a call
are in one slot on a Redis Cluster too. A subject is stored as its SHA-256, so
every subject, however long, has a key of its own and of a fixed size.

Redis failing must never block traffic: on any failure the limiter logs (at
most once per ``bypass_seconds``), reports ``on_error``, and answers from its
in-process ``fallback`` for ``bypass_seconds`` before trying Redis again. Each
replica then limits on its own, which is looser but still a limit.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable

import redis.asyncio as redis
from redis.exceptions import RedisError

from adapters.rate_limit.memory import MemoryRateLimiter
from domain.ports import Clock
from domain.rate_limit import Bucket, RateDecision, combine

logger = logging.getLogger(__name__)

_FAILURES = (RedisError, OSError, asyncio.TimeoutError, ValueError, IndexError)

# KEYS: subject bucket [, global bucket]. ARGV: cost, rate, burst [, global rate, global burst].
# Returns the tokens each bucket held after refilling, before this request took its cost.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local cost = tonumber(ARGV[1])
local found = {}
local passed = true
for i = 1, #KEYS do
  local rate, burst = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local v = redis.call('HMGET', KEYS[i], 'tokens', 'ts')
  local tokens, ts = tonumber(v[1]), tonumber(v[2])
  if tokens == nil or ts == nil then
    tokens = burst
  else
    tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
  end
  found[i] = tokens
  if tokens < cost then passed = false end
end
for i = 1, #KEYS do
  local rate, burst = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local left = found[i]
  if passed then left = left - cost end
  redis.call('HSET', KEYS[i], 'tokens', string.format('%.6f', left), 'ts', string.format('%.6f', now))
  redis.call('PEXPIRE', KEYS[i], math.ceil(burst / rate * 1000) + 1000)
  found[i] = string.format('%.6f', found[i])
end
return found
"""


class RedisRateLimiter:
    """``RateLimiter`` over a shared Redis; ``key_prefix`` separates deployments (and test runs)."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        per_subject: Bucket,
        overall: Bucket | None,
        fallback: MemoryRateLimiter,
        clock: Clock,
        key_prefix: str = "",
        bypass_seconds: float = 5.0,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self._script = client.register_script(_TAKE)
        self._bucket = per_subject
        self._overall = overall
        self._fallback = fallback
        self._clock = clock
        self._prefix = key_prefix + "{ratelimit}:"
        self._bypass = bypass_seconds
        self._on_error = on_error
        self._bypass_until = float("-inf")
        self._args = [self._bucket.rate, self._bucket.burst]
        if overall is not None:
            self._args += [overall.rate, overall.burst]
        self.errors = 0

    async def acquire(self, subject: str, cost: int = 1) -> RateDecision:
        if self._clock.monotonic() < self._bypass_until:
            return self._fallback.acquire_now(subject, cost)
        keys = [self._prefix + hashlib.sha256(subject.encode()).hexdigest()]
        if self._overall is not None:
            keys.append(self._prefix + "global")
        try:
            found = await self._script(keys=keys, args=[cost, *self._args])
            return self._decide([float(value) for value in found], cost)
        except _FAILURES as exc:
            self._failed(exc)
            return self._fallback.acquire_now(subject, cost)

    def _decide(self, found: list[float], cost: int) -> RateDecision:
        mine = self._bucket.decide(found[0], cost)
        overall = self._overall.decide(found[1], cost) if self._overall is not None else None
        return combine(mine, overall)

    def _failed(self, exc: BaseException) -> None:
        self.errors += 1
        self._bypass_until = self._clock.monotonic() + self._bypass
        logger.warning(
            "redis rate limiter failed, limiting in this process for %.0fs: %s", self._bypass, exc or type(exc).__name__
        )
        if self._on_error is not None:
            self._on_error("acquire")

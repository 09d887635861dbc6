"""Token buckets in this process: the limiter without Redis, and Redis' fallback."""

from __future__ import annotations

from domain.ports import Clock
from domain.rate_limit import Bucket, RateDecision, combine

GLOBAL_SUBJECT = "global"


class MemoryRateLimiter:
    """``RateLimiter`` for one process.

    Buckets are ``[tokens, last_refill]`` pairs keyed by subject. At most
    ``max_subjects`` are kept: when full, buckets idle long enough to be full
    again (the same as absent) are dropped, then the oldest if still needed.
    """

    def __init__(
        self, *, per_subject: Bucket, overall: Bucket | None, clock: Clock, max_subjects: int = 100_000
    ) -> None:
        self._bucket = per_subject
        self._overall = overall
        self._clock = clock
        self._max = max_subjects
        self._states: dict[str, list[float]] = {}

    async def acquire(self, subject: str, cost: int = 1) -> RateDecision:
        return self.acquire_now(subject, cost)

    def acquire_now(self, subject: str, cost: int = 1) -> RateDecision:
        now = self._clock.monotonic()
        buckets = [(self._bucket, self._state(subject, self._bucket, now))]
        if self._overall is not None:
            buckets.append((self._overall, self._state(GLOBAL_SUBJECT, self._overall, now)))
        found = [bucket.refill(state[0], now - state[1]) for bucket, state in buckets]
        decisions = [bucket.decide(tokens, cost) for (bucket, _), tokens in zip(buckets, found, strict=True)]
        passed = all(decision.allowed for decision in decisions)
        for (_, state), tokens in zip(buckets, found, strict=True):
            # Both buckets pay, or neither: a refused request leaves the (refilled) tokens in place.
            state[0], state[1] = (tokens - cost if passed else tokens), now
        return combine(decisions[0], decisions[1] if len(decisions) > 1 else None)

    def _state(self, subject: str, bucket: Bucket, now: float) -> list[float]:
        state = self._states.get(subject)
        if state is None:
            if len(self._states) >= self._max:
                self._evict(now)
            state = self._states[subject] = [float(bucket.burst), now]
        return state

    def _evict(self, now: float) -> None:
        idle = self._bucket.idle_expiry_seconds
        for subject in [s for s, (_, last) in self._states.items() if now - last > idle and s != GLOBAL_SUBJECT]:
            del self._states[subject]
        while len(self._states) >= self._max:
            del self._states[next(iter(self._states))]

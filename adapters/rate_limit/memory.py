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

    async def acquire(self, subject: str) -> RateDecision:
        return self.acquire_now(subject)

    def acquire_now(self, subject: str) -> RateDecision:
        now = self._clock.monotonic()
        mine = self._state(subject, self._bucket, now)
        decision = self._bucket.decide(self._bucket.refill(mine[0], now - mine[1]))
        overall_decision = None
        overall_state = None
        if self._overall is not None:
            overall_state = self._state(GLOBAL_SUBJECT, self._overall, now)
            overall_decision = self._overall.decide(self._overall.refill(overall_state[0], now - overall_state[1]))
        passed = decision.allowed and (overall_decision is None or overall_decision.allowed)
        self._commit(mine, decision, passed, now)
        if overall_state is not None and overall_decision is not None:
            self._commit(overall_state, overall_decision, passed, now)
        return combine(decision, overall_decision)

    def _state(self, subject: str, bucket: Bucket, now: float) -> list[float]:
        state = self._states.get(subject)
        if state is None:
            if len(self._states) >= self._max:
                self._evict(now)
            state = self._states[subject] = [float(bucket.burst), now]
        return state

    @staticmethod
    def _commit(state: list[float], decision: RateDecision, passed: bool, now: float) -> None:
        # A refused request leaves its tokens (refilled) in place; a passed one takes its token.
        state[0] = decision.tokens if passed else decision.tokens + (1.0 if decision.allowed else 0.0)
        state[1] = now

    def _evict(self, now: float) -> None:
        idle = self._bucket.idle_expiry_seconds
        for subject in [s for s, (_, last) in self._states.items() if now - last > idle and s != GLOBAL_SUBJECT]:
            del self._states[subject]
        while len(self._states) >= self._max:
            del self._states[next(iter(self._states))]

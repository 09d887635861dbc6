"""Token buckets (docs/api.md#rate-limits): the arithmetic every rate limiter shares.

A bucket holds at most ``burst`` tokens and refills at ``rate`` tokens per
second; a request takes its cost in tokens (one, or one per item of a batch),
all or nothing, or is refused. The in-memory limiter runs
this code; the Redis limiter runs the same steps in a Lua script (kept next to
it) so that several replicas share one bucket.

The figures a caller is told follow the IETF RateLimit header fields: ``limit``
is the burst, ``remaining`` the whole tokens left, ``reset_seconds`` the time
until the bucket is full again, and on refusal ``retry_after`` the time until
one token is back.
"""

from __future__ import annotations

import ipaddress
import math

import msgspec

from domain.models import Caller


class Bucket(msgspec.Struct, frozen=True, kw_only=True):
    """A bucket's shape: ``rate`` tokens per second, at most ``burst`` held."""

    rate: float
    burst: int

    def refill(self, tokens: float, elapsed: float) -> float:
        return min(float(self.burst), tokens + max(0.0, elapsed) * self.rate)

    def decide(self, tokens: float, cost: int = 1) -> RateDecision:
        """The decision for a request of ``cost`` tokens that found ``tokens`` (already refilled) in the bucket.

        A cost above the burst can never pass; its ``retry_after`` is the time until the bucket is full.
        """
        if tokens >= cost:
            left = tokens - cost
            return RateDecision(
                allowed=True,
                limit=self.burst,
                remaining=int(left),
                reset_seconds=self.seconds_to_full(left),
                tokens=left,
            )
        return RateDecision(
            allowed=False,
            limit=self.burst,
            remaining=int(tokens),
            reset_seconds=self.seconds_to_full(tokens),
            retry_after=(min(cost, self.burst) - tokens) / self.rate,
            tokens=tokens,
        )

    def seconds_to_full(self, tokens: float) -> float:
        return max(0.0, (self.burst - tokens) / self.rate)

    @property
    def idle_expiry_seconds(self) -> float:
        """How long an untouched bucket must be kept: after that it is full, the same as absent."""
        return self.burst / self.rate + 1.0


class RateDecision(msgspec.Struct, frozen=True, kw_only=True):
    """Whether one request may pass, and what to tell the caller about its budget."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: float
    retry_after: float = 0.0
    tokens: float = 0.0

    def headers(self) -> tuple[tuple[str, str], ...]:
        """``RateLimit-*`` fields, plus ``Retry-After`` (whole seconds, at least 1) on refusal."""
        fields = (
            ("RateLimit-Limit", str(self.limit)),
            ("RateLimit-Remaining", str(self.remaining)),
            ("RateLimit-Reset", str(math.ceil(self.reset_seconds))),
        )
        if self.allowed:
            return fields
        return (*fields, ("Retry-After", str(self.retry_after_seconds)))

    @property
    def retry_after_seconds(self) -> int:
        return max(1, math.ceil(self.retry_after))


UNLIMITED = RateDecision(allowed=True, limit=0, remaining=0, reset_seconds=0.0)


def combine(subject: RateDecision, overall: RateDecision | None) -> RateDecision:
    """One answer for a request that must pass both its own bucket and the global one."""
    if overall is None:
        return subject
    if not overall.allowed and (subject.allowed or overall.retry_after > subject.retry_after):
        return overall
    return subject


def rate_limit_subject(caller: Caller) -> str:
    """Whose bucket a request draws from: its API key when keys are on, else its network address.

    Never an id the client sends (``X-User-ID``): rotating it would escape the
    limit, and sending someone else's would spend their budget. An IPv6 client
    is limited by its /64, the block one subscriber is given, so that cycling
    through its own addresses does not buy it more.
    """
    if caller.key_id:
        return "key:" + caller.key_id
    return "ip:" + _network_of(caller.address)


def _network_of(address: str) -> str:
    if ":" not in address:  # IPv4 (or no address): the address itself, without parsing it on every request
        return address or "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address or "unknown"
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is None:
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed.ipv4_mapped if isinstance(parsed, ipaddress.IPv6Address) else parsed)

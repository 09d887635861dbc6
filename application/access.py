"""Who may call, and how often (docs/api.md#authentication, #rate-limits), the same on every transport.

Each transport reads the credential its own way (HTTP headers, WebSocket
handshake, gRPC metadata) and asks this one object:

    principal = await access.authenticate(authorization, x_api_key)   # Unauthenticated, Overloaded
    access.authorize(principal, admin_required=...)                   # PermissionDenied
    decision = await access.admit(caller, cost=...)
    if not decision.allowed: raise access.refusal(decision)           # RateLimited

With no keys configured everyone is an anonymous caller with every right (the
embedded default, and what clients without keys rely on); with keys, every protected
call needs one and admin calls need an admin key. A key is verified off the
event loop when that is slow (``KeyVerifier``). With rate limits off,
``admit`` is free and always passes; with them, the bucket is the caller's
key, else its address, never an id the client chose (``rate_limit_subject``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from application.key_verifier import KeyVerifier, Offload
from domain.api_keys import ANONYMOUS, KEY_HEADERS, KeyRing, Principal, credential_from
from domain.errors import PermissionDenied, RateLimited, Unauthenticated
from domain.models import Caller
from domain.ports import RateLimiter
from domain.rate_limit import UNLIMITED, RateDecision, rate_limit_subject


class AccessControl:
    def __init__(self, *, keys: KeyRing, limiter: RateLimiter | None, offload: Offload = asyncio.to_thread) -> None:
        self._keys = keys
        self._verifier = KeyVerifier(keys, offload=offload)
        self._limiter = limiter
        self.refused_keys = 0
        self.rate_limited = 0

    @property
    def keys_required(self) -> bool:
        return self._keys.enabled

    @property
    def limits_enabled(self) -> bool:
        return self._limiter is not None

    @property
    def verifier(self) -> KeyVerifier:
        return self._verifier

    async def authenticate(self, authorization: str | None, *api_keys: str | None) -> Principal:
        """The caller behind ``X-API-Key``, ``api-key`` or ``Authorization: Bearer`` (``credential_from``)."""
        if not self._keys.enabled:
            return ANONYMOUS
        presented = credential_from(authorization, *api_keys)
        if presented is None:
            self.refused_keys += 1
            raise Unauthenticated("an API key is required: send Authorization: Bearer <key> or X-API-Key")
        principal = await self._verifier.verify(presented)
        if principal is None:
            self.refused_keys += 1
            raise Unauthenticated("the API key is not valid")
        return principal

    async def authenticate_headers(self, headers: Mapping[str, str]) -> Principal:
        """``authenticate`` over lower-case header names (gRPC metadata, a WebSocket handshake)."""
        return await self.authenticate(headers.get("authorization"), *(headers.get(name) for name in KEY_HEADERS))

    def authorize(self, principal: Principal, *, admin_required: bool) -> None:
        if admin_required and self._keys.enabled and not principal.is_admin:
            raise PermissionDenied("this operation needs an admin API key")

    async def admit(self, caller: Caller, *, cost: int = 1) -> RateDecision:
        """Take ``cost`` tokens (one per request or batch item) from the caller's bucket: may it proceed?"""
        if self._limiter is None or cost < 1:
            return UNLIMITED
        decision = await self._limiter.acquire(rate_limit_subject(caller), cost)
        if not decision.allowed:
            self.rate_limited += 1
        return decision

    @staticmethod
    def refusal(decision: RateDecision) -> RateLimited:
        return RateLimited(
            f"rate limit exceeded: retry in {decision.retry_after_seconds}s", retry_after=decision.retry_after
        )

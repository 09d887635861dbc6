"""Who may call, and how often (docs/api.md#authentication, #rate-limits), the same on every transport.

Each transport reads the credential its own way (HTTP headers, WebSocket
handshake, gRPC metadata) and asks this one object:

    principal = access.authenticate(authorization, x_api_key)   # Unauthenticated
    access.authorize(principal, admin_required=...)             # PermissionDenied
    decision = await access.admit(principal, user_id=..., client=...)
    if not decision.allowed: raise access.refusal(decision)     # RateLimited

With no keys configured everyone is an anonymous caller with every right (the
embedded default, and what clients without keys rely on); with keys, every protected
call needs one and admin calls need an admin key. With rate limits off,
``admit`` is free and always passes.
"""

from __future__ import annotations

from collections.abc import Mapping

from domain.api_keys import ANONYMOUS, KeyRing, Principal, credential_from
from domain.errors import PermissionDenied, RateLimited, Unauthenticated
from domain.ports import RateLimiter
from domain.rate_limit import UNLIMITED, RateDecision, rate_limit_subject


class AccessControl:
    def __init__(self, *, keys: KeyRing, limiter: RateLimiter | None) -> None:
        self._keys = keys
        self._limiter = limiter
        self.refused_keys = 0
        self.rate_limited = 0

    @property
    def keys_required(self) -> bool:
        return self._keys.enabled

    @property
    def limits_enabled(self) -> bool:
        return self._limiter is not None

    def authenticate(self, authorization: str | None, api_key: str | None = None) -> Principal:
        """The caller behind ``Authorization: Bearer`` or ``X-API-Key``."""
        if not self._keys.enabled:
            return ANONYMOUS
        presented = credential_from(authorization, api_key)
        if presented is None:
            self.refused_keys += 1
            raise Unauthenticated("an API key is required: send Authorization: Bearer <key> or X-API-Key")
        principal = self._keys.verify(presented)
        if principal is None:
            self.refused_keys += 1
            raise Unauthenticated("the API key is not valid")
        return principal

    def authenticate_headers(self, headers: Mapping[str, str]) -> Principal:
        """``authenticate`` over lower-case header names (gRPC metadata, a WebSocket handshake)."""
        return self.authenticate(headers.get("authorization"), headers.get("x-api-key"))

    def authorize(self, principal: Principal, *, admin_required: bool) -> None:
        if admin_required and self._keys.enabled and not principal.is_admin:
            raise PermissionDenied("this operation needs an admin API key")

    async def admit(self, principal: Principal, *, user_id: str = "", client: str = "") -> RateDecision:
        """Take one token for this caller; the decision says whether the call may proceed."""
        if self._limiter is None:
            return UNLIMITED
        decision = await self._limiter.acquire(
            rate_limit_subject(key_id=principal.key_id, user_id=user_id, client=client)
        )
        if not decision.allowed:
            self.rate_limited += 1
        return decision

    @staticmethod
    def refusal(decision: RateDecision) -> RateLimited:
        return RateLimited(
            f"rate limit exceeded: retry in {decision.retry_after_seconds}s", retry_after=decision.retry_after
        )

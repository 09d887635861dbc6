"""How the container builds access control (API keys, rate limits), and the hooks of each surface.

Rate limits live in Redis when ``REDIS_URL`` is set (``RATE_LIMIT_BACKEND=auto``
or ``redis``), so that replicas share them, with an in-process limiter as the
fallback while Redis fails; in memory otherwise. The surface hooks below
translate each transport's credentials into ``AccessControl`` calls:

- HTTP: ``entrypoints.http.shared.guard.GuardMiddleware``;
- WebSocket: ``ws_upgrade_authorizer`` checks the key at the upgrade, and
  ``ws_message_gate`` takes a rate-limit token per request message;
- gRPC: ``grpc_call_authorizer`` checks the key and takes a token per call.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any

from adapters.observability.prometheus import PrometheusMetrics
from adapters.rate_limit.memory import MemoryRateLimiter
from adapters.rate_limit.redis import RedisRateLimiter
from application.access import AccessControl
from domain.api_keys import KeyRing, Principal, parse_key_entries
from domain.models import Caller
from domain.ports import Clock, RateLimiter
from domain.rate_limit import Bucket
from entrypoints.config import Settings
from entrypoints.request_context import enter_caller

log = logging.getLogger("mcp.protection")


def build_access(settings: Settings, clock: Clock, redis_client: Any, metrics: PrometheusMetrics) -> AccessControl:
    keys = KeyRing(parse_key_entries(settings.api_keys))
    if keys.slow_without_id:
        log.warning(
            "%d pbkdf2_sha256 API_KEYS entries have no $id=: every unknown key costs a KDF for each of them;"
            " re-issue them with `mcp-server-ai hash-key`, or append $id=<id> and have clients send mcp_<id>_<key>",
            keys.slow_without_id,
        )
    return AccessControl(keys=keys, limiter=build_limiter(settings, clock, redis_client, metrics))


def build_limiter(
    settings: Settings, clock: Clock, redis_client: Any, metrics: PrometheusMetrics
) -> RateLimiter | None:
    if not settings.rate_limit_enabled:
        return None
    bucket = Bucket(rate=settings.rate_limit_rps, burst=settings.rate_limit_burst)
    overall = None
    if settings.rate_limit_global_rps > 0:
        burst = settings.rate_limit_global_burst or max(1, math.ceil(settings.rate_limit_global_rps))
        overall = Bucket(rate=settings.rate_limit_global_rps, burst=burst)
    memory = MemoryRateLimiter(per_subject=bucket, overall=overall, clock=clock)
    if redis_client is None or settings.rate_limit_backend == "memory":
        return memory
    return RedisRateLimiter(
        redis_client,
        per_subject=bucket,
        overall=overall,
        fallback=memory,
        clock=clock,
        key_prefix=settings.redis_key_prefix,
        on_error=lambda _operation: metrics.error("rate_limit_backend"),
    )


# --- WebSocket -------------------------------------------------------------
def ws_upgrade_authorizer(access: AccessControl) -> Callable[[Any], Awaitable[Principal]]:
    """For ``WsEndpoint(authorize=...)``: the key from the handshake headers, or ``?apiKey=`` for browsers."""

    async def authorize(handshake: Any) -> Principal:
        api_key = handshake.api_key or handshake.query.get("apiKey", "")
        principal = await access.authenticate(handshake.authorization or None, api_key or None)
        access.authorize(principal, admin_required=False)
        return principal

    return authorize


def ws_message_gate(access: AccessControl) -> Callable[[Caller], Awaitable[None]]:
    """Before each WebSocket request message: raises ``RateLimited`` (sent as an error frame)."""

    async def gate(caller: Caller) -> None:
        decision = await access.admit(caller)
        if not decision.allowed:
            raise access.refusal(decision)

    return gate


# --- gRPC ------------------------------------------------------------------
def grpc_call_authorizer(
    access: AccessControl, client: Callable[[Any], str] | None = None
) -> Callable[[Any], Awaitable[None]]:
    """For ``GrpcListener(authorize=...)``: UNAUTHENTICATED, PERMISSION_DENIED or RESOURCE_EXHAUSTED."""

    async def authorize(call: Any) -> None:
        principal = await access.authenticate(call.authorization or None, call.api_key or None)
        access.authorize(principal, admin_required=False)
        caller = enter_caller(principal, client(call) if client else "")
        decision = await access.admit(caller)
        if not decision.allowed:
            raise access.refusal(decision)

    return authorize

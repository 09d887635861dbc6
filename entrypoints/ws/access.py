"""The WebSocket surface's access hooks: translate the upgrade's credentials into ``AccessControl`` calls.

``ws_upgrade_authorizer`` checks the key at the upgrade (a refusal is HTTP 403),
and ``ws_message_gate`` takes a rate-limit token per request message (a refusal
is an error frame). The container builds the ``AccessControl`` itself
(``entrypoints.bootstrap.access``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from application.access import AccessControl
from domain.api_keys import Principal
from domain.models import Caller


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

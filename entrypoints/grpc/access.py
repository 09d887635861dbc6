"""The gRPC surface's access hook: translate a call's credentials into ``AccessControl`` calls.

The container builds the ``AccessControl`` itself (``entrypoints.bootstrap.access``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from application.access import AccessControl
from entrypoints.request_context import enter_caller


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

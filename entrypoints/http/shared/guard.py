"""Raw-ASGI layer that enforces API keys, roles and rate limits on HTTP (docs/api.md#authentication, #rate-limits).

Before Litestar sees a request: the route table says whether it is public
(health probes, static example pages, ``/metrics`` unless ``METRICS_AUTH``)
or admin-only; ``AccessControl`` authenticates the key (``X-API-Key``, ``api-key`` or
``Authorization: Bearer``: ``domain.api_keys.credential_from``; 401; 503 while too
many slow keys are being verified), checks the role (403) and takes a
rate-limit token from the key's bucket, else the client address's (429 with
``Retry-After``); the batch routes take one more per further item. Refusals have
the error shape of the path's dialect (docs/api.md#errors). Admitted answers carry the ``RateLimit-*`` header
fields when limits are on. WebSocket upgrades are checked by the ``/ws``
handler itself, which also limits each message.
"""

from __future__ import annotations

from application.access import AccessControl
from domain.errors import DomainError, RateLimited
from domain.rate_limit import RateDecision
from entrypoints.asgi import ASGIApp, Message, Receive, Scope, Send
from entrypoints.http.shared.errors import ErrorAnswer, domain_error_answer, error_answer, send_error
from entrypoints.http.shared.route_table import METRICS, route_of
from entrypoints.request_context import current_caller, current_request_id, enter_caller

_CHALLENGE = ((b"www-authenticate", b'Bearer realm="mcp-server-ai"'),)


def decision_headers(decision: RateDecision) -> tuple[tuple[bytes, bytes], ...]:
    return tuple((name.lower().encode(), value.encode()) for name, value in decision.headers())


class GuardMiddleware:
    def __init__(self, app: ASGIApp, access: AccessControl, *, metrics_auth: bool) -> None:
        self._app = app
        self._access = access
        self._metrics_auth = metrics_auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        route = route_of(scope["path"])
        if route.public or (route is METRICS and not self._metrics_auth) or scope["method"] == "OPTIONS":
            await self._app(scope, receive, send)
            return
        authorization = api_key = azure_key = None
        for key, value in scope.get("headers", ()):
            if key == b"authorization":
                authorization = value.decode("latin-1")
            elif key == b"x-api-key":
                api_key = value.decode("latin-1")
            elif key == b"api-key":
                azure_key = value.decode("latin-1")
        access = self._access
        try:
            principal = await access.authenticate(authorization, api_key, azure_key)  # in KEY_HEADERS' order
            access.authorize(principal, admin_required=scope["method"] in route.admin_methods)
            caller = enter_caller(principal, current_caller().address)
        except DomainError as exc:
            await send_error(send, _refusal(exc))
            return
        if not access.limits_enabled:
            await self._app(scope, receive, send)
            return
        decision = await access.admit(caller)
        if not decision.allowed:
            await send_error(send, _limited(access.refusal(decision), decision))
            return
        await self._app(scope, receive, _with_headers(send, decision_headers(decision)))


def _refusal(exc: DomainError) -> ErrorAnswer:
    """A failed key check: 401 (with the challenge), 403, or 503 while too many keys are being verified."""
    answer = domain_error_answer(exc, current_request_id())
    return answer.with_headers(_CHALLENGE) if answer.status == 401 else answer


def _limited(refusal: RateLimited, decision: RateDecision) -> ErrorAnswer:
    """429 with the ``RateLimit-*`` fields, whose ``Retry-After`` is the decision's (no second one from the error)."""
    return error_answer(429, refusal.code, refusal.message, current_request_id(), headers=decision_headers(decision))


def _with_headers(send: Send, extra: tuple[tuple[bytes, bytes], ...]) -> Send:
    async def send_with_limits(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), *extra]
        await send(message)

    return send_with_limits

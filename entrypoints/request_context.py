"""Who the current request is, for log lines and error bodies, on every transport."""

from __future__ import annotations

import uuid
from contextvars import ContextVar

from domain.api_keys import Principal
from domain.models import ANYONE, Caller

request_id_var: ContextVar[str] = ContextVar("request_id", default="")
user_id_var: ContextVar[str] = ContextVar("user_id", default="")
session_id_var: ContextVar[str] = ContextVar("session_id", default="")
# Set by the transport once it knows who is calling (the client address first, then the key the
# access check proved); read where a request is built, so every surface hands the same `Caller` on.
caller_var: ContextVar[Caller] = ContextVar("caller", default=ANYONE)

MAX_REQUEST_ID_LENGTH = 128


def new_request_id() -> str:
    return "req-" + uuid.uuid4().hex


def accept_request_id(candidate: str | None) -> str:
    """The caller's id when it is 1 to 128 printable ASCII characters, else a fresh one.

    ASCII only, so that the id is the same bytes everywhere it goes: echoed in
    the ``X-Request-ID`` header and gRPC metadata (ASCII by protocol), written
    into JSON bodies and log lines (UTF-8). A Latin-1 byte has no such single
    form (the header echo would be its UTF-8 re-encoding), so that id is replaced.
    """
    if candidate and len(candidate) <= MAX_REQUEST_ID_LENGTH and candidate.isascii() and candidate.isprintable():
        return candidate
    return new_request_id()


def bind_request(*, request_id: str, user_id: str = "", session_id: str = "") -> None:
    """Make these the ids of the request this task serves (log lines read them), on every surface alike.

    Each call sets all three, so that ids a task bound for an earlier request
    (a WebSocket serves one message after another) never label the next one.
    """
    request_id_var.set(request_id)
    user_id_var.set(user_id)
    session_id_var.set(session_id)


def current_request_id() -> str:
    return request_id_var.get()


def current_caller() -> Caller:
    return caller_var.get()


def caller_from(principal: Principal, address: str) -> Caller:
    """The ``Caller`` of a principal the access check returned, seen at ``address``."""
    return Caller(
        key_id=principal.key_id,
        admin=principal.is_admin,
        address=address,
        trusted_feedback=principal.is_admin or principal.feedback,
        tool_patterns=principal.tool_patterns,
    )


def enter_caller(principal: Principal, address: str) -> Caller:
    """Make ``principal`` at ``address`` the current caller (for this task and what it awaits)."""
    caller = caller_from(principal, address)
    caller_var.set(caller)
    return caller

"""Who the current request is, for log lines and error bodies, on every transport."""

from __future__ import annotations

import uuid
from contextvars import ContextVar

request_id_var: ContextVar[str] = ContextVar("request_id", default="")
user_id_var: ContextVar[str] = ContextVar("user_id", default="")
session_id_var: ContextVar[str] = ContextVar("session_id", default="")

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


def current_request_id() -> str:
    return request_id_var.get()

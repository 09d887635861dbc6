"""What one request did, noted as it goes, read once when it ends.

The surface (HTTP middleware, WebSocket handler, gRPC service) starts a
``RequestRecord`` and puts it in ``request_record_var``; the layers below
(the observed use-cases, the HTTP error mapper, the guard) note what they
learn (provider, model, tokens, the error code) without knowing which surface
they serve. Tasks started for the request (an SSE producer, batch items) copy
the context and so share the same record.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

MIXED = "mixed"


class RequestRecord:
    __slots__ = (
        "cached",
        "error",
        "error_counted",
        "method",
        "model",
        "otel_token",
        "provider",
        "span",
        "started",
        "tokens",
    )

    def __init__(self, method: str, started: float) -> None:
        self.method = method
        self.started = started
        self.provider = ""
        self.model = ""
        self.tokens = 0
        self.cached = False
        self.error = ""
        self.error_counted = False
        self.span: Any = None
        self.otel_token: Any = None

    def note_generation(self, provider: str, model: str, tokens: int, cached: bool) -> None:
        # A batch may mix providers and models: the request's labels then say so.
        self.provider = provider if self.provider in ("", provider) else MIXED
        self.model = model if self.model in ("", model) else MIXED
        self.tokens += tokens
        self.cached = cached

    def note_error(self, code: str, *, counted: bool = False) -> None:
        if not self.error:
            self.error = code
        self.error_counted = self.error_counted or counted


request_record_var: ContextVar[RequestRecord | None] = ContextVar("request_record", default=None)


def note_error(code: str) -> None:
    """Tell the current request's record which error it is answering with (no-op outside a request)."""
    record = request_record_var.get()
    if record is not None:
        record.note_error(code)

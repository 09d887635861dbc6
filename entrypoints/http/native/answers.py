"""How the native dialect's generation answers go on the HTTP wire, beside the JSON shapes of ``native_json``.

Kept apart from the route modules so that whichever code path answers a route
(the raw-ASGI ``fast_generate`` today) imports its framing from here, not from
another route's module.
"""

from __future__ import annotations

from domain.models import StreamEvent
from entrypoints.http.shared.sse import frame
from entrypoints.native_json import stream_event_json


def render_stream_event(event: StreamEvent) -> bytes:
    """One SSE frame of ``/generate/stream``: a text delta or the final chunk as a plain ``data:`` event; a
    tool-call or reasoning delta also names its kind (``event: toolCall`` / ``event: reasoning``)."""
    payload = stream_event_json(event)
    kind = payload.get("type")
    return b"event: " + str(kind).encode() + b"\n" + frame(payload) if kind else frame(payload)

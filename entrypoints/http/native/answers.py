"""How the native dialect's generation answers go on the HTTP wire, beside the JSON shapes of ``native_json``.

Kept apart from the route modules so that whichever code path answers a route
(the raw-ASGI ``fast_generate`` today) imports its framing from here, not from
another route's module.
"""

from __future__ import annotations

from application.tool_loop import ToolRound
from domain.models import StreamEvent
from entrypoints.http.shared.sse import frame
from entrypoints.native_json import stream_event_json, tool_round_json


def render_stream_event(event: StreamEvent | ToolRound) -> bytes:
    """One SSE frame of ``/generate/stream``: a text delta or the final chunk as a plain ``data:`` event; a
    tool-call or reasoning delta also names its kind (``event: toolCall`` / ``event: reasoning``), and so does
    a round of MCP tool calls the gateway ran (``event: toolRound``)."""
    payload = tool_round_json(event) if isinstance(event, ToolRound) else stream_event_json(event)
    kind = payload.get("type")
    return b"event: " + str(kind).encode() + b"\n" + frame(payload) if kind else frame(payload)

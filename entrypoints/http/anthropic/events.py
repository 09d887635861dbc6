"""A stream as Anthropic's typed events (docs/api.md#anthropic-streams).

    event: message_start         {"type": "message_start", "message": {... "content": [], "usage": {...}}}
    event: content_block_start   {"index": 0, "content_block": {"type": "thinking", "thinking": "", "signature": ""}}
    event: content_block_delta   {"index": 0, "delta": {"type": "thinking_delta", "thinking": "..."}}
    event: content_block_delta   {"index": 0, "delta": {"type": "signature_delta", "signature": "..."}}
    event: content_block_stop    {"index": 0}
    event: content_block_start   {"index": 1, "content_block": {"type": "text", "text": ""}}
    event: content_block_delta   {"index": 1, "delta": {"type": "text_delta", "text": "Hel"}}
    event: content_block_stop    {"index": 1}
    event: content_block_start   {"index": 2, "content_block": {"type": "tool_use", "id", "name", "input": {}}}
    event: content_block_delta   {"index": 2, "delta": {"type": "input_json_delta", "partial_json": "{\\"a\\":"}}
    event: content_block_stop    {"index": 2}
    event: message_delta         {"delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {...}}
    event: message_stop          {"type": "message_stop"}

``message_start`` goes out in the frame of the first event, so that an error
before any event is still a plain error answer (``shared/sse.first_frame``);
its usage is zero, since the upstream reports usage at the end: the whole
usage is in ``message_delta`` (the SDK takes its counts as totals). A block
opens when a delta of another kind (or another tool call) arrives and closes
before the next one opens. ``ping`` events go out while the upstream is quiet
(``PING``, every ``ANTHROPIC_PING_SECONDS``); a failure once the stream has
started is an ``error`` event (``errors.stream_error_frame``), and the stream ends.
"""

from __future__ import annotations

import base64
from typing import Any

import msgspec

from domain.content import ReasoningDelta, ToolCallDelta
from domain.models import StreamDelta, StreamEvent
from entrypoints.http.anthropic.mapping import stop_fields, usage_json

PING = b'event: ping\ndata: {"type":"ping"}\n\n'
_encode = msgspec.json.Encoder().encode


def event(name: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + _encode({"type": name, **payload}) + b"\n\n"


class EventRenderer:
    """Renders one stream's events; one instance per stream (it tracks the open block)."""

    def __init__(self, *, message_id: str, model: str) -> None:
        self._message_id = message_id
        self._model = model
        self._started = False
        self._index = -1  # the open block's index, -1 before the first
        self._open: str | None = None  # "text", "thinking", or "tool:<call index>"

    def __call__(self, item: StreamEvent) -> bytes:
        framed = b"" if self._started else self._message_start()
        self._started = True
        if not isinstance(item, StreamDelta):
            answer = item.answer
            delta = stop_fields(answer)
            return (
                framed
                + self._close()
                + event("message_delta", {"delta": delta, "usage": usage_json(answer.usage)})
                + event("message_stop", {})
            )
        if item.tool_calls:
            return framed + b"".join(self._tool_call(call) for call in item.tool_calls)
        if item.reasoning is not None:
            return framed + self._reasoning(item.reasoning)
        if not item.content:
            return framed
        return (
            framed
            + self._switch("text", {"type": "text", "text": ""})
            + self._delta({"type": "text_delta", "text": item.content})
        )

    def _message_start(self) -> bytes:
        message: dict[str, Any] = {
            "id": self._message_id,
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage_json_zero(),
        }
        return event("message_start", {"message": message})

    def _tool_call(self, call: ToolCallDelta) -> bytes:
        framed = b""
        kind = f"tool:{call.index}"
        if call.id or self._open != kind:
            block = {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}
            framed = self._close() + self._start(kind, block)
        if call.arguments:
            framed += self._delta({"type": "input_json_delta", "partial_json": call.arguments})
        return framed

    def _reasoning(self, delta: ReasoningDelta) -> bytes:
        if delta.redacted:
            block = {"type": "redacted_thinking", "data": base64.b64encode(delta.redacted).decode()}
            return self._close() + self._start("redacted", block) + self._close()
        framed = b""
        if delta.text:
            framed += self._switch("thinking", {"type": "thinking", "thinking": "", "signature": ""})
            framed += self._delta({"type": "thinking_delta", "thinking": delta.text})
        if delta.signature:  # closes its block: the next thought is a block of its own
            framed += self._switch("thinking", {"type": "thinking", "thinking": "", "signature": ""})
            framed += self._delta({"type": "signature_delta", "signature": delta.signature}) + self._close()
        return framed

    def _switch(self, kind: str, block: dict[str, Any]) -> bytes:
        """Open a block of ``kind`` unless one is open already."""
        if self._open == kind:
            return b""
        return self._close() + self._start(kind, block)

    def _start(self, kind: str, block: dict[str, Any]) -> bytes:
        self._index += 1
        self._open = kind
        return event("content_block_start", {"index": self._index, "content_block": block})

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return event("content_block_delta", {"index": self._index, "delta": delta})

    def _close(self) -> bytes:
        if self._open is None:
            return b""
        self._open = None
        return event("content_block_stop", {"index": self._index})


def usage_json_zero() -> dict[str, Any]:
    return {"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}

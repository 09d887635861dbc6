"""A stream as OpenAI's ``chat.completion.chunk`` events (docs/api.md#openai-streams).

    data: {"object": "chat.completion.chunk", "choices": [{"delta": {"role": "assistant", "content": ""}}], ...}
    data: {... "choices": [{"delta": {"content": "Hel"}}]}
    data: {... "choices": [{"delta": {"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                                      "function": {"name": "f", "arguments": ""}}]}}]}
    data: {... "choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\\"a\\":"}}]}}]}
    data: {... "choices": [{"delta": {}, "finish_reason": "tool_calls"}]}
    data: {... "choices": [], "usage": {...}}          only with stream_options.include_usage, exactly once
    data: [DONE]

The role comes first, in the frame of the first event, so that an error
before any event is still a plain error answer (``shared/sse.first_frame``).
Reasoning text is ``reasoning_content`` on the delta; a reasoning block's
signature has no place on this wire and is not sent. A failure once the
stream has started is one ``data:`` event with the error object
(``errors.stream_error_frame``) and no ``[DONE]``.
"""

from __future__ import annotations

import msgspec

from application.tool_loop import ToolRound
from domain.content import ToolCallDelta
from domain.models import StreamDelta, StreamEvent
from entrypoints.http.openai.mapping import usage_json
from entrypoints.http.shared.sse import frame

DONE = b"data: [DONE]\n\n"
_encode = msgspec.json.Encoder().encode


class ChunkRenderer:
    """Renders one stream's events; one instance per stream (it remembers whether the role went out)."""

    def __init__(self, *, completion_id: str, created: int, model: str, include_usage: bool) -> None:
        self._head = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model}
        self._include_usage = include_usage
        self._started = False

    def __call__(self, event: StreamEvent | ToolRound) -> bytes:
        framed = b"" if self._started else self._chunk({"role": "assistant", "content": ""})
        self._started = True
        if isinstance(event, ToolRound):  # MCP calls the gateway ran: an empty delta, the round beside it
            return framed + self._chunk({}, tool_round=tool_round_json(event))
        if not isinstance(event, StreamDelta):
            answer = event.answer
            framed += self._chunk({}, finish_reason=answer.finish_reason)
            if self._include_usage:
                framed += frame({**self._head, "choices": [], "usage": usage_json(answer.usage)})
            return framed + DONE
        if event.tool_calls:
            return framed + self._chunk({"tool_calls": [tool_call_delta_json(d) for d in event.tool_calls]})
        if event.reasoning is not None:
            return framed + (self._chunk({"reasoning_content": event.reasoning.text}) if event.reasoning.text else b"")
        return framed + (self._chunk({"content": event.content}) if event.content else b"")

    def _chunk(self, delta: dict[str, object], *, finish_reason: str | None = None, tool_round: object = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        chunk: dict[str, object] = {**self._head, "choices": [choice]}
        if tool_round is not None:
            chunk["tool_round"] = tool_round
        if self._include_usage:
            chunk["usage"] = None  # as OpenAI sends it: every chunk but the last has a null usage
        return frame(chunk)


def tool_call_delta_json(delta: ToolCallDelta) -> dict[str, object]:
    """A call's first fragment carries its id, type and name; the later ones only more of the arguments."""
    function: dict[str, object] = {"arguments": delta.arguments}
    body: dict[str, object] = {"index": delta.index}
    if delta.id:
        body["id"] = delta.id
        body["type"] = "function"
    if delta.name:
        function = {"name": delta.name, **function}
    body["function"] = function
    return body


def tool_round_json(event: ToolRound) -> dict[str, object]:
    """``{"round", "calls": [{"id", "name", "arguments"}], "results": [{"call_id", "content", "is_error"}]}``."""
    return {
        "round": event.round,
        "calls": [{"id": call.id, "name": call.name, "arguments": call.arguments} for call in event.calls],
        "results": [
            {"call_id": result.call_id, "content": result.content, "is_error": result.is_error}
            for result in event.results
        ],
    }

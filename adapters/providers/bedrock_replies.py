"""Converse answers and ConverseStream events as completions and chunks (docs/api.md#providers).

Converse                          domain
text block / text delta           ``content`` / ``ProviderChunk.text``
toolUse block                     ``ToolCallPart`` (the input as JSON text)
contentBlockStart.toolUse         ``ToolCallDelta`` with the id and name, at the call's index
contentBlockDelta.toolUse.input   ``ToolCallDelta`` with the next piece of the arguments
the forced answer tool's input    text: a JSON answer (``bedrock_converse.answer_tool``), finish ``stop``
reasoningContent                  ``ReasoningPart`` / ``ReasoningDelta`` (text, signature, redacted bytes)
stopReason                        end_turn, stop_sequence -> stop; tool_use -> tool_calls; max_tokens,
                                  model_context_window_exceeded -> length; content_filtered,
                                  guardrail_intervened -> content_filter
additionalModelResponseFields     ``stop_sequence`` (asked for on Claude with stop sequences): the sequence
  .stop_sequence                  that matched, as ``stop_sequence`` beside the finish reason ``stop``
usage                             inputTokens (the uncached part) + cacheRead + cacheWrite -> prompt_tokens
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from domain.content import (
    FINISH_CONTENT_FILTER,
    FINISH_LENGTH,
    FINISH_STOP,
    FINISH_TOOL_CALLS,
    ReasoningDelta,
    ReasoningPart,
    ToolCallDelta,
    ToolCallPart,
)
from domain.errors import UpstreamError
from domain.models import Completion, ProviderChunk, Usage

_FINISH_REASONS = {
    "end_turn": FINISH_STOP,
    "stop_sequence": FINISH_STOP,
    "tool_use": FINISH_TOOL_CALLS,
    "max_tokens": FINISH_LENGTH,
    "model_context_window_exceeded": FINISH_LENGTH,
    "content_filtered": FINISH_CONTENT_FILTER,
    "guardrail_intervened": FINISH_CONTENT_FILTER,
}


def completion(response: dict[str, Any], *, model: str, answer_tool: str) -> Completion:
    """The whole answer of a Converse response; ``answer_tool`` names the tool whose input is the answer text."""
    if "output" not in response:  # a 200 whose body is not a Converse answer (botocore keeps it as "message")
        raise UpstreamError("Bedrock sent an answer that is not a Converse response")
    texts: list[str] = []
    calls: list[ToolCallPart] = []
    reasoning: list[ReasoningPart] = []
    for block in response["output"].get("message", {}).get("content", []):
        if "text" in block:
            texts.append(block["text"])
        elif "toolUse" in block:
            use = block["toolUse"]
            arguments = json.dumps(use.get("input", {}), ensure_ascii=False)
            if use["name"] == answer_tool:
                texts.append(arguments)
            else:
                calls.append(ToolCallPart(id=use["toolUseId"], name=use["name"], arguments=arguments))
        elif "reasoningContent" in block:
            reasoning.append(_reasoning_part(block["reasoningContent"]))
    return Completion(
        content="".join(texts),
        model=model,
        usage=usage(response.get("usage", {})),
        finish_reason=finish_reason(response.get("stopReason", ""), called=bool(calls)),
        stop_sequence=matched_stop_sequence(response),
        tool_calls=tuple(calls),
        reasoning=tuple(reasoning),
    )


def _reasoning_part(content: dict[str, Any]) -> ReasoningPart:
    if "redactedContent" in content:
        return ReasoningPart(redacted=bytes(content["redactedContent"]))
    text = content.get("reasoningText", {})
    return ReasoningPart(text=text.get("text", ""), signature=text.get("signature", ""))


async def chunks(events: Any, *, answer_tool: str) -> AsyncIterator[ProviderChunk]:
    """Deltas as they come (text, tool-call fragments, reasoning), then one chunk with usage and finish reason."""
    state = _StreamState(answer_tool)
    stop_reason: str | None = None
    stop_sequence: str | None = None
    final_usage: Usage | None = None
    async for event in events:
        if "messageStop" in event:
            stop_reason = event["messageStop"].get("stopReason", "")
            stop_sequence = matched_stop_sequence(event["messageStop"])
        elif "metadata" in event:
            final_usage = usage(event["metadata"].get("usage", {}))
        else:
            chunk = state.read(event)
            if chunk is not None:
                yield chunk
    if stop_reason is None:
        raise UpstreamError("the Bedrock stream ended before its messageStop event")
    finish = finish_reason(stop_reason, called=state.called)
    yield ProviderChunk(usage=final_usage or Usage(), finish_reason=finish, stop_sequence=stop_sequence)


class _StreamState:
    """Which content block is which call, and whether a call's arguments have begun."""

    def __init__(self, answer_tool: str) -> None:
        self._answer_tool = answer_tool
        self._calls: dict[int, int] = {}  # content block index -> tool call index
        self._answers: set[int] = set()  # content blocks holding the answer tool's input
        self._fed: set[int] = set()  # blocks whose input has had a fragment

    @property
    def called(self) -> bool:
        return bool(self._calls)

    def read(self, event: dict[str, Any]) -> ProviderChunk | None:
        if "contentBlockStart" in event:
            return self._start(event["contentBlockStart"])
        if "contentBlockDelta" in event:
            return self._delta(event["contentBlockDelta"])
        if "contentBlockStop" in event:
            return self._stop(event["contentBlockStop"]["contentBlockIndex"])
        return None  # messageStart

    def _start(self, event: dict[str, Any]) -> ProviderChunk | None:
        use = event.get("start", {}).get("toolUse")
        if use is None:
            return None
        block = event["contentBlockIndex"]
        if use["name"] == self._answer_tool:
            self._answers.add(block)
            return None
        index = self._calls[block] = len(self._calls)
        return ProviderChunk(tool_calls=(ToolCallDelta(index=index, id=use["toolUseId"], name=use["name"]),))

    def _delta(self, event: dict[str, Any]) -> ProviderChunk | None:
        delta, block = event.get("delta", {}), event.get("contentBlockIndex", 0)
        if delta.get("text"):
            return ProviderChunk(text=delta["text"])
        if "toolUse" in delta:
            return self._input(block, delta["toolUse"].get("input", ""))
        if "reasoningContent" in delta:
            return ProviderChunk(reasoning=_reasoning_delta(delta["reasoningContent"]))
        return None

    def _input(self, block: int, fragment: str) -> ProviderChunk | None:
        if not fragment:
            return None
        self._fed.add(block)
        if block in self._answers:
            return ProviderChunk(text=fragment)
        return ProviderChunk(tool_calls=(ToolCallDelta(index=self._calls[block], arguments=fragment),))

    def _stop(self, block: int) -> ProviderChunk | None:
        if block in self._fed:
            return None
        # A call without arguments streams no input at all: its arguments are the empty object.
        if block in self._answers:
            return ProviderChunk(text="{}")
        if block in self._calls:
            return ProviderChunk(tool_calls=(ToolCallDelta(index=self._calls[block], arguments="{}"),))
        return None


def _reasoning_delta(delta: dict[str, Any]) -> ReasoningDelta:
    if "redactedContent" in delta:
        return ReasoningDelta(redacted=bytes(delta["redactedContent"]))
    return ReasoningDelta(text=delta.get("text", ""), signature=delta.get("signature", ""))


def usage(reported: dict[str, Any]) -> Usage:
    """Bedrock's ``inputTokens`` leaves out the cached tokens; the domain's ``prompt_tokens`` counts them all."""
    read = int(reported.get("cacheReadInputTokens", 0))
    written = int(reported.get("cacheWriteInputTokens", 0))
    return Usage(
        prompt_tokens=int(reported.get("inputTokens", 0)) + read + written,
        completion_tokens=int(reported.get("outputTokens", 0)),
        cache_read_input_tokens=read,
        cache_write_input_tokens=written,
    )


def finish_reason(stop_reason: str, *, called: bool) -> str:
    """``called``: the answer holds tool calls (a forced answer tool alone is a finished text answer)."""
    if stop_reason == "tool_use" and not called:
        return FINISH_STOP
    return _FINISH_REASONS.get(stop_reason, stop_reason.lower() or FINISH_STOP)


def matched_stop_sequence(answer: dict[str, Any]) -> str | None:
    """The stop sequence that ended a Converse answer or ``messageStop`` event, where Bedrock says.

    Only a ``stop_sequence`` stop reason counts; a field of another type (the model's own document,
    not checked by Bedrock) is no answer.
    """
    if answer.get("stopReason") != "stop_sequence":
        return None
    fields = answer.get("additionalModelResponseFields")
    matched = fields.get("stop_sequence") if isinstance(fields, dict) else None
    return matched if isinstance(matched, str) and matched else None

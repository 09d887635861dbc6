"""Chat-completion answers as domain values, for the SDK path and the lean HTTP path alike.

The lean client decodes the JSON straight into the Structs below; the SDK path
converts its parsed objects into the same Structs (``from_sdk``: attribute by
attribute, which also reads the fields the SDK does not declare, such as
``reasoning_content``). One ``completion`` and one ``StreamFold`` then read
either::

    message.content / delta.content ──────────────── text
    message.tool_calls / delta.tool_calls ─────────── ToolCallPart / ToolCallDelta (by index; id and name on
                                                      the first fragment of a call, arguments across chunks)
    message.reasoning_content / delta.reasoning_content  ReasoningPart / ReasoningDelta (the convention of
                                                      OpenAI-compatible servers: vLLM, DeepSeek, Azure's R1)
    finish_reason ─────────────────────────────────── stop | length | tool_calls | content_filter
    usage.prompt_tokens_details.cached_tokens ──────── cache_read_input_tokens
    usage.completion_tokens_details.reasoning_tokens ─ reasoning_tokens
"""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

import msgspec

from domain.content import FINISH_STOP, FINISH_TOOL_CALLS, ReasoningDelta, ReasoningPart, ToolCallDelta, ToolCallPart
from domain.errors import UpstreamError
from domain.models import Completion, ProviderChunk, Usage

_FINISH_REASONS = {"stop": "stop", "length": "length", "tool_calls": "tool_calls", "content_filter": "content_filter"}
_FINISH_REASONS["function_call"] = FINISH_TOOL_CALLS  # the deprecated functions API's spelling


class _PromptDetails(msgspec.Struct):
    cached_tokens: int | None = None


class _CompletionDetails(msgspec.Struct):
    reasoning_tokens: int | None = None


class WireUsage(msgspec.Struct):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    prompt_tokens_details: _PromptDetails | None = None
    completion_tokens_details: _CompletionDetails | None = None


class _Function(msgspec.Struct):
    name: str | None = None
    arguments: str | None = None


class _ToolCall(msgspec.Struct):
    index: int | None = None  # streamed fragments only
    id: str | None = None
    function: _Function | None = None  # absent on the SDK's custom (non-function) tool calls


class _Message(msgspec.Struct):
    content: str | None = None
    tool_calls: list[_ToolCall] | None = None
    reasoning_content: str | None = None


class _Choice(msgspec.Struct):
    message: _Message | None = None
    finish_reason: str | None = None


class WireCompletion(msgspec.Struct):
    """A ``chat.completion`` object."""

    choices: list[_Choice] = []
    usage: WireUsage | None = None


class _StreamChoice(msgspec.Struct):
    delta: _Message | None = None
    finish_reason: str | None = None


class StreamError(msgspec.Struct):
    message: str = ""
    code: str | int | None = None


class WireChunk(msgspec.Struct):
    """A ``chat.completion.chunk`` (or the error event a server sends mid-stream instead)."""

    choices: list[_StreamChoice] = []
    usage: WireUsage | None = None
    error: StreamError | None = None


_Wire = TypeVar("_Wire", WireCompletion, WireChunk)


def from_sdk(value: Any, kind: type[_Wire]) -> _Wire:
    """The SDK's parsed answer or chunk as a wire Struct; ``msgspec.ValidationError`` when it is not one."""
    return msgspec.convert(value, kind, from_attributes=True)


def usage_of(usage: WireUsage | None) -> Usage:
    """The token counts; a server that sends no usage (some compatible ones) reads as zero."""
    if usage is None:
        return Usage()
    prompt, completion = usage.prompt_tokens_details, usage.completion_tokens_details
    return Usage(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        cache_read_input_tokens=(prompt.cached_tokens or 0) if prompt else 0,
        reasoning_tokens=(completion.reasoning_tokens or 0) if completion else 0,
    )


def finish_reason_of(reason: str | None, *, called_tools: bool) -> str:
    """The domain's finish reason; a server that says ``stop`` after tool calls (Ollama does) meant tool calls."""
    finish = _FINISH_REASONS.get(reason or "", FINISH_STOP)
    return FINISH_TOOL_CALLS if called_tools and finish == FINISH_STOP else finish


def completion(answer: WireCompletion, model: str) -> Completion:
    """A whole answer; no choice reads as an empty one."""
    choice = answer.choices[0] if answer.choices else _Choice()
    message = choice.message or _Message()
    calls = tuple(
        ToolCallPart(
            id=call.id or _new_call_id(), name=call.function.name or "", arguments=call.function.arguments or "{}"
        )
        for call in message.tool_calls or ()
        if call.function is not None
    )
    return Completion(
        content=message.content or "",
        model=model,
        usage=usage_of(answer.usage),
        finish_reason=finish_reason_of(choice.finish_reason, called_tools=bool(calls)),
        tool_calls=calls,
        reasoning=(ReasoningPart(text=message.reasoning_content),) if message.reasoning_content else (),
    )


def _new_call_id() -> str:
    # A server that sends no call id (some local ones): the next turn must still name the call it answers.
    return f"call_{uuid.uuid4().hex[:24]}"


class StreamFold:
    """A chunk per event with text, tool-call fragments or reasoning as they come, then ``end()``.

    Each tool call's first fragment carries its id and name, later ones only a piece of the arguments
    (a server that repeats the id on every fragment is read the same way). The usage comes in an event of
    its own after the last choice (``stream_options.include_usage``); a stream that ends without any finish
    reason was cut short upstream, which is an error.
    """

    def __init__(self, provider: str) -> None:
        self._provider = provider
        self._usage: Usage | None = None
        self._finish_reason: str | None = None
        self._calls: set[int] = set()

    def add(self, event: WireChunk) -> list[ProviderChunk]:
        if event.usage is not None:
            self._usage = usage_of(event.usage)
        chunks = []
        for choice in event.choices:
            chunk = self._chunk(choice.delta) if choice.delta is not None else None
            if chunk is not None:
                chunks.append(chunk)
            self._finish_reason = choice.finish_reason or self._finish_reason
        return chunks

    def end(self) -> ProviderChunk:
        if self._finish_reason is None:
            raise UpstreamError(f"{self._provider} ended the stream before the answer was complete")
        finish = finish_reason_of(self._finish_reason, called_tools=bool(self._calls))
        return ProviderChunk(usage=self._usage, finish_reason=finish)

    def _chunk(self, delta: _Message) -> ProviderChunk | None:
        calls = tuple(
            filter(None, (self._fragment(position, call) for position, call in enumerate(delta.tool_calls or ())))
        )
        reasoning = ReasoningDelta(text=delta.reasoning_content) if delta.reasoning_content else None
        if not (delta.content or calls or reasoning):
            return None
        return ProviderChunk(text=delta.content or "", tool_calls=calls, reasoning=reasoning)

    def _fragment(self, position: int, call: _ToolCall) -> ToolCallDelta | None:
        index = call.index if call.index is not None else position
        function = call.function or _Function()
        if index in self._calls:
            return ToolCallDelta(index=index, arguments=function.arguments) if function.arguments else None
        self._calls.add(index)
        return ToolCallDelta(
            index=index, id=call.id or _new_call_id(), name=function.name or "", arguments=function.arguments or ""
        )

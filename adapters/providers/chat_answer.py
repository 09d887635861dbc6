"""Chat-completion answers as domain values, for the SDK path and the lean HTTP path alike.

Both paths read the same JSON, one as the SDK's pydantic models and one as
msgspec Structs; the protocols below are what the two have in common, so one
piece of code turns either into a ``Completion`` or a run of ``ProviderChunk``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from domain.errors import UpstreamError
from domain.models import Completion, ProviderChunk, Usage


class TokenCounts(Protocol):
    @property
    def prompt_tokens(self) -> int: ...
    @property
    def completion_tokens(self) -> int: ...


class Delta(Protocol):
    @property
    def content(self) -> str | None: ...


class StreamChoice(Protocol):
    @property
    def delta(self) -> Delta | None: ...
    @property
    def finish_reason(self) -> str | None: ...


class StreamEvent(Protocol):
    """One ``chat.completion.chunk``."""

    @property
    def choices(self) -> Sequence[StreamChoice]: ...
    @property
    def usage(self) -> TokenCounts | None: ...


def completion(*, content: str | None, finish_reason: str | None, usage: TokenCounts | None, model: str) -> Completion:
    """A whole answer; no choice or no usage (some compatible servers send none) reads as empty and zero."""
    counts = usage_of(usage) if usage else Usage()
    return Completion(content=content or "", model=model, usage=counts, finish_reason=finish_reason or "stop")


def usage_of(counts: TokenCounts) -> Usage:
    return Usage(prompt_tokens=counts.prompt_tokens, completion_tokens=counts.completion_tokens)


class StreamFold:
    """A chunk per text delta as the events come, then ``end()``: the final chunk with usage and finish reason.

    The usage comes in an event of its own after the last choice (``stream_options.include_usage``);
    a stream that ends without any finish reason was cut short upstream, which is an error.
    """

    def __init__(self, provider: str) -> None:
        self._provider = provider
        self._usage: Usage | None = None
        self._finish_reason: str | None = None

    def add(self, event: StreamEvent) -> list[ProviderChunk]:
        if event.usage is not None:
            self._usage = usage_of(event.usage)
        texts = []
        for choice in event.choices:
            if choice.delta is not None and choice.delta.content:
                texts.append(ProviderChunk(text=choice.delta.content))
            self._finish_reason = choice.finish_reason or self._finish_reason
        return texts

    def end(self) -> ProviderChunk:
        if self._finish_reason is None:
            raise UpstreamError(f"{self._provider} ended the stream before the answer was complete")
        return ProviderChunk(usage=self._usage, finish_reason=self._finish_reason)

"""What a test tells the fake Bedrock to do, and what the fake remembers of each request.

A fresh ``Script`` per test: latency before the first byte and between deltas,
how many deltas, the stop reason, the token counts, the tool calls the model
makes, its reasoning when thinking is on (text, and a redacted block), and a
failure (an HTTP error, an exception frame mid-stream, a reset, a garbled
answer), for every call or only the first ``fail_first`` calls. The answer text and the usage it reports are pure
functions of the request, so tests can compute what to expect.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class HttpFailure:
    """Answer the call with an HTTP error, as Bedrock's front end does."""

    error_type: str
    message: str = "scripted failure"
    retry_after: str | None = None


@dataclass(frozen=True)
class StreamException:
    """An ``exception`` frame after ``after_chunks`` text deltas (streams only)."""

    exception_type: str = "modelStreamErrorException"
    after_chunks: int = 1
    message: str = "scripted stream failure"


@dataclass(frozen=True)
class Reset:
    """Reset the TCP connection after ``after_chunks`` text deltas (0, or a non-stream call: before any byte)."""

    after_chunks: int = 1


@dataclass(frozen=True)
class Garbled:
    """Answer 200 with a body that is not Bedrock's (a proxy's page, a broken frame), before any text."""

    body: bytes = b"<html><body>502 Bad Gateway</body></html>"


Failure = HttpFailure | StreamException | Reset | Garbled


@dataclass(frozen=True)
class ScriptedCall:
    """A tool call the fake's model makes when the tool is offered and not yet called in the conversation."""

    name: str
    input: dict[str, Any] = field(default_factory=dict)


@dataclass
class Script:
    """What the fake does for the next calls. ``fail_first=None`` fails every call."""

    first_byte_delay: float = 0.0
    chunk_delay: float = 0.0
    chunks: int = 3
    stop_reason: str = "end_turn"
    failure: Failure | None = None
    fail_first: int | None = None
    answer: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    tool_calls: tuple[ScriptedCall, ...] = ()
    preamble: str | None = None  # a text block before the tool calls ("Let me check."), as Claude often sends
    reasoning: str | None = None
    redacted_reasoning: bytes | None = None
    failures_served: int = field(default=0, init=False)

    def next_failure(self) -> Failure | None:
        """The failure for this call: always, or only for the first ``fail_first`` calls."""
        if self.failure is None or (self.fail_first is not None and self.failures_served >= self.fail_first):
            return None
        self.failures_served += 1
        return self.failure


@dataclass
class RecordedRequest:
    """One request as the fake received it, and how it ended."""

    operation: str
    model_id: str
    headers: dict[str, str]
    body: Any
    status: int = 0
    closed_early: bool = False
    reset_by_fake: bool = False
    finished: asyncio.Event = field(default_factory=asyncio.Event)


def answer_for(text: str) -> str:
    return f"Bedrock answers: {text}"


def usage_for(body: dict[str, Any], answer: str) -> tuple[int, int]:
    """(inputTokens, outputTokens) the fake reports: words sent, words answered."""
    texts = [block.get("text", "") for block in body.get("system", [])]
    texts += [block.get("text", "") for message in body.get("messages", []) for block in message["content"]]
    return sum(len(text.split()) for text in texts), len(answer.split())


def split_chunks(text: str, count: int) -> list[str]:
    count = max(1, min(count, len(text)))
    step, extra = divmod(len(text), count)
    pieces, start = [], 0
    for index in range(count):
        end = start + step + (1 if index < extra else 0)
        pieces.append(text[start:end])
        start = end
    return pieces

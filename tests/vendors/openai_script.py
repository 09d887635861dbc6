"""What a test can script on the fake OpenAI upstream, and what it records of each request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

FailureKind = Literal[
    "rate_limit",
    "server_error",
    "unavailable",
    "auth",
    "forbidden",
    "content_filter",
    "reset",
    "hang",
    "reset_mid_stream",
    "stall_mid_stream",
    "error_event",
    "malformed",  # 200, but the body (or each stream event) is not the API's JSON
]


@dataclass
class Failure:
    """How calls fail: ``times`` = fail the first K calls then succeed (``None``: always).

    ``every``: a transient fault, as a loaded upstream has them: one request in ``every`` (chosen by its
    messages, so the same whichever order calls arrive in) fails, once; its retry, and every other
    request, succeeds. A client that retries once sees no failure at all.

    ``headers`` replaces the retry headers a ``rate_limit`` derives from ``retry_after``, to send
    values no number gives (``inf``, an HTTP date).
    """

    kind: FailureKind
    times: int | None = None
    retry_after: float = 2.0
    after_chunks: int = 1
    headers: dict[str, str] | None = None
    every: int = 1
    failed_once: set[str] = field(default_factory=set)  # the requests ``every`` already failed


@dataclass
class Script:
    """Per-test behaviour: latency before the first byte, stream chunk count and pacing, failure; and what the
    model answers to a rich request (``tests.vendors.openai_rich``): the tool calls it makes (name and JSON
    arguments), its reasoning text, and the reasoning and cached token counts it reports."""

    latency_ms: float = 0.0
    chunk_delay_ms: float = 0.0
    chunks: int | None = None
    failure: Failure | None = None
    tool_calls: list[tuple[str, str]] = field(default_factory=list)
    preamble: str = ""  # text the model says before its tool calls, in the same message
    reasoning: str = ""
    reasoning_tokens: int = 0
    cached_tokens: int = 0


@dataclass
class ReceivedRequest:
    """One request as the fake received it; ``status``: what it answered (0 while answering, or if it never did)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    closed_early: bool = False
    status: int = 0

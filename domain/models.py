"""The gateway's vocabulary: immutable values that cross every layer.

Everything here is a frozen msgspec Struct, so a value built in one layer can be
handed to another without defensive copies, and encoded to JSON or msgpack by
any adapter without a conversion step.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from domain.content import (
    AUTO_TOOLS,
    DEFAULT_SAMPLING,
    NO_CACHE_MARKS,
    NO_REASONING,
    TEXT_OUTPUT,
    CacheMarks,
    OutputFormat,
    Part,
    ReasoningConfig,
    ReasoningDelta,
    ReasoningPart,
    Sampling,
    TextPart,
    ToolCallDelta,
    ToolCallPart,
    ToolChoice,
    ToolSpec,
)

Role = Literal["system", "user", "assistant", "tool"]


class Usage(msgspec.Struct, frozen=True, kw_only=True):
    """Token counts of one provider call, as the provider reported them.

    ``prompt_tokens`` counts every input token, the cached ones included;
    ``cache_read_input_tokens`` and ``cache_write_input_tokens`` say how many of
    them were read from or written to the provider's prompt cache, and
    ``reasoning_tokens`` how many of ``completion_tokens`` the model spent thinking.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_write_input_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens


ZERO_USAGE = Usage()


class Message(msgspec.Struct, frozen=True, kw_only=True):
    """One turn of a conversation.

    A text-only message has its text in ``content`` and no ``parts``; any other
    has its whole content in ``parts`` (text, images, tool calls and results,
    reasoning) and an empty ``content``. A ``tool`` message holds tool results.
    An assistant message remembers the cache key its answer was stored under, so
    that a later complaint can retire exactly that entry. ``cache_after`` holds the
    positions in ``content_parts`` after which the client asked for a prompt-cache
    point (``CacheMarks``); a stored message has none.
    """

    role: Role
    content: str = ""
    parts: tuple[Part, ...] = ()
    model: str = ""
    tokens: int = 0
    cache_key: str = ""
    created_at: float = 0.0
    cache_after: tuple[int, ...] = ()

    @property
    def text(self) -> str:
        """The message's text: ``content``, or its text parts joined by newlines."""
        if not self.parts:
            return self.content
        return "\n".join(part.text for part in self.parts if isinstance(part, TextPart))

    @property
    def content_parts(self) -> tuple[Part, ...]:
        """The message as parts, a text-only one included."""
        if self.parts:
            return self.parts
        return (TextPart(text=self.content),) if self.content else ()

    @property
    def tool_calls(self) -> tuple[ToolCallPart, ...]:
        return tuple(part for part in self.parts if isinstance(part, ToolCallPart))


class Caller(msgspec.Struct, frozen=True, kw_only=True):
    """Who is calling, as the transport proved it: the API key and its rights, and the client's address.

    ``key_id`` is empty when no API keys are configured (the embedded default,
    where everyone has every right and client-sent ids are trusted); otherwise
    it names the key that authenticated the call. ``address`` is the client's
    network address as the transport saw it. ``trusted_feedback``: a complaint
    from this caller retires a cached answer on its own (an admin key, or a key
    whose ``API_KEYS`` role is marked ``+feedback``); anyone else's counts as one
    reporter among the several a retirement needs. ``tool_patterns``: the
    upstream MCP tools the key may use (``domain.tool_access``).
    """

    key_id: str = ""
    admin: bool = False
    address: str = ""
    trusted_feedback: bool = False
    tool_patterns: tuple[str, ...] = ()

    @property
    def authenticated(self) -> bool:
        return bool(self.key_id)


ANYONE = Caller()


class GenerationRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A request that passed validation, with every default resolved.

    ``provider`` is the canonical provider key (``aws``, ``azure``, ``openai``,
    ``mock``) and ``model`` the catalogue id the alias resolved to. The new
    turn is ``messages`` followed by ``prompt`` as the last user message (either
    may be empty, not both); system messages were folded into ``system``. Every
    field past ``caller`` has a default that leaves a plain prompt as it always was.
    """

    prompt: str = ""
    model: str
    provider: str
    max_tokens: int
    temperature: float
    system: str = ""
    request_id: str = ""
    user_id: str = ""
    session_id: str = ""
    skip_cache_read: bool = False
    caller: Caller = ANYONE
    messages: tuple[Message, ...] = ()
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice = AUTO_TOOLS
    parallel_tool_calls: bool = True
    output_format: OutputFormat = TEXT_OUTPUT
    sampling: Sampling = DEFAULT_SAMPLING
    reasoning: ReasoningConfig = NO_REASONING
    cache_marks: CacheMarks = NO_CACHE_MARKS
    # Earlier turns a chain of stored responses brings (the Responses API's ``previous_response_id``): read as a
    # session's history is (context window, feedback on the last answer), stored by the chain, not a session.
    history: tuple[Message, ...] = ()

    @property
    def has_session(self) -> bool:
        return bool(self.session_id)

    @property
    def turn(self) -> tuple[Message, ...]:
        """The new messages of this request: ``messages``, then ``prompt`` as a user message."""
        if not self.prompt:
            return self.messages
        return (*self.messages, Message(role="user", content=self.prompt))

    @property
    def user_text(self) -> str:
        """What the user said last in this request (the text the feedback detector reads)."""
        for message in reversed(self.turn):
            if message.role == "user":
                return message.text
        return ""


class ProviderCall(msgspec.Struct, frozen=True, kw_only=True):
    """Exactly what is sent upstream: the resolved model, the full message list and the request's options.

    ``messages`` hold no system message (the system prompt is ``system``). The
    options past ``request_id`` default to what a plain prompt sends.
    """

    model: str
    messages: tuple[Message, ...]
    max_tokens: int
    temperature: float
    system: str = ""
    request_id: str = ""
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice = AUTO_TOOLS
    parallel_tool_calls: bool = True
    output_format: OutputFormat = TEXT_OUTPUT
    sampling: Sampling = DEFAULT_SAMPLING
    reasoning: ReasoningConfig = NO_REASONING
    cache_marks: CacheMarks = NO_CACHE_MARKS


class Completion(msgspec.Struct, frozen=True, kw_only=True):
    """A whole answer from a provider: text, the tool calls it asks for, and its reasoning blocks."""

    content: str
    model: str
    usage: Usage
    finish_reason: str = "stop"
    stop_sequence: str | None = None  # the stop sequence that ended it, where the provider says which
    tool_calls: tuple[ToolCallPart, ...] = ()
    reasoning: tuple[ReasoningPart, ...] = ()


class ProviderChunk(msgspec.Struct, frozen=True, kw_only=True):
    """One event of a provider stream: a text delta, tool-call fragments or a reasoning fragment,
    and at the end the usage and finish reason."""

    text: str = ""
    usage: Usage | None = None
    finish_reason: str | None = None
    stop_sequence: str | None = None  # with the finish reason: the stop sequence that ended the answer
    tool_calls: tuple[ToolCallDelta, ...] = ()
    reasoning: ReasoningDelta | None = None


class Answer(msgspec.Struct, frozen=True, kw_only=True):
    """The gateway's answer to one generation request, fresh or from the cache.

    ``usage`` is what this call cost (zero on a cache hit); ``cached_usage`` is the
    historical cost of the cached answer that was replayed.
    """

    content: str
    model: str
    provider: str
    usage: Usage
    cached: bool = False
    cached_usage: Usage = ZERO_USAGE
    finish_reason: str = "stop"
    # The stop sequence that ended the answer (``finish_reason`` stays "stop"); None when the
    # answer ended otherwise or the provider does not say which sequence matched.
    stop_sequence: str | None = None
    duration_ms: float = 0.0
    request_id: str = ""
    session_id: str = ""
    cache_key: str = ""
    cached_at: float = 0.0
    original_provider: str = ""
    upstream_ms: float = 0.0
    tool_calls: tuple[ToolCallPart, ...] = ()
    reasoning: tuple[ReasoningPart, ...] = ()
    tool_rounds: int = 0  # MCP tool calls the gateway ran for this answer, in rounds (application.tool_loop)


class StreamDelta(msgspec.Struct, frozen=True, kw_only=True):
    """A piece of a streamed answer: text, tool-call fragments, or a reasoning fragment.

    A transport sends each kind as its own event; ``content`` is empty on a
    delta that carries only fragments.
    """

    content: str
    index: int
    tool_calls: tuple[ToolCallDelta, ...] = ()
    reasoning: ReasoningDelta | None = None


class StreamEnd(msgspec.Struct, frozen=True, kw_only=True):
    """The last event of a streamed answer, carrying its totals."""

    index: int
    answer: Answer


StreamEvent = StreamDelta | StreamEnd


class CacheEntry(msgspec.Struct, frozen=True, kw_only=True):
    """What the response cache keeps for one key."""

    content: str
    model: str
    provider: str
    usage: Usage
    finish_reason: str = "stop"
    cached_at: float = 0.0
    stop_sequence: str | None = None  # entries written before it existed decode with None
    tool_calls: tuple[ToolCallPart, ...] = ()
    reasoning: tuple[ReasoningPart, ...] = ()


class ModelInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One catalogue entry. The output cap and the context window are different limits.

    ``capabilities`` holds descriptive tags and the ones requests are checked
    against (``domain.content``: ``tools``, ``vision``, ``json-schema``, ``thinking``).
    """

    id: str
    name: str
    provider: str
    max_output_tokens: int
    context_window: int
    description: str = ""
    capabilities: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    supports_system: bool = True
    reasoning: bool = False

    def can(self, capability: str) -> bool:
        return capability in self.capabilities


class Session(msgspec.Struct, frozen=True, kw_only=True):
    """A conversation, its messages oldest first.

    ``user_id`` is its owner as stored: ``<key id>/<end-user id>`` when it was
    created with an API key, the bare end-user id otherwise (``domain.ownership``).
    """

    id: str
    user_id: str
    messages: tuple[Message, ...] = ()
    created_at: float = 0.0
    updated_at: float = 0.0

    def last_assistant(self) -> Message | None:
        for message in reversed(self.messages):
            if message.role == "assistant":
                return message
        return None


class FeedbackVerdict(msgspec.Struct, frozen=True, kw_only=True):
    """What the feedback detector read in a follow-up prompt."""

    has_problem: bool
    keywords: tuple[str, ...] = ()
    severity: int = 0
    confidence: float = 0.0
    action: Literal["none", "log_feedback", "mark_for_review", "invalidate_immediately"] = "none"
    method: str = ""


NO_PROBLEM = FeedbackVerdict(has_problem=False)


class FeedbackReport(msgspec.Struct, frozen=True, kw_only=True):
    """A complaint recorded against the cache key of an earlier answer.

    ``reporter`` is the identity the complaint counts for (``domain.feedback_reporters``):
    the key, else the client's network; ``user_id`` is only what the client said.
    """

    cache_key: str
    reporter: str
    user_id: str
    session_id: str
    verdict: FeedbackVerdict
    original_prompt: str = ""
    problem_prompt: str = ""


class CacheKeyQuality(msgspec.Struct, frozen=True, kw_only=True):
    """The feedback history of one cache key."""

    cache_key: str
    total_uses: int = 0
    problem_reports: int = 0
    quality_score: float = 1.0
    is_blacklisted: bool = False
    last_problem_at: float | None = None

    @property
    def problem_rate_percent(self) -> float:
        if self.total_uses == 0:
            return 0.0
        return round(self.problem_reports / self.total_uses * 100, 2)

    @property
    def quality_rating(self) -> str:
        for floor, rating in ((0.8, "EXCELLENT"), (0.6, "GOOD"), (0.4, "FAIR"), (0.2, "POOR")):
            if self.quality_score >= floor:
                return rating
        return "CRITICAL"

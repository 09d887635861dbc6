"""The gateway's vocabulary: immutable values that cross every layer.

Everything here is a frozen msgspec Struct, so a value built in one layer can be
handed to another without defensive copies, and encoded to JSON or msgpack by
any adapter without a conversion step.
"""

from __future__ import annotations

from typing import Literal

import msgspec

Role = Literal["system", "user", "assistant"]


class Usage(msgspec.Struct, frozen=True, kw_only=True):
    """Token counts of one provider call, as the provider reported them."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens


ZERO_USAGE = Usage()


class Message(msgspec.Struct, frozen=True, kw_only=True):
    """One turn of a conversation.

    An assistant message remembers the cache key its answer was stored under, so
    that a later complaint can retire exactly that entry.
    """

    role: Role
    content: str
    model: str = ""
    tokens: int = 0
    cache_key: str = ""
    created_at: float = 0.0


class Caller(msgspec.Struct, frozen=True, kw_only=True):
    """Who is calling, as the transport proved it: the API key and its rights, and the client's address.

    ``key_id`` is empty when no API keys are configured (the embedded default,
    where everyone has every right and client-sent ids are trusted); otherwise
    it names the key that authenticated the call. ``address`` is the client's
    network address as the transport saw it. ``trusted_feedback``: a complaint
    from this caller retires a cached answer on its own (an admin key, or a key
    whose ``API_KEYS`` role is marked ``+feedback``); anyone else's counts as one
    reporter among the several a retirement needs.
    """

    key_id: str = ""
    admin: bool = False
    address: str = ""
    trusted_feedback: bool = False

    @property
    def authenticated(self) -> bool:
        return bool(self.key_id)


ANYONE = Caller()


class GenerationRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A request that passed validation, with every default resolved.

    ``provider`` is the canonical provider key (``aws``, ``azure``, ``openai``,
    ``mock``) and ``model`` the catalogue id the alias resolved to.
    """

    prompt: str
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

    @property
    def has_session(self) -> bool:
        return bool(self.session_id)


class ProviderCall(msgspec.Struct, frozen=True, kw_only=True):
    """Exactly what is sent upstream: the resolved model and the full message list."""

    model: str
    messages: tuple[Message, ...]
    max_tokens: int
    temperature: float
    system: str = ""
    request_id: str = ""


class Completion(msgspec.Struct, frozen=True, kw_only=True):
    """A whole answer from a provider."""

    content: str
    model: str
    usage: Usage
    finish_reason: str = "stop"


class ProviderChunk(msgspec.Struct, frozen=True, kw_only=True):
    """One event of a provider stream: a text delta, and at the end the usage and finish reason."""

    text: str = ""
    usage: Usage | None = None
    finish_reason: str | None = None


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
    duration_ms: float = 0.0
    request_id: str = ""
    session_id: str = ""
    cache_key: str = ""
    cached_at: float = 0.0
    original_provider: str = ""
    upstream_ms: float = 0.0


class StreamDelta(msgspec.Struct, frozen=True, kw_only=True):
    """A piece of text of a streamed answer."""

    content: str
    index: int


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


class ModelInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One catalogue entry. The output cap and the context window are different limits."""

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

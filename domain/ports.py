"""The ports: what the application needs from the outside world.

Each port is a ``typing.Protocol``; adapters satisfy it structurally. Streaming
methods are declared without ``async`` and return an async iterator, so that an
adapter may implement them as async generators.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from domain.embeddings import EmbeddingBatch, EmbeddingCall
from domain.images import FetchedImage
from domain.models import (
    CacheEntry,
    CacheKeyQuality,
    Completion,
    FeedbackReport,
    FeedbackVerdict,
    Message,
    ProviderCall,
    ProviderChunk,
    Session,
)
from domain.rate_limit import RateDecision
from domain.stored_responses import StoredResponse


class Provider(Protocol):
    """An LLM vendor behind one API.

    ``generate`` returns the whole answer; ``stream`` yields text deltas and ends
    with one chunk carrying the usage and finish reason the vendor reported.
    Both raise ``UpstreamError`` subclasses, never vendor exceptions. Cancelling
    the awaiting task cancels the upstream request.
    """

    @property
    def name(self) -> str:
        """The provider's display name in answers (``aws-bedrock``, ``azure-openai``, ...)."""
        ...

    async def generate(self, call: ProviderCall) -> Completion: ...

    def stream(self, call: ProviderCall) -> AsyncIterator[ProviderChunk]: ...


class TokenCounter(Protocol):
    """A vendor's own count of a call's input tokens (Bedrock's CountTokens), where it has one.

    ``count_input_tokens`` counts the call's system prompt and messages as the
    model would read them (the tools are not counted: CountTokens takes none). It
    raises ``UpstreamError`` subclasses (``UpstreamBadRequest`` for a model that
    cannot count), never vendor exceptions.
    """

    async def count_input_tokens(self, call: ProviderCall) -> int: ...


class Embeddings(Protocol):
    """An embedding model vendor behind one API (Bedrock InvokeModel, OpenAI's ``/embeddings``, the mock).

    ``embed`` turns the call's texts (no more than the model takes at once: the
    use-case batches) into one vector each, in the same order, of the call's
    ``dimensions`` when it names a size. It raises ``UpstreamError`` subclasses,
    never vendor exceptions; cancelling the awaiting task cancels the upstream request.
    """

    @property
    def name(self) -> str:
        """The provider's display name in answers (``aws-bedrock``, ``azure-openai``, ...)."""
        ...

    async def embed(self, call: EmbeddingCall) -> EmbeddingBatch: ...


class Cache(Protocol):
    """The response cache.

    ``get`` returns ``None`` on a miss *and* when the backend fails: a broken
    cache is a miss, never an error. ``set`` and ``delete`` swallow backend
    failures the same way (adapters log and count them).
    """

    async def get(self, key: str) -> CacheEntry | None: ...

    async def set(self, key: str, entry: CacheEntry, ttl_seconds: int) -> None: ...

    async def delete(self, key: str) -> bool:
        """Remove ``key``; ``True`` if it was there."""
        ...

    async def ping(self) -> bool:
        """``True`` when the backend answers."""
        ...


class SessionRepo(Protocol):
    """Conversation storage.

    ``get`` returns ``None`` for an unknown session. ``append`` creates the
    session on first use, owned by ``user_id`` (an opaque owner string, see
    ``domain.ownership``), appends the messages atomically and keeps only the
    last ``max_messages``. ``lock`` serialises turns on one session (across
    processes where the backend allows). Backend failures raise
    ``StorageUnavailable``.
    """

    async def get(self, session_id: str) -> Session | None: ...

    async def append(
        self, session_id: str, user_id: str, messages: Sequence[Message], *, max_messages: int, now: float
    ) -> Session: ...

    async def delete(self, session_id: str) -> bool:
        """Remove the session; ``True`` if it existed."""
        ...

    def lock(self, session_id: str) -> AbstractAsyncContextManager[None]: ...

    async def ping(self) -> bool: ...


class ResponseStore(Protocol):
    """Stored responses of the Responses API (``domain.stored_responses``), in the session backend.

    ``put`` keeps a response until its ``expires_at``; ``get`` returns ``None``
    for an unknown or expired one; ``delete`` says whether it existed. Backend
    failures raise ``StorageUnavailable``.
    """

    async def put(self, response: StoredResponse) -> None: ...

    async def get(self, response_id: str, *, now: float) -> StoredResponse | None: ...

    async def delete(self, response_id: str) -> bool: ...


class FeedbackDetector(Protocol):
    """Reads a follow-up prompt for complaints about the previous answer."""

    def analyze(self, prompt: str, previous_answer: str) -> FeedbackVerdict: ...


class FeedbackRepo(Protocol):
    """The record of complaints, counted per reporter, and of blacklisted cache keys.

    A report counts once per reporter and key: ``problem_reports`` is the number
    of distinct reporters. Whether that retires the key is the feedback loop's
    decision (``application.feedback_loop``); the record only blacklists when
    told to. ``is_blacklisted`` is ``False`` for unknown keys.
    """

    async def record(self, report: FeedbackReport, *, now: float) -> CacheKeyQuality | None:
        """Store the report and count its reporter on the key; return the key's updated quality.

        ``None`` when this reporter already reported this key: nothing is stored or counted.
        """
        ...

    async def reports_since(self, reporter: str, since: float) -> int:
        """How many reports ``reporter`` has had recorded at or after ``since`` (epoch seconds), on any key."""
        ...

    async def reporters(self, cache_key: str, limit: int) -> list[str]:
        """The reporters of ``cache_key``, earliest first, at most ``limit``; empty for an unreported key."""
        ...

    async def blacklist(self, cache_key: str, *, reason: str, now: float) -> None: ...

    async def clear_blacklist(self, cache_key: str) -> bool:
        """Lift the blacklist; ``True`` if the key was blacklisted."""
        ...

    async def is_blacklisted(self, cache_key: str) -> bool: ...

    async def count_use(self, cache_key: str) -> None:
        """Note one cache hit on ``cache_key`` (the denominator of its problem rate)."""
        ...

    async def problematic(self, limit: int) -> list[CacheKeyQuality]:
        """Keys with at least one report, most reported first."""
        ...


class RateLimiter(Protocol):
    """Token buckets, one per subject plus an optional global one (docs/api.md#rate-limits).

    ``acquire`` takes ``cost`` tokens (one per request, one per item of a
    batch) from the subject's bucket and from the global bucket, all of them
    from both or nothing, and says whether the request may pass; a cost above
    the burst never passes. It never raises: a backend that fails lets traffic
    through (adapters log and count the failure) rather than blocking it.
    """

    async def acquire(self, subject: str, cost: int = 1) -> RateDecision: ...


class Clock(Protocol):
    """Wall time for records, monotonic time for durations."""

    def now(self) -> float: ...

    def monotonic(self) -> float: ...


class ImageFetcher(Protocol):
    """Gets the bytes of an image a request names by URL, for providers that take only bytes (Bedrock).

    ``fetch`` accepts ``data:`` URLs always (decoded, nothing fetched) and ``https://`` URLs (``http://``
    where allowed) when fetching is on. The answer's media type is sniffed from its bytes. ``field``
    names the request field in error messages. Raises ``InvalidRequest`` when the URL is refused (fetching
    off, a scheme or an address the policy forbids, too many redirects), the image is too large or not
    png, jpeg, gif or webp; ``ImageFetchFailed`` (an ``InvalidRequest``) when the host cannot be reached,
    answers with an error status or not within the timeout. Never an ``UpstreamError``.
    """

    async def fetch(self, url: str, *, field: str = "image") -> FetchedImage: ...

"""Embeddings: the values of one request, what a model can do, and the rules a request is checked against.

A request names a model, some texts and optionally a vector size and an input
type; ``build_embedding_request`` checks it against the model's capabilities
(``EmbeddingModelInfo``, from ``domain.embedding_catalogue``) before any provider
is called, and every refusal is an ``InvalidEmbeddingRequest`` naming the
request field at fault (``input``, ``input[3]``, ``dimensions``, ``model``), so
that a door can put it in its error's ``param``.
"""

from __future__ import annotations

import msgspec

from domain.errors import InvalidRequest
from domain.models import ANYONE, Caller

# What a model is told its texts are for (Cohere Embed needs it; the others ignore it).
INPUT_TYPES = ("search_document", "search_query", "classification", "clustering")
DEFAULT_INPUT_TYPE = "search_document"


class InvalidEmbeddingRequest(InvalidRequest):
    """A refused embeddings request; ``param`` is the request field at fault (OpenAI's ``param``)."""

    def __init__(self, message: str, *, param: str) -> None:
        super().__init__(message)
        self.param = param


class EmbeddingModelInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One embedding model and its documented limits.

    ``dimensions`` is the size of a vector when none is asked for. A model gives
    other sizes only when it says so: ``dimension_choices`` lists a fixed set
    (Titan v2: 256, 512, 1024), ``shortens`` means any size from 1 to
    ``dimensions`` (OpenAI's text-embedding-3 ``dimensions`` parameter).
    ``max_inputs_per_call`` is how many texts one upstream call takes;
    ``max_input_chars`` the vendor's character limit per text (0: it states none,
    only ``max_input_tokens``, which the upstream enforces).
    """

    id: str
    name: str
    provider: str
    dimensions: int
    max_inputs_per_call: int
    max_input_tokens: int
    max_input_chars: int = 0
    dimension_choices: tuple[int, ...] = ()
    shortens: bool = False
    aliases: tuple[str, ...] = ()
    description: str = ""

    def sizes(self) -> str:
        """The sizes it gives, for an error message."""
        if self.shortens:
            return f"any size from 1 to {self.dimensions}"
        return ", ".join(str(size) for size in self.dimension_choices or (self.dimensions,))

    def gives(self, dimensions: int) -> bool:
        if self.shortens:
            return 1 <= dimensions <= self.dimensions
        return dimensions in (self.dimension_choices or (self.dimensions,))


class EmbeddingFields(msgspec.Struct, frozen=True, kw_only=True):
    """An embeddings request as any surface received it, before it is checked."""

    texts: tuple[str, ...]
    model: str = ""
    dimensions: int | None = None
    input_type: str = ""


class EmbeddingLimits(msgspec.Struct, frozen=True, kw_only=True):
    """The gateway's own bounds on one request, whatever the model (``max_inputs`` is OpenAI's 2048)."""

    max_inputs: int = 2048
    max_input_chars: int = 100_000


class EmbeddingRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A checked request: the resolved provider and model, the texts, and who asks.

    ``info`` is ``None`` for a model the catalogue does not know (an explicit
    ``provider/model``); ``dimensions`` is ``None`` when the model's own size is wanted.
    """

    provider: str
    model: str
    info: EmbeddingModelInfo | None
    texts: tuple[str, ...]
    dimensions: int | None = None
    input_type: str = DEFAULT_INPUT_TYPE
    request_id: str = ""
    caller: Caller = ANYONE

    @property
    def expected_dimensions(self) -> int | None:
        """The size every vector of the answer must have, when known."""
        if self.dimensions is not None:
            return self.dimensions
        return self.info.dimensions if self.info is not None else None


class EmbeddingCall(msgspec.Struct, frozen=True, kw_only=True):
    """What one upstream call embeds: at most the model's ``max_inputs_per_call`` texts."""

    model: str
    texts: tuple[str, ...]
    dimensions: int | None = None
    input_type: str = DEFAULT_INPUT_TYPE


class EmbeddingBatch(msgspec.Struct, frozen=True, kw_only=True):
    """One upstream call's answer: a vector per text, in the order of the texts, and the tokens it counted."""

    vectors: tuple[tuple[float, ...], ...]
    input_tokens: int = 0


class Embedded(msgspec.Struct, frozen=True, kw_only=True):
    """The answer to an ``EmbeddingRequest``: a vector per text, in order, and the total input tokens."""

    provider: str  # the provider's display name (``aws-bedrock``, ``azure-openai``, ...)
    model: str
    vectors: tuple[tuple[float, ...], ...]
    input_tokens: int
    upstream_calls: int
    duration_ms: float = 0.0
    upstream_ms: float = 0.0


def check_texts(texts: tuple[str, ...], info: EmbeddingModelInfo | None, limits: EmbeddingLimits) -> None:
    """At least one text, at most ``limits.max_inputs``, none empty, none longer than the model or the gateway allow."""
    if not texts:
        raise InvalidEmbeddingRequest("input must not be empty: send a string or a list of strings", param="input")
    if len(texts) > limits.max_inputs:
        raise InvalidEmbeddingRequest(f"input has {len(texts)} items, the limit is {limits.max_inputs}", param="input")
    cap = limits.max_input_chars
    if info is not None and info.max_input_chars:
        cap = min(cap, info.max_input_chars)
    for index, text in enumerate(texts):
        if not text.strip():
            raise InvalidEmbeddingRequest(
                f"input[{index}] is empty: every input must contain text", param=f"input[{index}]"
            )
        if len(text) > cap:
            owner = f"model '{info.id}'" if info and info.max_input_chars == cap else "the gateway"
            raise InvalidEmbeddingRequest(
                f"input[{index}] is too long: {len(text)} characters, {owner} takes at most {cap}",
                param=f"input[{index}]",
            )


def check_dimensions(dimensions: int | None, info: EmbeddingModelInfo | None, model: str) -> int | None:
    """The requested size, if the model gives it; ``None`` when none was asked for."""
    if dimensions is None:
        return None
    if isinstance(dimensions, bool) or dimensions < 1:
        raise InvalidEmbeddingRequest(f"dimensions must be a positive integer, got {dimensions}", param="dimensions")
    if info is not None and not info.gives(dimensions):
        raise InvalidEmbeddingRequest(
            f"model '{model}' does not give {dimensions}-dimensional vectors; it gives {info.sizes()}",
            param="dimensions",
        )
    return dimensions


def check_input_type(input_type: str) -> str:
    if not input_type:
        return DEFAULT_INPUT_TYPE
    if input_type not in INPUT_TYPES:
        raise InvalidEmbeddingRequest(
            f"input_type must be one of {', '.join(INPUT_TYPES)}, got '{input_type}'", param="input_type"
        )
    return input_type


def batches(texts: tuple[str, ...], size: int) -> list[tuple[str, ...]]:
    """The texts in consecutive groups of at most ``size``, in order."""
    step = max(1, size)
    return [texts[start : start + step] for start in range(0, len(texts), step)]

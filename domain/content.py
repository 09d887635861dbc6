"""What a rich conversation is made of (docs/api.md#messages).

A message is text, or a sequence of content parts. The parts form one tagged
union (the ``type`` field names the kind: ``text``, ``image``, ``tool_call``,
``tool_result``, ``reasoning``), so that a stored session or a cached answer
encodes and decodes them with no conversion step, in JSON and msgpack alike.

Beside the parts: what a request offers the model (``ToolSpec``), how it may
use them (``ToolChoice``), the shape its answer must take (``OutputFormat``),
the sampling parameters beyond temperature and the token cap (``Sampling``),
how much it may think (``ReasoningConfig``), where the client asked for the
prompt to be cached (``CacheMarks``, with ``Message.cache_after``), and the
fragments a stream delivers (``ToolCallDelta``, ``ReasoningDelta``).
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

# The image types every provider with vision takes (Bedrock Converse and OpenAI's chat completions alike).
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")

# Finish reasons of an answer, as every transport spells them.
FINISH_STOP = "stop"
FINISH_LENGTH = "length"
FINISH_TOOL_CALLS = "tool_calls"
FINISH_CONTENT_FILTER = "content_filter"
FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]

# Capability tags of a catalogue entry (``ModelInfo.capabilities``) that requests are checked against.
CAP_TOOLS = "tools"
CAP_VISION = "vision"
CAP_JSON_SCHEMA = "json-schema"
CAP_THINKING = "thinking"

JsonObject = dict[str, Any]


class TextPart(msgspec.Struct, frozen=True, kw_only=True, tag="text"):
    text: str


class ImagePart(msgspec.Struct, frozen=True, kw_only=True, tag="image"):
    """An image: its bytes with their media type, or a URL the provider (or the gateway) fetches.

    Exactly one of ``data`` and ``url`` is set. A data URL never reaches the
    domain as a URL: the transport decodes it into ``data`` and ``media_type``.
    ``media_type`` may be empty for a URL (the type is known once fetched).
    """

    media_type: str = ""
    data: bytes = b""
    url: str = ""


class ToolCallPart(msgspec.Struct, frozen=True, kw_only=True, tag="tool_call"):
    """A call the model made: ``arguments`` is the JSON text of an object, as the model wrote it."""

    id: str
    name: str
    arguments: str = "{}"


class ToolResultPart(msgspec.Struct, frozen=True, kw_only=True, tag="tool_result"):
    """The result of the call ``call_id``: text in ``content``, or ``parts`` (text and images)."""

    call_id: str
    content: str = ""
    parts: tuple[TextPart | ImagePart, ...] = ()
    is_error: bool = False

    @property
    def text(self) -> str:
        if not self.parts:
            return self.content
        return "\n".join(part.text for part in self.parts if isinstance(part, TextPart))


class ReasoningPart(msgspec.Struct, frozen=True, kw_only=True, tag="reasoning"):
    """The model's reasoning. ``signature`` and ``redacted`` are the provider's opaque proof and
    encrypted reasoning; both go back to the provider unchanged on the next turn."""

    text: str = ""
    signature: str = ""
    redacted: bytes = b""


Part = TextPart | ImagePart | ToolCallPart | ToolResultPart | ReasoningPart


class ToolSpec(msgspec.Struct, frozen=True, kw_only=True):
    """A tool the model may call; ``parameters`` is the JSON Schema of its arguments (an object)."""

    name: str
    description: str = ""
    parameters: JsonObject = msgspec.field(default_factory=lambda: {"type": "object", "properties": {}})


class ToolChoice(msgspec.Struct, frozen=True, kw_only=True):
    """``auto`` (the model decides), ``none``, ``required`` (some tool), or ``tool`` (the one called ``name``)."""

    mode: Literal["auto", "none", "required", "tool"] = "auto"
    name: str = ""


AUTO_TOOLS = ToolChoice()


class OutputFormat(msgspec.Struct, frozen=True, kw_only=True):
    """The answer's shape: free text, any JSON object, or an instance of ``schema`` (named ``name``)."""

    type: Literal["text", "json_object", "json_schema"] = "text"
    name: str = ""
    schema: JsonObject | None = None
    strict: bool = False


TEXT_OUTPUT = OutputFormat()


class Sampling(msgspec.Struct, frozen=True, kw_only=True):
    """Sampling beyond the temperature and the token cap (which every request has as its own fields).

    ``None`` and ``()`` leave the provider's default; ``seed`` and ``top_k`` are sent only to providers
    that have them (docs/providers.md).
    """

    top_p: float | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    top_k: int | None = None


DEFAULT_SAMPLING = Sampling()


class ReasoningConfig(msgspec.Struct, frozen=True, kw_only=True):
    """How much a reasoning model may think: an effort level, or a budget of tokens (the provider takes one)."""

    effort: Literal["", "minimal", "low", "medium", "high"] = ""
    budget_tokens: int = 0

    @property
    def requested(self) -> bool:
        return bool(self.effort or self.budget_tokens)


NO_REASONING = ReasoningConfig()


class CacheMarks(msgspec.Struct, frozen=True, kw_only=True):
    """Where the client asked the provider to cache the prompt's prefix (Anthropic's ``cache_control``):
    after the tool definitions, after the system prompt; a point inside the conversation is
    ``Message.cache_after``. A provider with explicit cache points (Bedrock's ``cachePoint``) puts one at
    each mark instead of its own; the others cache on their own terms and ignore them. Marks never change
    the answer, so they are not part of the response-cache key, and a session does not store them.
    """

    tools: bool = False
    system: bool = False


NO_CACHE_MARKS = CacheMarks()


class ToolCallDelta(msgspec.Struct, frozen=True, kw_only=True):
    """A fragment of a streamed tool call. ``index`` is the call's position in the answer;
    ``id`` and ``name`` come on the call's first fragment, ``arguments`` is the next piece of its JSON text."""

    index: int
    id: str = ""
    name: str = ""
    arguments: str = ""


class ReasoningDelta(msgspec.Struct, frozen=True, kw_only=True):
    """A fragment of streamed reasoning: text, or the signature (or redacted payload) that closes a block."""

    text: str = ""
    signature: str = ""
    redacted: bytes = b""

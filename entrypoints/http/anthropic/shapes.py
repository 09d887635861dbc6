"""Anthropic's Messages request as it arrives on the wire, decoded strictly (docs/api.md#anthropic-messages-api).

Field names are Anthropic's. Unknown fields are ignored (``service_tier``,
``container``, ``citations`` on a text block, ...), as Anthropic's clients
expect of a server; a known field of the wrong type is a 400 naming it, and so
is a content block of a type the gateway does not take (``document``,
``search_result``, ``server_tool_use``, ...): the tagged union names them.
``null`` is accepted where Anthropic accepts it.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec


class CacheControl(msgspec.Struct, frozen=True, kw_only=True):
    type: Literal["ephemeral"] = "ephemeral"
    ttl: str | None = None  # "5m" or "1h": accepted; the provider's own default applies


class TextBlock(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="text"):
    text: str
    cache_control: CacheControl | None = None


class Base64Source(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="base64"):
    media_type: str
    data: str


class UrlSource(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="url"):
    url: str


class ImageBlock(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="image"):
    source: Base64Source | UrlSource
    cache_control: CacheControl | None = None


class ToolUseBlock(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="tool_use"):
    id: str
    name: str
    input: dict[str, Any]
    cache_control: CacheControl | None = None


class ToolResultBlock(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="tool_result"):
    tool_use_id: str
    content: str | list[TextBlock | ImageBlock] | None = None
    is_error: bool | None = None
    cache_control: CacheControl | None = None


class ThinkingBlock(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="thinking"):
    thinking: str
    signature: str = ""


class RedactedThinkingBlock(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="redacted_thinking"):
    data: str


ContentBlock = TextBlock | ImageBlock | ToolUseBlock | ToolResultBlock | ThinkingBlock | RedactedThinkingBlock


class InputMessage(msgspec.Struct, frozen=True, kw_only=True):
    role: Literal["user", "assistant"]
    content: str | list[ContentBlock]


class Tool(msgspec.Struct, frozen=True, kw_only=True):
    """A client tool. Anthropic's server tools (``web_search_...``, ``bash_...``) carry a ``type``: refused."""

    name: str
    input_schema: dict[str, Any] | None = None
    description: str | None = None
    type: str | None = None
    cache_control: CacheControl | None = None


class ToolChoiceAuto(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="auto"):
    disable_parallel_tool_use: bool | None = None


class ToolChoiceAny(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="any"):
    disable_parallel_tool_use: bool | None = None


class ToolChoiceTool(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="tool"):
    name: str
    disable_parallel_tool_use: bool | None = None


class ToolChoiceNone(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="none"):
    pass


ToolChoice = ToolChoiceAuto | ToolChoiceAny | ToolChoiceTool | ToolChoiceNone


class ThinkingEnabled(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="enabled"):
    budget_tokens: int


class ThinkingDisabled(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="disabled"):
    pass


class Metadata(msgspec.Struct, frozen=True, kw_only=True):
    user_id: str | None = None


class MessagesBody(msgspec.Struct, frozen=True, kw_only=True):
    """``POST /v1/messages``."""

    model: str
    max_tokens: int
    messages: list[InputMessage]
    system: str | list[TextBlock] | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    thinking: ThinkingEnabled | ThinkingDisabled | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop_sequences: list[str] | None = None
    metadata: Metadata | None = None
    stream: bool | None = None


class CountTokensBody(msgspec.Struct, frozen=True, kw_only=True):
    """``POST /v1/messages/count_tokens``: the request without ``max_tokens`` and the sampling fields."""

    model: str
    messages: list[InputMessage]
    system: str | list[TextBlock] | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    thinking: ThinkingEnabled | ThinkingDisabled | None = None

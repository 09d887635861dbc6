"""Anthropic's Messages request as it arrives on the wire, decoded strictly (docs/api.md#anthropic-messages-api).

Field names are Anthropic's. Unknown fields are ignored (``service_tier``,
``container``, ``citations`` on a text block, ...), as Anthropic's clients
expect of a server; a known field of the wrong type is a 400 naming it, and so
is a content block of a type the gateway does not take (``document``,
``search_result``, ``server_tool_use``, ...): the tagged union names them.
``null`` is accepted where Anthropic accepts it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from domain.option_rules import MAX_TOP_K
from entrypoints.documented_limits import (
    MAX_TOKENS_LIMITS,
    STOP_LIMITS,
    STOP_LIST_LIMITS,
    TEXT_LIMITS,
    TOOL_NAME_LIMITS,
    TOOLS_LIMITS,
    TOP_P_LIMITS,
    limits,
)

MAX_CACHE_MARKS = 4  # Anthropic's (and Bedrock's) most cache points in one request
MAX_TEMPERATURE = 1.0  # Anthropic's range is 0 to 1

MODEL_LIMITS = limits(
    pattern=r"^[^\u0000]*[^\s\u0000][^\u0000]*$", description="A catalogue id, alias or provider/model"
)
TEMPERATURE_LIMITS = limits(minimum=0.0, maximum=MAX_TEMPERATURE)
TOP_K_LIMITS = limits(minimum=1, maximum=MAX_TOP_K)


class CacheControl(msgspec.Struct, frozen=True, kw_only=True):
    type: Literal["ephemeral"] = "ephemeral"
    ttl: str | None = None  # "5m" or "1h": accepted; the provider's own default applies


class TextBlock(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="text"):
    text: Annotated[str, TEXT_LIMITS]
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

    name: Annotated[str, TOOL_NAME_LIMITS]
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

    model: Annotated[str, MODEL_LIMITS]
    max_tokens: Annotated[int, MAX_TOKENS_LIMITS]
    messages: Annotated[list[InputMessage], limits(minItems=1)]
    system: Annotated[str, TEXT_LIMITS] | list[TextBlock] | None = None
    tools: Annotated[list[Tool] | None, TOOLS_LIMITS] = None
    tool_choice: ToolChoice | None = None
    thinking: ThinkingEnabled | ThinkingDisabled | None = None
    temperature: Annotated[float | None, TEMPERATURE_LIMITS] = None
    top_p: Annotated[float | None, TOP_P_LIMITS] = None
    top_k: Annotated[int | None, TOP_K_LIMITS] = None
    stop_sequences: Annotated[list[Annotated[str, STOP_LIMITS]] | None, STOP_LIST_LIMITS] = None
    metadata: Metadata | None = None
    stream: bool | None = None


class CountTokensBody(msgspec.Struct, frozen=True, kw_only=True):
    """``POST /v1/messages/count_tokens``: the request without ``max_tokens`` and the sampling fields."""

    model: Annotated[str, MODEL_LIMITS]
    messages: Annotated[list[InputMessage], limits(minItems=1)]
    system: Annotated[str, TEXT_LIMITS] | list[TextBlock] | None = None
    tools: Annotated[list[Tool] | None, TOOLS_LIMITS] = None
    tool_choice: ToolChoice | None = None
    thinking: ThinkingEnabled | ThinkingDisabled | None = None

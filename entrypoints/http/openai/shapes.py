"""OpenAI's chat-completions request as it arrives on the wire, decoded strictly (docs/api.md#openai-compatible-api).

Field names are OpenAI's. Unknown fields are ignored, as OpenAI's own clients
expect of a server (``forbid_unknown_fields`` stays off); a known field of the
wrong type is a 400 naming it. ``null`` is accepted wherever OpenAI accepts it,
because some clients send it for a field they leave unset.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from entrypoints.documented_limits import (
    MAX_TOKENS_LIMITS,
    SEED_LIMITS,
    STOP_LIMITS,
    STOP_LIST_LIMITS,
    TEMPERATURE_LIMITS,
    TEXT_LIMITS,
    TOOLS_LIMITS,
    TOP_P_LIMITS,
    limits,
)


class TextContent(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="text"):
    text: str


class ImageUrl(msgspec.Struct, frozen=True, kw_only=True):
    url: str
    detail: str | None = None


class ImageContent(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="image_url"):
    image_url: ImageUrl


class RefusalContent(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="refusal"):
    refusal: str


class AudioContent(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="input_audio"):
    """Accepted on the wire so that the refusal names the part (no provider behind the gateway takes audio)."""

    input_audio: dict[str, Any] | None = None


class FileContent(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="file"):
    file: dict[str, Any] | None = None


ContentPart = TextContent | ImageContent | RefusalContent | AudioContent | FileContent


class FunctionCall(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    arguments: str = "{}"


class ToolCall(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    function: FunctionCall
    type: Literal["function"] = "function"


class ChatMessage(msgspec.Struct, frozen=True, kw_only=True):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    refusal: str | None = None
    reasoning_content: str | None = None  # the convention of reasoning servers, sent back by some clients


class FunctionDefinition(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class AllowedToolsFilter(msgspec.Struct, frozen=True, kw_only=True):
    """The object form of an MCP tool's ``allowed_tools`` (the Responses API's): the tool names."""

    tool_names: list[str] | None = None
    read_only: bool | None = None


class ApprovalFilter(msgspec.Struct, frozen=True, kw_only=True):
    tool_names: list[str] | None = None


class ApprovalRules(msgspec.Struct, frozen=True, kw_only=True):
    """The object form of ``require_approval``: which tools need an approval and which never do."""

    always: ApprovalFilter | None = None
    never: ApprovalFilter | None = None


class ToolDefinition(msgspec.Struct, frozen=True, kw_only=True):
    """A function tool (``function``), or ``type: "mcp"``: a configured MCP server's tools, spelt as the
    Responses API spells its MCP tool (``server_label``, ``allowed_tools``, ``require_approval``), which the
    gateway runs itself (docs/api.md#mcp-tools-in-chat-completions)."""

    type: Literal["function", "mcp"] = "function"
    function: FunctionDefinition | None = None
    server_label: str | None = None
    server_url: str | None = None
    server_description: str | None = None
    allowed_tools: list[str] | AllowedToolsFilter | None = None
    require_approval: Literal["always", "never"] | ApprovalRules | None = None
    headers: dict[str, str] | None = None
    connector_id: str | None = None


class NamedFunction(msgspec.Struct, frozen=True, kw_only=True):
    name: str


class NamedToolChoice(msgspec.Struct, frozen=True, kw_only=True):
    function: NamedFunction
    type: Literal["function"] = "function"


class JsonSchemaFormat(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    description: str | None = None
    schema: dict[str, Any] | None = None
    strict: bool | None = None


class ResponseFormat(msgspec.Struct, frozen=True, kw_only=True):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None


class StreamOptions(msgspec.Struct, frozen=True, kw_only=True):
    include_usage: bool | None = None


ReasoningEffort = Literal["none", "minimal", "low", "medium", "high"]


class ChatCompletionBody(msgspec.Struct, frozen=True, kw_only=True):
    """``POST /v1/chat/completions``."""

    model: Annotated[str, TEXT_LIMITS]
    messages: Annotated[list[ChatMessage], limits(minItems=1)]
    tools: Annotated[list[ToolDefinition] | None, TOOLS_LIMITS] = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    temperature: Annotated[float | None, TEMPERATURE_LIMITS] = None
    top_p: Annotated[float | None, TOP_P_LIMITS] = None
    max_tokens: Annotated[int | None, MAX_TOKENS_LIMITS] = None
    max_completion_tokens: Annotated[int | None, MAX_TOKENS_LIMITS] = None
    stop: Annotated[str, STOP_LIMITS] | Annotated[list[Annotated[str, STOP_LIMITS]], STOP_LIST_LIMITS] | None = None
    seed: Annotated[int | None, SEED_LIMITS] = None
    reasoning_effort: ReasoningEffort | None = None
    user: str | None = None
    metadata: dict[str, str] | None = None
    n: Annotated[int | None, limits(minimum=1, maximum=1, description="One choice per request")] = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None

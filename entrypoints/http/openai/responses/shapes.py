"""The Responses API's request as it arrives on the wire, decoded strictly (docs/api.md#responses-api).

Field names are OpenAI's; unknown fields are ignored, ``null`` is accepted where
OpenAI accepts it, a known field of the wrong type is a 400 naming it. An input
item is one struct for every ``type`` (a message may come without one, as
OpenAI's "easy" input message does); ``mapping`` reads the fields its type has.
Content parts are a tagged union, so an unknown part type is a 400 naming it.
``omit_defaults`` lets an item be echoed by ``GET .../input_items`` as it was sent.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from entrypoints.documented_limits import (
    ID_SCHEMA,
    MAX_TOKENS_LIMITS,
    TEMPERATURE_LIMITS,
    TEXT_LIMITS,
    TOOL_NAME_LIMITS,
    TOOLS_LIMITS,
    TOP_P_LIMITS,
    limits,
)
from entrypoints.http.openai.shapes import AllowedToolsFilter, ApprovalRules


class _Part(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, tag_field="type"):
    pass


class InputText(_Part, frozen=True, kw_only=True, omit_defaults=True, tag="input_text"):
    text: str


class InputImage(_Part, frozen=True, kw_only=True, omit_defaults=True, tag="input_image"):
    image_url: str | None = None
    file_id: str | None = None
    detail: str | None = None


class OutputText(_Part, frozen=True, kw_only=True, omit_defaults=True, tag="output_text"):
    text: str
    annotations: list[Any] | None = None


class Refusal(_Part, frozen=True, kw_only=True, omit_defaults=True, tag="refusal"):
    refusal: str


class InputFile(_Part, frozen=True, kw_only=True, omit_defaults=True, tag="input_file"):
    """Accepted on the wire so that the refusal names the part (no provider behind the gateway takes files)."""

    file_id: str | None = None
    filename: str | None = None


class InputAudio(_Part, frozen=True, kw_only=True, omit_defaults=True, tag="input_audio"):
    input_audio: dict[str, Any] | None = None


class ReasoningText(_Part, frozen=True, kw_only=True, omit_defaults=True, tag="reasoning_text"):
    text: str


ContentPart = InputText | InputImage | OutputText | Refusal | InputFile | InputAudio | ReasoningText


class SummaryText(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    text: str
    type: str = "summary_text"


class InputItem(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One item of ``input``: ``message`` (the default), ``function_call``, ``function_call_output``, ``reasoning``."""

    type: str = "message"
    id: str | None = None
    status: str | None = None
    # message
    role: Literal["user", "assistant", "system", "developer"] | None = None
    content: str | list[ContentPart] | None = None
    # function_call
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None
    # function_call_output
    output: str | list[ContentPart] | None = None
    # reasoning (its content parts are reasoning_text; summary parts are summary_text)
    summary: list[SummaryText] | None = None
    encrypted_content: str | None = None


class ToolDefinition(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A tool: ``function`` tools, and ``mcp`` tools naming a configured MCP server the gateway runs
    (docs/api.md#mcp-tools-in-responses); the type of any other is named in the refusal."""

    type: Annotated[str, limits(enum=["function", "mcp"], description="Function tools and MCP servers")]
    name: Annotated[str | None, TOOL_NAME_LIMITS] = None
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None
    server_label: str | None = None
    server_url: str | None = None
    server_description: str | None = None
    allowed_tools: list[str] | AllowedToolsFilter | None = None
    require_approval: Literal["always", "never"] | ApprovalRules | None = None
    headers: dict[str, str] | None = None
    connector_id: str | None = None


class NamedToolChoice(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    type: Annotated[str, limits(enum=["function"])]
    name: Annotated[str | None, TOOL_NAME_LIMITS] = None


class TextFormat(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    type: Literal["text", "json_object", "json_schema"]
    name: str | None = None
    description: str | None = None
    schema: dict[str, Any] | None = None
    strict: bool | None = None


class TextConfig(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    format: TextFormat | None = None
    verbosity: str | None = None


ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh"]


class ReasoningOptions(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    effort: ReasoningEffort | None = None
    summary: str | None = None


class ResponseBody(msgspec.Struct, frozen=True, kw_only=True):
    """``POST /v1/responses``."""

    model: Annotated[str, TEXT_LIMITS] = ""
    input: Annotated[str, TEXT_LIMITS] | Annotated[list[InputItem], limits(minItems=1)] | None = None
    instructions: Annotated[str | None, TEXT_LIMITS] = None
    tools: Annotated[list[ToolDefinition] | None, TOOLS_LIMITS] = None
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    text: TextConfig | None = None
    reasoning: ReasoningOptions | None = None
    max_output_tokens: Annotated[int | None, MAX_TOKENS_LIMITS] = None
    temperature: Annotated[float | None, TEMPERATURE_LIMITS] = None
    top_p: Annotated[float | None, TOP_P_LIMITS] = None
    store: bool | None = None
    previous_response_id: Annotated[str | None, msgspec.Meta(extra_json_schema=ID_SCHEMA)] = None
    metadata: dict[str, str] | None = None
    user: str | None = None
    stream: bool | None = None
    background: bool | None = None
    conversation: str | dict[str, Any] | None = None

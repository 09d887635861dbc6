"""The JSON shapes of a rich request (docs/api.md#messages, #tools, #structured-output, #sampling, #reasoning).

``messages`` holds ``{"role", "content"}`` objects whose ``content`` is a
string or a list of parts tagged by ``type``: ``text``, ``image``,
``toolCall``, ``toolResult``, ``reasoning``. Two shorthands mirror the answer,
so that a client can send an answer back as it got it: an assistant message
may carry the answer's ``toolCalls`` and ``reasoning`` beside its text, and a
tool message may name the call it answers in ``toolCallId`` with the result
as its ``content``. Images come as base64 ``data`` with a ``mediaType``, as a
``data:`` URL (decoded here), or as an http(s) URL.

Every conversion names the field it refuses, as the native API spells it.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Literal

import msgspec

from domain.content import (
    ImagePart,
    OutputFormat,
    Part,
    ReasoningConfig,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    ToolSpec,
)
from domain.errors import InvalidRequest
from domain.models import Message
from domain.tool_servers import McpToolset
from entrypoints.documented_limits import SCHEMA_NAME_LIMITS, TEXT_LIMITS, TOOL_NAME_LIMITS

_encode = msgspec.json.Encoder().encode


class TextBody(msgspec.Struct, frozen=True, kw_only=True, tag="text"):
    text: str


class ImageBody(msgspec.Struct, frozen=True, kw_only=True, tag="image"):
    mediaType: str | None = None
    data: bytes | None = None
    url: str | None = None


class ToolCallBody(msgspec.Struct, frozen=True, kw_only=True, tag="toolCall"):
    id: str
    name: str
    arguments: str | dict[str, Any] = "{}"


class ToolResultBody(msgspec.Struct, frozen=True, kw_only=True, tag="toolResult"):
    callId: str
    content: str | list[TextBody | ImageBody] = ""
    isError: bool = False


class ReasoningBody(msgspec.Struct, frozen=True, kw_only=True, tag="reasoning"):
    text: str = ""
    signature: str = ""
    redacted: bytes = b""


PartBody = TextBody | ImageBody | ToolCallBody | ToolResultBody | ReasoningBody


class CallBody(msgspec.Struct, frozen=True, kw_only=True):
    """A tool call as an answer's ``toolCalls`` has it."""

    id: str
    name: str
    arguments: str | dict[str, Any] = "{}"


class ThoughtBody(msgspec.Struct, frozen=True, kw_only=True):
    """A reasoning block as an answer's ``reasoning`` has it."""

    text: str = ""
    signature: str = ""
    redacted: bytes = b""


class MessageBody(msgspec.Struct, frozen=True, kw_only=True):
    role: Literal["system", "user", "assistant", "tool"]
    content: str | list[PartBody] | None = None
    toolCalls: list[CallBody] | None = None
    reasoning: list[ThoughtBody] | None = None
    toolCallId: str | None = None
    isError: bool = False


class ToolBody(msgspec.Struct, frozen=True, kw_only=True):
    """A function tool (``name``, ``description``, ``parameters``), or ``type: "mcp"``: an MCP server's tools."""

    name: Annotated[str, TOOL_NAME_LIMITS] = ""
    description: Annotated[str, TEXT_LIMITS] = ""
    parameters: dict[str, Any] | None = None
    type: Literal["function", "mcp"] = "function"
    server: str = ""
    allowedTools: list[str] | None = None


class NamedToolBody(msgspec.Struct, frozen=True, kw_only=True):
    name: str


class ResponseFormatBody(msgspec.Struct, frozen=True, kw_only=True):
    type: Literal["text", "json_object", "json_schema"] = "text"
    name: Annotated[str, SCHEMA_NAME_LIMITS] = ""
    schema: dict[str, Any] | None = None
    strict: bool = False


class ReasoningConfigBody(msgspec.Struct, frozen=True, kw_only=True):
    effort: Literal["minimal", "low", "medium", "high"] | None = None
    budgetTokens: int | None = None


ToolChoiceBody = Literal["auto", "none", "required"] | NamedToolBody


def messages_of(bodies: list[MessageBody] | None) -> tuple[Message, ...]:
    return tuple(message_of(body, f"messages[{i}]") for i, body in enumerate(bodies or ()))


def message_of(body: MessageBody, field: str) -> Message:
    if (body.toolCalls is not None or body.reasoning is not None) and body.role != "assistant":
        raise InvalidRequest(f"{field}: only an assistant message has toolCalls or reasoning")
    if body.toolCallId is not None:
        return _tool_message(body, field)
    content = body.content if body.content is not None else ""
    parts = [] if isinstance(content, str) else [_part(p, f"{field}.content[{j}]") for j, p in enumerate(content)]
    if body.toolCalls or body.reasoning:
        text = ([TextPart(text=content)] if content else []) if isinstance(content, str) else parts
        thoughts = [_reasoning(t.text, t.signature, t.redacted) for t in body.reasoning or ()]
        calls = [_call(c.id, c.name, c.arguments) for c in body.toolCalls or ()]
        return Message(role=body.role, parts=(*thoughts, *text, *calls))
    if isinstance(content, str):
        return Message(role=body.role, content=content)
    if len(parts) == 1 and isinstance(parts[0], TextPart):  # the same message as its plain string: the same cache key
        return Message(role=body.role, content=parts[0].text)
    return Message(role=body.role, parts=tuple(parts))


def _tool_message(body: MessageBody, field: str) -> Message:
    if body.role != "tool":
        raise InvalidRequest(f"{field}.toolCallId: only a tool message answers a tool call")
    content = body.content if body.content is not None else ""
    if isinstance(content, str):
        result = ToolResultPart(call_id=body.toolCallId or "", content=content, is_error=body.isError)
    else:
        inner = tuple(_result_part(p, f"{field}.content[{j}]") for j, p in enumerate(content))
        result = ToolResultPart(call_id=body.toolCallId or "", parts=inner, is_error=body.isError)
    return Message(role="tool", parts=(result,))


def _part(body: PartBody, field: str) -> Part:
    if isinstance(body, TextBody):
        return TextPart(text=body.text)
    if isinstance(body, ImageBody):
        return _image(body, field)
    if isinstance(body, ToolCallBody):
        return _call(body.id, body.name, body.arguments)
    if isinstance(body, ToolResultBody):
        content = body.content
        if isinstance(content, str):
            return ToolResultPart(call_id=body.callId, content=content, is_error=body.isError)
        inner = tuple(_result_part(p, f"{field}.content[{k}]") for k, p in enumerate(content))
        return ToolResultPart(call_id=body.callId, parts=inner, is_error=body.isError)
    return _reasoning(body.text, body.signature, body.redacted)


def _result_part(body: PartBody, field: str) -> TextPart | ImagePart:
    part = _part(body, field)
    if not isinstance(part, TextPart | ImagePart):
        raise InvalidRequest(f"{field}: a tool result holds text and images only")
    return part


def _image(body: ImageBody, field: str) -> ImagePart:
    if body.url and body.url.startswith("data:"):
        if body.data is not None:
            raise InvalidRequest(f"{field}: an image has either data or a url")
        media_type, data = decode_data_url(body.url, f"{field}.url")
        if body.mediaType and body.mediaType != media_type:
            raise InvalidRequest(f"{field}.mediaType {body.mediaType} differs from the data URL's {media_type}")
        return ImagePart(media_type=media_type, data=data)
    return ImagePart(media_type=body.mediaType or "", data=body.data or b"", url=body.url or "")


def decode_data_url(url: str, field: str) -> tuple[str, bytes]:
    """``data:<type>;base64,<data>``: the only data URL an image is sent as."""
    head, comma, payload = url[len("data:") :].partition(",")
    media_type, _, encoding = head.partition(";")
    if not comma or encoding.lower() != "base64":
        raise InvalidRequest(f"{field} must be a base64 data URL: data:<media type>;base64,<data>")
    try:
        return media_type.lower(), base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(f"{field}: the data URL's data is not valid base64") from None


def _call(call_id: str, name: str, arguments: str | dict[str, Any]) -> ToolCallPart:
    text = arguments if isinstance(arguments, str) else _encode(arguments).decode()
    return ToolCallPart(id=call_id, name=name, arguments=text)


def _reasoning(text: str, signature: str, redacted: bytes) -> ReasoningPart:
    return ReasoningPart(text=text, signature=signature, redacted=redacted)


def tools_of(bodies: list[ToolBody] | None) -> tuple[ToolSpec, ...]:
    """The function tools; an MCP tool entry here is refused (only ``POST /api/v1/generate`` runs MCP tools)."""
    for index, body in enumerate(bodies or ()):
        if body.type == "mcp":
            raise InvalidRequest(
                f"tools[{index}]: MCP tools (type mcp) are run on POST /api/v1/generate and its stream only, "
                "not on this surface"
            )
    return tuple(
        ToolSpec(name=t.name, description=t.description)
        if t.parameters is None
        else ToolSpec(name=t.name, description=t.description, parameters=t.parameters)
        for t in bodies or ()
    )


def mcp_toolsets_of(bodies: list[ToolBody] | None) -> tuple[McpToolset, ...]:
    """The ``type: "mcp"`` entries, each a server name (never a URL: only configured servers) and allowed tools."""
    toolsets = []
    for index, body in enumerate(bodies or ()):
        if body.type != "mcp":
            continue
        if not body.server.strip():
            raise InvalidRequest(f"tools[{index}].server: an MCP tool entry names a configured MCP server")
        if "/" in body.server or ":" in body.server:
            raise InvalidRequest(
                f"tools[{index}].server: name a server of MCP_SERVERS; a server URL from the client is not accepted"
            )
        toolsets.append(
            McpToolset(
                server=body.server.strip(), allowed_tools=tuple(body.allowedTools or ()), field=f"tools[{index}].server"
            )
        )
    return tuple(toolsets)


def tool_choice_of(body: ToolChoiceBody | None) -> ToolChoice:
    if body is None:
        return ToolChoice()
    if isinstance(body, NamedToolBody):
        return ToolChoice(mode="tool", name=body.name)
    return ToolChoice(mode=body)


def output_format_of(body: ResponseFormatBody | None) -> OutputFormat:
    if body is None:
        return OutputFormat()
    return OutputFormat(type=body.type, name=body.name, schema=body.schema, strict=body.strict)


def reasoning_of(body: ReasoningConfigBody | None) -> ReasoningConfig:
    if body is None:
        return ReasoningConfig()
    return ReasoningConfig(effort=body.effort or "", budget_tokens=body.budgetTokens or 0)


def stop_of(stop: str | list[str] | None) -> tuple[str, ...]:
    if stop is None:
        return ()
    return (stop,) if isinstance(stop, str) else tuple(stop)


def part_json(part: Part) -> dict[str, object]:
    """A part as a request's ``content`` list spells it, so that stored messages can be sent back as they are."""
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    if isinstance(part, ImagePart):
        if part.url:
            return {"type": "image", "url": part.url, **({"mediaType": part.media_type} if part.media_type else {})}
        return {"type": "image", "mediaType": part.media_type, "data": base64.b64encode(part.data).decode()}
    if isinstance(part, ToolCallPart):
        return {"type": "toolCall", "id": part.id, "name": part.name, "arguments": part.arguments}
    if isinstance(part, ToolResultPart):
        content: object = [part_json(p) for p in part.parts] if part.parts else part.content
        return {"type": "toolResult", "callId": part.call_id, "content": content, "isError": part.is_error}
    return {"type": "reasoning", **reasoning_json(part)}


def reasoning_json(part: ReasoningPart) -> dict[str, object]:
    body: dict[str, object] = {"text": part.text}
    if part.signature:
        body["signature"] = part.signature
    if part.redacted:
        body["redacted"] = base64.b64encode(part.redacted).decode()
    return body


def content_json(message: Message) -> object:
    """A message's ``content``: its text, or its parts."""
    return [part_json(part) for part in message.parts] if message.parts else message.content

"""OpenAI's chat-completions request → the gateway's ``GenerateFields``; an ``Answer`` → a ``chat.completion``.

Pure functions. Every role and content part maps onto ``domain.content``:

    system, developer        → a system message (text parts only)
    user                     → text and ``image_url`` parts (a data URL is decoded, an http(s) URL kept)
    assistant                → ``reasoning_content``, text (or ``refusal``) and ``tool_calls``
    tool                     → the result of the call ``tool_call_id`` (consecutive ones: one tool message)

The model is a catalogue id or alias or ``provider/model`` (``Catalogue.split_name``).
``n`` above 1 is refused: no use-case of the gateway returns more than one choice.
``user`` and ``metadata`` are accepted and not sent on (no provider behind the gateway
takes them the same way); sessions use ``X-User-ID``/``X-Session-ID``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from domain.catalogue import Catalogue
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
from domain.models import Answer, Message, Usage
from domain.tool_servers import SERVER_NAME, McpToolset
from domain.validation import GenerateFields
from entrypoints.http.openai.shapes import (
    AllowedToolsFilter,
    ApprovalRules,
    ChatCompletionBody,
    ChatMessage,
    ContentPart,
    ImageContent,
    NamedToolChoice,
    ReasoningEffort,
    RefusalContent,
    ResponseFormat,
    TextContent,
    ToolDefinition,
)
from entrypoints.native_messages import decode_data_url


def generate_fields(body: ChatCompletionBody, catalogue: Catalogue) -> GenerateFields:
    """The request's fields; ``InvalidRequest`` naming the OpenAI field that cannot be honoured."""
    if body.n is not None and body.n != 1:
        raise InvalidRequest(f"n: this gateway returns one choice per request (n=1), got n={body.n}")
    if body.max_tokens is not None and body.max_completion_tokens is not None:
        raise InvalidRequest("max_tokens and max_completion_tokens are the same limit: send one of them")
    if not body.messages:
        raise InvalidRequest("messages: at least one message is required")
    provider, model = catalogue.split_name(body.model)
    if not model:
        raise InvalidRequest("model is required")
    messages = merged_tool_results(message_of(m, f"messages[{i}]") for i, m in enumerate(body.messages))
    prompt, messages = trailing_prompt(messages)
    return GenerateFields(
        prompt=prompt,
        model=model,
        provider=provider or None,
        max_tokens=body.max_completion_tokens if body.max_completion_tokens is not None else body.max_tokens,
        temperature=body.temperature,
        messages=messages,
        tools=tuple(tool_of(t, f"tools[{i}]") for i, t in enumerate(body.tools or ()) if t.type == "function"),
        tool_choice=tool_choice_of(body.tool_choice),
        parallel_tool_calls=body.parallel_tool_calls is not False,
        output_format=output_format_of(body.response_format),
        top_p=body.top_p,
        stop=(body.stop,) if isinstance(body.stop, str) else tuple(body.stop or ()),
        seed=body.seed,
        reasoning=reasoning_of(body.reasoning_effort),
    )


def message_of(message: ChatMessage, field: str) -> Message:
    role = message.role
    if role in ("system", "developer"):
        return Message(role="system", content=_text_only(message.content, f"{field}.content"))
    if role == "tool":
        if not message.tool_call_id:
            raise InvalidRequest(f"{field}.tool_call_id is required on a tool message")
        text = _text_only(message.content, f"{field}.content")
        return Message(role="tool", parts=(ToolResultPart(call_id=message.tool_call_id, content=text),))
    if message.tool_call_id is not None or (message.tool_calls and role != "assistant"):
        raise InvalidRequest(f"{field}: only an assistant message has tool_calls, only a tool message a tool_call_id")
    if role == "assistant":
        return _assistant(message, field)
    content = message.content
    if content is None or isinstance(content, str):
        return Message(role="user", content=content or "")
    parts = tuple(_user_part(part, f"{field}.content[{j}]") for j, part in enumerate(content))
    if len(parts) == 1 and isinstance(parts[0], TextPart):  # the same message as its plain string: one cache key
        return Message(role="user", content=parts[0].text)
    return Message(role="user", parts=parts)


def trailing_prompt(messages: tuple[Message, ...]) -> tuple[str | None, tuple[Message, ...]]:
    """A last user message of plain text is the request's ``prompt``: the turn the use-case builds is the same
    (``GenerationRequest.turn``), and the cache key and the stored session rows are those of the native API's
    plain prompt, so the same question through either door shares one cache entry and takes the cheap path."""
    last = messages[-1] if messages else None
    if last is not None and last.role == "user" and not last.parts and last.content.strip():
        return last.content, messages[:-1]
    return None, messages


def merged_tool_results(messages: Iterable[Message]) -> tuple[Message, ...]:
    """Consecutive ``tool`` messages (OpenAI sends one per call) as one tool message holding every result of the
    turn, as the domain keeps a turn's results (and Bedrock must receive them: in one message)."""
    merged: list[Message] = []
    for message in messages:
        if message.role == "tool" and merged and merged[-1].role == "tool":
            merged[-1] = Message(role="tool", parts=(*merged[-1].parts, *message.parts))
        else:
            merged.append(message)
    return tuple(merged)


def _assistant(message: ChatMessage, field: str) -> Message:
    text = _text_only(message.content, f"{field}.content", refusal_ok=True) or (message.refusal or "")
    calls = tuple(
        ToolCallPart(id=call.id, name=call.function.name, arguments=call.function.arguments or "{}")
        for call in message.tool_calls or ()
    )
    thoughts = (ReasoningPart(text=message.reasoning_content),) if message.reasoning_content else ()
    if not calls and not thoughts:
        return Message(role="assistant", content=text)
    parts: tuple[Part, ...] = (*thoughts, *((TextPart(text=text),) if text else ()), *calls)
    return Message(role="assistant", parts=parts)


def _text_only(content: str | list[ContentPart] | None, field: str, *, refusal_ok: bool = False) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    texts: list[str] = []
    for j, part in enumerate(content):
        if isinstance(part, TextContent):
            texts.append(part.text)
        elif isinstance(part, RefusalContent) and refusal_ok:
            texts.append(part.refusal)
        else:
            raise InvalidRequest(f"{field}[{j}]: this message takes text parts only")
    return "".join(texts)


def _user_part(part: ContentPart, field: str) -> Part:
    if isinstance(part, TextContent):
        return TextPart(text=part.text)
    if isinstance(part, ImageContent):
        url = part.image_url.url
        if url[:5].lower() == "data:":
            media_type, data = decode_data_url(url, f"{field}.image_url.url")
            return ImagePart(media_type=media_type, data=data)
        return ImagePart(url=url)
    kind = "refusal" if isinstance(part, RefusalContent) else "audio and file"
    raise InvalidRequest(f"{field}: {kind} content parts are not supported in a user message")


def reasoning_of(effort: ReasoningEffort | None) -> ReasoningConfig:
    """``reasoning_effort``; ``none`` is no reasoning, as OpenAI reads it."""
    if effort is None or effort == "none":
        return ReasoningConfig()
    return ReasoningConfig(effort=effort)


def tool_of(tool: ToolDefinition, field: str) -> ToolSpec:
    function = tool.function
    if function is None:
        raise InvalidRequest(f"{field}.function is required on a tool of type function")
    if function.parameters is None:
        return ToolSpec(name=function.name, description=function.description or "")
    return ToolSpec(name=function.name, description=function.description or "", parameters=function.parameters)


class McpToolEntry(Protocol):
    """A tool entry of either OpenAI door (chat completions, Responses) with the Responses API's MCP fields."""

    @property
    def type(self) -> str: ...
    @property
    def server_label(self) -> str | None: ...
    @property
    def server_url(self) -> str | None: ...
    @property
    def allowed_tools(self) -> list[str] | AllowedToolsFilter | None: ...
    @property
    def require_approval(self) -> str | ApprovalRules | None: ...
    @property
    def headers(self) -> dict[str, str] | None: ...
    @property
    def connector_id(self) -> str | None: ...


def mcp_toolsets_of(tools: Sequence[McpToolEntry] | None) -> tuple[McpToolset, ...]:
    """The ``type: "mcp"`` tools: each names a configured MCP server in ``server_label``, whose tools the gateway
    offers and runs (``application.tool_loop``). A server URL from the client is refused: only the servers of
    ``MCP_SERVERS`` can be reached, so a request cannot make the gateway connect anywhere (request forgery)."""
    toolsets: list[McpToolset] = []
    for index, tool in enumerate(tools or ()):
        if tool.type != "mcp":
            continue
        field = f"tools[{index}]"
        if tool.connector_id is not None:
            raise InvalidRequest(f"{field}.connector_id: connectors are not offered; name a server in server_label")
        if tool.headers:
            raise InvalidRequest(f"{field}.headers: a configured MCP server's headers are the gateway's configuration")
        label = (tool.server_label or "").strip()
        if not label:
            raise InvalidRequest(f"{field}.server_label is required on a tool of type mcp")
        if not SERVER_NAME.fullmatch(label):
            raise InvalidRequest(f"{field}.server_label: 1-32 letters, digits or '-', starting with a letter or digit")
        toolsets.append(
            McpToolset(
                server=label,
                allowed_tools=_allowed_tools(tool.allowed_tools, f"{field}.allowed_tools"),
                field=f"{field}.server_label",
                url=tool.server_url or "",  # refused unless MCP_ALLOW_CLIENT_SERVERS (application.tool_loop)
                url_field=f"{field}.server_url",
            )
        )
        _check_approval(tool.require_approval, f"{field}.require_approval")
    return tuple(toolsets)


def _allowed_tools(allowed: list[str] | AllowedToolsFilter | None, field: str) -> tuple[str, ...]:
    if allowed is None:
        return ()
    if isinstance(allowed, list):
        names = allowed
    elif allowed.read_only:
        raise InvalidRequest(f"{field}.read_only: filtering by the read-only hint is not supported; name the tools")
    else:
        names = allowed.tool_names or []
    if allowed is not None and not names:
        raise InvalidRequest(f"{field}: an empty list allows no tool; leave it out to allow every tool")
    return tuple(names)


def _check_approval(approval: str | ApprovalRules | None, field: str) -> None:
    """The gateway runs the calls itself, without asking: only ``never`` (or nothing) can be honoured."""
    asks = approval == "always" or (isinstance(approval, ApprovalRules) and approval.always is not None)
    if asks:
        raise InvalidRequest(f'{field}: the gateway runs MCP tool calls without an approval step; send "never"')


def tool_choice_of(choice: str | NamedToolChoice | None) -> ToolChoice:
    if choice is None:
        return ToolChoice()
    if isinstance(choice, NamedToolChoice):
        return ToolChoice(mode="tool", name=choice.function.name)
    if choice == "none":
        return ToolChoice(mode="none")
    return ToolChoice(mode="required") if choice == "required" else ToolChoice()


def output_format_of(response_format: ResponseFormat | None) -> OutputFormat:
    if response_format is None or response_format.type == "text":
        return OutputFormat()
    if response_format.type == "json_object":
        return OutputFormat(type="json_object")
    schema = response_format.json_schema
    if schema is None:
        raise InvalidRequest("response_format.json_schema is required when response_format.type is json_schema")
    return OutputFormat(type="json_schema", name=schema.name, schema=schema.schema, strict=bool(schema.strict))


# -- answers ----------------------------------------------------------------------------------------------------


def completion_id(request_id: str) -> str:
    return "chatcmpl-" + request_id


def completion_json(answer: Answer, created: int) -> dict[str, object]:
    """A ``chat.completion`` object; ``created`` in Unix seconds."""
    message: dict[str, object] = {
        "role": "assistant",
        "content": answer.content if answer.content or not answer.tool_calls else None,
        "refusal": None,
    }
    if answer.tool_calls:
        message["tool_calls"] = [tool_call_json(call) for call in answer.tool_calls]
    reasoning = "".join(block.text for block in answer.reasoning)
    if reasoning:
        message["reasoning_content"] = reasoning
    completion: dict[str, object] = {
        "id": completion_id(answer.request_id),
        "object": "chat.completion",
        "created": created,
        "model": answer.model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": answer.finish_reason}],
        "usage": usage_json(answer.usage),
        "system_fingerprint": None,
    }
    if answer.tool_rounds:  # the MCP tool rounds the gateway ran; ``usage`` adds up every round
        completion["tool_rounds"] = answer.tool_rounds
    return completion


def tool_call_json(call: ToolCallPart) -> dict[str, object]:
    return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}


def usage_json(usage: Usage) -> dict[str, object]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read_input_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }

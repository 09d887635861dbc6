"""The Responses API's request → the gateway's ``GenerateFields``; an ``Answer`` → a ``response`` object.

Pure functions. Input items map onto ``domain.content``:

    string input                      → one user message
    message  user                     → ``input_text`` and ``input_image`` parts (data URLs decoded, http(s) kept)
    message  system, developer        → a system message (text only), as ``instructions`` is
    message  assistant                → ``output_text`` / ``refusal`` text
    function_call                     → a tool call of the assistant turn (``call_id`` is the call's id)
    function_call_output              → its result; consecutive ones: one tool message
    reasoning                         → a reasoning part (its ``encrypted_content`` is the gateway's own
                                        envelope of the provider's signature or redacted reasoning)

Consecutive assistant items (reasoning, message, function calls) are one
assistant turn, as the domain and every provider keep it. Answers map back the
same way: ``reasoning`` items, then a ``message`` with one ``output_text``,
then one ``function_call`` per call; item ids are the response's id with the
item's kind and position (``msg_<id>_1``), so a stream and its final response agree.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from application.tool_loop import LoopOutcome, ToolRound
from domain.catalogue import Catalogue
from domain.content import (
    FINISH_CONTENT_FILTER,
    FINISH_LENGTH,
    ImagePart,
    OutputFormat,
    ReasoningConfig,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    ToolSpec,
)
from domain.errors import InvalidRequest
from domain.models import Answer, GenerationRequest, Message, Usage
from domain.tool_servers import UpstreamTool, split_qualified
from domain.validation import GenerateFields
from entrypoints.http.openai.mapping import trailing_prompt
from entrypoints.http.openai.responses.shapes import (
    ContentPart,
    InputImage,
    InputItem,
    InputText,
    NamedToolChoice,
    OutputText,
    ReasoningOptions,
    ReasoningText,
    Refusal,
    ResponseBody,
    TextConfig,
    ToolDefinition,
)
from entrypoints.native_messages import decode_data_url

_encode_envelope = msgspec.msgpack.Encoder().encode
_decode_envelope = msgspec.msgpack.Decoder(tuple[str, bytes]).decode
_to_builtins = msgspec.to_builtins


def generate_fields(body: ResponseBody, catalogue: Catalogue) -> GenerateFields:
    """The request's fields; ``InvalidRequest`` naming the Responses API field that cannot be honoured."""
    if body.background:
        raise InvalidRequest("background: background responses are not supported by this gateway")
    if body.conversation is not None:
        raise InvalidRequest("conversation: use previous_response_id to continue a conversation on this gateway")
    if body.input is None or body.input == [] or body.input == "":
        raise InvalidRequest("input: a string or at least one input item is required")
    provider, model = catalogue.split_name(body.model)
    if not model:
        raise InvalidRequest("model is required")
    messages = input_messages(body.input)
    if body.instructions:
        messages = (Message(role="system", content=body.instructions), *messages)
    prompt, messages = trailing_prompt(messages)  # as the chat door: the native route's path and cache key
    return GenerateFields(
        model=model,
        provider=provider or None,
        prompt=prompt,
        max_tokens=body.max_output_tokens,
        temperature=body.temperature,
        messages=messages,
        tools=tuple(tool_of(t, f"tools[{i}]") for i, t in enumerate(body.tools or ()) if t.type != "mcp"),
        tool_choice=tool_choice_of(body.tool_choice),
        parallel_tool_calls=body.parallel_tool_calls is not False,
        output_format=output_format_of(body.text),
        top_p=body.top_p,
        reasoning=reasoning_of(body.reasoning),
    )


def input_messages(input_: str | list[InputItem]) -> tuple[Message, ...]:
    if isinstance(input_, str):
        return (Message(role="user", content=input_),)
    return merged_turns(_message_of(item, f"input[{i}]") for i, item in enumerate(input_))


def merged_turns(messages: Iterable[Message]) -> tuple[Message, ...]:
    """Consecutive assistant items are one assistant turn, consecutive tool results one tool turn."""
    merged: list[Message] = []
    for message in messages:
        previous = merged[-1] if merged else None
        if previous is not None and previous.role == message.role and message.role in ("assistant", "tool"):
            merged[-1] = Message(role=message.role, parts=(*previous.content_parts, *message.content_parts))
        else:
            merged.append(message)
    return tuple(merged)


def _message_of(item: InputItem, field: str) -> Message:
    kind = item.type
    if kind == "message":
        return _message(item, field)
    if kind == "function_call":
        if not item.call_id or not item.name:
            raise InvalidRequest(f"{field}: a function_call item needs call_id and name")
        call = ToolCallPart(id=item.call_id, name=item.name, arguments=item.arguments or "{}")
        return Message(role="assistant", parts=(call,))
    if kind == "function_call_output":
        if not item.call_id:
            raise InvalidRequest(f"{field}.call_id is required on a function_call_output item")
        return Message(role="tool", parts=(_result(item, field),))
    if kind == "reasoning":
        return Message(role="assistant", parts=(_reasoning(item, field),))
    raise InvalidRequest(f"{field}.type: input items of type '{kind}' are not supported by this gateway")


def _message(item: InputItem, field: str) -> Message:
    role = item.role
    if role is None:
        raise InvalidRequest(f"{field}.role is required on a message item")
    content = item.content
    if role in ("system", "developer"):
        return Message(role="system", content=_text_only(content, f"{field}.content", (InputText,)))
    if role == "assistant":
        return Message(role="assistant", content=_text_only(content, f"{field}.content", (OutputText, Refusal)))
    if content is None or isinstance(content, str):
        return Message(role="user", content=content or "")
    parts = tuple(_user_part(part, f"{field}.content[{j}]") for j, part in enumerate(content))
    if len(parts) == 1 and isinstance(parts[0], TextPart):  # the same message as its plain string: one cache key
        return Message(role="user", content=parts[0].text)
    return Message(role="user", parts=parts)


def _text_only(content: str | list[ContentPart] | None, field: str, kinds: tuple[type, ...]) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    texts: list[str] = []
    for j, part in enumerate(content):
        if not isinstance(part, kinds):
            raise InvalidRequest(f"{field}[{j}]: this message takes {' or '.join(_names(kinds))} parts only")
        if isinstance(part, Refusal):
            texts.append(part.refusal)
        elif isinstance(part, InputText | OutputText):
            texts.append(part.text)
    return "".join(texts)


def _names(kinds: tuple[type, ...]) -> list[str]:
    return [str(msgspec.inspect.type_info(kind).tag) for kind in kinds]  # type: ignore[attr-defined]


def _user_part(part: ContentPart, field: str) -> TextPart | ImagePart:
    if isinstance(part, InputText):
        return TextPart(text=part.text)
    if isinstance(part, InputImage):
        return _image(part, field)
    kind = msgspec.inspect.type_info(type(part)).tag  # type: ignore[attr-defined]
    raise InvalidRequest(f"{field}: {kind} content parts are not supported in a user message")


def _image(part: InputImage, field: str) -> ImagePart:
    if not part.image_url:
        raise InvalidRequest(f"{field}: an input_image needs image_url (file ids are not served by this gateway)")
    url = part.image_url
    if url[:5].lower() == "data:":
        media_type, data = decode_data_url(url, f"{field}.image_url")
        return ImagePart(media_type=media_type, data=data)
    return ImagePart(url=url)


def _result(item: InputItem, field: str) -> ToolResultPart:
    assert item.call_id is not None
    output = item.output
    if output is None or isinstance(output, str):
        return ToolResultPart(call_id=item.call_id, content=output or "")
    parts = tuple(_user_part(part, f"{field}.output[{j}]") for j, part in enumerate(output))
    return ToolResultPart(call_id=item.call_id, parts=parts)


def _reasoning(item: InputItem, field: str) -> ReasoningPart:
    content = item.content if isinstance(item.content, list) else []
    texts = [part.text for part in content if isinstance(part, ReasoningText)]
    if not texts:
        texts = [s.text for s in item.summary or ()]
    signature, redacted = "", b""
    if item.encrypted_content:
        signature, redacted = open_envelope(item.encrypted_content, f"{field}.encrypted_content")
    return ReasoningPart(text="\n".join(texts), signature=signature, redacted=redacted)


def sealed_envelope(block: ReasoningPart) -> str | None:
    """The provider's proof of a reasoning block (signature or redacted bytes) as ``encrypted_content``."""
    if not block.signature and not block.redacted:
        return None
    return base64.b64encode(_encode_envelope((block.signature, block.redacted))).decode()


def open_envelope(value: str, field: str) -> tuple[str, bytes]:
    try:
        return _decode_envelope(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise InvalidRequest(f"{field}: not reasoning this gateway returned") from None


def tool_of(tool: ToolDefinition, field: str) -> ToolSpec:
    if tool.type != "function":
        raise InvalidRequest(
            f"{field}.type: '{tool.type}' tools are not supported: only function and mcp tools are served here"
        )
    if not tool.name:
        raise InvalidRequest(f"{field}.name is required on a function tool")
    if tool.parameters is None:
        return ToolSpec(name=tool.name, description=tool.description or "")
    return ToolSpec(name=tool.name, description=tool.description or "", parameters=tool.parameters)


def tool_choice_of(choice: str | NamedToolChoice | None) -> ToolChoice:
    if choice is None or choice == "auto":
        return ToolChoice()
    if isinstance(choice, NamedToolChoice):
        if choice.type != "function" or not choice.name:
            raise InvalidRequest("tool_choice: only {'type': 'function', 'name': ...} names a tool on this gateway")
        return ToolChoice(mode="tool", name=choice.name)
    return ToolChoice(mode="none") if choice == "none" else ToolChoice(mode="required")


def output_format_of(text: TextConfig | None) -> OutputFormat:
    fmt = text.format if text is not None else None
    if fmt is None or fmt.type == "text":
        return OutputFormat()
    if fmt.type == "json_object":
        return OutputFormat(type="json_object")
    if not fmt.name or fmt.schema is None:
        raise InvalidRequest("text.format: a json_schema format needs name and schema")
    return OutputFormat(type="json_schema", name=fmt.name, schema=fmt.schema, strict=bool(fmt.strict))


def reasoning_of(options: ReasoningOptions | None) -> ReasoningConfig:
    """``reasoning.effort``; ``none`` is no reasoning, ``xhigh`` the most the domain has (``high``)."""
    effort = options.effort if options is not None else None
    if effort is None or effort == "none":
        return ReasoningConfig()
    return ReasoningConfig(effort="high" if effort == "xhigh" else effort)


# -- stored input items ------------------------------------------------------------------------------------------


def input_items_json(input_: str | list[InputItem], response_id: str) -> list[dict[str, Any]]:
    """The input items as ``GET .../input_items`` lists them: each with an id, a message's content as parts."""
    if isinstance(input_, str):
        input_ = [InputItem(role="user", content=input_)]
    items: list[dict[str, Any]] = []
    for i, item in enumerate(input_):
        body: dict[str, Any] = _to_builtins(item)
        body["type"] = item.type
        body.setdefault("id", f"{_ITEM_PREFIX.get(item.type, 'item')}_{response_id[5:]}_in{i}")
        if item.type == "message" and isinstance(item.content, str):
            kind = "output_text" if item.role == "assistant" else "input_text"
            body["content"] = [{"type": kind, "text": item.content}]
        if item.type == "message":
            body.setdefault("status", "completed")
        items.append(body)
    return items


_ITEM_PREFIX = {
    "message": "msg",
    "function_call": "fc",
    "function_call_output": "fco",
    "reasoning": "rs",
    "mcp_list_tools": "mcpl",
    "mcp_call": "mcp",
}


# -- answers ----------------------------------------------------------------------------------------------------


def item_id(kind: str, response_id: str, index: int) -> str:
    return f"{_ITEM_PREFIX[kind]}_{response_id[5:]}_{index}"


def status_of(answer: Answer) -> tuple[str, dict[str, str] | None]:
    """``completed``, or ``incomplete`` with the reason OpenAI names."""
    if answer.finish_reason == FINISH_LENGTH:
        return "incomplete", {"reason": "max_output_tokens"}
    if answer.finish_reason == FINISH_CONTENT_FILTER:
        return "incomplete", {"reason": "content_filter"}
    return "completed", None


def reasoning_item(block: ReasoningPart, item: str, *, status: str = "completed") -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": item,
        "type": "reasoning",
        "summary": [],
        "content": [{"type": "reasoning_text", "text": block.text}] if block.text else [],
        "status": status,
    }
    envelope = sealed_envelope(block)
    if envelope is not None:
        body["encrypted_content"] = envelope
    return body


def message_item(text: str, item: str, *, status: str = "completed") -> dict[str, Any]:
    part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    return {"id": item, "type": "message", "role": "assistant", "status": status, "content": [part]}


def call_item(call: ToolCallPart, item: str, *, status: str = "completed") -> dict[str, Any]:
    return {
        "id": item,
        "type": "function_call",
        "call_id": call.id,
        "name": call.name,
        "arguments": call.arguments,
        "status": status,
    }


def output_items(answer: Answer, response_id: str) -> list[dict[str, Any]]:
    """The answer's output: reasoning items, the message, the function calls."""
    status, _ = status_of(answer)
    items: list[dict[str, Any]] = []
    for block in answer.reasoning:
        items.append(reasoning_item(block, item_id("reasoning", response_id, len(items))))
    if answer.content or not (answer.tool_calls or answer.reasoning):
        items.append(message_item(answer.content, item_id("message", response_id, len(items)), status=status))
    for call in answer.tool_calls:
        items.append(call_item(call, item_id("function_call", response_id, len(items))))
    return items


def mcp_items(outcome: LoopOutcome, response_id: str) -> list[dict[str, Any]]:
    """What the gateway's MCP tool loop did, as the Responses API shows it: an ``mcp_list_tools`` item per server
    (the tools offered), then an ``mcp_call`` item per call it ran, with the result as ``output`` (or ``error``)."""
    listed: dict[str, list[dict[str, Any]]] = {}
    for qualified, tool in outcome.offered:
        server_and_tool = split_qualified(qualified)
        if server_and_tool is not None:
            listed.setdefault(server_and_tool[0], []).append(_listed_tool(tool))
    items: list[dict[str, Any]] = []
    for server, tools in listed.items():
        items.append(
            {
                "id": item_id("mcp_list_tools", response_id, len(items)),
                "type": "mcp_list_tools",
                "server_label": server,
                "tools": tools,
            }
        )
    for done in outcome.rounds:
        for call, result in round_calls(done):
            items.append(mcp_call_item(call, result, item_id("mcp_call", response_id, len(items))))
    return items


def round_calls(done: ToolRound) -> list[tuple[ToolCallPart, ToolResultPart | None]]:
    results = {result.call_id: result for result in done.results}
    return [(call, results.get(call.id)) for call in done.calls]


def mcp_call_item(call: ToolCallPart, result: ToolResultPart | None, item: str) -> dict[str, Any]:
    """A call the gateway ran: the server's label and own tool name, and the result as ``output`` or ``error``."""
    server, name = split_qualified(call.name) or ("", call.name)
    failed = result is not None and result.is_error
    return {
        "id": item,
        "type": "mcp_call",
        "server_label": server,
        "name": name,
        "arguments": call.arguments,
        "output": None if failed or result is None else result.content,
        "error": result.content if failed and result is not None else None,
        "status": "failed" if failed else "completed",
    }


def _listed_tool(tool: UpstreamTool) -> dict[str, Any]:
    return {
        "name": tool.name,
        "description": tool.description or tool.title or None,
        "input_schema": tool.input_schema,
        "annotations": tool.annotations,
    }


def usage_json(usage: Usage) -> dict[str, object]:
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {
            "cached_tokens": usage.cache_read_input_tokens,
            "cache_write_tokens": usage.cache_write_input_tokens,
        },
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total,
    }


class ResponseHead:
    """What a response object echoes of its request, fixed before the answer exists: rendered once per
    request (a stream renders the response at its start and at its end, and on failure)."""

    __slots__ = ("_echo", "body", "created_at", "generation", "id")

    def __init__(self, *, id: str, created_at: int, body: ResponseBody, generation: GenerationRequest) -> None:
        self.id = id
        self.created_at = created_at
        self.body = body
        self.generation = generation
        # In the response object's field order; ``json`` fills the answer's fields in place (order kept).
        self._echo: dict[str, Any] = {
            "id": id,
            "object": "response",
            "created_at": created_at,
            "status": None,
            "background": False,
            "completed_at": None,
            "error": None,
            "incomplete_details": None,
            "instructions": body.instructions,
            "max_output_tokens": body.max_output_tokens,
            "metadata": body.metadata or {},
            "model": generation.model,
            "output": None,
            "parallel_tool_calls": generation.parallel_tool_calls,
            "previous_response_id": body.previous_response_id,
            "reasoning": {"effort": body.reasoning.effort if body.reasoning else None, "summary": None},
            "store": body.store is not False,
            "temperature": generation.temperature,
            "text": {"format": _to_builtins(body.text.format) if body.text and body.text.format else {"type": "text"}},
            "tool_choice": _to_builtins(body.tool_choice) if body.tool_choice is not None else "auto",
            "tools": [_tool_json(t) for t in body.tools or ()],
            "top_p": body.top_p,
            "truncation": "disabled",
            "usage": None,
            "user": body.user,
        }

    def json(
        self,
        *,
        status: str,
        output: Sequence[dict[str, Any]] = (),
        usage: Usage | None = None,
        incomplete: dict[str, str] | None = None,
        error: dict[str, Any] | None = None,
        completed_at: int | None = None,
    ) -> dict[str, Any]:
        document = self._echo.copy()  # shallow: the echoed values are never changed
        document["status"] = status
        document["completed_at"] = completed_at
        document["error"] = error
        document["incomplete_details"] = incomplete
        document["output"] = list(output)
        document["usage"] = usage_json(usage) if usage is not None else None
        return document

    def answered(self, answer: Answer, output: Sequence[dict[str, Any]], completed_at: int) -> dict[str, Any]:
        status, incomplete = status_of(answer)
        return self.json(
            status=status, output=output, usage=answer.usage, incomplete=incomplete, completed_at=completed_at
        )


def _tool_json(tool: ToolDefinition) -> dict[str, Any]:
    body: dict[str, Any] = _to_builtins(tool)
    if tool.type == "mcp":
        return body
    body.setdefault("strict", True)
    body.setdefault("parameters", None)
    body.setdefault("description", None)
    return body

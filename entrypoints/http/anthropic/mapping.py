"""Anthropic's Messages request → the gateway's ``GenerateFields``; an ``Answer`` → a ``message`` object.

Pure functions. Every block maps onto ``domain.content``:

    system (string or text blocks)     the system prompt (blocks joined by a blank line)
    user: text, image                  ``TextPart``, ``ImagePart`` (base64 decoded; a URL kept for the provider)
    user: tool_result                  a ``tool`` message before the user's other blocks (``ToolResultPart``,
                                       ``is_error``, its content as text or text and image parts)
    assistant: thinking                ``ReasoningPart`` with its signature, unchanged
    assistant: redacted_thinking       ``ReasoningPart.redacted``: ``data`` is the base64 of the provider's bytes
    assistant: text, tool_use          ``TextPart``, ``ToolCallPart`` (the input as JSON text)
    cache_control                      ``CacheMarks`` (tools, system) and ``Message.cache_after`` (a block)
    tool_choice                        auto, any → required, tool, none; ``disable_parallel_tool_use``
    thinking.budget_tokens             ``ReasoningConfig.budget_tokens``
    top_k, top_p, stop_sequences       ``Sampling``

The model is a catalogue id or alias or ``provider/model`` (``Catalogue.split_name``).
``metadata.user_id`` is accepted and not sent on; sessions use ``X-User-ID``/``X-Session-ID``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence

import msgspec

from domain.catalogue import Catalogue
from domain.content import (
    FINISH_CONTENT_FILTER,
    FINISH_LENGTH,
    FINISH_STOP,
    FINISH_TOOL_CALLS,
    CacheMarks,
    ImagePart,
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
from domain.models import Answer, Message, Role, Usage
from domain.validation import GenerateFields
from entrypoints.http.anthropic.shapes import (
    MAX_CACHE_MARKS,
    MAX_TEMPERATURE,
    Base64Source,
    ContentBlock,
    CountTokensBody,
    ImageBlock,
    InputMessage,
    MessagesBody,
    RedactedThinkingBlock,
    TextBlock,
    ThinkingBlock,
    ThinkingEnabled,
    Tool,
    ToolChoiceAny,
    ToolChoiceNone,
    ToolChoiceTool,
    ToolResultBlock,
    ToolUseBlock,
)
from entrypoints.http.anthropic.shapes import ToolChoice as WireToolChoice

_encode = msgspec.json.Encoder().encode


def generate_fields(body: MessagesBody, catalogue: Catalogue) -> GenerateFields:
    """The request's fields; ``InvalidRequest`` naming the Anthropic field that cannot be honoured."""
    if body.max_tokens < 1:
        raise InvalidRequest(f"max_tokens: must be at least 1, got {body.max_tokens}")
    if body.temperature is not None and not 0.0 <= body.temperature <= MAX_TEMPERATURE:
        raise InvalidRequest(f"temperature: must be from 0 to {MAX_TEMPERATURE:g}, got {body.temperature}")
    conversation = _Conversation.of(body, catalogue)
    return msgspec.structs.replace(
        conversation,
        max_tokens=body.max_tokens,
        temperature=body.temperature,
        top_p=body.top_p,
        top_k=body.top_k,
        stop=tuple(body.stop_sequences or ()),
    )


def count_fields(body: CountTokensBody, catalogue: Catalogue) -> GenerateFields:
    """What ``count_tokens`` counts: the same conversation, tools and system prompt as a request (a thinking
    budget is no input, and is checked against a ``max_tokens`` this request has not got: left out)."""
    return msgspec.structs.replace(_Conversation.of(body, catalogue), reasoning=ReasoningConfig())


class _Conversation:
    """Maps the conversation part of a request (shared by ``messages`` and ``count_tokens``)."""

    def __init__(self) -> None:
        self.marks = 0

    @classmethod
    def of(cls, body: MessagesBody | CountTokensBody, catalogue: Catalogue) -> GenerateFields:
        if not body.messages:
            raise InvalidRequest("messages: at least one message is required")
        mapper = cls()
        system, system_marked = mapper.system(body.system)
        tools, tools_marked = mapper.tools(body.tools)
        messages: list[Message] = []
        for i, message in enumerate(body.messages):
            messages += mapper.message(message, f"messages.{i}")
        if mapper.marks > MAX_CACHE_MARKS:
            raise InvalidRequest(
                f"A maximum of {MAX_CACHE_MARKS} blocks with cache_control may be provided. Found {mapper.marks}."
            )
        choice, parallel = tool_choice_of(body.tool_choice)
        provider, model = catalogue.split_name(body.model)
        if not model:
            raise InvalidRequest("model: is required")
        return GenerateFields(
            model=model,
            provider=provider or None,
            system=system,
            messages=tuple(messages),
            tools=tools,
            tool_choice=choice,
            parallel_tool_calls=parallel,
            reasoning=ReasoningConfig(budget_tokens=body.thinking.budget_tokens)
            if isinstance(body.thinking, ThinkingEnabled)
            else ReasoningConfig(),
            cache_marks=CacheMarks(tools=tools_marked, system=system_marked),
        )

    def system(self, system: str | list[TextBlock] | None) -> tuple[str, bool]:
        if system is None or isinstance(system, str):
            return system or "", False
        marked = self._count([block.cache_control is not None for block in system])
        return "\n\n".join(block.text for block in system), marked

    def tools(self, tools: list[Tool] | None) -> tuple[tuple[ToolSpec, ...], bool]:
        specs: list[ToolSpec] = []
        for i, tool in enumerate(tools or ()):
            if tool.type not in (None, "custom"):
                raise InvalidRequest(f"tools.{i}: server tools ({tool.type}) are not available through this gateway")
            if tool.input_schema is None:
                raise InvalidRequest(f"tools.{i}.input_schema: Field required")
            specs.append(ToolSpec(name=tool.name, description=tool.description or "", parameters=tool.input_schema))
        return tuple(specs), self._count([tool.cache_control is not None for tool in tools or ()])

    def _count(self, marks: Sequence[bool]) -> bool:
        found = sum(marks)
        self.marks += found
        return found > 0

    def message(self, message: InputMessage, field: str) -> list[Message]:
        content = message.content
        if isinstance(content, str):
            return [Message(role=message.role, content=content)]
        if not content:
            raise InvalidRequest(f"{field}.content: a message needs at least one content block")
        if message.role == "assistant":
            return [self._assistant(content, field)]
        return self._user(content, field)

    def _assistant(self, blocks: list[ContentBlock], field: str) -> Message:
        parts: list[Part] = []
        marked: list[int] = []
        for j, block in enumerate(blocks):
            at = f"{field}.content.{j}"
            if isinstance(block, TextBlock):
                parts.append(TextPart(text=block.text))
            elif isinstance(block, ToolUseBlock):
                parts.append(ToolCallPart(id=block.id, name=block.name, arguments=_encode(block.input).decode()))
            elif isinstance(block, ThinkingBlock):
                parts.append(ReasoningPart(text=block.thinking, signature=block.signature))
            elif isinstance(block, RedactedThinkingBlock):
                parts.append(ReasoningPart(redacted=_base64(block.data, f"{at}.data")))
            else:
                raise InvalidRequest(f"{at}: an assistant message cannot hold a {_type_of(block)} block")
            if getattr(block, "cache_control", None) is not None:
                marked.append(len(parts) - 1)
        self.marks += len(marked)
        return _message("assistant", parts, marked)

    def _user(self, blocks: list[ContentBlock], field: str) -> list[Message]:
        """Tool results first, as their own ``tool`` message; the user's other blocks after them."""
        results: list[Part] = []
        results_marked: list[int] = []
        parts: list[Part] = []
        marked: list[int] = []
        for j, block in enumerate(blocks):
            at = f"{field}.content.{j}"
            if isinstance(block, ToolResultBlock):
                if parts:
                    raise InvalidRequest(
                        f"{at}: tool_result blocks must come before any other content in a user message"
                    )
                results.append(_result(block, at))
                if block.cache_control is not None:
                    results_marked.append(len(results) - 1)
                continue
            if isinstance(block, TextBlock):
                parts.append(TextPart(text=block.text))
            elif isinstance(block, ImageBlock):
                parts.append(image_of(block, at))
            else:
                raise InvalidRequest(f"{at}: a user message cannot hold a {_type_of(block)} block")
            if block.cache_control is not None:
                marked.append(len(parts) - 1)
        self.marks += len(results_marked) + len(marked)
        turn: list[Message] = []
        if results:
            turn.append(Message(role="tool", parts=tuple(results), cache_after=tuple(results_marked)))
        if parts:
            turn.append(_message("user", parts, marked))
        return turn


def _message(role: Role, parts: list[Part], marked: list[int]) -> Message:
    if len(parts) == 1 and isinstance(parts[0], TextPart):  # the same message as its plain string: one cache key
        return Message(role=role, content=parts[0].text, cache_after=tuple(marked))
    return Message(role=role, parts=tuple(parts), cache_after=tuple(marked))


def _result(block: ToolResultBlock, field: str) -> ToolResultPart:
    content = block.content
    is_error = bool(block.is_error)
    if content is None or isinstance(content, str):
        return ToolResultPart(call_id=block.tool_use_id, content=content or "", is_error=is_error)
    parts = tuple(
        TextPart(text=item.text) if isinstance(item, TextBlock) else image_of(item, f"{field}.content.{k}")
        for k, item in enumerate(content)
    )
    return ToolResultPart(call_id=block.tool_use_id, parts=parts, is_error=is_error)


def image_of(block: ImageBlock, field: str) -> ImagePart:
    source = block.source
    if isinstance(source, Base64Source):
        return ImagePart(media_type=source.media_type.lower(), data=_base64(source.data, f"{field}.source.data"))
    return ImagePart(url=source.url)


def _base64(data: str, field: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(f"{field}: not valid base64") from None


def _type_of(block: ContentBlock) -> str:
    return str(type(block).__struct_config__.tag)


def tool_choice_of(choice: WireToolChoice | None) -> tuple[ToolChoice, bool]:
    """The domain's choice and whether parallel calls are allowed."""
    if choice is None:
        return ToolChoice(), True
    if isinstance(choice, ToolChoiceNone):
        return ToolChoice(mode="none"), True
    parallel = not choice.disable_parallel_tool_use
    if isinstance(choice, ToolChoiceTool):
        return ToolChoice(mode="tool", name=choice.name), parallel
    if isinstance(choice, ToolChoiceAny):
        return ToolChoice(mode="required"), parallel
    return ToolChoice(), parallel


# -- answers ----------------------------------------------------------------------------------------------------

_STOP_REASONS = {FINISH_LENGTH: "max_tokens", FINISH_TOOL_CALLS: "tool_use", FINISH_CONTENT_FILTER: "refusal"}


def message_id(request_id: str) -> str:
    return "msg_" + request_id


def stop_fields(answer: Answer) -> dict[str, object]:
    """``stop_reason`` and ``stop_sequence``: ``stop_sequence`` with the sequence where the provider said which
    one matched (Bedrock Claude, the mock); a plain ``end_turn`` where it did not (OpenAI-compatible upstreams)."""
    if answer.finish_reason == FINISH_STOP and answer.stop_sequence is not None:
        return {"stop_reason": "stop_sequence", "stop_sequence": answer.stop_sequence}
    return {"stop_reason": _STOP_REASONS.get(answer.finish_reason, "end_turn"), "stop_sequence": None}


def message_json(answer: Answer) -> dict[str, object]:
    """A ``message`` object: thinking blocks, then the text, then the tool calls, as Claude orders them."""
    content: list[dict[str, object]] = [reasoning_block(block) for block in answer.reasoning]
    if answer.content or not (answer.tool_calls or answer.reasoning):
        content.append({"type": "text", "text": answer.content})
    content += [tool_use_block(call) for call in answer.tool_calls]
    return {
        "id": message_id(answer.request_id),
        "type": "message",
        "role": "assistant",
        "model": answer.model,
        "content": content,
        **stop_fields(answer),
        "usage": usage_json(answer.usage),
    }


def reasoning_block(block: ReasoningPart) -> dict[str, object]:
    if block.redacted:
        return {"type": "redacted_thinking", "data": base64.b64encode(block.redacted).decode()}
    return {"type": "thinking", "thinking": block.text, "signature": block.signature}


def tool_use_block(call: ToolCallPart) -> dict[str, object]:
    return {"type": "tool_use", "id": call.id, "name": call.name, "input": _arguments(call.arguments)}


def _arguments(arguments: str) -> object:
    try:
        return msgspec.json.decode(arguments or "{}")
    except msgspec.DecodeError:  # a model that wrote broken JSON: hand it over as the text it wrote
        return {"_raw_arguments": arguments}


def usage_json(usage: Usage) -> dict[str, object]:
    """``input_tokens`` is the uncached part of the input, as Anthropic counts it."""
    cached = usage.cache_read_input_tokens + usage.cache_write_input_tokens
    return {
        "input_tokens": max(0, usage.prompt_tokens - cached),
        "output_tokens": usage.completion_tokens,
        "cache_creation_input_tokens": usage.cache_write_input_tokens,
        "cache_read_input_tokens": usage.cache_read_input_tokens,
    }

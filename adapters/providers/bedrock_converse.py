"""A ``ProviderCall`` as a Bedrock Converse request (docs/api.md#providers).

    message (role)         Converse
    system / call.system   ``system`` text block (or folded into the first user turn), a ``cachePoint`` after it
    user: text, image      ``text``, ``image`` (format + bytes; a URL only through the image resolver)
    assistant: reasoning   ``reasoningContent`` (``reasoningText`` with its signature, or ``redactedContent``)
    assistant: text, call  ``text``, ``toolUse`` (id, name, the arguments as a JSON document)
    tool: results          ``toolResult`` blocks of ONE user message (consecutive tool messages merged)
    tools / toolChoice     ``toolConfig.tools[].toolSpec.inputSchema.json``, ``toolChoice`` auto / any / tool
    JSON output            a forced tool whose input schema is the requested schema (``bedrock_replies``
                           turns its input back into text)
    sampling               ``inferenceConfig``: maxTokens, temperature, topP, stopSequences (no seed on Bedrock);
                           top_k as ``additionalModelRequestFields.top_k`` on Claude (other models: not sent);
                           with stop sequences on Claude, ``additionalModelResponseFieldPaths: ["/stop_sequence"]``
                           so that the answer says which one matched (``bedrock_replies``)
    reasoning              ``additionalModelRequestFields.thinking`` for the models that think (Claude 3.7 / 4)
    cache marks            a ``cachePoint`` block at each mark the client set (``CacheMarks``,
                           ``Message.cache_after``) on models with a prompt cache; without marks, one
                           automatic point after a long enough system prompt (or tools)

Bedrock has no ``none`` tool choice: ``none`` sends no tools, unless the
conversation already holds tool blocks, which Bedrock accepts only beside a
``toolConfig``; then the tools go with ``auto``. It has no switch for
parallel tool calls either: every call the model makes is passed on.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from domain.content import (
    NO_CACHE_MARKS,
    ImagePart,
    OutputFormat,
    Part,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
)
from domain.errors import InvalidRequest
from domain.models import Message, ProviderCall

ImageResolver = Callable[[str], Awaitable[tuple[bytes, str]]]
Block = dict[str, Any]

ANSWER_TOOL_DESCRIPTION = "Give your whole answer as the input of this tool: the input is the answer."
_IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/gif": "gif", "image/webp": "webp"}
_MAX_TEMPERATURE = 1.0  # Converse's modelled maximum; the gateway accepts up to 2.0
_CACHE_POINT: Block = {"cachePoint": {"type": "default"}}
# Claude caches a prefix from 1024 tokens (Nova from 1000); a shorter one is not cached, so no point marks it.
_MIN_CACHED_TOKENS = 1024
_CHARS_PER_TOKEN = 4  # a cautious estimate: the point goes only where the prefix surely reaches the minimum
_MIN_THINKING_BUDGET = 1024  # Claude's smallest thinking budget
_THINKING_BUDGETS = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384}
_MIN_TOP_P_THINKING = 0.95  # Claude takes top_p only from 0.95 while it thinks


async def refuse_image_url(url: str) -> tuple[bytes, str]:
    """The image resolver when the gateway does not fetch images: every URL is refused."""
    raise InvalidRequest(
        f"an image given by URL ({url[:100]}) cannot go to Bedrock, which takes image bytes only: "
        "send the image as bytes or a data URL, or set IMAGE_FETCH_ENABLED=true so that the gateway fetches it"
    )


@dataclass(frozen=True)
class ModelTraits:
    """What one Bedrock model takes beyond the common Converse request."""

    system: bool = True
    thinking: bool = False
    prompt_cache: bool = False
    tool_cache: bool = False
    forced_tools: bool = False
    tool_status: bool = False
    top_k: bool = False
    stop_sequence_field: bool = False  # the answer can name the stop sequence that matched (Claude's field)


def traits_by_family(model_id: str, *, system: bool, thinking: bool) -> ModelTraits:
    """The traits Bedrock's model-feature tables give each family (the catalogue decides system and thinking)."""
    claude = "anthropic.claude" in model_id
    caches = (claude and any(marker in model_id for marker in _CLAUDE_CACHE)) or "amazon.nova" in model_id
    return ModelTraits(
        system=system,
        thinking=thinking,
        prompt_cache=caches,
        tool_cache=caches and claude,  # Nova caches system and messages, not tools
        forced_tools=claude or "amazon.nova" in model_id or "mistral.mistral-large" in model_id,
        tool_status=claude,
        top_k=claude,
        stop_sequence_field=claude,
    )


# A JSON pointer into Claude's own answer; Bedrock echoes the field in additionalModelResponseFields.
STOP_SEQUENCE_PATH = "/stop_sequence"
_CLAUDE_CACHE = ("claude-3-7", "claude-3-5-haiku", "claude-sonnet-4", "claude-opus-4", "claude-haiku-4")
THINKING_FAMILIES = ("anthropic.claude-3-7", "anthropic.claude-sonnet-4", "anthropic.claude-opus-4")


def answer_tool(output: OutputFormat) -> ToolSpec | None:
    """The forced tool that carries a JSON answer, or ``None`` for a text answer."""
    if output.type == "text":
        return None
    schema = output.schema if output.type == "json_schema" and output.schema is not None else {"type": "object"}
    return ToolSpec(name=output.name or "response", description=ANSWER_TOOL_DESCRIPTION, parameters=schema)


async def converse_request(call: ProviderCall, traits: ModelTraits, resolve_image: ImageResolver) -> dict[str, Any]:
    """The whole Converse request for ``call`` on a model with ``traits``."""
    system = "\n\n".join(text for text in (call.system, *_system_texts(call.messages)) if text.strip())
    keep_system = bool(system) and traits.system
    marked = traits.prompt_cache and _has_cache_marks(call)
    conversation = _Conversation(traits, resolve_image, cache_points=marked)
    messages = await conversation.build(call.messages, fold="" if keep_system else system)
    answer = answer_tool(call.output_format)
    tool_config = _tool_config(call, answer, traits, _uses_tools(messages))
    thinking = _thinking(call, traits, forced=bool(tool_config and _forces(tool_config)))
    request: dict[str, Any] = {
        "modelId": call.model,
        "messages": messages,
        "inferenceConfig": _inference_config(call, thinking=bool(thinking)),
    }
    if keep_system:
        request["system"] = [{"text": system}]
    if tool_config:
        request["toolConfig"] = tool_config
    additional: dict[str, Any] = {}
    if thinking:
        additional["thinking"] = thinking
    if call.sampling.top_k is not None and traits.top_k:
        additional["top_k"] = call.sampling.top_k
    if additional:
        request["additionalModelRequestFields"] = additional
    if call.sampling.stop and traits.stop_sequence_field:
        request["additionalModelResponseFieldPaths"] = [STOP_SEQUENCE_PATH]
    if marked:
        _place_cache_marks(request, call, traits)
    elif traits.prompt_cache:
        _mark_cache_point(request, traits)
    return request


def _has_cache_marks(call: ProviderCall) -> bool:
    return call.cache_marks != NO_CACHE_MARKS or any(message.cache_after for message in call.messages)


def _place_cache_marks(request: dict[str, Any], call: ProviderCall, traits: ModelTraits) -> None:
    """The client's own points after the tools and the system prompt (those in messages are placed by
    ``_Conversation``); a system prompt folded into the first turn has no place for one."""
    tools = request.get("toolConfig", {}).get("tools", [])
    if call.cache_marks.tools and tools and traits.tool_cache:
        tools.append(_CACHE_POINT)
    if call.cache_marks.system and request.get("system"):
        request["system"].append(_CACHE_POINT)


def _system_texts(messages: tuple[Message, ...]) -> list[str]:
    return [message.text for message in messages if message.role == "system"]


def _inference_config(call: ProviderCall, *, thinking: bool) -> dict[str, Any]:
    config: dict[str, Any] = {"maxTokens": call.max_tokens}
    if not thinking:  # Claude refuses any temperature but 1 while it thinks; leaving it out is the default 1
        config["temperature"] = min(max(call.temperature, 0.0), _MAX_TEMPERATURE)
    top_p = call.sampling.top_p
    if top_p is not None:
        if thinking and top_p < _MIN_TOP_P_THINKING:
            raise InvalidRequest(f"topP must be at least {_MIN_TOP_P_THINKING} with reasoning on Bedrock, got {top_p}")
        config["topP"] = top_p
    if call.sampling.stop:
        config["stopSequences"] = list(call.sampling.stop)
    return config


def _thinking(call: ProviderCall, traits: ModelTraits, *, forced: bool) -> dict[str, Any] | None:
    if not (call.reasoning.requested and traits.thinking):
        return None
    if forced:
        raise InvalidRequest(
            "reasoning: Claude on Bedrock does not think while a tool is forced; drop reasoning, or use "
            "toolChoice 'auto' and a text responseFormat"
        )
    budget = call.reasoning.budget_tokens or min(_THINKING_BUDGETS[call.reasoning.effort], call.max_tokens - 1)
    if budget < _MIN_THINKING_BUDGET:
        raise InvalidRequest(
            f"reasoning.budgetTokens must be at least {_MIN_THINKING_BUDGET} on Bedrock (and maxTokens above it), "
            f"got a budget of {budget} with maxTokens {call.max_tokens}"
        )
    return {"type": "enabled", "budget_tokens": budget}


def _tool_config(
    call: ProviderCall, answer: ToolSpec | None, traits: ModelTraits, uses_tools: bool
) -> dict[str, Any] | None:
    offered = list(call.tools) if call.tool_choice.mode != "none" or uses_tools else []
    if uses_tools and not offered:
        offered = _tools_named_in(call.messages)  # Bedrock takes tool blocks only beside a toolConfig
    if answer is not None:
        if any(tool.name == answer.name for tool in offered):
            raise InvalidRequest(f"responseFormat.name: '{answer.name}' is also the name of a tool")
        offered.append(answer)
    if not offered:
        return None
    config: dict[str, Any] = {"tools": [_tool_spec(tool) for tool in offered]}
    choice = _choice(call, answer, traits)
    if choice is not None:
        config["toolChoice"] = choice
    return config


def _choice(call: ProviderCall, answer: ToolSpec | None, traits: ModelTraits) -> dict[str, Any] | None:
    """``auto`` is Bedrock's default and goes unsaid; a JSON answer forces its tool, or any tool beside the
    caller's own ones (the model answers through one of them)."""
    mode = call.tool_choice.mode
    if mode in ("required", "tool") and not traits.forced_tools:
        raise InvalidRequest(f"toolChoice '{mode}': model '{call.model}' on Bedrock takes only 'auto'")
    if mode == "tool":
        return {"tool": {"name": call.tool_choice.name}}
    if answer is None:
        return {"any": {}} if mode == "required" else None
    if not traits.forced_tools:
        return None  # only Claude, Nova and Mistral Large take a forced choice: the answer tool is offered
    return {"any": {}} if call.tools and mode != "none" else {"tool": {"name": answer.name}}


def _forces(tool_config: dict[str, Any]) -> bool:
    return "toolChoice" in tool_config


def _tool_spec(tool: ToolSpec) -> Block:
    spec: dict[str, Any] = {"name": tool.name, "inputSchema": {"json": tool.parameters}}
    if tool.description:
        spec["description"] = tool.description
    return {"toolSpec": spec}


def _tools_named_in(messages: tuple[Message, ...]) -> list[ToolSpec]:
    names = dict.fromkeys(call.name for message in messages for call in message.tool_calls)
    return [ToolSpec(name=name, description="A tool called earlier in this conversation.") for name in names]


def _uses_tools(messages: list[Block]) -> bool:
    return any("toolUse" in block or "toolResult" in block for message in messages for block in message["content"])


def _mark_cache_point(request: dict[str, Any], traits: ModelTraits) -> None:
    """One cache point at the end of the stable prefix (tools, then system), when it is long enough to cache."""
    tools = request.get("toolConfig", {}).get("tools", [])
    system = request.get("system", [])
    prefix = len(json.dumps(tools)) + sum(len(block["text"]) for block in system)
    if prefix // _CHARS_PER_TOKEN < _MIN_CACHED_TOKENS:
        return
    if system:
        system.append(_CACHE_POINT)
    elif tools and traits.tool_cache:
        tools.append(_CACHE_POINT)


class _Conversation:
    """Converse wants user/assistant turns that alternate and start with a user's words: merge and trim to that."""

    def __init__(self, traits: ModelTraits, resolve_image: ImageResolver, *, cache_points: bool = False) -> None:
        self._traits = traits
        self._resolve_image = resolve_image
        self._cache_points = cache_points

    async def build(self, messages: tuple[Message, ...], *, fold: str) -> list[Block]:
        turns: list[tuple[str, list[Block]]] = []
        for message in messages:
            if message.role == "system":
                continue
            role = "assistant" if message.role == "assistant" else "user"  # tool results travel in a user turn
            blocks = await self._message_blocks(message)
            if not blocks:
                continue
            if turns and turns[-1][0] == role:
                _extend(turns[-1][1], blocks)
            else:
                turns.append((role, blocks))
        _trim_to_user_start(turns)
        if fold and turns:
            turns[0] = ("user", _extend([{"text": fold}], turns[0][1]))
        return [{"role": role, "content": blocks} for role, blocks in turns]

    async def _message_blocks(self, message: Message) -> list[Block]:
        """The message's blocks, with a ``cachePoint`` after each part the client marked (when they are placed)."""
        if not (self._cache_points and message.cache_after):
            return await self._blocks(message.content_parts)
        blocks: list[Block] = []
        for i, part in enumerate(message.content_parts):
            block = await self._block(part)
            if block is not None:
                blocks.append(block)
            if i in message.cache_after and blocks and "cachePoint" not in blocks[-1]:
                blocks.append(_CACHE_POINT)
        return blocks

    async def _blocks(self, parts: tuple[Part, ...]) -> list[Block]:
        blocks = [await self._block(part) for part in parts]
        return [block for block in blocks if block is not None]

    async def _block(self, part: Part) -> Block | None:
        if isinstance(part, TextPart):
            return {"text": part.text} if part.text.strip() else None  # a blank text block is a ValidationException
        if isinstance(part, ImagePart):
            return await self._image(part)
        if isinstance(part, ToolCallPart):
            return {"toolUse": {"toolUseId": part.id, "name": part.name, "input": _arguments(part)}}
        if isinstance(part, ToolResultPart):
            return await self._result(part)
        return _reasoning(part)

    async def _image(self, part: ImagePart) -> Block:
        data, media_type = (part.data, part.media_type) if part.data else await self._resolve_image(part.url)
        image_format = _IMAGE_FORMATS.get(media_type)
        if image_format is None:
            raise InvalidRequest(f"image type {media_type or 'none'} is not one of {', '.join(_IMAGE_FORMATS)}")
        return {"image": {"format": image_format, "source": {"bytes": data}}}

    async def _result(self, part: ToolResultPart) -> Block:
        content = await self._blocks(part.parts)
        if not part.parts and part.content.strip():
            content = [{"text": part.content}]
        result: dict[str, Any] = {"toolUseId": part.call_id, "content": content or [{"json": {}}]}
        if part.is_error:
            if self._traits.tool_status:
                result["status"] = "error"
            else:  # only Claude takes a status: tell the others in the result itself
                result["content"] = [{"text": "The tool failed."}, *result["content"]]
        return {"toolResult": result}


def _arguments(part: ToolCallPart) -> Any:
    try:
        return json.loads(part.arguments or "{}")
    except ValueError as exc:
        raise InvalidRequest(f"tool call '{part.id}': its arguments are not JSON") from exc


def _reasoning(part: ReasoningPart) -> Block:
    if part.redacted:
        return {"reasoningContent": {"redactedContent": part.redacted}}
    text: dict[str, Any] = {"text": part.text}
    if part.signature:
        text["signature"] = part.signature
    return {"reasoningContent": {"reasoningText": text}}


def _extend(blocks: list[Block], more: list[Block]) -> list[Block]:
    """Append ``more``, joining a text that meets a text the way consecutive turns of one role always were."""
    for block in more:
        if blocks and set(blocks[-1]) == {"text"} and set(block) == {"text"}:
            blocks[-1] = {"text": f"{blocks[-1]['text']}\n\n{block['text']}"}
        else:
            blocks.append(block)
    return blocks


def _trim_to_user_start(turns: list[tuple[str, list[Block]]]) -> None:
    """A history cut short may start with an answer, or with results of calls it no longer holds: drop those."""
    while turns:
        role, blocks = turns[0]
        if role == "user":
            kept = [block for block in blocks if "toolResult" not in block]
            if kept:
                turns[0] = (role, kept)
                return
        turns.pop(0)

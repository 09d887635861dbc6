"""The chat-completions request body, for the SDK path and the lean HTTP path alike (docs/api.md#providers).

One function, ``request_body``, turns a ``ProviderCall`` into the JSON both
upstream clients send (the SDK takes it as keyword arguments)::

    system prompt ─────────────── {"role": "system"} first (only when there is one)
    user text / images ────────── content: str, or parts [{"type": "text"}, {"type": "image_url"}]
                                  (bytes become a data URL; an http(s) URL is passed through as it is)
    assistant text / tool calls ─ content (null with only calls) and tool_calls [{id, type: function, function}]
    assistant reasoning ───────── not sent: chat completions has no field for it (the model's earlier
                                  reasoning is not part of its input there)
    tool results ──────────────── one {"role": "tool", tool_call_id, content} per result; images of a
                                  result follow in one user message (tool messages take text only); a
                                  failed result says so first (a tool message has no error flag)
    tools / tool choice ───────── tools [{type: function, function: {name, description, parameters}}],
                                  tool_choice auto | none | required | {type: function, function: {name}},
                                  parallel_tool_calls: all three only when tools are sent
    output format ─────────────── response_format json_object | json_schema {name, schema, strict}
    sampling ──────────────────── top_p, stop, seed
    reasoning models ──────────── max_completion_tokens instead of max_tokens, reasoning_effort, and none of
                                  what they refuse (temperature, top_p, stop)

The answer side (``adapters.providers.chat_completions_answer``) reads what comes back.
"""

from __future__ import annotations

import base64
from typing import Any

from domain.content import (
    ImagePart,
    OutputFormat,
    Part,
    ReasoningConfig,
    TextPart,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    ToolSpec,
)
from domain.models import Message, ProviderCall
from domain.option_rules import DEFAULT_SCHEMA_NAME

JsonObject = dict[str, Any]
_REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5")
# OpenAI's effort levels for a request that gave a thinking budget instead (Bedrock's way): the smallest
# level whose typical spend covers the budget.
_EFFORT_BY_BUDGET = ((2048, "low"), (8192, "medium"))
# OpenAI refuses json_object unless a message says "json"; this sentence is added to the system prompt then.
JSON_NUDGE = "Answer with a JSON object."


def looks_like_reasoning_model(name: str) -> bool:
    """o-series and gpt-5 models take ``max_completion_tokens`` and only the default temperature."""
    return name.lower().startswith(_REASONING_PREFIXES)


def request_body(call: ProviderCall, *, model: str, reasoning: bool) -> JsonObject:
    """The body of a chat-completions call to ``model``; ``reasoning``: the model is a reasoning model."""
    body: JsonObject = {"model": model, "messages": wire_messages(call)}
    body.update(_limits(call, reasoning))
    if call.tools:
        body["tools"] = [wire_tool(tool) for tool in call.tools]
        body["tool_choice"] = wire_tool_choice(call.tool_choice)
        body["parallel_tool_calls"] = call.parallel_tool_calls
    if call.output_format.type != "text":
        body["response_format"] = response_format(call.output_format)
    if call.sampling.seed is not None:
        body["seed"] = call.sampling.seed
    return body


def _limits(call: ProviderCall, reasoning: bool) -> JsonObject:
    """The token cap and sampling: reasoning models refuse max_tokens, temperature, top_p and stop."""
    if reasoning:
        limits: JsonObject = {"max_completion_tokens": call.max_tokens}
        if call.reasoning.requested:
            limits["reasoning_effort"] = reasoning_effort(call.reasoning)
        return limits
    limits = {"max_tokens": call.max_tokens, "temperature": call.temperature}
    if call.sampling.top_p is not None:
        limits["top_p"] = call.sampling.top_p
    if call.sampling.stop:
        limits["stop"] = list(call.sampling.stop)
    return limits


def reasoning_effort(config: ReasoningConfig) -> str:
    if config.effort:
        return config.effort
    return next((effort for ceiling, effort in _EFFORT_BY_BUDGET if config.budget_tokens <= ceiling), "high")


def wire_messages(call: ProviderCall) -> list[JsonObject]:
    """The system prompt (only when there is one), then the conversation as OpenAI messages."""
    system = call.system
    if call.output_format.type == "json_object" and not _mentions_json(call):
        system = f"{system}\n\n{JSON_NUDGE}" if system else JSON_NUDGE
    messages: list[JsonObject] = [{"role": "system", "content": system}] if system else []
    for message in call.messages:
        messages.extend(wire_message(message))
    return messages


def _mentions_json(call: ProviderCall) -> bool:
    return "json" in call.system.lower() or any("json" in m.text.lower() for m in call.messages)


def wire_message(message: Message) -> list[JsonObject]:
    """One domain message as OpenAI messages: one, or for tool results one per result (and their images)."""
    if message.role == "tool":
        return _tool_messages(message)
    if not message.parts:
        return [{"role": message.role, "content": message.content}]
    if message.role == "assistant":
        return [_assistant_message(message)]
    return [{"role": message.role, "content": [_user_part(part) for part in message.parts]}]


def _assistant_message(message: Message) -> JsonObject:
    calls = message.tool_calls
    text = message.text
    wire: JsonObject = {"role": "assistant", "content": text if text or not calls else None}
    if calls:
        wire["tool_calls"] = [_tool_call(call) for call in calls]
    return wire


def _tool_call(call: ToolCallPart) -> JsonObject:
    return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}


def _user_part(part: Part) -> JsonObject:
    if isinstance(part, ImagePart):
        return {"type": "image_url", "image_url": {"url": image_url(part)}}
    assert isinstance(part, TextPart)  # domain.message_rules: a user message holds text and images only
    return {"type": "text", "text": part.text}


def image_url(part: ImagePart) -> str:
    """The URL OpenAI fetches (passed through as it is), or the bytes as a data URL."""
    if part.url:
        return part.url
    return f"data:{part.media_type};base64,{base64.b64encode(part.data).decode('ascii')}"


# What a failed tool result's content starts with: chat completions' tool message has no error flag, and a model
# told only the output would take an error message for the tool's answer.
TOOL_FAILED = "The tool failed."


def _tool_messages(message: Message) -> list[JsonObject]:
    results = [part for part in message.parts if isinstance(part, ToolResultPart)]
    wire: list[JsonObject] = [
        {"role": "tool", "tool_call_id": result.call_id, "content": _result_text(result)} for result in results
    ]
    images = [
        {"type": "image_url", "image_url": {"url": image_url(inner)}}
        for result in results
        for inner in result.parts
        if isinstance(inner, ImagePart)
    ]
    if images:
        caption = {"type": "text", "text": "Images returned by the tool calls above."}
        wire.append({"role": "user", "content": [caption, *images]})
    return wire


def _result_text(result: ToolResultPart) -> str:
    if not result.is_error:
        return result.text
    return f"{TOOL_FAILED} {result.text}" if result.text.strip() else TOOL_FAILED


def wire_tool(tool: ToolSpec) -> JsonObject:
    function: JsonObject = {"name": tool.name, "parameters": tool.parameters}
    if tool.description:
        function["description"] = tool.description
    return {"type": "function", "function": function}


def wire_tool_choice(choice: ToolChoice) -> str | JsonObject:
    if choice.mode == "tool":
        return {"type": "function", "function": {"name": choice.name}}
    return choice.mode


def response_format(output: OutputFormat) -> JsonObject:
    if output.type == "json_object":
        return {"type": "json_object"}
    schema = {"name": output.name or DEFAULT_SCHEMA_NAME, "schema": output.schema or {}, "strict": output.strict}
    return {"type": "json_schema", "json_schema": schema}

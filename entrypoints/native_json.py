"""The JSON shapes every transport shares (docs/api.md#generation-request, #answer, #stream).

Request bodies decode into these Structs; answers encode from domain values
through the functions below, so HTTP, SSE, WebSocket and batch all speak the
same fields. The shapes of a rich request (messages, tools, output format,
reasoning) live in ``entrypoints.native_messages``.

An answer gains ``toolCalls``, ``reasoning`` and the cache and reasoning token
counts only when it has them, so that a plain prompt's answer is what it always
was. A stream's tool-call and reasoning deltas are events of their own kind
(``"type": "toolCall"`` / ``"reasoning"``), apart from the text events.
"""

from __future__ import annotations

import base64
from typing import Annotated

import msgspec

from application.tool_loop import ToolRound
from domain.accounting import answer_metadata, format_seconds
from domain.content import ReasoningDelta, ToolCallDelta, ToolCallPart
from domain.errors import DomainError
from domain.models import Answer, ModelInfo, Session, StreamDelta, StreamEvent, Usage
from domain.ownership import end_user_of
from domain.tool_servers import McpToolset
from domain.validation import GenerateFields
from entrypoints.documented_limits import (
    BATCH_LIMITS,
    MAX_TOKENS_LIMITS,
    NOT_BLANK,
    PROMPT_LIMITS,
    SEED_LIMITS,
    STOP_LIMITS,
    STOP_LIST_LIMITS,
    TEMPERATURE_LIMITS,
    TEXT_LIMITS,
    TOOLS_LIMITS,
    TOP_P_LIMITS,
    VALIDATE_PROMPT_LIMITS,
)
from entrypoints.native_messages import (
    MessageBody,
    ReasoningConfigBody,
    ResponseFormatBody,
    ToolBody,
    ToolChoiceBody,
    content_json,
    mcp_toolsets_of,
    messages_of,
    output_format_of,
    reasoning_json,
    reasoning_of,
    stop_of,
    tool_choice_of,
    tools_of,
)


class GenerateBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=False):
    """A generation request. ``system`` and ``systemPrompt`` are the same field; ``system`` wins."""

    prompt: Annotated[str | None, PROMPT_LIMITS] = None
    model: Annotated[str | None, TEXT_LIMITS] = None
    provider: Annotated[str | None, TEXT_LIMITS] = None
    maxTokens: Annotated[int | None, MAX_TOKENS_LIMITS] = None
    temperature: Annotated[float | None, TEMPERATURE_LIMITS] = None
    system: Annotated[str | None, TEXT_LIMITS] = None
    systemPrompt: Annotated[str | None, TEXT_LIMITS] = None
    messages: list[MessageBody] | None = None
    tools: Annotated[list[ToolBody] | None, TOOLS_LIMITS] = None
    toolChoice: ToolChoiceBody | None = None
    parallelToolCalls: bool | None = None
    responseFormat: ResponseFormatBody | None = None
    topP: Annotated[float | None, TOP_P_LIMITS] = None
    stop: Annotated[str, STOP_LIMITS] | Annotated[list[Annotated[str, STOP_LIMITS]], STOP_LIST_LIMITS] | None = None
    seed: Annotated[int | None, SEED_LIMITS] = None
    reasoning: ReasoningConfigBody | None = None

    def mcp_toolsets(self) -> tuple[McpToolset, ...]:
        """The MCP servers its ``tools`` name (``type: "mcp"``): the tool loop's (``application.tool_loop``)."""
        return mcp_toolsets_of(self.tools)

    def without_mcp_tools(self) -> GenerateBody:
        function_tools = [tool for tool in self.tools or () if tool.type != "mcp"]
        return msgspec.structs.replace(self, tools=function_tools or None)

    def fields(self) -> GenerateFields:
        """The request's fields; ``InvalidRequest`` naming the field for a message that cannot be converted."""
        return GenerateFields(
            prompt=self.prompt,
            model=self.model,
            provider=self.provider,
            max_tokens=self.maxTokens,
            temperature=self.temperature,
            system=self.system,
            system_prompt=self.systemPrompt,
            messages=messages_of(self.messages),
            tools=tools_of(self.tools),
            tool_choice=tool_choice_of(self.toolChoice),
            parallel_tool_calls=self.parallelToolCalls is not False,
            output_format=output_format_of(self.responseFormat),
            top_p=self.topP,
            stop=stop_of(self.stop),
            seed=self.seed,
            reasoning=reasoning_of(self.reasoning),
        )


class BatchBody(msgspec.Struct, frozen=True, kw_only=True):
    requests: Annotated[list[GenerateBody], BATCH_LIMITS]


class ValidateBody(msgspec.Struct, frozen=True, kw_only=True):
    prompt: Annotated[str, VALIDATE_PROMPT_LIMITS]  # a missing prompt is a malformed request, not an invalid prompt


class InvalidateBody(msgspec.Struct, frozen=True, kw_only=True):
    cache_key: Annotated[str, msgspec.Meta(min_length=1), NOT_BLANK]
    reason: str = ""


def answer_json(answer: Answer) -> dict[str, object]:
    usage = answer.usage
    return {
        "content": answer.content,
        "model": answer.model,
        "provider": answer.provider,
        "tokensUsed": usage.total,
        "promptTokens": usage.prompt_tokens,
        "completionTokens": usage.completion_tokens,
        "cached": answer.cached,
        "finishReason": answer.finish_reason,
        "processingTime": format_seconds(answer.duration_ms / 1000.0),
        "durationMs": round(answer.duration_ms, 3),
        "requestId": answer.request_id,
        "sessionId": answer.session_id,
        "metadata": answer_metadata(answer),
        **rich_answer_json(answer),
    }


def rich_answer_json(answer: Answer) -> dict[str, object]:
    """What only a rich answer has: its tool calls, its reasoning, and the usage beyond input and output."""
    body: dict[str, object] = {}
    if answer.tool_calls:
        body["toolCalls"] = [tool_call_json(call) for call in answer.tool_calls]
    if answer.reasoning:
        body["reasoning"] = [reasoning_json(block) for block in answer.reasoning]
    body.update(usage_details_json(answer.usage))
    if answer.tool_rounds:
        body["toolRounds"] = answer.tool_rounds
    return body


def usage_details_json(usage: Usage) -> dict[str, int]:
    figures = {
        "cacheReadInputTokens": usage.cache_read_input_tokens,
        "cacheWriteInputTokens": usage.cache_write_input_tokens,
        "reasoningTokens": usage.reasoning_tokens,
    }
    return {name: value for name, value in figures.items() if value}


def tool_call_json(call: ToolCallPart) -> dict[str, object]:
    return {"id": call.id, "name": call.name, "arguments": call.arguments}


def chunk_json(content: str, index: int) -> dict[str, object]:
    return {"content": content, "index": index, "finished": False}


def stream_event_json(event: StreamEvent) -> dict[str, object]:
    """One stream event: a text chunk, a tool-call or reasoning delta, or the final chunk."""
    if not isinstance(event, StreamDelta):
        return final_chunk_json(event.answer, event.index)
    if event.tool_calls:
        fragments = [tool_call_delta_json(fragment) for fragment in event.tool_calls]
        return {"type": "toolCall", **chunk_json("", event.index), "toolCalls": fragments}
    if event.reasoning is not None:
        return {"type": "reasoning", **chunk_json("", event.index), "reasoning": reasoning_delta_json(event.reasoning)}
    return chunk_json(event.content, event.index)


def tool_round_json(event: ToolRound) -> dict[str, object]:
    """A round of MCP tool calls the gateway ran in a stream: the calls, then their results."""
    return {
        "type": "toolRound",
        "round": event.round,
        "toolCalls": [{"id": call.id, "name": call.name, "arguments": call.arguments} for call in event.calls],
        "results": [
            {"callId": result.call_id, "content": result.content, "isError": result.is_error}
            for result in event.results
        ],
    }


def tool_call_delta_json(delta: ToolCallDelta) -> dict[str, object]:
    """A fragment: ``id`` and ``name`` on a call's first, ``arguments`` the next piece of its JSON text."""
    body: dict[str, object] = {"index": delta.index}
    if delta.id:
        body["id"] = delta.id
    if delta.name:
        body["name"] = delta.name
    body["arguments"] = delta.arguments
    return body


def reasoning_delta_json(delta: ReasoningDelta) -> dict[str, object]:
    body: dict[str, object] = {"text": delta.text}
    if delta.signature:
        body["signature"] = delta.signature
    if delta.redacted:
        body["redacted"] = base64.b64encode(delta.redacted).decode()
    return body


def final_chunk_json(answer: Answer, index: int) -> dict[str, object]:
    usage = answer.usage
    return {
        "content": "",
        "index": index,
        "finished": True,
        "totalTokens": usage.total,
        "promptTokens": usage.prompt_tokens,
        "completionTokens": usage.completion_tokens,
        "processingTime": format_seconds(answer.duration_ms / 1000.0),
        "durationMs": round(answer.duration_ms, 3),
        "model": answer.model,
        "provider": answer.provider,
        "cached": answer.cached,
        "finishReason": answer.finish_reason,
        "requestId": answer.request_id,
        "sessionId": answer.session_id,
        "metadata": answer_metadata(answer),
        **rich_answer_json(answer),
    }


def error_chunk_json(error: DomainError, request_id: str) -> dict[str, object]:
    return {"error": error.message, "code": error.code, "finished": True, "requestId": request_id}


def model_json(model: ModelInfo) -> dict[str, object]:
    return {
        "id": model.id,
        "name": model.name,
        "provider": model.provider,
        "maxTokens": model.max_output_tokens,
        "contextWindow": model.context_window,
        "description": model.description,
        "capabilities": list(model.capabilities),
        "aliases": list(model.aliases),
    }


def session_json(session: Session) -> dict[str, object]:
    return {
        "sessionId": session.id,
        "userId": end_user_of(session),
        "createdAt": session.created_at,
        "updatedAt": session.updated_at,
        "messageCount": len(session.messages),
        "messages": [
            {
                "role": m.role,
                "content": content_json(m),
                "model": m.model,
                "tokens": m.tokens,
                "timestamp": m.created_at,
            }
            for m in session.messages
        ],
    }

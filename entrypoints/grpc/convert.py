"""Translation between the generated protobuf messages and domain values.

Field meanings stay as first published: ``duration`` is in milliseconds and
``tokens_used`` is what this call cost (0 on a cache hit). Metadata values are
strings, because the proto declares ``map<string, string>``.

A rich request (messages, tools, tool choice, response format, sampling,
reasoning) is turned into the native API's request bodies and converted by
``entrypoints.native_messages``, so that gRPC and HTTP build the same
``GenerateFields`` and the domain's rules name the same fields. What only the
proto has (a part with no kind set, JSON carried as text) is checked here and
named as the proto spells it.
"""

from __future__ import annotations

import struct
import time
from typing import Any, Literal, get_args

import msgspec

from application.get_status import Status
from domain.accounting import answer_metadata, format_seconds
from domain.content import OutputFormat, ReasoningConfig, ReasoningPart, ToolCallPart, ToolChoice
from domain.errors import InvalidRequest
from domain.models import Answer, Message, ModelInfo, StreamDelta, StreamEvent
from domain.validation import GenerateFields
from entrypoints.grpc.generated import proto as pb
from entrypoints.native_messages import (
    ImageBody,
    MessageBody,
    PartBody,
    ReasoningBody,
    ReasoningConfigBody,
    ResponseFormatBody,
    TextBody,
    ToolBody,
    ToolCallBody,
    ToolResultBody,
    message_of,
    output_format_of,
    reasoning_of,
    tools_of,
)

RoleName = Literal["system", "user", "assistant", "tool"]
ChoiceMode = Literal["auto", "none", "required", "tool"]
FormatType = Literal["text", "json_object", "json_schema"]
Effort = Literal["minimal", "low", "medium", "high"]


def request_fields(message: pb.GenerateRequest) -> GenerateFields:
    """Empty strings are proto3's "not set"; ``system`` wins over ``system_prompt`` in validation.

    ``InvalidRequest`` naming the field for a rich part that cannot be converted.
    """
    return GenerateFields(
        prompt=message.prompt,
        model=message.model or None,
        provider=message.provider or None,
        max_tokens=message.max_tokens,
        temperature=_float32(message.temperature),
        system=message.system or None,
        system_prompt=message.system_prompt or None,
        messages=tuple(_message(m, f"messages[{i}]") for i, m in enumerate(message.messages)),
        tools=tools_of([_tool(t, f"tools[{i}]") for i, t in enumerate(message.tools)]),
        tool_choice=_tool_choice(message.tool_choice),
        parallel_tool_calls=message.parallel_tool_calls is not False,
        output_format=_output_format(message.response_format),
        top_p=_float32(message.top_p),
        stop=tuple(message.stop),
        seed=message.seed,
        reasoning=_reasoning_config(message.reasoning),
    )


def _float32(value: float | None) -> float | None:
    return None if value is None else shortest_float32(value)


def _one_of(value: str, allowed: Any, field: str) -> Any:
    """``value`` when it is one of the ``Literal`` type ``allowed``'s values; ``InvalidRequest`` naming ``field``."""
    names: tuple[str, ...] = get_args(allowed)
    if value not in names:
        raise InvalidRequest(f"{field} must be one of {', '.join(names)}, got {value!r}")
    return value


def _message(message: pb.Message, field: str) -> Message:
    role: RoleName = _one_of(message.role, RoleName, f"{field}.role")
    if message.content and message.parts:
        raise InvalidRequest(f"{field}: give its content as text or as parts, not both")
    if not message.parts:
        return message_of(MessageBody(role=role, content=message.content), field)
    parts = [_part(part, f"{field}.parts[{j}]") for j, part in enumerate(message.parts)]
    return message_of(MessageBody(role=role, content=parts), field)


def _part(part: pb.Part, field: str) -> PartBody:
    if part.text is not None:
        return TextBody(text=part.text)
    if part.image is not None:
        image = part.image
        return ImageBody(mediaType=image.media_type or None, data=image.data or None, url=image.url or None)
    if part.tool_call is not None:
        call = part.tool_call
        return ToolCallBody(id=call.id, name=call.name, arguments=call.arguments or "{}")
    if part.tool_result is not None:
        result = part.tool_result
        return ToolResultBody(callId=result.call_id, content=result.content, isError=result.is_error)
    if part.reasoning is not None:
        thought = part.reasoning
        return ReasoningBody(text=thought.text, signature=thought.signature, redacted=thought.redacted)
    raise InvalidRequest(f"{field}: set one of text, image, tool_call, tool_result, reasoning")


def _tool(tool: pb.Tool, field: str) -> ToolBody:
    parameters = _json_object(tool.parameters_json, f"{field}.parameters_json") if tool.parameters_json else None
    return ToolBody(name=tool.name, description=tool.description, parameters=parameters)


def _json_object(text: str, field: str) -> dict[str, Any]:
    try:
        value = msgspec.json.decode(text)
    except msgspec.DecodeError:
        raise InvalidRequest(f"{field} is not valid JSON") from None
    if not isinstance(value, dict):
        raise InvalidRequest(f"{field} must be the JSON text of an object")
    return value


def _tool_choice(choice: pb.ToolChoice | None) -> ToolChoice:
    """An empty mode is ``auto``, or ``tool`` when a name is given (the named tool)."""
    if choice is None:
        return ToolChoice()
    mode: ChoiceMode = _one_of(choice.mode or ("tool" if choice.name else "auto"), ChoiceMode, "tool_choice.mode")
    return ToolChoice(mode=mode, name=choice.name if mode == "tool" else "")


def _output_format(response_format: pb.ResponseFormat | None) -> OutputFormat:
    if response_format is None:
        return output_format_of(None)
    kind: FormatType = _one_of(response_format.type or "text", FormatType, "response_format.type")
    schema_text = response_format.schema_json
    schema = _json_object(schema_text, "response_format.schema_json") if schema_text else None
    body = ResponseFormatBody(type=kind, name=response_format.name, schema=schema, strict=response_format.strict)
    return output_format_of(body)


def _reasoning_config(config: pb.ReasoningConfig | None) -> ReasoningConfig:
    if config is None:
        return reasoning_of(None)
    effort: Effort | None = _one_of(config.effort, Effort, "reasoning.effort") if config.effort else None
    return reasoning_of(ReasoningConfigBody(effort=effort, budgetTokens=config.budget_tokens or None))


def shortest_float32(value: float) -> float:
    """The shortest decimal that is the same float32: 0.7f arrives as 0.699999988 and means 0.7.

    Without this a gRPC request at 0.7 would get another cache key than the same request over HTTP.
    """
    packed = struct.pack("<f", value)
    for digits in range(1, 10):
        candidate = float(f"{value:.{digits}g}")
        if struct.pack("<f", candidate) == packed:
            return candidate
    return value


def _metadata(answer: Answer) -> dict[str, str]:
    return {key: str(value) for key, value in answer_metadata(answer).items()}


def generate_response(answer: Answer) -> pb.GenerateResponse:
    return pb.GenerateResponse(
        content=answer.content,
        tokens_used=answer.usage.total,
        duration=round(answer.duration_ms),
        **_answer_fields(answer),
    )


def stream_chunk(event: StreamEvent) -> pb.StreamChunk:
    """A text chunk, a tool-call chunk (``tool_call_deltas``), a reasoning chunk (``reasoning_delta``), or the last."""
    now = int(time.time())
    if isinstance(event, StreamDelta):
        chunk = pb.StreamChunk(content=event.content, index=event.index, finished=False, timestamp=now)
        chunk.tool_call_deltas = [
            pb.ToolCallDelta(index=d.index, id=d.id, name=d.name, arguments=d.arguments) for d in event.tool_calls
        ]
        if event.reasoning is not None:
            delta = event.reasoning
            chunk.reasoning_delta = pb.Reasoning(text=delta.text, signature=delta.signature, redacted=delta.redacted)
        return chunk
    return pb.StreamChunk(
        content="",
        index=event.index,
        finished=True,
        timestamp=now,
        total_tokens=event.answer.usage.total,
        **_answer_fields(event.answer),
    )


def _answer_fields(answer: Answer) -> dict[str, Any]:
    """The fields ``GenerateResponse`` and the final ``StreamChunk`` share, under the same names."""
    return {
        "model": answer.model,
        "provider": answer.provider,
        "prompt_tokens": answer.usage.prompt_tokens,
        "completion_tokens": answer.usage.completion_tokens,
        "cached": answer.cached,
        "finish_reason": answer.finish_reason,
        "processing_time": format_seconds(answer.duration_ms / 1000.0),
        "duration_ms": round(answer.duration_ms, 3),
        "request_id": answer.request_id,
        "session_id": answer.session_id,
        "metadata": _metadata(answer),
        "tool_calls": [_tool_call(call) for call in answer.tool_calls],
        "reasoning": [_reasoning(block) for block in answer.reasoning],
        "cache_read_input_tokens": answer.usage.cache_read_input_tokens,
        "cache_write_input_tokens": answer.usage.cache_write_input_tokens,
        "reasoning_tokens": answer.usage.reasoning_tokens,
    }


def _tool_call(call: ToolCallPart) -> pb.ToolCall:
    return pb.ToolCall(id=call.id, name=call.name, arguments=call.arguments)


def _reasoning(block: ReasoningPart) -> pb.Reasoning:
    return pb.Reasoning(text=block.text, signature=block.signature, redacted=block.redacted)


def model_message(model: ModelInfo) -> pb.Model:
    return pb.Model(
        id=model.id,
        name=model.name,
        provider=model.provider,
        max_tokens=model.max_output_tokens,
        description=model.description,
        capabilities=list(model.capabilities),
        context_window=model.context_window,
        aliases=list(model.aliases),
    )


def list_models_response(models: tuple[ModelInfo, ...]) -> pb.ListModelsResponse:
    return pb.ListModelsResponse(models=[model_message(m) for m in models], count=len(models))


def status_response(status: Status) -> pb.StatusResponse:
    return pb.StatusResponse(
        status="healthy" if status.healthy else "degraded",
        version=status.version,
        uptime_seconds=status.uptime_seconds,
        providers=list(status.providers),
        models=status.models,
        circuits=dict(status.circuits),
        cache=status.cache_enabled and status.cache.healthy,
        cache_backend=pb.BackendStatus(backend=status.cache.backend, healthy=status.cache.healthy),
        session_backend=pb.BackendStatus(backend=status.sessions.backend, healthy=status.sessions.healthy),
        parallel=True,
        pool_stats=_pool_stats(status.pool),
        session_enabled=True,
        timestamp=status.timestamp,
    )


def _pool_stats(stats: dict[str, object]) -> pb.PoolStats:
    def number(name: str) -> int:
        value = stats.get(name, 0)
        return value if isinstance(value, int) else 0

    return pb.PoolStats(
        total_processed=number("total_processed"),
        total_failed=number("total_failed"),
        total_cancelled=number("total_cancelled"),
        total_rejected=number("total_rejected"),
        current_concurrent=number("current_concurrent"),
        max_concurrent=number("max_concurrent"),
        queue_size=number("queue_size"),
        queue_capacity=number("queue_capacity"),
    )

"""Translation between the generated protobuf messages and domain values.

Field meanings stay as first published: ``duration`` is in milliseconds and
``tokens_used`` is what this call cost (0 on a cache hit). Metadata values are
strings, because the proto declares ``map<string, string>``.
"""

from __future__ import annotations

import struct
import time
from typing import Any

from application.get_status import Status
from domain.accounting import answer_metadata, format_seconds
from domain.models import Answer, ModelInfo, StreamDelta, StreamEvent
from domain.validation import GenerateFields
from entrypoints.grpc.generated import proto as pb


def request_fields(message: pb.GenerateRequest) -> GenerateFields:
    """Empty strings are proto3's "not set"; ``system`` wins over ``system_prompt`` in validation."""
    return GenerateFields(
        prompt=message.prompt,
        model=message.model or None,
        provider=message.provider or None,
        max_tokens=message.max_tokens,
        temperature=None if message.temperature is None else shortest_float32(message.temperature),
        system=message.system or None,
        system_prompt=message.system_prompt or None,
    )


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
    now = int(time.time())
    if isinstance(event, StreamDelta):
        return pb.StreamChunk(content=event.content, index=event.index, finished=False, timestamp=now)
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
    }


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

"""What the OpenAI chat-completions wire looks like: answers, chunks, error bodies, validation.

Pure functions shared by the fake server; no I/O here. Error bodies follow what
Azure OpenAI and OpenAI really send (``{"error": {"code", "message", ...}}``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import msgspec

KNOWN_API_VERSIONS = frozenset(
    {
        "2024-02-01",
        "2024-06-01",
        "2024-10-21",
        "2024-02-15-preview",
        "2024-03-01-preview",
        "2024-05-01-preview",
        "2024-07-01-preview",
        "2024-08-01-preview",
        "2024-09-01-preview",
        "2024-10-01-preview",
        "2024-12-01-preview",
        "2025-01-01-preview",
        "2025-02-01-preview",
        "2025-03-01-preview",
        "2025-04-01-preview",
    }
)
_REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5")

encode = msgspec.json.Encoder().encode


def is_reasoning(model: str) -> bool:
    """Reasoning models (o-series, gpt-5) accept only ``max_completion_tokens`` and the default temperature."""
    return model.lower().startswith(_REASONING_PREFIXES)


@dataclass(frozen=True)
class ToolCall:
    """A call the fake model makes: ``arguments`` is JSON text, streamed in ``pieces``."""

    id: str
    name: str
    arguments: str

    def pieces(self, count: int = 3) -> list[str]:
        size = max(1, math.ceil(len(self.arguments) / count))
        return [self.arguments[i : i + size] for i in range(0, len(self.arguments), size)]

    def wire(self) -> dict[str, Any]:
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments}}


@dataclass(frozen=True)
class Answer:
    """The deterministic answer to one request, and its exact usage.

    ``completion_tokens`` include ``reasoning_tokens``, and ``prompt_tokens`` the ``cached_tokens``, as OpenAI counts.
    """

    pieces: tuple[str, ...]
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str
    tool_calls: tuple[ToolCall, ...] = ()
    reasoning: str = ""
    cached_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def text(self) -> str:
        return "".join(self.pieces)


def answer_for(messages: list[dict[str, Any]], *, chunks: int | None = None, max_tokens: int | None = None) -> Answer:
    """``Echo:`` plus the last user message, one token per word; ``chunks`` stream pieces.

    With ``chunks`` larger than the answer the words repeat until there are
    ``chunks`` of them; ``max_tokens`` truncates (finish reason ``length``).
    """
    last_user = next((m for m in reversed(messages) if m.get("role") == "user"), {})
    words = ["Echo:", *_text(last_user.get("content")).split()]
    if chunks and chunks > len(words):
        words = [words[i % len(words)] for i in range(chunks)]
    finish = "stop"
    if max_tokens is not None and len(words) > max_tokens:
        words, finish = words[:max_tokens], "length"
    prompt_tokens = sum(len(_text(m.get("content")).split()) for m in messages)
    return Answer(_pieces(words, chunks), prompt_tokens, len(words), finish)


def _text(content: Any) -> str:
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}]
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else ""


def _pieces(words: list[str], chunks: int | None) -> tuple[str, ...]:
    spaced = [w if i == 0 else " " + w for i, w in enumerate(words)]
    if not chunks or chunks >= len(spaced):
        return tuple(spaced)
    size = math.ceil(len(spaced) / chunks)
    return tuple("".join(spaced[i : i + size]) for i in range(0, len(spaced), size))


def usage(answer: Answer) -> dict[str, Any]:
    """OpenAI's usage object, with the details it always sends (zeros included)."""
    return {
        "prompt_tokens": answer.prompt_tokens,
        "completion_tokens": answer.completion_tokens,
        "total_tokens": answer.prompt_tokens + answer.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": answer.cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": answer.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def message(answer: Answer) -> dict[str, Any]:
    """The answer's ``choices[0].message``: text (null when it only calls tools), calls, reasoning."""
    wire: dict[str, Any] = {
        "role": "assistant",
        "content": answer.text if answer.text or not answer.tool_calls else None,
    }
    if answer.tool_calls:
        wire["tool_calls"] = [call.wire() for call in answer.tool_calls]
    if answer.reasoning:
        wire["reasoning_content"] = answer.reasoning
    return wire


def completion_body(ident: str, created: int, model: str, answer: Answer) -> bytes:
    return encode(
        {
            "id": ident,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": message(answer),
                    "finish_reason": answer.finish_reason,
                    "logprobs": None,
                }
            ],
            "usage": usage(answer),
            "system_fingerprint": "fp_fake",
        }
    )


class ChunkWriter:
    """Builds the SSE events of one streamed answer."""

    def __init__(self, ident: str, created: int, model: str, *, with_usage: bool) -> None:
        self._base = {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_fake",
        }
        self._with_usage = with_usage

    def event(self, choices: list[dict[str, Any]], **extra: Any) -> bytes:
        body = {**self._base, "choices": choices, **extra}
        if self._with_usage and "usage" not in body:
            body["usage"] = None
        return b"data: " + encode(body) + b"\n\n"

    def prompt_filter(self) -> bytes:
        """Azure's first event: no choices, the prompt's content-filter verdict."""
        return (
            b"data: "
            + encode(
                {
                    "id": "",
                    "object": "",
                    "created": 0,
                    "model": "",
                    "choices": [],
                    "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": _FILTER_OK}],
                }
            )
            + b"\n\n"
        )

    def delta(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        return self.event([{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}])

    def usage(self, answer: Answer) -> bytes:
        return self.event([], usage=usage(answer))


DONE = b"data: [DONE]\n\n"
_FILTER_OK = {name: {"filtered": False, "severity": "safe"} for name in ("hate", "self_harm", "sexual", "violence")}


def error_body(
    code: str | None, message: str, *, type_: str | None = None, param: str | None = None, **extra: Any
) -> bytes:
    return encode({"error": {"code": code, "message": message, "type": type_, "param": param, **extra}})


def invalid(message: str, *, param: str | None = None, code: str | None = None) -> tuple[int, bytes]:
    return 400, error_body(code, message, type_="invalid_request_error", param=param)


CONTENT_FILTER_BODY = error_body(
    "content_filter",
    "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. "
    "Please modify your prompt and retry.",
    param="prompt",
    status=400,
    innererror={
        "code": "ResponsibleAIPolicyViolation",
        "content_filter_result": {
            **_FILTER_OK,
            "violence": {"filtered": True, "severity": "medium"},
            "jailbreak": {"filtered": False, "detected": False},
        },
    },
)
SERVER_ERROR_BODY = error_body(
    "InternalServerError", "The server had an error while processing your request. Sorry about that!"
)
UNAVAILABLE_BODY = error_body("ServiceUnavailable", "The service is temporarily unable to process your request.")
AZURE_AUTH_BODY = error_body(
    "401",
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a "
    "valid key for an active subscription and use a correct regional API endpoint for your resource.",
)
FORBIDDEN_BODY = error_body("PermissionDenied", "Principal does not have access to API/Operation.")
DEPLOYMENT_NOT_FOUND_BODY = error_body(
    "DeploymentNotFound",
    "The API deployment for this resource does not exist. If you created the "
    "deployment within the last 5 minutes, please wait a moment and try again.",
)
RESOURCE_NOT_FOUND_BODY = error_body("404", "Resource not found")
API_VERSION_BODY = error_body("BadRequest", "API version not supported")


def operation_not_supported_body(operation: str, deployment: str) -> bytes:
    """Azure's 400 for a chat call to an embedding deployment, or the reverse."""
    return error_body(
        "OperationNotSupported", f"The {operation} operation does not work with the specified model, {deployment}."
    )


def rate_limit_body(api_version: str, seconds: float) -> bytes:
    return error_body(
        "429",
        f"Requests to the ChatCompletions_Create Operation under Azure OpenAI API version "
        f"{api_version} have exceeded token rate limit of your current OpenAI S0 pricing "
        f"tier. Please retry after {math.ceil(seconds)} seconds.",
    )


def openai_auth_body(key: str) -> bytes:
    shown = (key[:3] + "*" * 4 + key[-4:]) if len(key) > 8 else "****"
    return error_body("invalid_api_key", f"Incorrect API key provided: {shown}.", type_="invalid_request_error")


def model_not_found_body(model: str) -> bytes:
    return error_body(
        "model_not_found",
        f"The model `{model}` does not exist or you do not have access to it.",
        type_="invalid_request_error",
    )

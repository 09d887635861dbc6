"""The response-cache key (docs/api.md#cache).

``ai:`` + SHA-256 over a canonical encoding of everything that changes the
answer. The encoding is a JSON array with a fixed order, so two requests share
a key exactly when provider, model, system prompt, every message sent, the
token cap and the temperature are all equal, and so are the options of a rich
request: the tools offered and the tool choice, the output format, the
sampling parameters and the reasoning config.

A plain prompt's key is the one it always had: a text-only message is encoded
as ``[role, content]``, and an option left at its default adds nothing. Image
bytes and redacted reasoning enter the key by their SHA-256 digest, so the key
costs no more than hashing them once. Object keys (tool schemas) are sorted, so
the order a client wrote them in does not matter.
"""

from __future__ import annotations

import hashlib

import msgspec

from domain.content import (
    AUTO_TOOLS,
    DEFAULT_SAMPLING,
    NO_REASONING,
    TEXT_OUTPUT,
    ImagePart,
    Part,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)
from domain.models import Message, ProviderCall

_KEY_VERSION = 1
_encoder = msgspec.json.Encoder(order="sorted")


def cache_key(provider: str, call: ProviderCall) -> str:
    canonical: list[object] = [
        _KEY_VERSION,
        provider,
        call.model,
        call.system,
        [_message(message) for message in call.messages],
        call.max_tokens,
        # repr keeps every bit of the float; 0.7 and 0.70000001 are different requests.
        repr(float(call.temperature)),
    ]
    options = _options(call)
    if options:
        canonical.append(options)
    return "ai:" + hashlib.sha256(_encoder.encode(canonical)).hexdigest()


def _message(message: Message) -> list[object]:
    if not message.parts:
        return [message.role, message.content]
    return [message.role, message.content, [_part(part) for part in message.parts]]


def _part(part: Part) -> list[object]:
    if isinstance(part, TextPart):
        return ["text", part.text]
    if isinstance(part, ImagePart):
        return ["image", part.media_type, _digest(part.data), part.url]
    if isinstance(part, ToolCallPart):
        return ["tool_call", part.id, part.name, part.arguments]
    if isinstance(part, ToolResultPart):
        return ["tool_result", part.call_id, part.content, [_part(p) for p in part.parts], part.is_error]
    return _reasoning(part)


def _reasoning(part: ReasoningPart) -> list[object]:
    return ["reasoning", part.text, part.signature, _digest(part.redacted)]


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest() if data else ""


def _options(call: ProviderCall) -> dict[str, object]:
    """The rich options that differ from their defaults, by name."""
    options: dict[str, object] = {}
    if call.tools or call.tool_choice != AUTO_TOOLS:
        options["tools"] = [[tool.name, tool.description, tool.parameters] for tool in call.tools]
        options["tool_choice"] = [call.tool_choice.mode, call.tool_choice.name, call.parallel_tool_calls]
    if call.output_format != TEXT_OUTPUT:
        options["output_format"] = call.output_format
    if call.sampling != DEFAULT_SAMPLING:
        # repr, as for the temperature: every bit of top_p counts.
        top_p = None if call.sampling.top_p is None else repr(float(call.sampling.top_p))
        sampling: list[object] = [top_p, list(call.sampling.stop), call.sampling.seed]
        if call.sampling.top_k is not None:  # only when set: the keys of requests without it stay as they were
            sampling.append(call.sampling.top_k)
        options["sampling"] = sampling
    if call.reasoning != NO_REASONING:
        options["reasoning"] = call.reasoning
    return options

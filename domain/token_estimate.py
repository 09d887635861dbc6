"""An estimate of a request's input tokens, for ``count_tokens`` where no upstream counts them.

About four characters of text (system prompt, messages, tool results, tool
definitions as JSON) per token, as the providers' own rules of thumb say for
English, and a flat figure per image (Anthropic's figure for an image of about
1.15 megapixels, the size it scales larger ones down to). It is an estimate:
the answer says so (docs/api.md#count-tokens).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import msgspec

from domain.content import ImagePart, ReasoningPart, TextPart, ToolCallPart, ToolResultPart, ToolSpec
from domain.models import GenerationRequest

CHARS_PER_TOKEN = 4
TOKENS_PER_IMAGE = 1600
_encode = msgspec.json.Encoder().encode


def estimate_tool_tokens(tools: Sequence[ToolSpec]) -> int:
    return math.ceil(sum(len(_encode(tool)) for tool in tools) / CHARS_PER_TOKEN)


def estimate_input_tokens(request: GenerationRequest) -> int:
    chars = len(request.system) + sum(len(_encode(tool)) for tool in request.tools)
    images = 0
    for message in request.turn:
        for part in message.content_parts:
            if isinstance(part, TextPart):
                chars += len(part.text)
            elif isinstance(part, ImagePart):
                images += 1
            elif isinstance(part, ToolCallPart):
                chars += len(part.name) + len(part.arguments)
            elif isinstance(part, ToolResultPart):
                chars += len(part.text)
                images += sum(1 for inner in part.parts if isinstance(inner, ImagePart))
            elif isinstance(part, ReasoningPart):
                chars += len(part.text)
    return max(1, math.ceil(chars / CHARS_PER_TOKEN)) + images * TOKENS_PER_IMAGE

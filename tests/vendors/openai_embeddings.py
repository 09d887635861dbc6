"""What OpenAI's ``/embeddings`` refuses and answers, for the fake Azure OpenAI / OpenAI server.

Pure functions. ``validate_body`` returns ``(400, OpenAI's error body)`` for the first rule a request
breaks, else ``None``:

- only ``input``, ``model``, ``encoding_format``, ``dimensions``, ``user`` (OpenAI refuses other arguments);
- ``input`` a non-empty string, or a list of 1 to 2,048 non-empty strings, or token arrays (lists of ints);
  no empty string; each input at most 8,192 tokens (the fake counts a token per word);
- ``encoding_format`` ``float`` or ``base64``; ``dimensions`` a positive integer no larger than the model's
  size, and only for text-embedding-3 models ("This model does not support specifying dimensions.");
- ``model`` required where the URL names no deployment.

``body`` answers in OpenAI's list shape, the vectors as floats or as base64 of little-endian float32,
unit vectors that are a pure function of the input and the size (``vector_for``).
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from typing import Any

from tests.vendors.openai_wire import encode, invalid

Refusal = tuple[int, bytes]
MAX_INPUTS = 2048
MAX_TOKENS_PER_INPUT = 8192
NATIVE_SIZES = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}
OTHER_MODEL_SIZE = 768
_ARGUMENTS = frozenset({"input", "model", "encoding_format", "dimensions", "user"})
_INVALID_INPUT = "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference."


def size_of(model: str) -> int:
    return NATIVE_SIZES.get(model, OTHER_MODEL_SIZE)


def validate_body(body: Any, model: str, *, model_required: bool) -> Refusal | None:
    if not isinstance(body, dict):
        return invalid("We could not parse the JSON body of your request.")
    for key in body:
        if key not in _ARGUMENTS:
            return invalid(f"Unrecognized request argument supplied: {key}")
    if model_required and not (isinstance(body.get("model"), str) and body["model"]):
        return invalid("you must provide a model parameter", param="model")
    return _check_input(body.get("input")) or _check_format(body) or _check_dimensions(body, model)


def _check_input(value: Any) -> Refusal | None:
    if value is None:
        return invalid("'input' is a required property", param="input")
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        return invalid(_INVALID_INPUT, param="input")
    if len(items) > MAX_INPUTS:
        return invalid(f"'$.input' is too long. Maximum {MAX_INPUTS} inputs allowed.", param="input")
    if all(isinstance(item, int) and not isinstance(item, bool) for item in items):
        return None  # one token array
    for item in items:
        if isinstance(item, str):
            if not item:
                return invalid(_INVALID_INPUT, param="input")
            tokens = len(item.split())
        elif isinstance(item, list) and item and all(isinstance(t, int) and not isinstance(t, bool) for t in item):
            tokens = len(item)
        else:
            return invalid(_INVALID_INPUT, param="input")
        if tokens > MAX_TOKENS_PER_INPUT:
            return invalid(
                f"This model's maximum context length is {MAX_TOKENS_PER_INPUT} tokens, however you requested "
                f"{tokens} tokens in your input. Please reduce your input.",
                param="input",
            )
    return None


def _check_format(body: dict[str, Any]) -> Refusal | None:
    if body.get("encoding_format", "float") not in ("float", "base64"):
        return invalid(
            f"Invalid value for 'encoding_format': '{body['encoding_format']}'. Supported values are: "
            "'float' and 'base64'.",
            param="encoding_format",
        )
    return None


def _check_dimensions(body: dict[str, Any], model: str) -> Refusal | None:
    if "dimensions" not in body:
        return None
    dimensions = body["dimensions"]
    if not model.startswith("text-embedding-3"):
        return invalid("This model does not support specifying dimensions.", param="dimensions")
    if isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1:
        return invalid(f"Invalid value for 'dimensions' = {dimensions}. Must be at least 1.", param="dimensions")
    if dimensions > size_of(model):
        return invalid(
            f"This model's maximum dimensions is {size_of(model)}, you requested {dimensions}.", param="dimensions"
        )
    return None


def vector_for(item: str | list[int], size: int) -> list[float]:
    """The fake's embedding of one input: unit length, a pure function of the input and the size."""
    seed = item if isinstance(item, str) else ",".join(map(str, item))
    digest = hashlib.shake_256(f"openai:{size}:{seed}".encode()).digest(4 * size)
    raw = struct.unpack(f"<{size}i", digest)
    norm = math.sqrt(sum(float(x) * x for x in raw)) or 1.0
    return [x / norm for x in raw]


def inputs_of(value: Any) -> list[str | list[int]]:
    if isinstance(value, str):
        return [value]
    if all(isinstance(item, int) for item in value):
        return [value]
    return list(value)


def body(request: dict[str, Any], model: str) -> bytes:
    """OpenAI's answer: ``{"object": "list", "data": [...], "model", "usage"}``."""
    size = int(request.get("dimensions", size_of(model)))
    items = inputs_of(request["input"])
    as_base64 = request.get("encoding_format") == "base64"
    data = []
    for index, item in enumerate(items):
        vector = vector_for(item, size)
        embedding: Any = base64.b64encode(struct.pack(f"<{size}f", *vector)).decode() if as_base64 else vector
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    tokens = sum(len(item.split()) if isinstance(item, str) else len(item) for item in items)
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return encode({"object": "list", "data": data, "model": model, "usage": usage})

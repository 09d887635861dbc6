"""The fake Bedrock's ``InvokeModel`` for embedding models: the request checks and the answers.

The checks are botocore's ``InvokeModel`` input shape (the ``modelId`` pattern and length, the body's size,
``Content-Type``/``Accept``) and then each model's documented body, refused in Bedrock's wording:

    Titan Text Embeddings v2   inputText (required, 1..50,000 characters), dimensions (256 | 512 | 1024),
                               normalize (boolean), embeddingTypes (["float" | "binary"])
    Titan Embeddings G1 Text   inputText only
    Cohere Embed v3            texts (required, at most 96, each at most 2,048 characters), input_type
                               (required: search_document | search_query | classification | clustering),
                               truncate (NONE | START | END), embedding_types

Unknown keys are refused ("extraneous key"), as Bedrock's JSON-schema validation does. The answers are
deterministic unit vectors of the text (``vector_for``), and every answer carries Bedrock's
``X-Amzn-Bedrock-Input-Token-Count`` header (one token per word).
"""

from __future__ import annotations

import hashlib
import math
import re
import struct
import uuid
from typing import Any

from tests.vendors.bedrock_rules import RequestInvalid
from tests.vendors.bedrock_schema import input_shape

TITAN_V2_DIMENSIONS = (256, 512, 1024)
COHERE_INPUT_TYPES = ("search_document", "search_query", "classification", "clustering", "image")
COHERE_MAX_TEXTS = 96
COHERE_MAX_CHARS = 2048
TITAN_MAX_CHARS = 50_000
_EMBEDDING_TYPES = {"titan-v2": ("float", "binary"), "cohere": ("float", "int8", "uint8", "binary", "ubinary")}
_KEYS = {
    "titan-v2": {"inputText", "dimensions", "normalize", "embeddingTypes"},
    "titan-v1": {"inputText"},
    "cohere": {"texts", "images", "input_type", "truncate", "embedding_types"},
}
_DEFAULT_SIZE = {"titan-v2": 1024, "titan-v1": 1536, "cohere": 1024}


def family(model_id: str) -> str:
    """The embedding family of a model id, ``""`` when it is not one of the embedding models the fake knows."""
    if re.fullmatch(r"amazon\.titan-embed-text-v2:0", model_id):
        return "titan-v2"
    if re.fullmatch(r"amazon\.titan-embed-text-v1(:2:8k)?", model_id):
        return "titan-v1"
    if re.fullmatch(r"cohere\.embed-(english|multilingual)-v3", model_id):
        return "cohere"
    return ""


def vector_for(text: str, size: int) -> list[float]:
    """The fake's embedding of ``text``: unit length, a pure function of the text and the size."""
    digest = hashlib.sha512(f"bedrock:{size}:{text}".encode()).digest()
    while len(digest) < 4 * size:
        digest += hashlib.sha512(digest).digest()
    raw = struct.unpack(f"<{size}i", digest[: 4 * size])
    norm = math.sqrt(sum(float(x) * x for x in raw)) or 1.0
    return [x / norm for x in raw]


def validate_invoke(model_id: str, headers: dict[str, str], raw: bytes) -> None:
    """botocore's ``InvokeModel`` input shape, then the model's documented body; ``RequestInvalid`` if refused."""
    shape = input_shape("InvokeModel")
    model_shape = shape.members["modelId"]
    if not 1 <= len(model_id) <= model_shape.metadata["max"] or not re.fullmatch(
        model_shape.metadata["pattern"], model_id
    ):
        raise RequestInvalid(
            f"1 validation error detected: Value '{model_id}' at 'modelId' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern"
        )
    if len(raw) > shape.members["body"].metadata["max"]:
        raise RequestInvalid("Input is too long for requested model.")
    if headers.get("content-type", "application/json") != "application/json":
        raise RequestInvalid("The provided Content-Type is not supported: use application/json")
    if headers.get("accept", "application/json") not in ("application/json", "*/*"):
        raise RequestInvalid("The provided Accept type is not supported: use application/json")
    if not family(model_id):
        raise RequestInvalid("The provided model identifier is invalid.")


def check_body(model_id: str, body: Any) -> None:
    """The model's own body rules (``RequestInvalid`` in Bedrock's "Malformed input request" wording)."""
    kind = family(model_id)
    if not isinstance(body, dict):
        raise RequestInvalid("Malformed input request, please reformat your input and try again.")
    for key in body:
        if key not in _KEYS[kind]:
            raise RequestInvalid(f"Malformed input request: #: extraneous key [{key}] is not permitted")
    if kind == "cohere":
        _check_cohere(body)
    else:
        _check_titan(body, kind)


def _check_titan(body: dict[str, Any], kind: str) -> None:
    text = body.get("inputText")
    if text is None:
        raise RequestInvalid("Malformed input request: #: required key [inputText] not found")
    if not isinstance(text, str):
        raise RequestInvalid("Malformed input request: #/inputText: expected type: String")
    if not 1 <= len(text) <= TITAN_MAX_CHARS:
        raise RequestInvalid(f"Malformed input request: #/inputText: expected length 1..{TITAN_MAX_CHARS}")
    if "dimensions" in body and body["dimensions"] not in TITAN_V2_DIMENSIONS:
        raise RequestInvalid(f"Malformed input request: #/dimensions: {body['dimensions']} is not a valid enum value")
    if "normalize" in body and not isinstance(body["normalize"], bool):
        raise RequestInvalid("Malformed input request: #/normalize: expected type: Boolean")
    _check_types(body.get("embeddingTypes"), kind, "embeddingTypes")


def _check_cohere(body: dict[str, Any]) -> None:
    if "input_type" not in body:
        raise RequestInvalid("Malformed input request: #: required key [input_type] not found")
    if body["input_type"] not in COHERE_INPUT_TYPES:
        raise RequestInvalid(f"Malformed input request: #/input_type: {body['input_type']} is not a valid enum value")
    texts = body.get("texts")
    if texts is None:
        raise RequestInvalid("Malformed input request: #: required key [texts] not found")
    if not isinstance(texts, list) or not all(isinstance(text, str) for text in texts):
        raise RequestInvalid("Malformed input request: #/texts: expected type: JSONArray of String")
    if len(texts) > COHERE_MAX_TEXTS:
        raise RequestInvalid(
            f"Malformed input request: #/texts: expected maxItems: {COHERE_MAX_TEXTS}, found: {len(texts)}"
        )
    for index, text in enumerate(texts):
        if len(text) > COHERE_MAX_CHARS:
            raise RequestInvalid(
                f"Malformed input request: #/texts/{index}: expected maxLength: {COHERE_MAX_CHARS}, actual: {len(text)}"
            )
    if body.get("truncate", "NONE") not in ("NONE", "START", "END"):
        raise RequestInvalid(f"Malformed input request: #/truncate: {body['truncate']} is not a valid enum value")
    _check_types(body.get("embedding_types"), "cohere", "embedding_types")


def _check_types(types: Any, kind: str, key: str) -> None:
    if types is None:
        return
    if not isinstance(types, list) or any(item not in _EMBEDDING_TYPES[kind] for item in types):
        allowed = ", ".join(_EMBEDDING_TYPES[kind])
        raise RequestInvalid(f"Malformed input request: #/{key}: expected a list of {allowed}")


def answer(model_id: str, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The model's answer body and the input token count (one token per word)."""
    kind = family(model_id)
    if kind == "cohere":
        texts: list[str] = body["texts"]
        vectors = [vector_for(text, _DEFAULT_SIZE[kind]) for text in texts]
        tokens = sum(len(text.split()) for text in texts)
        reply = {"embeddings": vectors, "id": str(uuid.uuid4()), "response_type": "embeddings_floats", "texts": texts}
        return reply, tokens
    text = body["inputText"]
    vector = vector_for(text, int(body.get("dimensions", _DEFAULT_SIZE[kind])))
    tokens = len(text.split())
    titan: dict[str, Any] = {"embedding": vector, "inputTextTokenCount": tokens}
    if kind == "titan-v2":
        titan["embeddingsByType"] = {"float": vector}
    return titan, tokens

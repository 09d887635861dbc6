"""The OpenAI embeddings door's pure mapping: the wire body onto the use-case, the answer onto OpenAI's list."""

from __future__ import annotations

import base64
import json
import struct

import msgspec
import pytest

from domain.embeddings import Embedded, InvalidEmbeddingRequest
from entrypoints.http.openai.embeddings import (
    EmbeddingsBody,
    embedding_fields,
    embeddings_json,
    float32_base64,
    refusal,
)

decode = msgspec.json.Decoder(EmbeddingsBody).decode


def test_a_string_or_a_list_of_strings_becomes_the_texts() -> None:
    assert embedding_fields(decode(b'{"model": "m", "input": "one"}')).texts == ("one",)
    fields = embedding_fields(decode(b'{"model": "m", "input": ["a", "b"], "dimensions": 8, "input_type": "x"}'))
    assert (fields.texts, fields.dimensions, fields.input_type) == (("a", "b"), 8, "x")


@pytest.mark.parametrize("raw", [b'{"model": "m", "input": [1, 2]}', b'{"model": "m", "input": [[1], [2, 3]]}'])
def test_token_arrays_are_refused_with_the_langchain_setting_named(raw: bytes) -> None:
    with pytest.raises(InvalidEmbeddingRequest, match="check_embedding_ctx_length=False") as refused:
        embedding_fields(decode(raw))
    assert refused.value.param == "input"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"model": "m", "input": [1.5]}',
        b'{"model": "m", "input": null}',
        b'{"model": "m", "input": "a", "encoding_format": "int8"}',
        b'{"model": "m", "input": "a", "dimensions": "8"}',
        b'{"input": "a"}',
    ],
)
def test_wrong_types_do_not_decode(raw: bytes) -> None:
    with pytest.raises(msgspec.ValidationError):
        decode(raw)


def test_the_answer_is_openais_list_in_input_order_in_either_encoding() -> None:
    answer = Embedded(provider="mock", model="m", vectors=((0.5, -0.25), (1.0, 0.0)), input_tokens=3, upstream_calls=1)
    floats = json.loads(embeddings_json(answer, "float"))
    assert floats == {
        "object": "list",
        "data": [
            {"object": "embedding", "index": 0, "embedding": [0.5, -0.25]},
            {"object": "embedding", "index": 1, "embedding": [1.0, 0.0]},
        ],
        "model": "m",
        "usage": {"prompt_tokens": 3, "total_tokens": 3},
    }
    packed = json.loads(embeddings_json(answer, "base64"))["data"][0]["embedding"]
    assert packed == float32_base64((0.5, -0.25))
    assert struct.unpack("<2f", base64.b64decode(packed)) == (0.5, -0.25)


def test_a_refusal_names_the_field_in_openais_error_shape() -> None:
    answer = refusal(InvalidEmbeddingRequest("input[2] is empty", param="input[2]"))
    assert answer.status == 400
    assert json.loads(answer.body) == {
        "error": {"message": "input[2] is empty", "type": "invalid_request_error", "param": "input[2]",
                  "code": "invalid_request"}
    }  # fmt: skip

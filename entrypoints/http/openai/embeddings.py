"""``POST /v1/embeddings`` in OpenAI's shapes: a thin mapping onto the ``Embed`` use-case.

(docs/api.md#embeddings)

The body (``EmbeddingsBody``) is decoded strictly by the shared fast-route layer: wrong types are a 400,
unknown fields are ignored. ``input`` is a string or a list of strings; token arrays (lists of integers,
what LangChain's ``OpenAIEmbeddings`` sends unless ``check_embedding_ctx_length=False``) are refused with
a 400 that says so: token ids are one tokenizer's, and Titan, Cohere and the mock read text. ``model`` is
an embedding catalogue id, alias or ``provider/model``; ``dimensions`` a size the model gives;
``encoding_format`` ``float`` or ``base64`` (little-endian float32, as OpenAI); ``user`` is accepted and
not sent on. ``input_type`` (``search_document`` by default, ``search_query``, ``classification``,
``clustering``) is the gateway's extension for Cohere Embed; the SDKs send it with ``extra_body``.

The answer is OpenAI's list: ``{"object": "list", "data": [{"object": "embedding", "index", "embedding"}],
"model", "usage": {"prompt_tokens", "total_tokens"}}`` with ``X-Gateway-Overhead-Ms``. Errors leave in
OpenAI's shape; a refused field is named in ``param``.
"""

from __future__ import annotations

import asyncio
import base64
import sys
from array import array
from dataclasses import dataclass
from typing import Annotated, Literal

import msgspec
from litestar.handlers import HTTPRouteHandler

from application.embed import Embed
from domain.embedding_catalogue import EmbeddingCatalogue
from domain.embeddings import Embedded, EmbeddingFields, InvalidEmbeddingRequest
from entrypoints.asgi import Receive, Send
from entrypoints.bootstrap.container import Container, resolve
from entrypoints.documented_limits import NOT_BLANK, limits
from entrypoints.http.openai.errors import OPENAI_ERRORS, error_object
from entrypoints.http.shared.answer_headers import OVERHEAD_HEADER
from entrypoints.http.shared.body import JsonBody
from entrypoints.http.shared.disconnect import unless_client_leaves
from entrypoints.http.shared.errors import ErrorAnswer, send_error
from entrypoints.http.shared.fast_routes import (
    JSON_CONTENT,
    FastRoute,
    Headers,
    declared_post,
    request_context_from,
    send_json,
)

EMBEDDINGS_PATH = "/v1/embeddings"
LARGE_ANSWER_FLOATS = 100_000  # about 50 ms of encoding
TOKEN_ARRAYS_REFUSED = (
    "input as token arrays is not supported: send a string or a list of strings "
    "(LangChain's OpenAIEmbeddings sends token arrays unless check_embedding_ctx_length=False)"
)
_encode = msgspec.json.Encoder().encode
_BIG_ENDIAN = sys.byteorder == "big"


class EmbeddingsBody(msgspec.Struct, frozen=True, kw_only=True):
    """OpenAI's embeddings request, as the gateway reads it (``input_type`` is the gateway's own)."""

    # Token arrays decode, to be refused by name (TOKEN_ARRAYS_REFUSED); the document says what is taken: text.
    input: Annotated[str | list[str | int | list[int]], limits(items={"type": "string"})]
    model: Annotated[str, NOT_BLANK]
    dimensions: int | None = None
    encoding_format: Literal["float", "base64"] = "float"
    user: str | None = None
    input_type: str = ""


@dataclass(frozen=True, slots=True)
class EmbeddingsDeps:
    embedding_catalogue: EmbeddingCatalogue
    embed: Embed

    @classmethod
    def from_container(cls, container: Container) -> EmbeddingsDeps:
        return resolve(cls, container)


def embedding_fields(body: EmbeddingsBody) -> EmbeddingFields:
    """The request as the use-case reads it; token arrays and an empty model are refused, naming the field."""
    texts = (body.input,) if isinstance(body.input, str) else tuple(body.input)
    if not all(isinstance(text, str) for text in texts):
        raise InvalidEmbeddingRequest(TOKEN_ARRAYS_REFUSED, param="input")
    if not body.model.strip():
        raise InvalidEmbeddingRequest("you must provide a model parameter", param="model")
    return EmbeddingFields(
        texts=texts,  # type: ignore[arg-type]  # all strings, checked above
        model=body.model,
        dimensions=body.dimensions,
        input_type=body.input_type,
    )


def float32_base64(vector: tuple[float, ...]) -> str:
    """A vector as OpenAI's ``base64`` encoding: little-endian IEEE 754 float32, base64."""
    packed = array("f", vector)
    if _BIG_ENDIAN:
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


def embeddings_json(answer: Embedded, encoding_format: str) -> bytes:
    """OpenAI's ``list`` of ``embedding`` objects, in the order of the inputs."""
    as_base64 = encoding_format == "base64"
    data = [
        {"object": "embedding", "index": index, "embedding": float32_base64(vector) if as_base64 else vector}
        for index, vector in enumerate(answer.vectors)
    ]
    usage = {"prompt_tokens": answer.input_tokens, "total_tokens": answer.input_tokens}
    return _encode({"object": "list", "data": data, "model": answer.model, "usage": usage})


def refusal(error: InvalidEmbeddingRequest) -> ErrorAnswer:
    """A refused field as OpenAI answers it: 400 ``invalid_request_error`` with the field in ``param``."""
    body = {"error": {**error_object(400, error.code, error.message), "param": error.param}}
    return ErrorAnswer(400, error.code, (), _encode(body))


class Embeddings:
    def __init__(self, deps: EmbeddingsDeps) -> None:
        self._deps = deps

    async def respond(self, body: EmbeddingsBody, headers: Headers, receive: Receive, send: Send) -> None:
        deps = self._deps
        try:
            request = deps.embedding_catalogue.build(embedding_fields(body), request_context_from(headers))
        except InvalidEmbeddingRequest as exc:
            await send_error(send, refusal(exc))
            return
        answer = await unless_client_leaves(receive, deps.embed.execute(request))
        overhead = f"{max(0.0, answer.duration_ms - answer.upstream_ms):.3f}".encode()
        if sum(len(vector) for vector in answer.vectors) < LARGE_ANSWER_FLOATS:
            payload = embeddings_json(answer, body.encoding_format)
        else:  # tens of megabytes: encoded in a worker thread, so that the loop keeps serving other requests
            payload = await asyncio.to_thread(embeddings_json, answer, body.encoding_format)
        await send_json(send, 200, payload, [JSON_CONTENT, (OVERHEAD_HEADER, overhead)])


def embeddings_fast_routes(deps: EmbeddingsDeps) -> list[FastRoute[EmbeddingsBody]]:
    return [FastRoute(EMBEDDINGS_PATH, JsonBody(EmbeddingsBody), Embeddings(deps).respond, OPENAI_ERRORS)]


def embeddings_declared_routes() -> list[HTTPRouteHandler]:
    """The route as Litestar knows it: the OpenAPI document and the 405 for other methods."""
    return [
        declared_post(
            EMBEDDINGS_PATH,
            EmbeddingsBody,
            summary="Embeddings (OpenAI)",
            name="embeddings",
            errors=frozenset({400, 404, 429, 502, 503, 504}),
        )
    ]

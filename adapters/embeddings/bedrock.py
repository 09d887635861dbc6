"""Bedrock embeddings through ``InvokeModel`` (docs/api.md#embeddings), in each model family's own body.

The client is the process's one ``bedrock-runtime`` client (``adapters.providers.bedrock.open_bedrock_client``:
credentials, region, timeouts, no SDK retries), and failures become domain errors through the same
``adapters.providers.bedrock_errors``. The bodies, as Bedrock documents them::

    Titan Text Embeddings v2   {"inputText", "dimensions", "normalize"}  -> {"embedding", "inputTextTokenCount"}
    Titan Embeddings G1 Text   {"inputText"}                             -> {"embedding", "inputTextTokenCount"}
    Cohere Embed v3            {"texts", "input_type", "truncate"}       -> {"embeddings", "id", "response_type",
                                                                             "texts"}

Titan embeds one text per call (the use-case sends one); Cohere up to 96. Cohere's body carries no token
count: Bedrock's ``X-Amzn-Bedrock-Input-Token-Count`` header does, for every model. ``truncate`` is
``NONE``: a text over the model's token limit is refused upstream (a 400), never embedded in part.
"""

from __future__ import annotations

from typing import Any, Protocol

import msgspec

from adapters.embeddings.off_loop import decoded
from adapters.providers.bedrock_errors import TRANSLATABLE, translate
from domain.embeddings import EmbeddingBatch, EmbeddingCall
from domain.errors import UpstreamBadRequest, UpstreamError

_encode = msgspec.json.Encoder().encode
TOKEN_COUNT_HEADER = "x-amzn-bedrock-input-token-count"


class _TitanAnswer(msgspec.Struct):
    embedding: tuple[float, ...]
    inputTextTokenCount: int = 0  # Bedrock's name


class _CohereAnswer(msgspec.Struct):
    embeddings: tuple[tuple[float, ...], ...]


_decode_titan = msgspec.json.Decoder(_TitanAnswer).decode
_decode_cohere = msgspec.json.Decoder(_CohereAnswer).decode


class BedrockInvokeClient(Protocol):
    """The call of an aioboto3 ``bedrock-runtime`` client this adapter uses."""

    async def invoke_model(self, **kwargs: Any) -> dict[str, Any]: ...


def family_of(model_id: str) -> str:
    """``titan-v2``, ``titan-v1`` or ``cohere``: which body the model takes (``""``: none the adapter speaks)."""
    if "amazon.titan-embed-text-v2" in model_id:
        return "titan-v2"
    if "amazon.titan-embed-text" in model_id:
        return "titan-v1"
    if "cohere.embed-" in model_id:
        return "cohere"
    return ""


def request_body(call: EmbeddingCall) -> dict[str, Any]:
    """The InvokeModel body for ``call`` (one text for Titan, all of them for Cohere)."""
    family = family_of(call.model)
    if family == "cohere":
        return {"texts": list(call.texts), "input_type": call.input_type, "truncate": "NONE"}
    if not family:
        raise UpstreamBadRequest(f"Bedrock model '{call.model}' takes no embeddings body the gateway knows")
    if len(call.texts) != 1:
        raise UpstreamBadRequest(f"Titan embeds one text per call, {len(call.texts)} were given")
    body: dict[str, Any] = {"inputText": call.texts[0]}
    if family == "titan-v2":
        if call.dimensions is not None:
            body["dimensions"] = call.dimensions
        body["normalize"] = True
    return body


class BedrockEmbeddings:
    """The ``aws`` embeddings: Titan Text Embeddings and Cohere Embed v3 through ``InvokeModel``."""

    def __init__(self, client: BedrockInvokeClient) -> None:
        self._client = client

    @property
    def name(self) -> str:
        return "aws-bedrock"

    async def embed(self, call: EmbeddingCall) -> EmbeddingBatch:
        body = _encode(request_body(call))
        try:
            response = await self._client.invoke_model(
                modelId=call.model, body=body, contentType="application/json", accept="application/json"
            )
            async with response["body"] as stream:
                raw = await stream.read()
        except TRANSLATABLE as exc:
            raise translate(exc) from exc
        counted = _token_count(response.get("ResponseMetadata", {}).get("HTTPHeaders", {}))
        try:
            if family_of(call.model) == "cohere":
                cohere = await decoded(_decode_cohere, raw)
                return EmbeddingBatch(vectors=cohere.embeddings, input_tokens=counted or 0)
            titan = _decode_titan(raw)  # one vector: small
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise UpstreamError(f"Bedrock sent an answer that is not the model's embeddings JSON: {exc}") from exc
        return EmbeddingBatch(vectors=(titan.embedding,), input_tokens=titan.inputTextTokenCount or counted or 0)


def _token_count(headers: dict[str, str]) -> int | None:
    value = headers.get(TOKEN_COUNT_HEADER, "")
    return int(value) if value.isdigit() else None

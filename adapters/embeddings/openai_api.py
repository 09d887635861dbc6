"""OpenAI's ``/embeddings`` over either client of the chat-completions stack, shared by Azure and OpenAI-compatible.

The client is the provider's own: the openai SDK (``AsyncOpenAI``/``AsyncAzureOpenAI``,
``embeddings.create``) or the lean HTTP/1.1 ``ChatEndpoint`` (``adapters.providers.chat_completions_http``),
which knows the URL layout (``/openai/deployments/{name}/embeddings?api-version=`` on Azure,
``{base}/embeddings`` elsewhere) and the credential header. Both send the same body
(``input`` as a list, ``encoding_format: "float"``, ``dimensions`` when a size was asked for, ``model`` where
the URL does not name it) and raise the same domain errors as the chat calls (``chat_completions.status_error``,
``translate_error``): 429 with ``Retry-After``, 401/403, 404 (unknown deployment or model), 5xx, connection
failures, and no answer within the first-byte limit (``UpstreamTimeout``).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from adapters.embeddings.off_loop import decoded
from adapters.providers.chat_completions import Hints, status_error, translate_error
from adapters.providers.chat_completions_http import ChatEndpoint, error_fields
from adapters.providers.http1_client import ConnectTimeout
from domain.embeddings import EmbeddingBatch, EmbeddingCall
from domain.errors import UpstreamError, UpstreamTimeout

if TYPE_CHECKING:  # the SDK is imported where it is used: the lean client (UPSTREAM_CLIENT=fast) never loads it
    import openai

_encode = msgspec.json.Encoder().encode
_JSON = b"Content-Type: application/json\r\nAccept: application/json\r\nUser-Agent: mcp-server-ai\r\n"


class _WireVector(msgspec.Struct):
    embedding: tuple[float, ...]
    index: int = 0


class _WireUsage(msgspec.Struct):
    prompt_tokens: int = 0


class _WireEmbeddings(msgspec.Struct):
    data: list[_WireVector]
    usage: _WireUsage | None = None


_decode = msgspec.json.Decoder(_WireEmbeddings).decode


def request_body(call: EmbeddingCall, *, model: str | None) -> dict[str, Any]:
    """The ``/embeddings`` body; ``model`` is ``None`` where the URL names the deployment (Azure)."""
    body: dict[str, Any] = {"input": list(call.texts), "encoding_format": "float"}
    if model is not None:
        body["model"] = model
    if call.dimensions is not None:
        body["dimensions"] = call.dimensions
    return body


def _batch(answer: _WireEmbeddings) -> EmbeddingBatch:
    ordered = sorted(answer.data, key=lambda item: item.index)  # the index is authoritative, not the order
    tokens = answer.usage.prompt_tokens if answer.usage is not None else 0
    return EmbeddingBatch(vectors=tuple(item.embedding for item in ordered), input_tokens=tokens)


class EmbeddingsApi(Protocol):
    async def embed(self, call: EmbeddingCall, target: str) -> EmbeddingBatch: ...


class SdkEmbeddings:
    """``embeddings.create`` of the openai SDK client; ``target`` is the deployment (Azure) or the model."""

    def __init__(self, client: openai.AsyncOpenAI, *, hints: Hints, first_byte_timeout: float) -> None:
        self._create = client.embeddings.create
        self._hints = hints
        self._first_byte = first_byte_timeout

    async def embed(self, call: EmbeddingCall, target: str) -> EmbeddingBatch:
        import openai
        from openai.types import CreateEmbeddingResponse

        params = request_body(call, model=target)
        try:
            async with asyncio.timeout(self._first_byte):
                response = await self._create(**params)
        except TimeoutError as exc:
            raise UpstreamTimeout(f"{self._hints.provider} did not answer within {self._first_byte:g} s") from exc
        except openai.OpenAIError as exc:
            raise translate_error(exc, self._hints, target) from exc
        except ValueError as exc:  # a 200 whose body is not JSON
            raise self._not_embeddings() from exc
        if not isinstance(response, CreateEmbeddingResponse):  # a 200 of another content type: the SDK hands back text
            raise self._not_embeddings()
        ordered = sorted(response.data, key=lambda item: item.index)
        tokens = response.usage.prompt_tokens if response.usage is not None else 0
        return EmbeddingBatch(vectors=tuple(tuple(item.embedding) for item in ordered), input_tokens=tokens)

    def _not_embeddings(self) -> UpstreamError:
        return UpstreamError(f"{self._hints.provider} sent an answer that is not embeddings JSON")


class HttpEmbeddings:
    """``/embeddings`` over the lean HTTP/1.1 client of a ``ChatEndpoint``."""

    def __init__(self, endpoint: ChatEndpoint, *, hints: Hints, first_byte_timeout: float) -> None:
        self._endpoint = endpoint
        self._hints = hints
        self._first_byte = first_byte_timeout
        self._headers = endpoint.auth + _JSON

    async def embed(self, call: EmbeddingCall, target: str) -> EmbeddingBatch:
        azure = bool(self._endpoint.azure_api_version)
        body = _encode(request_body(call, model=None if azure else target))
        endpoint = self._endpoint
        try:
            async with asyncio.timeout(self._first_byte):
                response = await endpoint.client.post(
                    endpoint.path(target, "embeddings"), endpoint.headers(self._headers), body
                )
                try:
                    raw = await response.read()
                finally:
                    response.release()
        except TimeoutError as exc:
            raise UpstreamTimeout(f"{self._hints.provider} did not answer within {self._first_byte:g} s") from exc
        except OSError as exc:
            raise self._connection_error(exc) from exc
        if response.status != 200:
            code, message = error_fields(raw, response.status)
            raise status_error(response.status, code, message, response.headers, self._hints, target)
        try:
            return _batch(await decoded(_decode, raw))
        except msgspec.DecodeError as exc:
            raise UpstreamError(f"{self._hints.provider} sent an answer that is not embeddings JSON") from exc

    def _connection_error(self, exc: OSError) -> UpstreamError:
        if isinstance(exc, ConnectTimeout):
            return UpstreamTimeout(f"{self._hints.provider} timed out: {exc}")
        return UpstreamError(f"{self._hints.provider} connection failed: {exc or type(exc).__name__}")


def embeddings_api(
    client: openai.AsyncOpenAI | ChatEndpoint, *, hints: Hints, first_byte_timeout: float
) -> SdkEmbeddings | HttpEmbeddings:
    """The ``/embeddings`` speaker for a provider's client: lean HTTP for a ``ChatEndpoint``, else the SDK."""
    if isinstance(client, ChatEndpoint):
        return HttpEmbeddings(client, hints=hints, first_byte_timeout=first_byte_timeout)
    return SdkEmbeddings(client, hints=hints, first_byte_timeout=first_byte_timeout)

"""The ``openai`` embeddings: ``{OPENAI_BASE_URL}/embeddings`` of any OpenAI-compatible server (OpenAI, Ollama, vLLM).

The client is the OpenAI-compatible provider's (the SDK's ``AsyncOpenAI`` or the lean ``ChatEndpoint``); the
model name is sent as it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.embeddings.openai_api import embeddings_api
from adapters.providers.chat_completions import Hints
from adapters.providers.chat_completions_http import ChatEndpoint
from domain.embeddings import EmbeddingBatch, EmbeddingCall

if TYPE_CHECKING:  # the SDK is imported where it is used: the lean client (UPSTREAM_CLIENT=fast) never loads it
    import openai


def _not_found(code: str | None, model: str, message: str) -> str:
    return (
        f"embedding model '{model}' is not available on the OpenAI-compatible server ({message}); check OPENAI_BASE_URL"
    )


_HINTS = Hints(provider="openai", credentials="OPENAI_API_KEY", not_found=_not_found)


class OpenAICompatibleEmbeddings:
    """An OpenAI-compatible server's ``/embeddings`` behind the ``Embeddings`` port."""

    def __init__(self, client: openai.AsyncOpenAI | ChatEndpoint, *, first_byte_timeout: float = 60.0) -> None:
        self._api = embeddings_api(client, hints=_HINTS, first_byte_timeout=first_byte_timeout)

    @property
    def name(self) -> str:
        return "openai"

    async def embed(self, call: EmbeddingCall) -> EmbeddingBatch:
        return await self._api.embed(call, call.model)

"""The ``azure`` embeddings: ``/openai/deployments/{deployment}/embeddings`` of an Azure OpenAI resource.

The client is the Azure provider's (the SDK's ``AsyncAzureOpenAI`` or the lean ``ChatEndpoint``); a model
becomes a deployment as for chat: ``AZURE_DEPLOYMENTS=model=deployment,...`` where set, else the model id
itself (Azure's default deployment names are the model names).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from adapters.embeddings.openai_api import embeddings_api
from adapters.providers.azure_openai import parse_deployments
from adapters.providers.chat_completions import Hints
from adapters.providers.chat_completions_http import ChatEndpoint
from domain.embeddings import EmbeddingBatch, EmbeddingCall

if TYPE_CHECKING:  # the SDK is imported where it is used: the lean client (UPSTREAM_CLIENT=fast) never loads it
    import openai


def _not_found(code: str | None, deployment: str, message: str) -> str:
    return (
        f"Azure OpenAI has no embeddings deployment '{deployment}' ({message}); "
        "check AZURE_DEPLOYMENTS (model=deployment) and AZURE_ENDPOINT"
    )


_HINTS = Hints(provider="azure-openai", credentials="AZURE_API_KEY or AZURE_AD_TOKEN", not_found=_not_found)


class AzureOpenAIEmbeddings:
    """Azure OpenAI embedding deployments behind the ``Embeddings`` port."""

    def __init__(
        self,
        client: openai.AsyncAzureOpenAI | ChatEndpoint,
        *,
        deployments: str | Mapping[str, str] = "",
        first_byte_timeout: float = 60.0,
    ) -> None:
        overrides = parse_deployments(deployments) if isinstance(deployments, str) else dict(deployments)
        self._deployments = {model.lower(): deployment for model, deployment in overrides.items()}
        self._api = embeddings_api(client, hints=_HINTS, first_byte_timeout=first_byte_timeout)

    @property
    def name(self) -> str:
        return "azure-openai"

    def deployment_for(self, model: str) -> str:
        return self._deployments.get(model.lower(), model)

    async def embed(self, call: EmbeddingCall) -> EmbeddingBatch:
        return await self._api.embed(call, self.deployment_for(call.model))

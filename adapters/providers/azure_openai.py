"""The ``azure`` provider: Azure OpenAI chat completions through ``openai.AsyncAzureOpenAI``.

A model (catalogue id or alias) becomes a deployment through the catalogue's
deployment table, overridable with ``AZURE_DEPLOYMENTS=model=deployment,...``;
a name the table does not know is sent unchanged as a deployment name.
Reasoning models (catalogue ``reasoning=True``, or an o-series/gpt-5 name) get
``max_completion_tokens`` and no temperature.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from typing import TYPE_CHECKING

from adapters.providers.azure_access import DEFAULT_API_VERSION, azure_access
from adapters.providers.chat_completions import Hints, Target, client_timeout
from adapters.providers.chat_completions_http import ChatEndpoint, chat_api
from adapters.providers.chat_completions_wire import looks_like_reasoning_model
from domain.catalogue_data import AZURE_MODELS
from domain.models import Completion, ModelInfo, ProviderCall, ProviderChunk

if TYPE_CHECKING:  # the SDK is imported where it is used: the lean client (UPSTREAM_CLIENT=fast) never loads it
    import openai


def create_azure_client(
    *,
    endpoint: str,
    api_version: str = DEFAULT_API_VERSION,
    api_key: str = "",
    ad_token: str = "",
    connect_timeout: float = 5.0,
    first_byte_timeout: float = 60.0,
    idle_timeout: float = 30.0,
) -> openai.AsyncAzureOpenAI:
    """The one Azure client of the process (the container closes it with ``await client.close()``).

    Exactly one of ``api_key`` (``AZURE_API_KEY``) and ``ad_token`` (``AZURE_AD_TOKEN``, an Entra
    bearer token) must be given. The SDK's retries are off: the resilience wrappers retry.
    """
    access = azure_access(endpoint, api_version=api_version, api_key=api_key, ad_token=ad_token)
    import openai

    return openai.AsyncAzureOpenAI(
        azure_endpoint=access.endpoint,
        api_version=access.api_version,
        max_retries=0,
        timeout=client_timeout(connect=connect_timeout, first_byte=first_byte_timeout, idle=idle_timeout),
        api_key=access.api_key or None,
        azure_ad_token=access.ad_token or None,
    )


def parse_deployments(spec: str) -> dict[str, str]:
    """``AZURE_DEPLOYMENTS``: ``model=deployment,model2=deployment2`` (model may be an alias)."""
    mapping: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        model, sep, deployment = item.partition("=")
        if not sep or not model.strip() or not deployment.strip():
            raise ValueError(f"AZURE_DEPLOYMENTS: expected model=deployment, got '{item}'")
        mapping[model.strip()] = deployment.strip()
    return mapping


def _not_found(code: str | None, deployment: str, message: str) -> str:
    if code == "DeploymentNotFound":
        return f"unknown deployment '{deployment}' on the Azure OpenAI resource ({message}); check AZURE_DEPLOYMENTS"
    return f"Azure OpenAI answered 404 for deployment '{deployment}' ({message}); check AZURE_ENDPOINT"


_HINTS = Hints(provider="azure-openai", credentials="AZURE_API_KEY or AZURE_AD_TOKEN", not_found=_not_found)


class AzureOpenAIProvider:
    """Azure OpenAI deployments behind the ``Provider`` port.

    ``client`` is the process-wide ``AsyncAzureOpenAI`` (see ``create_azure_client``) or, for the
    lean HTTP path, a ``ChatEndpoint`` (``adapters.providers.chat_completions_http.azure_endpoint``);
    ``deployments`` is the raw ``AZURE_DEPLOYMENTS`` override; ``models`` the catalogue rows
    whose ids are also their deployment names.
    """

    def __init__(
        self,
        client: openai.AsyncAzureOpenAI | ChatEndpoint,
        *,
        deployments: str | Mapping[str, str] = "",
        models: Iterable[ModelInfo] = AZURE_MODELS,
        first_byte_timeout: float = 60.0,
        idle_timeout: float = 30.0,
    ) -> None:
        self._models = {name.lower(): m for m in models for name in (m.id, *m.aliases)}
        overrides = parse_deployments(deployments) if isinstance(deployments, str) else dict(deployments)
        self._deployments = {key: model.id for key, model in self._models.items()}
        for model, deployment in overrides.items():
            info = self._models.get(model.lower())
            for key in {model.lower(), *((n.lower() for n in (info.id, *info.aliases)) if info else ())}:
                self._deployments[key] = deployment
        self._chat = chat_api(client, hints=_HINTS, first_byte_timeout=first_byte_timeout, idle_timeout=idle_timeout)

    @property
    def name(self) -> str:
        return "azure-openai"

    def deployment_for(self, model: str) -> str:
        """The deployment a model or alias is sent to (unknown names are deployment names already)."""
        return self._deployments.get(model.lower(), model)

    def target(self, model: str) -> Target:
        info = self._models.get(model.lower())
        reasoning = info.reasoning if info else looks_like_reasoning_model(model)
        return Target(name=self.deployment_for(model), reasoning=reasoning)

    async def generate(self, call: ProviderCall) -> Completion:
        return await self._chat.generate(call, self.target(call.model))

    def stream(self, call: ProviderCall) -> AsyncIterator[ProviderChunk]:
        return self._chat.stream(call, self.target(call.model))

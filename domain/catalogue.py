"""Provider resolution from the model catalogue (docs/api.md#providers).

Resolution is deterministic: an explicit provider wins; else the catalogue
entry of the model or alias names it; else ``DEFAULT_PROVIDER``; else the
request is refused with the list of known models.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from domain.errors import InvalidRequest, UnknownModel
from domain.models import ModelInfo

PROVIDER_ORDER = ("aws", "azure", "openai", "mock")
PROVIDER_SPELLINGS = {
    "aws": "aws",
    "aws-bedrock": "aws",
    "bedrock": "aws",
    "azure": "azure",
    "azure-openai": "azure",
    "openai": "openai",
    "mock": "mock",
}


class Resolution(msgspec.Struct, frozen=True, kw_only=True):
    provider: str
    model: str
    info: ModelInfo | None


def canonical_provider(name: str) -> str:
    key = PROVIDER_SPELLINGS.get(name.strip().lower())
    if key is None:
        raise InvalidRequest(
            f"unknown provider '{name}'; use one of: aws, azure, openai, mock (or aws-bedrock, azure-openai)"
        )
    return key


class Catalogue:
    """The models of the configured providers, in a stable order, with their aliases."""

    def __init__(
        self,
        models: Iterable[ModelInfo],
        *,
        configured: Iterable[str],
        default_models: dict[str, str],
        default_provider: str = "",
    ) -> None:
        self._configured = tuple(p for p in PROVIDER_ORDER if p in set(configured))
        rank = {p: i for i, p in enumerate(PROVIDER_ORDER)}
        kept = [m for m in models if m.provider in self._configured]
        self._models = tuple(sorted(kept, key=lambda m: rank[m.provider]))  # stable: keeps table order
        self._by_name: dict[str, ModelInfo] = {}
        for model in self._models:
            for name in (model.id, *model.aliases):
                self._by_name.setdefault(name.lower(), model)
        self._default_models = default_models
        self._default_provider = canonical_provider(default_provider) if default_provider else ""

    @property
    def models(self) -> tuple[ModelInfo, ...]:
        return self._models

    @property
    def providers(self) -> tuple[str, ...]:
        return self._configured

    def lookup(self, name: str) -> ModelInfo | None:
        return self._by_name.get(name.strip().lower())

    def resolve(self, model: str, provider: str) -> Resolution:
        model = model.strip()
        if provider:
            return self._resolve_explicit(model, self._require_configured(canonical_provider(provider)))
        if not model:
            return self._default_of(self._fallback_provider())
        info = self.lookup(model)
        if info is not None:
            return Resolution(provider=info.provider, model=info.id, info=info)
        if self._default_provider:
            return self._resolve_explicit(model, self._require_configured(self._default_provider))
        known = ", ".join(m.id for m in self._models if m.max_output_tokens > 0)
        raise UnknownModel(f"unknown model '{model}'; known models: {known}")

    def _resolve_explicit(self, model: str, provider: str) -> Resolution:
        if not model:
            return self._default_of(provider)
        info = self.lookup(model)
        if info is not None and info.provider == provider:
            return Resolution(provider=provider, model=info.id, info=info)
        # Providers accept ids the catalogue does not know (new Bedrock ids, Ollama tags, deployments).
        return Resolution(provider=provider, model=model, info=None)

    def _default_of(self, provider: str) -> Resolution:
        model = self._default_models.get(provider, "")
        if not model:
            raise InvalidRequest(f"no model given and provider '{provider}' has no default model")
        info = self.lookup(model)
        if info is not None and info.provider == provider:
            return Resolution(provider=provider, model=info.id, info=info)
        return Resolution(provider=provider, model=model, info=None)

    def _fallback_provider(self) -> str:
        if self._default_provider:
            return self._require_configured(self._default_provider)
        if not self._configured:
            raise InvalidRequest("no provider is configured")
        return self._configured[0]

    def _require_configured(self, provider: str) -> str:
        if provider not in self._configured:
            raise InvalidRequest(
                f"provider '{provider}' is not configured; configured providers: {', '.join(self._configured)}"
            )
        return provider

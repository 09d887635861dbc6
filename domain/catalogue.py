"""Provider resolution from the model catalogue (docs/api.md#providers).

Resolution is deterministic: an explicit provider wins; else the catalogue
entry of the model or alias names it; else ``DEFAULT_PROVIDER``; else the
request is refused with the list of known models.

The API dialects that carry only a model name (OpenAI's, Anthropic's) name a
model as a catalogue id or alias (``gpt-4o``, ``claude-3-sonnet``) or as
``provider/model`` (``azure/gpt-4o``, ``bedrock/anthropic.claude-3-haiku-20240307-v1:0``,
``openai/llama3.1:8b``, ``mock/mock-1``): ``Catalogue.split_name`` reads one,
for the configured providers only.
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

    def split_name(self, name: str) -> tuple[str, str]:
        """``(provider, model)`` of a model name as other APIs carry it; ``provider`` is ``""`` unless named.

        ``<provider>/<model>`` names a provider when the part before the first ``/`` is one of its spellings
        (the model keeps any further ``/`` and ``:``, as Ollama tags and Bedrock ARNs have them); a provider
        that is not configured is an unknown model to this gateway. Anything else is a catalogue id or
        alias (or, with ``DEFAULT_PROVIDER``, a model of that provider), resolved by ``resolve``.
        """
        name = name.strip()
        head, slash, rest = name.partition("/")
        provider = PROVIDER_SPELLINGS.get(head.lower()) if slash else None
        if provider is None:
            return "", name
        if provider not in self._configured:
            configured = ", ".join(self._configured)
            raise UnknownModel(f"unknown model '{name}': provider '{head}' is not configured; configured: {configured}")
        if not rest.strip():
            raise InvalidRequest(f"model '{name}' names a provider but no model")
        return provider, rest.strip()

    def resolve_name(self, name: str) -> Resolution:
        """The model a client of another API names (``split_name``), resolved as ``resolve`` does."""
        provider, model = self.split_name(name)
        if not model:
            raise InvalidRequest("model is required")
        return self.resolve(model, provider)

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

"""The embedding models (docs/api.md#embeddings) and how a request's ``model`` finds one.

A model is named by its id or an alias (``text-embedding-3-small``,
``titan-embed-v2``), looked up among the configured providers in the order
aws, azure, openai, mock; or as ``provider/model`` (``azure/my-deployment``,
``bedrock/amazon.titan-embed-text-v2:0``, ``openai/nomic-embed-text``), which
also accepts ids the catalogue does not know: Ollama tags, Azure deployment
names, new Bedrock ids of a family the gateway speaks. An empty model takes the
first configured provider's default.

The limits are the vendors' documented ones: Titan Text Embeddings v2 takes
one text per InvokeModel call (8,192 tokens, 50,000 characters) and gives 256,
512 or 1,024 dimensions; Cohere Embed v3 takes up to 96 texts per call, 2,048
characters each, and gives 1,024; OpenAI's ``/embeddings`` takes up to 2,048
inputs of 8,192 tokens, and text-embedding-3 shortens its vectors on request.
"""

from __future__ import annotations

from collections.abc import Iterable

from domain.catalogue import PROVIDER_ORDER, PROVIDER_SPELLINGS
from domain.embeddings import (
    EmbeddingFields,
    EmbeddingLimits,
    EmbeddingModelInfo,
    EmbeddingRequest,
    InvalidEmbeddingRequest,
    check_dimensions,
    check_input_type,
    check_texts,
)
from domain.errors import UnknownModel
from domain.validation import RequestContext

TITAN_V2 = "amazon.titan-embed-text-v2:0"
OPENAI_MAX_INPUTS = 2048


def _titan_v2(id: str = TITAN_V2) -> EmbeddingModelInfo:
    return EmbeddingModelInfo(
        id=id,
        name="Titan Text Embeddings V2",
        provider="aws",
        dimensions=1024,
        dimension_choices=(256, 512, 1024),
        max_inputs_per_call=1,
        max_input_tokens=8192,
        max_input_chars=50_000,
        aliases=("titan-embed-v2", "titan-embed-text-v2") if id == TITAN_V2 else (),
        description="Amazon Titan Text Embeddings V2 (normalized vectors of 256, 512 or 1024 dimensions)",
    )


def _titan_v1(id: str) -> EmbeddingModelInfo:
    return EmbeddingModelInfo(
        id=id,
        name="Titan Embeddings G1 - Text",
        provider="aws",
        dimensions=1536,
        max_inputs_per_call=1,
        max_input_tokens=8192,
        max_input_chars=50_000,
        description="Amazon Titan Embeddings G1 - Text (1536 dimensions)",
    )


def _cohere(id: str, name: str, aliases: tuple[str, ...] = ()) -> EmbeddingModelInfo:
    return EmbeddingModelInfo(
        id=id,
        name=name,
        provider="aws",
        dimensions=1024,
        max_inputs_per_call=96,
        max_input_tokens=512,
        max_input_chars=2048,
        aliases=aliases,
        description=f"{name} on Bedrock (1024 dimensions; input_type search_document unless told)",
    )


def _openai(provider: str, id: str, dimensions: int, *, shortens: bool) -> EmbeddingModelInfo:
    return EmbeddingModelInfo(
        id=id,
        name=id,
        provider=provider,
        dimensions=dimensions,
        shortens=shortens,
        max_inputs_per_call=OPENAI_MAX_INPUTS,
        max_input_tokens=8192,
        description=f"OpenAI {id} ({dimensions} dimensions{', shortened on request' if shortens else ''})",
    )


def _openai_family(provider: str) -> tuple[EmbeddingModelInfo, ...]:
    return (
        _openai(provider, "text-embedding-3-small", 1536, shortens=True),
        _openai(provider, "text-embedding-3-large", 3072, shortens=True),
        _openai(provider, "text-embedding-ada-002", 1536, shortens=False),
    )


MOCK_EMBED = EmbeddingModelInfo(
    id="mock-embed-1",
    name="Mock Embed 1",
    provider="mock",
    dimensions=256,
    shortens=True,
    max_inputs_per_call=16,
    max_input_tokens=8192,
    aliases=("mock-embed",),
    description="Offline deterministic unit vectors from the text (256 dimensions, shortened on request)",
)

EMBEDDING_MODELS: tuple[EmbeddingModelInfo, ...] = (
    _titan_v2(),
    _titan_v1("amazon.titan-embed-text-v1"),
    _cohere("cohere.embed-english-v3", "Cohere Embed English v3", ("cohere-embed-english",)),
    _cohere("cohere.embed-multilingual-v3", "Cohere Embed Multilingual v3", ("cohere-embed-multilingual",)),
    *_openai_family("azure"),
    *_openai_family("openai"),
    MOCK_EMBED,
)

DEFAULT_EMBEDDING_MODELS: dict[str, str] = {
    "aws": TITAN_V2,
    "azure": "text-embedding-3-small",
    "openai": "text-embedding-3-small",
    "mock": MOCK_EMBED.id,
}


def bedrock_family(model_id: str) -> EmbeddingModelInfo | None:
    """The limits of a Bedrock embedding id the table does not list, judged by its family (``None``: unknown)."""
    if "amazon.titan-embed-text-v2" in model_id:
        return _titan_v2(model_id)
    if "amazon.titan-embed-text" in model_id:
        return _titan_v1(model_id)
    if "cohere.embed-" in model_id and model_id.rsplit(":", 1)[0].endswith("-v3"):
        return _cohere(model_id, model_id)
    return None


class EmbeddingCatalogue:
    """The embedding models of the configured providers, and request checking against them."""

    def __init__(
        self,
        models: Iterable[EmbeddingModelInfo],
        *,
        configured: Iterable[str],
        default_models: dict[str, str] | None = None,
        limits: EmbeddingLimits | None = None,
    ) -> None:
        self._configured = tuple(p for p in PROVIDER_ORDER if p in set(configured))
        rank = {p: i for i, p in enumerate(PROVIDER_ORDER)}
        kept = [m for m in models if m.provider in self._configured]
        self._models = tuple(sorted(kept, key=lambda m: rank[m.provider]))
        self._by_name: dict[tuple[str, str], EmbeddingModelInfo] = {}
        self._first: dict[str, EmbeddingModelInfo] = {}
        for model in self._models:
            for name in (model.id, *model.aliases):
                self._by_name.setdefault((model.provider, name.lower()), model)
                self._first.setdefault(name.lower(), model)
        self._defaults = dict(DEFAULT_EMBEDDING_MODELS if default_models is None else default_models)
        self.limits = limits or EmbeddingLimits()

    @property
    def models(self) -> tuple[EmbeddingModelInfo, ...]:
        return self._models

    @property
    def providers(self) -> tuple[str, ...]:
        return self._configured

    def build(self, fields: EmbeddingFields, context: RequestContext) -> EmbeddingRequest:
        """The checked request (``InvalidEmbeddingRequest`` naming the field, ``UnknownModel``)."""
        provider, model, info = self._resolve(fields.model.strip())
        check_texts(fields.texts, info, self.limits)
        return EmbeddingRequest(
            provider=provider,
            model=model,
            info=info,
            texts=fields.texts,
            dimensions=check_dimensions(fields.dimensions, info, model),
            input_type=check_input_type(fields.input_type),
            request_id=context.request_id,
            caller=context.caller,
        )

    def find(self, name: str) -> EmbeddingModelInfo | None:
        """The catalogue entry a bare id or alias names (the first configured provider's), else ``None``."""
        return self._first.get(name.strip().lower())

    def batch_size(self, request: EmbeddingRequest) -> int:
        """How many texts one upstream call takes: the model's limit, else the provider's API limit."""
        if request.info is not None:
            return request.info.max_inputs_per_call
        return OPENAI_MAX_INPUTS

    def _resolve(self, name: str) -> tuple[str, str, EmbeddingModelInfo | None]:
        if not name:
            return self._default()
        prefix, slash, rest = name.partition("/")
        provider = PROVIDER_SPELLINGS.get(prefix.lower()) if slash else None
        if provider is not None:
            return self._explicit(self._require_configured(provider), rest.strip())
        info = self._first.get(name.lower())
        if info is None:
            known = ", ".join(dict.fromkeys(m.id for m in self._models)) or "none (no provider is configured)"
            raise UnknownModel(f"unknown embedding model '{name}'; known embedding models: {known}")
        return info.provider, info.id, info

    def _explicit(self, provider: str, model: str) -> tuple[str, str, EmbeddingModelInfo | None]:
        if not model:
            raise InvalidEmbeddingRequest(f"model '{provider}/' names no model", param="model")
        info = self._by_name.get((provider, model.lower()))
        if info is not None:
            return provider, info.id, info
        if provider == "aws":
            family = bedrock_family(model)
            if family is None:
                raise InvalidEmbeddingRequest(
                    f"Bedrock model '{model}' is not an embedding model the gateway speaks "
                    "(Titan Text Embeddings or Cohere Embed v3)",
                    param="model",
                )
            return provider, model, family
        if provider == "mock":
            raise UnknownModel(f"unknown embedding model '{model}' of provider mock; it has {MOCK_EMBED.id}")
        return provider, model, None  # deployments, Ollama tags: the upstream decides

    def _default(self) -> tuple[str, str, EmbeddingModelInfo | None]:
        for provider in self._configured:
            default = self._defaults.get(provider, "")
            if default:
                return self._explicit(provider, default)
        raise InvalidEmbeddingRequest("no model given and no configured provider has an embedding model", param="model")

    def _require_configured(self, provider: str) -> str:
        if provider not in self._configured:
            configured = ", ".join(self._configured) or "none"
            raise UnknownModel(f"provider '{provider}' is not configured; configured providers: {configured}")
        return provider

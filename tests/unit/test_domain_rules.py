"""Pure rules of the domain: the cache key, request defaults and validation, provider resolution."""

from __future__ import annotations

import pytest

from domain.cache_key import cache_key
from domain.catalogue import Catalogue
from domain.catalogue_data import AWS_MODELS, AZURE_MODELS, DEFAULT_MODELS, MOCK_MODELS
from domain.errors import InvalidRequest, UnknownModel
from domain.models import Message, ProviderCall
from domain.validation import GenerateFields, RequestContext, RequestLimits, build_request

BASE = ProviderCall(
    model="gpt-4o",
    messages=(Message(role="user", content="hola"),),
    max_tokens=100,
    temperature=0.7,
    system="be brief",
)


def catalogue(*configured: str, default_provider: str = "") -> Catalogue:
    return Catalogue(
        (*AWS_MODELS, *AZURE_MODELS, *MOCK_MODELS),
        configured=configured or ("aws", "azure", "mock"),
        default_models=DEFAULT_MODELS,
        default_provider=default_provider,
    )


def build(fields: GenerateFields, cat: Catalogue | None = None, **context: str) -> object:
    return build_request(
        fields, catalogue=cat or catalogue(), limits=RequestLimits(), context=RequestContext(**context)
    )


class TestCacheKey:
    def test_is_stable_and_prefixed(self) -> None:
        assert cache_key("azure", BASE) == cache_key("azure", BASE)
        assert cache_key("azure", BASE).startswith("ai:") and len(cache_key("azure", BASE)) == 3 + 64

    @pytest.mark.parametrize(
        "changed",
        [
            {"model": "gpt-4.1"},
            {"system": "be verbose"},
            {"system": ""},
            {"max_tokens": 101},
            {"temperature": 0.0},
            {"temperature": 0.70000001},
            {"messages": (Message(role="user", content="hola!"),)},
            {"messages": (Message(role="assistant", content="hola"),)},
            {
                "messages": (
                    Message(role="user", content="hi"),
                    Message(role="assistant", content="x"),
                    Message(role="user", content="hola"),
                )
            },
        ],
        ids=lambda c: next(iter(c)),
    )
    def test_every_input_that_changes_the_answer_changes_the_key(self, changed: dict[str, object]) -> None:
        other = ProviderCall(**{**{f: getattr(BASE, f) for f in BASE.__struct_fields__}, **changed})
        assert cache_key("azure", other) != cache_key("azure", BASE)

    def test_the_provider_is_part_of_the_key(self) -> None:
        assert cache_key("aws", BASE) != cache_key("azure", BASE)

    def test_the_request_id_is_not_part_of_the_key(self) -> None:
        other = ProviderCall(**{**{f: getattr(BASE, f) for f in BASE.__struct_fields__}, "request_id": "req-9"})
        assert cache_key("azure", other) == cache_key("azure", BASE)


class TestDefaultsAndValidation:
    def test_absent_values_take_the_defaults_capped_by_the_model(self) -> None:
        request = build(GenerateFields(prompt="hi", model="gpt-4o"))
        assert request.max_tokens == 4096 and request.temperature == 0.7  # type: ignore[attr-defined]
        haiku = build(GenerateFields(prompt="hi", model="claude-3-haiku"), cat=None)
        assert haiku.max_tokens == 4096  # type: ignore[attr-defined]
        llama = build(GenerateFields(prompt="hi", model="llama-3-1-8b"))
        assert llama.max_tokens == 2048  # type: ignore[attr-defined]  # output cap, not the 128k context

    def test_zero_temperature_is_a_real_value(self) -> None:
        assert build(GenerateFields(prompt="hi", temperature=0.0)).temperature == 0.0  # type: ignore[attr-defined]

    def test_system_wins_over_system_prompt(self) -> None:
        both = build(GenerateFields(prompt="hi", system="A", system_prompt="B"))
        assert both.system == "A"  # type: ignore[attr-defined]
        assert build(GenerateFields(prompt="hi", system_prompt="B")).system == "B"  # type: ignore[attr-defined]

    @pytest.mark.parametrize(
        ("fields", "fragment"),
        [
            (GenerateFields(prompt=None), "prompt is required"),
            (GenerateFields(prompt="  "), "prompt is required"),
            (GenerateFields(prompt="x" * 100_001), "too long"),
            (GenerateFields(prompt="hi", temperature=2.5), "temperature"),
            (GenerateFields(prompt="hi", temperature=-0.1), "temperature"),
            (GenerateFields(prompt="hi", temperature=float("nan")), "temperature"),
            (GenerateFields(prompt="hi", max_tokens=0), "maxTokens"),
            (GenerateFields(prompt="hi", model="gpt-4o", max_tokens=16385), "maxTokens"),
            (GenerateFields(prompt="hi", provider="vertex"), "unknown provider"),
            (GenerateFields(prompt="hi", provider="openai"), "not configured"),
            (GenerateFields(prompt="hi", model="us.stability.stable-image-inpaint-v1:0"), "does not generate text"),
        ],
    )
    def test_invalid_requests_are_refused_with_a_reason(self, fields: GenerateFields, fragment: str) -> None:
        with pytest.raises(InvalidRequest, match=fragment):
            build(fields)

    def test_a_session_needs_both_ids(self) -> None:
        with pytest.raises(InvalidRequest, match="together"):
            build(GenerateFields(prompt="hi"), session_id="s1")


class TestResolution:
    def test_an_alias_resolves_to_its_catalogue_id_and_provider(self) -> None:
        resolved = catalogue().resolve("Claude-3-Haiku", "")
        assert (resolved.provider, resolved.model) == ("aws", "us.anthropic.claude-3-haiku-20240307-v1:0")
        assert catalogue().resolve("gpt4o", "").model == "gpt-4o"

    def test_llama_on_azure_and_deepseek_on_aws_go_to_their_real_owner(self) -> None:
        assert catalogue().resolve("Llama-3.3-70B-Instruct", "").provider == "azure"
        assert catalogue().resolve("us.deepseek.r1-v1:0", "").provider == "aws"

    def test_an_explicit_provider_wins_and_accepts_ids_the_catalogue_does_not_know(self) -> None:
        resolved = catalogue().resolve("my-new-deployment", "azure-openai")
        assert (resolved.provider, resolved.model, resolved.info) == ("azure", "my-new-deployment", None)

    def test_an_unknown_model_uses_default_provider_else_names_the_known_models(self) -> None:
        assert catalogue(default_provider="azure").resolve("my-model", "").provider == "azure"
        with pytest.raises(UnknownModel, match=r"known models: .*gpt-4o"):
            catalogue().resolve("my-model", "")

    def test_no_model_takes_the_providers_default(self) -> None:
        assert catalogue("mock").resolve("", "").model == "mock-1"
        assert catalogue().resolve("", "azure").model == "gpt-4.1"

    def test_models_of_unconfigured_providers_are_not_listed(self) -> None:
        assert {m.provider for m in catalogue("mock").models} == {"mock"}
        ordered = [m.provider for m in catalogue().models]
        assert ordered == sorted(ordered, key=["aws", "azure", "openai", "mock"].index)

    def test_every_model_keeps_its_output_cap_apart_from_its_context(self) -> None:
        for model in (*AWS_MODELS, *AZURE_MODELS):
            assert model.max_output_tokens <= model.context_window, model.id
        assert len(AWS_MODELS) == 39 and len(AZURE_MODELS) == 9

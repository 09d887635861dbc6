"""Models by name, as the OpenAI and Anthropic dialects carry them: an id, an alias, or ``provider/model``."""

from __future__ import annotations

import pytest

from domain.catalogue import Catalogue
from domain.catalogue_data import AWS_MODELS, AZURE_MODELS, DEFAULT_MODELS, MOCK_MODELS
from domain.errors import InvalidRequest, UnknownModel


def catalogue(*configured: str, default_provider: str = "") -> Catalogue:
    return Catalogue(
        (*AWS_MODELS, *AZURE_MODELS, *MOCK_MODELS),
        configured=configured or ("aws", "azure", "openai", "mock"),
        default_models=DEFAULT_MODELS,
        default_provider=default_provider,
    )


@pytest.mark.parametrize(
    ("name", "provider", "model"),
    [
        ("gpt-4o", "azure", "gpt-4o"),
        ("claude-3-haiku", "aws", "us.anthropic.claude-3-haiku-20240307-v1:0"),
        ("azure/gpt-4o", "azure", "gpt-4o"),
        # the bare Bedrock id is an alias of its catalogue entry, the cross-region inference profile
        ("bedrock/anthropic.claude-3-haiku-20240307-v1:0", "aws", "us.anthropic.claude-3-haiku-20240307-v1:0"),
        ("aws/anthropic.claude-3-5-haiku-new-v9:0", "aws", "anthropic.claude-3-5-haiku-new-v9:0"),
        ("openai/llama3.1:8b", "openai", "llama3.1:8b"),
        ("openai/meta-llama/Llama-3.1-8B-Instruct", "openai", "meta-llama/Llama-3.1-8B-Instruct"),
        ("mock/mock-1", "mock", "mock-1"),
        ("Mock/mock-1", "mock", "mock-1"),
        (
            "bedrock/arn:aws:bedrock:us-east-1:1:inference-profile/us.x",
            "aws",
            "arn:aws:bedrock:us-east-1:1:inference-profile/us.x",
        ),
    ],
)
def test_a_name_resolves_to_its_provider_and_model(name: str, provider: str, model: str) -> None:
    resolved = catalogue().resolve_name(name)
    assert (resolved.provider, resolved.model) == (provider, model)


def test_provider_slash_model_of_a_catalogue_model_carries_its_catalogue_entry() -> None:
    resolved = catalogue().resolve_name("azure/gpt4o")  # an alias after the provider
    assert resolved.info is not None and resolved.info.id == "gpt-4o"


def test_a_provider_that_is_not_configured_is_an_unknown_model() -> None:
    with pytest.raises(UnknownModel, match="provider 'azure' is not configured"):
        catalogue("mock").resolve_name("azure/gpt-4o")
    with pytest.raises(UnknownModel):
        catalogue("mock").resolve_name("gpt-4o")  # a catalogue model of an unconfigured provider


def test_a_slash_that_names_no_provider_is_part_of_the_model_name() -> None:
    assert catalogue("mock").split_name("meta-llama/Llama-3") == ("", "meta-llama/Llama-3")
    with pytest.raises(UnknownModel):
        catalogue("mock").resolve_name("meta-llama/Llama-3")
    with_default = catalogue("openai", "mock", default_provider="openai").resolve_name("meta-llama/Llama-3")
    assert (with_default.provider, with_default.model) == ("openai", "meta-llama/Llama-3")


@pytest.mark.parametrize("name", ["", "   ", "mock/", "mock/  "])
def test_an_empty_model_is_refused(name: str) -> None:
    with pytest.raises(InvalidRequest):
        catalogue().resolve_name(name)

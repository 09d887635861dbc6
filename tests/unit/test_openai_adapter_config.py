"""Parsing of the Azure / OpenAI-compatible settings and of upstream Retry-After headers."""

from __future__ import annotations

import email.utils
import time

import pytest

from adapters.providers.azure_access import DEFAULT_API_VERSION
from adapters.providers.azure_openai import AzureOpenAIProvider, create_azure_client, parse_deployments
from adapters.providers.chat_completions_http import azure_endpoint
from adapters.providers.openai_compatible import create_openai_client, parse_openai_models
from adapters.providers.retry_after import retry_after_seconds


def test_openai_models_accept_bare_names_and_ollama_tags_with_their_colon() -> None:
    plain, tagged = parse_openai_models("gpt-4o-mini, llama3.1:8b")
    assert (plain.id, plain.provider, plain.max_output_tokens, plain.context_window) == (
        "gpt-4o-mini",
        "openai",
        4096,
        128000,
    )
    assert tagged.id == "llama3.1:8b"


def test_openai_models_take_an_output_cap_and_a_context_window_after_the_name() -> None:
    [qwen, o3] = parse_openai_models("qwen2.5:7b:8192:32768,o3-mini:100000:200000")
    assert (qwen.id, qwen.max_output_tokens, qwen.context_window, qwen.reasoning) == ("qwen2.5:7b", 8192, 32768, False)
    assert (o3.id, o3.max_output_tokens, o3.context_window, o3.reasoning) == ("o3-mini", 100000, 200000, True)


def test_openai_models_with_only_an_output_cap_get_a_context_window_at_least_that_large() -> None:
    [model] = parse_openai_models("big:200000", default_context=128000)
    assert (model.max_output_tokens, model.context_window) == (200000, 200000)


@pytest.mark.parametrize("spec", [":8192", "m:10:5", "m:0:100"])
def test_malformed_openai_models_are_refused_with_the_variable_name(spec: str) -> None:
    with pytest.raises(ValueError, match="OPENAI_MODELS"):
        parse_openai_models(spec)


def test_an_empty_openai_models_setting_lists_nothing() -> None:
    assert parse_openai_models(" , ") == ()


def test_azure_deployments_parse_model_equals_deployment_pairs() -> None:
    assert parse_deployments(" gpt-4.1 = prod-41 ,o4mini=o4") == {"gpt-4.1": "prod-41", "o4mini": "o4"}
    with pytest.raises(ValueError, match="AZURE_DEPLOYMENTS"):
        parse_deployments("gpt-4.1")


def test_an_override_by_alias_applies_to_the_model_and_all_its_aliases() -> None:
    client = create_azure_client(endpoint="http://127.0.0.1:9", api_key="k")
    provider = AzureOpenAIProvider(client, deployments="o4mini=reasoner")
    assert {provider.deployment_for(n) for n in ("o4-mini", "O4-MINI", "o4mini")} == {"reasoner"}
    assert provider.target("o4mini").reasoning is True
    assert provider.target("gpt-4o").reasoning is False


def test_the_azure_client_needs_an_endpoint_and_exactly_one_credential() -> None:
    with pytest.raises(ValueError, match="AZURE_ENDPOINT"):
        create_azure_client(endpoint="", api_key="k")
    with pytest.raises(ValueError, match="AZURE_API_KEY and AZURE_AD_TOKEN"):
        create_azure_client(endpoint="http://x", api_key="k", ad_token="t")
    with pytest.raises(ValueError, match="AZURE_API_KEY and AZURE_AD_TOKEN"):
        create_azure_client(endpoint="http://x")


async def test_the_lean_azure_client_checks_the_same_and_defaults_the_same_api_version() -> None:
    with pytest.raises(ValueError, match="AZURE_ENDPOINT"):
        azure_endpoint("", api_version="", api_key="k")
    with pytest.raises(ValueError, match="AZURE_API_KEY and AZURE_AD_TOKEN"):
        azure_endpoint("http://x", api_version="", api_key="k", ad_token="t")
    lean = azure_endpoint("http://x/", api_version="", api_key="k")
    sdk = create_azure_client(endpoint="http://x/", api_version="", api_key="k")
    assert lean.azure_api_version == DEFAULT_API_VERSION == sdk.default_query["api-version"]
    await lean.close()
    await sdk.close()


def test_the_clients_never_retry_on_their_own() -> None:
    assert create_azure_client(endpoint="http://x", api_key="k").max_retries == 0
    assert create_openai_client(base_url="http://x/v1").max_retries == 0


def test_retry_after_prefers_milliseconds_then_seconds_then_an_http_date() -> None:
    assert retry_after_seconds({"retry-after-ms": "1500", "retry-after": "2"}) == 1.5
    assert retry_after_seconds({"retry-after": "7"}) == 7
    later = email.utils.formatdate(time.time() + 120, usegmt=True)
    assert 100 < (retry_after_seconds({"retry-after": later}) or 0) <= 120
    assert retry_after_seconds({}) is None
    assert retry_after_seconds({"retry-after": "soon"}) is None

"""Azure OpenAI and OpenAI-compatible adapters against the local fake: what is sent, what comes back."""

from __future__ import annotations

import openai
import pytest

from domain.models import Message, Usage
from tests.support.chat_completions_adapter import (
    azure_provider,
    collect,
    make_call,
    openai_provider,
    text_of,
)
from tests.vendors.azure_openai import FakeAzureOpenAI

HISTORY = (
    Message(role="user", content="my name is Ada"),
    Message(role="assistant", content="Hello Ada"),
)


async def test_generate_returns_the_answer_and_the_exact_usage_azure_reported(fake: FakeAzureOpenAI) -> None:
    async with azure_provider(fake) as provider:
        completion = await provider.generate(make_call("hello brave world"))
    assert completion.content == "Echo: hello brave world"
    assert completion.usage == Usage(prompt_tokens=3, completion_tokens=4)
    assert completion.finish_reason == "stop"
    assert completion.model == "gpt-4o"
    assert provider.name == "azure-openai"


async def test_the_request_goes_to_the_deployment_with_the_api_key_and_version(fake: FakeAzureOpenAI) -> None:
    async with azure_provider(fake) as provider:
        await provider.generate(make_call(max_tokens=77, temperature=0.0))
    [request] = fake.requests
    assert request.path == "/openai/deployments/gpt-4o/chat/completions"
    assert request.query == {"api-version": "2024-10-21"}
    assert request.headers["api-key"] == fake.api_key
    assert request.body["max_tokens"] == 77
    assert request.body["temperature"] == 0.0
    assert "stream" not in request.body


async def test_no_system_message_is_sent_when_there_is_no_system_prompt(fake: FakeAzureOpenAI) -> None:
    async with azure_provider(fake) as provider:
        await provider.generate(make_call("hi"))
    assert fake.requests[0].body["messages"] == [{"role": "user", "content": "hi"}]


async def test_the_system_prompt_is_the_first_message_when_given(fake: FakeAzureOpenAI) -> None:
    async with azure_provider(fake) as provider:
        await provider.generate(make_call("hi", system="be brief"))
    assert fake.requests[0].body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
    ]


async def test_history_is_sent_as_real_messages_and_the_answer_follows_the_last_turn(
    fake: FakeAzureOpenAI,
) -> None:
    async with azure_provider(fake) as provider:
        completion = await provider.generate(make_call("what is my name", history=HISTORY, system="s"))
    roles = [(m["role"], m["content"]) for m in fake.requests[0].body["messages"]]
    assert roles == [
        ("system", "s"),
        ("user", "my name is Ada"),
        ("assistant", "Hello Ada"),
        ("user", "what is my name"),
    ]
    assert completion.content == "Echo: what is my name"
    assert completion.usage.prompt_tokens == 1 + 4 + 2 + 4


@pytest.mark.parametrize("model", ["o4-mini", "o4mini", "gpt-5-chat"])
async def test_reasoning_models_get_max_completion_tokens_and_no_temperature(fake: FakeAzureOpenAI, model: str) -> None:
    async with azure_provider(fake) as provider:
        completion = await provider.generate(make_call(model=model, max_tokens=500, temperature=0.7))
        chunks = await collect(provider.stream(make_call(model=model, max_tokens=500, temperature=0.7)))
    assert completion.content == "Echo: hello brave world" == text_of(chunks)
    for request in fake.requests:
        assert request.body["max_completion_tokens"] == 500
        assert "max_tokens" not in request.body and "temperature" not in request.body


async def test_the_fake_refuses_max_tokens_for_a_reasoning_deployment_like_azure(fake: FakeAzureOpenAI) -> None:
    client = openai.AsyncAzureOpenAI(azure_endpoint=fake.url, api_version="2024-10-21", api_key=fake.api_key)
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(model="o4-mini", messages=[{"role": "user", "content": "x"}], max_tokens=5)
    await client.close()
    assert caught.value.code == "unsupported_parameter"


async def test_aliases_and_the_deployment_override_choose_the_deployment(fake: FakeAzureOpenAI) -> None:
    fake.deployments = fake.deployments | {"prod-gpt41"}
    async with azure_provider(fake, deployments="gpt-4.1=prod-gpt41, gpt4o=gpt-4o") as provider:
        assert provider.deployment_for("gpt4o") == "gpt-4o"
        assert provider.deployment_for("Llama-3.3-70b") == "Llama-3.3-70B-Instruct"
        assert provider.deployment_for("my-custom-deployment") == "my-custom-deployment"
        await provider.generate(make_call(model="gpt-4.1"))
    assert fake.requests[0].path == "/openai/deployments/prod-gpt41/chat/completions"


async def test_an_entra_token_is_sent_as_a_bearer_token(fake: FakeAzureOpenAI) -> None:
    async with azure_provider(fake, ad_token=fake.ad_token) as provider:
        completion = await provider.generate(make_call())
    assert completion.content == "Echo: hello brave world"
    assert fake.requests[0].headers["authorization"] == f"Bearer {fake.ad_token}"
    assert "api-key" not in fake.requests[0].headers


async def test_max_tokens_truncation_is_reported_as_finish_reason_length(fake: FakeAzureOpenAI) -> None:
    async with azure_provider(fake) as provider:
        completion = await provider.generate(make_call("one two three four five", max_tokens=2))
    assert completion.content == "Echo: one"
    assert completion.finish_reason == "length"
    assert completion.usage.completion_tokens == 2


async def test_stream_yields_the_deltas_then_one_chunk_with_the_exact_usage(fake: FakeAzureOpenAI) -> None:
    fake.script.chunks = 6
    async with azure_provider(fake) as provider:
        chunks = await collect(provider.stream(make_call("hello brave world", system="be kind")))
    *deltas, last = chunks
    assert len(deltas) == 6 and all(chunk.text for chunk in deltas)
    assert text_of(deltas) == "Echo: hello brave world Echo: hello"
    assert last.text == "" and last.finish_reason == "stop"
    assert last.usage == Usage(prompt_tokens=5, completion_tokens=6)


async def test_stream_asks_for_the_final_usage_chunk(fake: FakeAzureOpenAI) -> None:
    async with azure_provider(fake) as provider:
        await collect(provider.stream(make_call()))
    body = fake.requests[0].body
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert fake.requests[0].closed_early is False


async def test_a_stream_and_a_whole_answer_to_the_same_call_have_the_same_text(fake: FakeAzureOpenAI) -> None:
    call = make_call("tell me something", history=HISTORY)
    async with azure_provider(fake) as provider:
        completion = await provider.generate(call)
        chunks = await collect(provider.stream(call))
    assert text_of(chunks) == completion.content
    assert chunks[-1].usage == completion.usage


# ---- OpenAI-compatible ---------------------------------------------------------------------------


async def test_openai_compatible_generate_uses_v1_with_a_bearer_key_and_the_model_in_the_body(
    fake: FakeAzureOpenAI,
) -> None:
    async with openai_provider(fake) as provider:
        completion = await provider.generate(make_call("hi there", model="llama3.1:8b"))
    assert provider.name == "openai"
    assert completion.content == "Echo: hi there"
    assert completion.usage == Usage(prompt_tokens=2, completion_tokens=3)
    [request] = fake.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {fake.api_key}"
    assert request.body["model"] == "llama3.1:8b"
    assert request.body["max_tokens"] == 256


async def test_openai_compatible_stream_reads_the_usage_chunk(fake: FakeAzureOpenAI) -> None:
    async with openai_provider(fake) as provider:
        chunks = await collect(provider.stream(make_call("stream this please", model="gpt-4o-mini")))
    assert text_of(chunks) == "Echo: stream this please"
    assert chunks[-1].usage == Usage(prompt_tokens=3, completion_tokens=4)
    assert chunks[-1].finish_reason == "stop"


async def test_openai_reasoning_models_get_max_completion_tokens(fake: FakeAzureOpenAI) -> None:
    async with openai_provider(fake) as provider:
        completion = await provider.generate(make_call(model="o3-mini", max_tokens=99))
    assert completion.content == "Echo: hello brave world"
    assert fake.requests[0].body["max_completion_tokens"] == 99
    assert "temperature" not in fake.requests[0].body

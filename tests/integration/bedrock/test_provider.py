"""BedrockProvider against the fake Bedrock runtime: what it sends and what it makes of the answers.

Every request the fake accepts has passed validation against botocore's own
``bedrock-runtime`` model, so a green test also says the body is one the real
service would take.
"""

from __future__ import annotations

import msgspec
import pytest

from domain.content import Sampling
from domain.errors import UpstreamBadRequest
from domain.models import Message, Usage
from tests.support.bedrock_adapter import ACCESS_KEY, CLAUDE, TITAN, bedrock_provider, collect, make_call
from tests.vendors.bedrock import Script, answer_for
from tests.vendors.bedrock_rules import RequestInvalid
from tests.vendors.bedrock_schema import validate_request

FAMILIES = [
    CLAUDE,
    "us.meta.llama3-3-70b-instruct-v1:0",
    TITAN,
    "us.amazon.nova-pro-v1:0",
    "us.mistral.pixtral-large-2502-v1:0",
    "us.deepseek.r1-v1:0",
]


async def test_generate_returns_the_answer_and_the_exact_usage_bedrock_reported(fake, provider):
    fake.script = Script(input_tokens=123, output_tokens=45)

    completion = await provider.generate(make_call("what is a gateway"))

    assert completion.content == answer_for("what is a gateway")
    assert completion.usage == Usage(prompt_tokens=123, completion_tokens=45)
    assert completion.finish_reason == "stop"
    assert completion.model == CLAUDE
    assert provider.name == "aws-bedrock"


async def test_stream_yields_each_delta_then_one_chunk_with_usage_and_finish_reason(fake, provider):
    fake.script = Script(chunks=5, input_tokens=11, output_tokens=7)

    chunks = await collect(provider, make_call("stream this please"))

    assert len(chunks) == 6
    assert "".join(chunk.text for chunk in chunks[:-1]) == answer_for("stream this please")
    assert all(chunk.usage is None for chunk in chunks[:-1])
    assert chunks[-1].usage == Usage(prompt_tokens=11, completion_tokens=7)
    assert chunks[-1].finish_reason == "stop"
    assert fake.requests[-1].operation == "ConverseStream"


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("max_tokens", "length"),
        ("stop_sequence", "stop"),
        ("content_filtered", "content_filter"),
        ("guardrail_intervened", "content_filter"),
    ],
)
async def test_bedrock_stop_reasons_become_finish_reasons(fake, provider, stop_reason, finish_reason):
    fake.script = Script(stop_reason=stop_reason)

    completion = await provider.generate(make_call())
    chunks = await collect(provider, make_call())

    assert completion.finish_reason == finish_reason
    assert chunks[-1].finish_reason == finish_reason


@pytest.mark.parametrize("model", FAMILIES)
async def test_every_text_family_is_asked_through_converse_with_a_valid_body(fake, provider, model):
    history = (Message(role="user", content="earlier"), Message(role="assistant", content="ok"))
    call = make_call("hi there", model=model, history=history, system="be brief")

    completion = await provider.generate(call)
    chunks = await collect(provider, call)

    assert completion.content == answer_for("hi there")
    assert "".join(chunk.text for chunk in chunks) == answer_for("hi there")
    for request in fake.requests:
        assert request.model_id == model
        assert request.status == 200
        validate_request(request.operation, request.model_id, request.body)


async def test_the_system_prompt_goes_in_a_system_block_for_models_that_take_one(fake, provider):
    await provider.generate(make_call("hello", system="You are terse."))

    body = fake.requests[-1].body
    assert body["system"] == [{"text": "You are terse."}]
    assert body["messages"] == [{"role": "user", "content": [{"text": "hello"}]}]


async def test_the_system_prompt_is_folded_into_the_first_user_turn_for_titan(fake, provider):
    history = (Message(role="user", content="first"), Message(role="assistant", content="answer one"))

    await provider.generate(make_call("second", model=TITAN, history=history, system="You are terse."))

    body = fake.requests[-1].body
    assert "system" not in body
    assert body["messages"][0] == {"role": "user", "content": [{"text": "You are terse.\n\nfirst"}]}
    assert body["messages"][2] == {"role": "user", "content": [{"text": "second"}]}


async def test_a_titan_family_id_unknown_to_the_catalogue_also_gets_the_system_prompt_folded(fake, provider):
    await provider.generate(make_call("hello", model="amazon.titan-text-premier-v1:0", system="Be kind."))

    body = fake.requests[-1].body
    assert "system" not in body
    assert body["messages"][0]["content"] == [{"text": "Be kind.\n\nhello"}]


async def test_a_system_block_sent_to_titan_is_refused_with_bedrock_s_message(fake):
    async with bedrock_provider(fake, supports_system=lambda model_id: True) as adapter:
        with pytest.raises(UpstreamBadRequest, match="doesn't support system messages"):
            await adapter.generate(make_call("hello", model=TITAN, system="Be kind."))


async def test_session_history_is_sent_as_alternating_messages_in_order(fake, provider):
    history = (
        Message(role="user", content="my name is Ana"),
        Message(role="assistant", content="hello Ana"),
        Message(role="user", content="I like tea"),
        Message(role="assistant", content="noted"),
    )

    await provider.generate(make_call("what is my name", history=history))

    sent = [(m["role"], m["content"][0]["text"]) for m in fake.requests[-1].body["messages"]]
    assert sent == [
        ("user", "my name is Ana"),
        ("assistant", "hello Ana"),
        ("user", "I like tea"),
        ("assistant", "noted"),
        ("user", "what is my name"),
    ]


async def test_history_is_made_to_alternate_and_to_start_with_the_user(fake, provider):
    history = (
        Message(role="assistant", content="an answer whose question was trimmed"),
        Message(role="user", content="one"),
        Message(role="user", content="two"),
    )

    await provider.generate(make_call("three", history=history))

    assert fake.requests[-1].body["messages"] == [{"role": "user", "content": [{"text": "one\n\ntwo\n\nthree"}]}]


async def test_inference_config_carries_max_tokens_and_temperature_within_bedrock_range(fake, provider):
    await provider.generate(make_call(max_tokens=77, temperature=0.0))
    await provider.generate(make_call(max_tokens=78, temperature=1.6))

    configs = [request.body["inferenceConfig"] for request in fake.requests]
    assert configs == [{"maxTokens": 77, "temperature": 0.0}, {"maxTokens": 78, "temperature": 1.0}]


async def test_the_model_id_travels_url_encoded_even_as_an_inference_profile_arn(fake, provider):
    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0"

    await provider.generate(make_call(model=arn))

    assert fake.requests[-1].model_id == arn


async def test_explicit_keys_sign_requests_with_sigv4_for_the_bedrock_service(fake, provider):
    await provider.generate(make_call())

    authorization = fake.requests[-1].headers["authorization"]
    assert authorization.startswith(f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/")
    assert "/us-east-1/bedrock/aws4_request" in authorization


async def test_a_bearer_token_is_sent_as_a_bearer_authorization(fake):
    async with bedrock_provider(fake, access_key_id=None, secret_access_key=None, bearer_token="br-key-1") as adapter:
        await adapter.generate(make_call())
        await collect(adapter, make_call())

    assert [request.headers["authorization"] for request in fake.requests] == ["Bearer br-key-1"] * 2


async def test_claude_names_the_stop_sequence_that_cut_its_answer_when_asked_plain_and_streamed(fake, provider):
    call = msgspec.structs.replace(make_call("stop at the END here"), sampling=Sampling(stop=("END", "never")))

    completion = await provider.generate(call)
    chunks = await collect(provider, call)

    assert fake.requests[-1].body["additionalModelResponseFieldPaths"] == ["/stop_sequence"]
    assert completion.content == "Bedrock answers: stop at the "
    assert (completion.finish_reason, completion.stop_sequence) == ("stop", "END")
    assert "".join(chunk.text for chunk in chunks) == "Bedrock answers: stop at the "
    assert (chunks[-1].finish_reason, chunks[-1].stop_sequence) == ("stop", "END")


async def test_a_stop_sequence_never_met_is_no_stop_sequence(fake, provider):
    call = msgspec.structs.replace(make_call("nothing to cut"), sampling=Sampling(stop=("never",)))

    completion = await provider.generate(call)
    chunks = await collect(provider, call)

    assert (completion.finish_reason, completion.stop_sequence) == ("stop", None)
    assert chunks[-1].stop_sequence is None


async def test_only_claude_is_asked_for_the_stop_sequence_and_only_with_stop_sequences(fake, provider):
    nova = msgspec.structs.replace(
        make_call("cut at END", model="us.amazon.nova-pro-v1:0"), sampling=Sampling(stop=("END",))
    )

    completion = await provider.generate(nova)
    await provider.generate(make_call("no stop sequences"))

    assert "additionalModelResponseFieldPaths" not in fake.requests[-2].body
    assert "additionalModelResponseFieldPaths" not in fake.requests[-1].body
    assert (completion.finish_reason, completion.stop_sequence) == ("stop", None)  # Bedrock did not say which


def test_the_fake_refuses_a_response_field_path_that_is_not_a_json_pointer():
    body = {"messages": [{"role": "user", "content": [{"text": "hi"}]}], "additionalModelResponseFieldPaths": ["x"]}
    with pytest.raises(RequestInvalid, match="JSON pointer"):
        validate_request("Converse", CLAUDE, body, {})

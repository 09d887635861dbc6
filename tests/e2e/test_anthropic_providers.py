"""The Anthropic door in front of each real provider: Bedrock, Azure OpenAI and OpenAI-compatible, through their fakes.

The ``anthropic`` SDK is the client; the fakes validate every request as their
vendor does (a wrong request is their 400; the Bedrock fake takes a reasoning
block back only with the signature it gave, over the very text), so an answer
proves the mapping. What went upstream is read from the fakes' records: a
Claude model on Bedrock gets the client's cache points exactly where the
client put them, and ``top_k``. Upstream errors come back as the SDK's classes.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from tests.support.server import ServerProcess
from tests.support.upstreams import ThreadedFake
from tests.vendors import bedrock_script, openai_script
from tests.vendors.azure_openai import FakeAzureOpenAI
from tests.vendors.bedrock import FakeBedrock

Bedrock = ThreadedFake[FakeBedrock]
Upstream = ThreadedFake[FakeAzureOpenAI]
CLAUDE = "bedrock/us.anthropic.claude-3-7-sonnet-20250219-v1:0"
MODELS = [
    pytest.param(CLAUDE, id="bedrock"),
    pytest.param("azure/gpt-4o", id="azure"),
    pytest.param("openai/gpt-4o-mini", id="openai"),
]
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(24))
WEATHER: Any = {
    "name": "get_weather",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
EPHEMERAL: Any = {"type": "ephemeral"}
LONG_SYSTEM = "You are a careful assistant who answers in full sentences. " * 120  # past Claude's 1024-token floor


@pytest.fixture(scope="module")
def bedrock() -> Iterator[Bedrock]:
    with ThreadedFake(FakeBedrock) as running:
        yield running


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with ThreadedFake(lambda: FakeAzureOpenAI(openai_models=frozenset({"gpt-4o-mini"}))) as running:
        yield running


@pytest.fixture(scope="module")
def gateway(bedrock: Bedrock, upstream: Upstream) -> Iterator[ServerProcess]:
    env = {
        "CACHE_ENABLED": "false",
        "LOG_LEVEL": "warning",
        "PROVIDER_MAX_RETRIES": "0",
        "CIRCUIT_FAILURE_THRESHOLD": "1000",
        "AWS_BEDROCK_ENDPOINT_URL": bedrock.fake.url,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "fake-secret",
        "AZURE_ENDPOINT": upstream.fake.url,
        "AZURE_API_KEY": upstream.fake.api_key,
        "OPENAI_BASE_URL": upstream.fake.openai_base_url,
        "OPENAI_API_KEY": upstream.fake.api_key,
        "OPENAI_MODELS": "gpt-4o-mini",
    }
    with ServerProcess(env) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_upstreams(bedrock: Bedrock, upstream: Upstream) -> None:
    async def reset_bedrock() -> None:
        bedrock.fake.script = bedrock_script.Script()
        bedrock.fake.requests.clear()

    async def reset_openai() -> None:
        upstream.fake.script = openai_script.Script()
        upstream.fake.requests.clear()

    bedrock.run(reset_bedrock())
    upstream.run(reset_openai())


@pytest.fixture(scope="module")
def sdk(gateway: ServerProcess) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.base_url, api_key="x", max_retries=0)


def user(text: str) -> Any:
    return {"role": "user", "content": text}


def script_call(model: str, bedrock: Bedrock, upstream: Upstream, name: str, arguments: dict[str, Any]) -> None:
    if model == CLAUDE:
        bedrock.fake.script = bedrock_script.Script(tool_calls=(bedrock_script.ScriptedCall(name, arguments),))
    else:
        upstream.fake.script = openai_script.Script(tool_calls=[(name, json.dumps(arguments))])


@pytest.mark.parametrize("model", MODELS)
def test_a_plain_and_a_streamed_message(sdk: anthropic.Anthropic, model: str) -> None:
    message = sdk.messages.create(model=model, max_tokens=200, messages=[user("hello there")])
    assert message.content[0].type == "text" and message.content[0].text
    assert message.stop_reason == "end_turn" and message.usage.output_tokens > 0 and message.usage.input_tokens > 0
    with sdk.messages.stream(model=model, max_tokens=200, messages=[user("stream it")]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text and final.content[0].text == text  # type: ignore[union-attr]
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0


def test_a_bedrock_claude_stop_sequence_is_named_plain_and_streamed(sdk: anthropic.Anthropic, bedrock: Bedrock) -> None:
    bedrock.fake.script = bedrock_script.Script(answer="first part END second part")
    ask: Any = {"model": CLAUDE, "max_tokens": 200, "stop_sequences": ["END"], "messages": [user("cut it")]}
    message = sdk.messages.create(**ask)
    with sdk.messages.stream(**ask) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert bedrock.fake.requests[-1].body["additionalModelResponseFieldPaths"] == ["/stop_sequence"]
    assert message.content[0].text == text == "first part "  # type: ignore[union-attr]
    for answer in (message, final):
        assert answer.stop_reason == "stop_sequence" and answer.stop_sequence == "END"


@pytest.mark.parametrize("model", ["azure/gpt-4o", "openai/gpt-4o-mini"])
def test_an_openai_style_upstream_does_not_say_which_stop_sequence_so_the_answer_ends_its_turn(
    sdk: anthropic.Anthropic, upstream: Upstream, model: str
) -> None:
    message = sdk.messages.create(model=model, max_tokens=200, stop_sequences=["END"], messages=[user("hello")])
    assert upstream.fake.requests[-1].body["stop"] == ["END"]
    assert message.stop_reason == "end_turn" and message.stop_sequence is None


@pytest.mark.parametrize("model", MODELS)
def test_a_tool_round_trip_with_an_image(
    sdk: anthropic.Anthropic, bedrock: Bedrock, upstream: Upstream, model: str
) -> None:
    script_call(model, bedrock, upstream, "get_weather", {"city": "Lima"})
    image = {"type": "base64", "media_type": "image/png", "data": base64.b64encode(PNG).decode()}
    asked: Any = {
        "role": "user",
        "content": [{"type": "text", "text": "weather here?"}, {"type": "image", "source": image}],
    }
    first = sdk.messages.create(model=model, max_tokens=300, messages=[asked], tools=[WEATHER])
    [call] = [block for block in first.content if block.type == "tool_use"]
    assert first.stop_reason == "tool_use" and call.input == {"city": "Lima"}
    echoed: Any = {"role": "assistant", "content": [block.model_dump() for block in first.content]}
    result: Any = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "18 C"}]}
    final = sdk.messages.create(model=model, max_tokens=300, messages=[asked, echoed, result], tools=[WEATHER])
    assert final.stop_reason == "end_turn" and final.content[0].type == "text"


def test_claude_thinking_and_redacted_thinking_go_back_to_bedrock_unchanged(
    sdk: anthropic.Anthropic, bedrock: Bedrock
) -> None:
    bedrock.fake.script = bedrock_script.Script(reasoning="Lima is on the coast.", redacted_reasoning=b"\x01\xffsecret")
    asked: Any = {"model": CLAUDE, "max_tokens": 3000, "thinking": {"type": "enabled", "budget_tokens": 1024}}
    with sdk.messages.stream(**asked, messages=[user("where is Lima?")]) as stream:
        first = stream.get_final_message()
    thinking, redacted, text = first.content
    assert thinking.type == "thinking" and thinking.thinking == "Lima is on the coast." and thinking.signature
    assert redacted.type == "redacted_thinking" and base64.b64decode(redacted.data) == b"\x01\xffsecret"
    assert text.type == "text"
    sent = bedrock.fake.requests[-1].body
    assert sent["additionalModelRequestFields"]["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    history: Any = [user("where is Lima?"), {"role": "assistant", "content": [b.model_dump() for b in first.content]}]
    second = sdk.messages.create(**asked, messages=[*history, user("and its weather?")])
    assert second.stop_reason == "end_turn"
    back = bedrock.fake.requests[-1].body["messages"][1]["content"]
    assert back[0] == {
        "reasoningContent": {"reasoningText": {"text": thinking.thinking, "signature": thinking.signature}}
    }
    assert base64.b64decode(back[1]["reasoningContent"]["redactedContent"]) == b"\x01\xffsecret"
    forged: Any = {**thinking.model_dump(), "signature": "forged"}
    with pytest.raises(anthropic.BadRequestError, match="signature"):
        sdk.messages.create(
            **asked, messages=[user("where is Lima?"), {"role": "assistant", "content": [forged]}, user("?")]
        )


def test_claude_gets_the_clients_cache_points_exactly_and_reports_cache_usage(
    sdk: anthropic.Anthropic, bedrock: Bedrock
) -> None:
    tools: Any = [WEATHER, {**WEATHER, "name": "get_rain", "cache_control": EPHEMERAL}]
    messages: Any = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "a long document", "cache_control": EPHEMERAL},
                {"type": "text", "text": "what does it say?"},
            ],
        }
    ]
    system: Any = [{"type": "text", "text": LONG_SYSTEM, "cache_control": EPHEMERAL}]
    ask: Any = {"model": CLAUDE, "max_tokens": 200, "system": system, "tools": tools, "messages": messages}
    first = sdk.messages.create(**ask)
    sent = bedrock.fake.requests[-1].body
    assert sent["system"] == [{"text": LONG_SYSTEM}, {"cachePoint": {"type": "default"}}]
    assert sent["toolConfig"]["tools"][-1] == {"cachePoint": {"type": "default"}}
    assert [list(block) for block in sent["messages"][0]["content"]] == [["text"], ["cachePoint"], ["text"]]
    second = sdk.messages.create(**ask)
    assert first.usage.cache_creation_input_tokens > 0 and first.usage.cache_read_input_tokens == 0
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.input_tokens == first.usage.input_tokens


def test_without_cache_control_bedrock_gets_the_gateways_own_point_only(
    sdk: anthropic.Anthropic, bedrock: Bedrock
) -> None:
    sdk.messages.create(model=CLAUDE, max_tokens=50, system=LONG_SYSTEM, messages=[user("hi")])
    sent = bedrock.fake.requests[-1].body
    assert sent["system"][-1] == {"cachePoint": {"type": "default"}}
    assert not any("cachePoint" in block for block in sent["messages"][0]["content"])


def test_top_k_reaches_claude_and_is_not_sent_to_openai(
    sdk: anthropic.Anthropic, bedrock: Bedrock, upstream: Upstream
) -> None:
    sdk.messages.create(model=CLAUDE, max_tokens=50, messages=[user("hi")], extra_body={"top_k": 7, "top_p": 0.5})
    sent = bedrock.fake.requests[-1].body
    assert sent["additionalModelRequestFields"] == {"top_k": 7} and sent["inferenceConfig"]["topP"] == 0.5
    sdk.messages.create(model="azure/gpt-4o", max_tokens=50, messages=[user("hi")], extra_body={"top_k": 7})
    assert "top_k" not in upstream.fake.requests[-1].body


@pytest.mark.parametrize(
    ("failure", "error_class", "status"),
    [
        (bedrock_script.HttpFailure("ThrottlingException"), anthropic.RateLimitError, 429),
        (bedrock_script.HttpFailure("ValidationException"), anthropic.BadRequestError, 400),
        (bedrock_script.HttpFailure("InternalServerException"), anthropic.InternalServerError, 502),
    ],
)
def test_bedrock_failures_are_the_sdks_own_classes(
    sdk: anthropic.Anthropic,
    bedrock: Bedrock,
    failure: bedrock_script.HttpFailure,
    error_class: type[anthropic.APIStatusError],
    status: int,
) -> None:
    bedrock.fake.script = bedrock_script.Script(failure=failure)
    with pytest.raises(error_class) as caught:
        sdk.messages.create(model=CLAUDE, max_tokens=50, messages=[user("fail")])
    assert caught.value.status_code == status
    body = caught.value.body
    assert isinstance(body, dict) and body["type"] == "error" and set(body["error"]) == {"type", "message"}
    if status == 429:
        assert body["error"]["type"] == "rate_limit_error" and int(caught.value.response.headers["retry-after"]) >= 1


def test_a_failure_after_the_stream_started_is_an_error_event_the_sdk_raises(
    sdk: anthropic.Anthropic, upstream: Upstream
) -> None:
    upstream.fake.fail("reset_mid_stream", after_chunks=1)
    received: list[str] = []
    streamed = sdk.messages.stream(model="openai/gpt-4o-mini", max_tokens=50, messages=[user("cut short")])
    with pytest.raises(anthropic.APIStatusError) as caught, streamed as stream:
        for event in stream:
            received.append(event.type)
    assert received[0] == "message_start" and "message_stop" not in received
    assert isinstance(caught.value.body, dict) and caught.value.body["type"] == "error"


def test_count_tokens_is_bedrocks_own_count_for_claude_and_an_estimate_elsewhere(
    sdk: anthropic.Anthropic, bedrock: Bedrock
) -> None:
    words: Any = [user("five words are counted here")]
    raw = sdk.messages.with_raw_response.count_tokens(model=CLAUDE, system="two words", messages=words)
    assert raw.headers["x-token-count-estimated"] == "false" and raw.parse().input_tokens == 7
    counted = bedrock.fake.requests[-1]
    assert counted.operation == "CountTokens" and counted.body["input"]["converse"]["messages"][0]["role"] == "user"
    with_tools = sdk.messages.with_raw_response.count_tokens(model=CLAUDE, messages=words, tools=[WEATHER])
    assert with_tools.headers["x-token-count-estimated"] == "true" and with_tools.parse().input_tokens > 5
    for model in ("bedrock/us.anthropic.claude-3-haiku-20240307-v1:0", "azure/gpt-4o"):  # no CountTokens there
        other = sdk.messages.with_raw_response.count_tokens(model=model, messages=words)
        assert other.headers["x-token-count-estimated"] == "true" and other.parse().input_tokens >= 1

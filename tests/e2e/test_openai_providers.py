"""The OpenAI door in front of each real provider: Bedrock, Azure OpenAI and OpenAI-compatible, through their fakes.

The ``openai`` SDK is the client; the fakes validate every request as their
vendor does (a wrong request is their 400), so an answer proves the mapping;
errors scripted on the upstream must come back as the SDK's own classes.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import openai
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
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


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
def sdk(gateway: ServerProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.base_url + "/v1", api_key="x", max_retries=0)


def script_call(model: str, bedrock: Bedrock, upstream: Upstream, name: str, arguments: dict[str, Any]) -> None:
    if model == CLAUDE:
        bedrock.fake.script = bedrock_script.Script(tool_calls=(bedrock_script.ScriptedCall(name, arguments),))
    else:
        upstream.fake.script = openai_script.Script(tool_calls=[(name, json.dumps(arguments))])


@pytest.mark.parametrize("model", MODELS)
def test_a_plain_and_a_streamed_completion(sdk: openai.OpenAI, model: str) -> None:
    completion = sdk.chat.completions.create(model=model, messages=[{"role": "user", "content": "hello there"}])
    assert completion.choices[0].message.content and completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.completion_tokens > 0
    chunks = list(
        sdk.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "stream it"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert [c for c in chunks if c.usage is not None] == [chunks[-1]]


@pytest.mark.parametrize("model", MODELS)
def test_a_tool_round_trip_with_an_image(sdk: openai.OpenAI, bedrock: Bedrock, upstream: Upstream, model: str) -> None:
    script_call(model, bedrock, upstream, "get_weather", {"city": "Lima"})
    url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    asked: Any = {
        "role": "user",
        "content": [{"type": "text", "text": "weather here?"}, {"type": "image_url", "image_url": {"url": url}}],
    }
    first = sdk.chat.completions.create(model=model, messages=[asked], tools=[WEATHER])
    [call] = first.choices[0].message.tool_calls or []
    assert first.choices[0].finish_reason == "tool_calls" and json.loads(call.function.arguments) == {"city": "Lima"}
    echoed = first.choices[0].message.model_dump(exclude_none=True)
    result = {"role": "tool", "tool_call_id": call.id, "content": "18 C and cloudy"}
    final = sdk.chat.completions.create(model=model, messages=[asked, echoed, result], tools=[WEATHER])
    assert final.choices[0].finish_reason == "stop" and final.choices[0].message.content


@pytest.mark.parametrize(
    ("kind", "error_class", "status"),
    [
        ("rate_limit", openai.RateLimitError, 429),
        ("content_filter", openai.BadRequestError, 400),
        ("server_error", openai.InternalServerError, 502),
        ("auth", openai.InternalServerError, 502),
    ],
)
def test_upstream_failures_are_the_sdks_own_classes(
    sdk: openai.OpenAI, upstream: Upstream, kind: openai_script.FailureKind, error_class: type[Exception], status: int
) -> None:
    upstream.fake.fail(kind, retry_after=3)
    with pytest.raises(error_class) as caught:
        sdk.chat.completions.create(model="azure/gpt-4o", messages=[{"role": "user", "content": f"fail {kind}"}])
    error = caught.value
    assert isinstance(error, openai.APIStatusError) and error.status_code == status
    assert isinstance(error.body, dict) and {"message", "type", "param", "code"} <= set(error.body)
    if status == 429:
        assert error.response.headers["retry-after"] == "3"


def test_a_failure_after_the_stream_started_is_raised_by_the_sdk_mid_stream(
    sdk: openai.OpenAI, upstream: Upstream
) -> None:
    upstream.fake.fail("reset_mid_stream", after_chunks=1)
    stream = sdk.chat.completions.create(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "cut me short"}], stream=True
    )
    received: list[Any] = []
    with pytest.raises(openai.APIError, match=r"upstream|connection"):
        for chunk in stream:
            received.append(chunk)
    assert received and received[0].choices[0].delta.role == "assistant"

"""The Responses door in front of each real provider: Bedrock, Azure OpenAI and OpenAI-compatible, through their fakes.

The fakes validate every request as their vendor does, so an answer proves the
mapping (a chain's history through ``previous_response_id`` included); errors
scripted upstream come back as the SDK's own classes, a failure after the stream
started as ``error`` and ``response.failed`` events.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.e2e.test_openai_providers import CLAUDE, MODELS, PNG, Bedrock, Upstream, script_call

# The chat-completions door's fakes and gateway, shared (one set of upstream fakes per module run).
from tests.e2e.test_openai_providers import bedrock as bedrock
from tests.e2e.test_openai_providers import fresh_upstreams as fresh_upstreams
from tests.e2e.test_openai_providers import gateway as gateway
from tests.e2e.test_openai_providers import upstream as upstream
from tests.support.server import ServerProcess

WEATHER: Any = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.fixture(scope="module")
def sdk(gateway: ServerProcess) -> Iterator[openai.OpenAI]:
    yield openai.OpenAI(base_url=gateway.base_url + "/v1", api_key="x", max_retries=0)


@pytest.mark.parametrize("model", MODELS)
def test_a_plain_and_a_streamed_response(sdk: openai.OpenAI, model: str) -> None:
    created = sdk.responses.create(model=model, input="hello there", instructions="be kind")
    assert created.status == "completed" and created.output_text
    assert created.usage is not None and created.usage.output_tokens > 0
    events = list(sdk.responses.create(model=model, input="stream it", stream=True))
    assert events[-1].type == "response.completed"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text and events[-1].response.output_text == text


@pytest.mark.parametrize("model", MODELS)
def test_a_tool_round_trip_with_an_image_through_previous_response_id(
    sdk: openai.OpenAI,
    bedrock: Bedrock,
    upstream: Upstream,
    model: str,
) -> None:
    script_call(model, bedrock, upstream, "get_weather", {"city": "Lima"})
    url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    asked: Any = [{"role": "user", "content": [{"type": "input_text", "text": "weather here?"},
                                               {"type": "input_image", "image_url": url}]}]  # fmt: skip
    first = sdk.responses.create(model=model, input=asked, tools=[WEATHER])
    [call] = [item for item in first.output if item.type == "function_call"]
    assert call.name == "get_weather" and call.arguments
    result: Any = [{"type": "function_call_output", "call_id": call.call_id, "output": "18 C and cloudy"}]
    final = sdk.responses.create(model=model, input=result, tools=[WEATHER], previous_response_id=first.id)
    assert final.status == "completed" and final.output_text
    if model == CLAUDE:  # the fake saw the whole chain: the call and its result, in Converse's shape
        sent = bedrock.fake.requests[-1].body["messages"]
        assert [m["role"] for m in sent] == ["user", "assistant", "user"]


def test_upstream_rate_limit_is_the_sdks_rate_limit_error(sdk: openai.OpenAI, upstream: Upstream) -> None:
    upstream.fake.fail("rate_limit", retry_after=3)
    with pytest.raises(openai.RateLimitError) as caught:
        sdk.responses.create(model="azure/gpt-4o", input="fail rate_limit")
    assert caught.value.response.headers["retry-after"] == "3"


def test_a_failure_after_the_stream_started_is_a_failed_response(sdk: openai.OpenAI, upstream: Upstream) -> None:
    upstream.fake.fail("reset_mid_stream", after_chunks=1)
    events = list(sdk.responses.create(model="openai/gpt-4o-mini", input="cut me short", stream=True))
    kinds = [event.type for event in events]
    assert kinds[0] == "response.created" and kinds[-2:] == ["error", "response.failed"]
    failed: Any = events[-1]
    assert failed.response.status == "failed" and failed.response.error.message

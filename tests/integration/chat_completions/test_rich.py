"""Rich conversations through Azure OpenAI and an OpenAI-compatible server, over both upstream clients.

Tool calls and results, parallel and streamed calls, tool choice, images,
structured output, reasoning models and the richer usage: what the adapters
send (checked against the fake's copy of OpenAI's rules) and what they make of
the answers. Each test runs through the SDK and the lean HTTP client (``fake``).
"""

from __future__ import annotations

import base64
import json

import pytest

from domain.content import (
    ImagePart,
    OutputFormat,
    ReasoningConfig,
    ReasoningDelta,
    ReasoningPart,
    Sampling,
    TextPart,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    ToolSpec,
)
from domain.errors import UpstreamBadRequest
from domain.models import Message, ProviderCall, ProviderChunk
from tests.support.chat_completions_adapter import azure_provider, collect, openai_provider, text_of
from tests.vendors.azure_openai import FakeAzureOpenAI

WEATHER = ToolSpec(
    name="get_weather",
    description="The weather in a city",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
TIME = ToolSpec(name="get_time", parameters={"type": "object", "properties": {"zone": {"type": "string"}}})
QUESTION = Message(role="user", content="weather and time in Paris?")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def rich_call(*messages: Message, model: str = "gpt-4o", **options: object) -> ProviderCall:
    return ProviderCall(model=model, messages=messages or (QUESTION,), max_tokens=200, temperature=0.5, **options)  # type: ignore[arg-type]


def assembled(chunks: list[ProviderChunk]) -> dict[int, tuple[str, str, str]]:
    """The streamed tool calls by index, as a consumer rebuilds them: (id, name, arguments)."""
    calls: dict[int, tuple[str, str, str]] = {}
    for chunk in chunks:
        for delta in chunk.tool_calls:
            call_id, name, arguments = calls.get(delta.index, (delta.id, delta.name, ""))
            calls[delta.index] = (call_id, name, arguments + delta.arguments)
    return calls


# ---- tool calls ----------------------------------------------------------------------------------


async def test_a_two_step_tool_conversation_sends_the_call_and_its_result_back(fake: FakeAzureOpenAI) -> None:
    fake.script.tool_calls = [("get_weather", '{"city": "Paris"}')]
    async with azure_provider(fake) as provider:
        first = await provider.generate(rich_call(tools=(WEATHER,)))
        [call] = first.tool_calls
        result = Message(role="tool", parts=(ToolResultPart(call_id=call.id, content="18 C and sunny"),))
        second = await provider.generate(
            rich_call(QUESTION, Message(role="assistant", parts=first.tool_calls), result, tools=(WEATHER,))
        )
    assert (call.name, call.arguments, first.finish_reason, first.content) == (
        "get_weather",
        '{"city": "Paris"}',
        "tool_calls",
        "",
    )
    assert second.content == "Result: 18 C and sunny" and second.finish_reason == "stop"
    sent = fake.requests[0].body
    assert sent["tools"] == [
        {
            "type": "function",
            "function": {"name": "get_weather", "parameters": WEATHER.parameters, "description": WEATHER.description},
        }
    ]
    assert sent["tool_choice"] == "auto" and sent["parallel_tool_calls"] is True
    assert fake.requests[1].body["messages"][1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": call.id, "type": "function", "function": {"name": "get_weather", "arguments": call.arguments}}
            ],
        },
        {"role": "tool", "tool_call_id": call.id, "content": "18 C and sunny"},
    ]


async def test_parallel_tool_calls_come_back_together_and_each_result_is_its_own_tool_message(
    fake: FakeAzureOpenAI,
) -> None:
    fake.script.tool_calls = [("get_weather", '{"city": "Paris"}'), ("get_time", '{"zone": "CET"}')]
    async with openai_provider(fake) as provider:
        first = await provider.generate(rich_call(model="gpt-4o-mini", tools=(WEATHER, TIME)))
        weather, time = first.tool_calls
        results = Message(
            role="tool",
            parts=(ToolResultPart(call_id=weather.id, content="18 C"), ToolResultPart(call_id=time.id, content="9:00")),
        )
        answer = Message(role="assistant", parts=(TextPart(text="Looking."), *first.tool_calls))
        second = await provider.generate(
            rich_call(QUESTION, answer, results, model="gpt-4o-mini", tools=(WEATHER, TIME))
        )
    assert [(c.name, c.arguments) for c in first.tool_calls] == fake.script.tool_calls
    assert weather.id != time.id
    assert second.content == "Result: 18 C 9:00"
    tool_messages = fake.requests[1].body["messages"][2:]
    assert [(m["role"], m["tool_call_id"]) for m in tool_messages] == [("tool", weather.id), ("tool", time.id)]
    assert fake.requests[1].body["messages"][1]["content"] == "Looking."


async def test_parallel_tool_calls_off_is_sent_and_keeps_one_call(fake: FakeAzureOpenAI) -> None:
    fake.script.tool_calls = [("get_weather", '{"city": "Paris"}'), ("get_time", "{}")]
    async with azure_provider(fake) as provider:
        completion = await provider.generate(rich_call(tools=(WEATHER, TIME), parallel_tool_calls=False))
    assert fake.requests[0].body["parallel_tool_calls"] is False
    assert [c.name for c in completion.tool_calls] == ["get_weather"]


async def test_streamed_parallel_tool_calls_arrive_as_fragments_by_index_and_assemble(fake: FakeAzureOpenAI) -> None:
    fake.script.tool_calls = [("get_weather", '{"city": "Paris", "unit": "C"}'), ("get_time", '{"zone": "CET"}')]
    async with azure_provider(fake) as provider:
        chunks = await collect(provider.stream(rich_call(tools=(WEATHER, TIME))))
    deltas = [delta for chunk in chunks for delta in chunk.tool_calls]
    assert [d.index for d in deltas if d.id] == [0, 1]  # id and name only on each call's first fragment
    assert all(not d.name for d in deltas if not d.id)
    assert len([d for d in deltas if d.index == 0 and d.arguments]) >= 2  # the arguments came in pieces
    assert [d.index for d in deltas if not d.id][:2] == [0, 1]  # interleaved
    calls = assembled(chunks)
    assert [(name, json.loads(arguments)) for _, name, arguments in calls.values()] == [
        ("get_weather", {"city": "Paris", "unit": "C"}),
        ("get_time", {"zone": "CET"}),
    ]
    assert all(call_id.startswith("call_") for call_id, _, _ in calls.values())
    assert chunks[-1].finish_reason == "tool_calls" and text_of(chunks) == ""


async def test_tool_choice_required_makes_the_model_call_a_tool(fake: FakeAzureOpenAI) -> None:
    async with azure_provider(fake) as provider:
        completion = await provider.generate(rich_call(tools=(WEATHER, TIME), tool_choice=ToolChoice(mode="required")))
    assert fake.requests[0].body["tool_choice"] == "required"
    assert [c.name for c in completion.tool_calls] == ["get_weather"]


async def test_a_named_tool_choice_is_sent_as_a_function_choice(fake: FakeAzureOpenAI) -> None:
    async with openai_provider(fake) as provider:
        choice = ToolChoice(mode="tool", name="get_time")
        completion = await provider.generate(rich_call(model="gpt-4o-mini", tools=(WEATHER, TIME), tool_choice=choice))
    assert fake.requests[0].body["tool_choice"] == {"type": "function", "function": {"name": "get_time"}}
    assert [(c.name, c.arguments) for c in completion.tool_calls] == [("get_time", "{}")]


async def test_tool_choice_none_is_sent_and_the_model_answers_in_text(fake: FakeAzureOpenAI) -> None:
    fake.script.tool_calls = [("get_weather", "{}")]
    async with azure_provider(fake) as provider:
        completion = await provider.generate(rich_call(tools=(WEATHER,), tool_choice=ToolChoice(mode="none")))
    assert fake.requests[0].body["tool_choice"] == "none"
    assert completion.tool_calls == () and completion.content.startswith("Echo:")


async def test_without_tools_no_tool_field_is_sent(fake: FakeAzureOpenAI) -> None:
    async with azure_provider(fake) as provider:
        await provider.generate(rich_call(parallel_tool_calls=False, tool_choice=ToolChoice(mode="required")))
    assert not {"tools", "tool_choice", "parallel_tool_calls"} & set(fake.requests[0].body)


async def test_a_rejected_conversation_is_an_upstream_bad_request_with_openais_message(fake: FakeAzureOpenAI) -> None:
    orphan = Message(role="tool", parts=(ToolResultPart(call_id="call_nobody", content="x"),))
    async with azure_provider(fake) as provider:
        with pytest.raises(UpstreamBadRequest, match="must be a response to a preceeding message with 'tool_calls'"):
            await provider.generate(rich_call(QUESTION, orphan))


# ---- images --------------------------------------------------------------------------------------


async def test_image_bytes_go_as_a_data_url_and_an_https_url_as_it_is(fake: FakeAzureOpenAI) -> None:
    url = "https://images.example.com/cat.png?size=large&v=2"
    message = Message(
        role="user",
        parts=(
            TextPart(text="what are these?"),
            ImagePart(media_type="image/png", data=PNG),
            ImagePart(url=url),
        ),
    )
    async with azure_provider(fake) as provider:
        completion = await provider.generate(rich_call(message))
    assert completion.content == "Echo: what are these?"
    assert fake.requests[0].body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what are these?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(PNG).decode()}},
                {"type": "image_url", "image_url": {"url": url}},
            ],
        }
    ]


async def test_images_in_a_tool_result_follow_the_tool_messages_as_a_user_message(fake: FakeAzureOpenAI) -> None:
    call = ToolCallPart(id="call_1", name="get_weather", arguments='{"city": "Paris"}')
    result = ToolResultPart(
        call_id="call_1", parts=(TextPart(text="a radar map"), ImagePart(media_type="image/png", data=PNG))
    )
    call_message = Message(role="assistant", parts=(call,))
    async with azure_provider(fake) as provider:
        await provider.generate(rich_call(QUESTION, call_message, Message(role="tool", parts=(result,))))
    *_, tool, images = fake.requests[0].body["messages"]
    assert tool == {"role": "tool", "tool_call_id": "call_1", "content": "a radar map"}
    assert images["role"] == "user"
    assert images["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")


async def test_a_failed_tool_result_says_so_since_a_tool_message_has_no_error_flag(fake: FakeAzureOpenAI) -> None:
    # Regression: the error flag was dropped, so the model read "connection refused" as the weather.
    calls = (
        ToolCallPart(id="call_1", name="get_weather", arguments='{"city": "Paris"}'),
        ToolCallPart(id="call_2", name="get_weather", arguments='{"city": "Lyon"}'),
    )
    results = (
        ToolResultPart(call_id="call_1", content="connection refused", is_error=True),
        ToolResultPart(call_id="call_2", content="", is_error=True),
    )
    async with azure_provider(fake) as provider:
        await provider.generate(
            rich_call(QUESTION, Message(role="assistant", parts=calls), Message(role="tool", parts=results))
        )
    *_, first, second = fake.requests[0].body["messages"]
    assert first == {"role": "tool", "tool_call_id": "call_1", "content": "The tool failed. connection refused"}
    assert second == {"role": "tool", "tool_call_id": "call_2", "content": "The tool failed."}


# ---- structured output and sampling --------------------------------------------------------------


async def test_a_json_schema_answer_is_asked_for_and_returned(fake: FakeAzureOpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "celsius": {"type": "integer"}},
        "required": ["city", "celsius"],
        "additionalProperties": False,
    }
    output = OutputFormat(type="json_schema", name="weather", schema=schema, strict=True)
    async with azure_provider(fake) as provider:
        completion = await provider.generate(rich_call(output_format=output))
        chunks = await collect(provider.stream(rich_call(output_format=output)))
    assert fake.requests[0].body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "weather", "schema": schema, "strict": True},
    }
    assert json.loads(completion.content) == {"city": "text", "celsius": 0} == json.loads(text_of(chunks))


async def test_json_object_mode_says_json_when_no_message_does(fake: FakeAzureOpenAI) -> None:
    async with azure_provider(fake) as provider:
        completion = await provider.generate(rich_call(output_format=OutputFormat(type="json_object")))
        await provider.generate(
            rich_call(Message(role="user", content="give me JSON"), output_format=OutputFormat(type="json_object"))
        )
    first, second = (request.body for request in fake.requests)
    assert first["response_format"] == {"type": "json_object"}
    assert first["messages"][0] == {"role": "system", "content": "Answer with a JSON object."}
    assert [m["role"] for m in second["messages"]] == ["user"]
    assert isinstance(json.loads(completion.content), dict)


async def test_top_p_stop_and_seed_are_sent(fake: FakeAzureOpenAI) -> None:
    async with openai_provider(fake) as provider:
        await provider.generate(
            rich_call(model="gpt-4o-mini", sampling=Sampling(top_p=0.9, stop=("END", "\n\n"), seed=42))
        )
    body = fake.requests[0].body
    assert (body["top_p"], body["stop"], body["seed"], body["temperature"]) == (0.9, ["END", "\n\n"], 42, 0.5)


async def test_default_sampling_sends_none_of_them(fake: FakeAzureOpenAI) -> None:
    async with azure_provider(fake) as provider:
        await provider.generate(rich_call())
    assert not {"top_p", "stop", "seed", "response_format", "reasoning_effort"} & set(fake.requests[0].body)


# ---- reasoning models and usage ------------------------------------------------------------------


@pytest.mark.parametrize("which", ["azure", "openai"])
async def test_a_reasoning_model_gets_its_effort_and_max_completion_tokens_and_nothing_it_refuses(
    fake: FakeAzureOpenAI, which: str
) -> None:
    fake.script.reasoning = "The user wants a greeting."
    call = rich_call(
        model="o4-mini" if which == "azure" else "o3-mini",
        sampling=Sampling(top_p=0.5, stop=("END",), seed=7),
        reasoning=ReasoningConfig(effort="high"),
    )
    provider_for = azure_provider if which == "azure" else openai_provider
    async with provider_for(fake) as provider:
        completion = await provider.generate(call)
        chunks = await collect(provider.stream(call))
    for request in fake.requests:
        body = request.body
        assert (body["reasoning_effort"], body["max_completion_tokens"], body["seed"]) == ("high", 200, 7)
        assert not {"temperature", "max_tokens", "top_p", "stop"} & set(body)
    assert completion.reasoning == (ReasoningPart(text="The user wants a greeting."),)
    reasoning = [chunk.reasoning for chunk in chunks if chunk.reasoning is not None]
    assert all(isinstance(delta, ReasoningDelta) for delta in reasoning) and len(reasoning) > 1
    assert "".join(delta.text for delta in reasoning) == "The user wants a greeting."
    assert completion.usage.reasoning_tokens == 5 == chunks[-1].usage.reasoning_tokens  # type: ignore[union-attr]


async def test_a_thinking_budget_becomes_the_nearest_effort(fake: FakeAzureOpenAI) -> None:
    async with azure_provider(fake) as provider:
        for budget in (1024, 4096, 32000):
            await provider.generate(rich_call(model="o4-mini", reasoning=ReasoningConfig(budget_tokens=budget)))
    assert [r.body["reasoning_effort"] for r in fake.requests] == ["low", "medium", "high"]


async def test_reasoning_in_the_history_is_not_sent_to_chat_completions(fake: FakeAzureOpenAI) -> None:
    earlier = Message(role="assistant", parts=(ReasoningPart(text="hmm", signature="sig"), TextPart(text="Hi.")))
    async with azure_provider(fake) as provider:
        await provider.generate(rich_call(QUESTION, earlier, Message(role="user", content="and now?")))
    assert fake.requests[0].body["messages"][1] == {"role": "assistant", "content": "Hi."}


async def test_cached_and_reasoning_tokens_are_counted(fake: FakeAzureOpenAI) -> None:
    fake.script.cached_tokens = 3
    fake.script.reasoning_tokens = 64
    async with openai_provider(fake) as provider:
        completion = await provider.generate(rich_call(model="o3-mini"))
        chunks = await collect(provider.stream(rich_call(model="o3-mini")))
    usage = completion.usage
    assert (usage.cache_read_input_tokens, usage.reasoning_tokens, usage.cache_write_input_tokens) == (3, 64, 0)
    assert usage.completion_tokens == 64 + len(["Echo:", "weather", "and", "time", "in", "Paris?"])
    assert chunks[-1].usage == usage

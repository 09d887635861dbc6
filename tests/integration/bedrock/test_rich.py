"""Rich conversations through BedrockProvider against the fake Bedrock: tools, images, JSON output,
reasoning and prompt caching, and the conversation rules the fake enforces as Bedrock does.

Every request the fake answers has passed botocore's model and Bedrock's rules
(``tests.vendors.bedrock_rules``), so a green test says Bedrock would take the body.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from domain.content import (
    ImagePart,
    OutputFormat,
    ReasoningConfig,
    ReasoningPart,
    Sampling,
    TextPart,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    ToolSpec,
)
from domain.errors import InvalidRequest, UpstreamBadRequest
from domain.models import Message, ProviderCall
from tests.support.bedrock_adapter import CLAUDE, bedrock_provider, collect
from tests.vendors.bedrock import Script, ScriptedCall, answer_for

LLAMA = "us.meta.llama3-3-70b-instruct-v1:0"
SONNET_4 = "us.anthropic.claude-sonnet-4-20250514-v1:0"
WEATHER = ToolSpec(
    name="get_weather",
    description="The weather in a city",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
TIME = ToolSpec(name="get_time", description="The time in a city")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24


def call(*messages: Message, model: str = CLAUDE, **options: Any) -> ProviderCall:
    return ProviderCall(
        model=model, messages=messages, max_tokens=options.pop("max_tokens", 512), temperature=0.5, **options
    )


def user(text: str) -> Message:
    return Message(role="user", content=text)


def answered(*calls: ToolCallPart) -> Message:
    return Message(role="assistant", parts=calls)


def result(call_id: str, content: str, **extra: Any) -> Message:
    return Message(role="tool", parts=(ToolResultPart(call_id=call_id, content=content, **extra),))


def sent(fake: Any) -> dict[str, Any]:
    body: dict[str, Any] = fake.requests[-1].body
    return body


async def test_a_two_step_tool_conversation_calls_the_tool_then_answers_from_its_result(fake, provider):
    fake.script = Script(tool_calls=(ScriptedCall("get_weather", {"city": "Paris"}),))
    question = user("what is the weather in Paris")

    first = await provider.generate(call(question, tools=(WEATHER,)))
    [tool_call] = first.tool_calls
    second = await provider.generate(
        call(question, answered(tool_call), result(tool_call.id, "sunny, 21 C"), tools=(WEATHER,))
    )

    assert (first.finish_reason, first.content) == ("tool_calls", "")
    assert (tool_call.name, json.loads(tool_call.arguments)) == ("get_weather", {"city": "Paris"})
    assert fake.requests[0].body["toolConfig"] == {
        "tools": [
            {
                "toolSpec": {
                    "name": "get_weather",
                    "description": "The weather in a city",
                    "inputSchema": {"json": WEATHER.parameters},
                }
            }
        ]
    }
    assert sent(fake)["messages"][1:] == [
        {
            "role": "assistant",
            "content": [{"toolUse": {"toolUseId": tool_call.id, "name": "get_weather", "input": {"city": "Paris"}}}],
        },
        {
            "role": "user",
            "content": [{"toolResult": {"toolUseId": tool_call.id, "content": [{"text": "sunny, 21 C"}]}}],
        },
    ]
    assert (second.finish_reason, second.content) == ("stop", answer_for("sunny, 21 C"))


async def test_parallel_tool_calls_come_back_together_and_their_results_go_in_one_user_turn(fake, provider):
    fake.script = Script(tool_calls=(ScriptedCall("get_weather", {"city": "Oslo"}), ScriptedCall("get_time")))
    question = user("weather and time in Oslo")

    first = await provider.generate(call(question, tools=(WEATHER, TIME)))
    weather, time = first.tool_calls
    followed = (question, answered(weather, time), result(weather.id, "snow"), result(time.id, "noon"))
    second = await provider.generate(call(*followed, user("thanks"), tools=(WEATHER, TIME)))

    assert [c.name for c in first.tool_calls] == ["get_weather", "get_time"]
    assert time.arguments == "{}"
    turn = sent(fake)["messages"][2]
    assert turn["role"] == "user"
    assert [list(block) for block in turn["content"]] == [["toolResult"], ["toolResult"], ["text"]]
    assert [block["toolResult"]["toolUseId"] for block in turn["content"][:2]] == [weather.id, time.id]
    assert second.content == answer_for("snow noon thanks")


async def test_a_streamed_tool_call_is_assembled_from_its_fragments(fake, provider):
    fake.script = Script(
        chunks=4, tool_calls=(ScriptedCall("get_weather", {"city": "Lisbon"}), ScriptedCall("get_time"))
    )

    chunks = await collect(provider, call(user("weather please"), tools=(WEATHER, TIME)))

    deltas = [delta for chunk in chunks for delta in chunk.tool_calls]
    starts = [(d.index, d.id, d.name) for d in deltas if d.name]
    assert [(index, name) for index, _, name in starts] == [(0, "get_weather"), (1, "get_time")]
    assert all(call_id.startswith("tooluse_") for _, call_id, _ in starts)
    fragments = [d.arguments for d in deltas if d.index == 0 and d.arguments]
    assert len(fragments) == 4
    assert json.loads("".join(fragments)) == {"city": "Lisbon"}
    assert [d.arguments for d in deltas if d.index == 1 and d.arguments] == ["{}"]
    assert chunks[-1].finish_reason == "tool_calls"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


@pytest.mark.parametrize(
    ("choice", "sent_choice"),
    [
        (ToolChoice(mode="required"), {"any": {}}),
        (ToolChoice(mode="tool", name="get_time"), {"tool": {"name": "get_time"}}),
    ],
)
async def test_a_forced_tool_choice_becomes_any_or_the_named_tool(fake, provider, choice, sent_choice):
    completion = await provider.generate(call(user("what now"), tools=(WEATHER, TIME), tool_choice=choice))

    assert sent(fake)["toolConfig"]["toolChoice"] == sent_choice
    assert completion.finish_reason == "tool_calls"
    assert completion.tool_calls[0].name == "get_time"


async def test_tool_choice_none_sends_no_tools_unless_the_conversation_already_holds_tool_blocks(fake, provider):
    none = ToolChoice(mode="none")
    await provider.generate(call(user("no tools"), tools=(WEATHER,), tool_choice=none))
    earlier = ToolCallPart(id="tooluse_1", name="get_weather", arguments='{"city": "Rome"}')
    history = (user("weather"), answered(earlier), result("tooluse_1", "hot"), user("and now?"))
    await provider.generate(call(*history, tool_choice=none))

    assert "toolConfig" not in fake.requests[0].body
    assert fake.requests[1].body["toolConfig"]["tools"][0]["toolSpec"]["name"] == "get_weather"
    assert "toolChoice" not in fake.requests[1].body["toolConfig"]


async def test_a_forced_tool_choice_for_a_model_that_takes_only_auto_is_refused_before_sending(fake, provider):
    with pytest.raises(InvalidRequest, match="takes only 'auto'"):
        await provider.generate(
            call(user("hi"), model=LLAMA, tools=(WEATHER,), tool_choice=ToolChoice(mode="required"))
        )

    assert fake.requests == []


async def test_an_image_goes_as_bytes_with_its_format(fake, provider):
    image = Message(role="user", parts=(TextPart(text="what is this"), ImagePart(media_type="image/png", data=PNG)))

    completion = await provider.generate(call(image, model="us.anthropic.claude-3-5-sonnet-20241022-v2:0"))

    block = sent(fake)["messages"][0]["content"][1]["image"]
    assert block["format"] == "png"
    assert base64.b64decode(block["source"]["bytes"]) == PNG
    assert completion.content == answer_for("what is this")


async def test_an_image_by_url_is_refused_naming_the_setting_unless_a_resolver_fetches_it(fake):
    image = Message(role="user", parts=(TextPart(text="look"), ImagePart(url="https://example.com/cat.webp")))
    fetched: list[str] = []

    async def resolve(url: str) -> tuple[bytes, str]:
        fetched.append(url)
        return b"RIFF0000WEBP", "image/webp"

    async with bedrock_provider(fake) as refusing:
        with pytest.raises(InvalidRequest, match="IMAGE_FETCH_ENABLED"):
            await refusing.generate(call(image))
    assert fake.requests == []
    async with bedrock_provider(fake, resolve_image=resolve) as fetching:
        await fetching.generate(call(image))

    assert fetched == ["https://example.com/cat.webp"]
    assert sent(fake)["messages"][0]["content"][1]["image"]["format"] == "webp"


async def test_a_json_schema_answer_comes_through_a_forced_tool_as_text(fake, provider):
    schema = {"type": "object", "properties": {"temp": {"type": "number"}}, "required": ["temp"]}
    output = OutputFormat(type="json_schema", name="weather", schema=schema)
    fake.script = Script(chunks=3, tool_calls=(ScriptedCall("weather", {"temp": 21}),))

    completion = await provider.generate(call(user("how warm"), output_format=output))
    chunks = await collect(provider, call(user("how warm"), output_format=output))

    assert sent(fake)["toolConfig"]["toolChoice"] == {"tool": {"name": "weather"}}
    assert sent(fake)["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"] == {"json": schema}
    assert (json.loads(completion.content), completion.finish_reason, completion.tool_calls) == (
        {"temp": 21},
        "stop",
        (),
    )
    assert json.loads("".join(chunk.text for chunk in chunks)) == {"temp": 21}
    assert all(not chunk.tool_calls for chunk in chunks)
    assert chunks[-1].finish_reason == "stop"


async def test_a_json_schema_beside_tools_lets_the_model_call_a_tool_or_answer(fake, provider):
    output = OutputFormat(type="json_schema", name="response", schema={"type": "object"})
    fake.script = Script(
        tool_calls=(ScriptedCall("get_weather", {"city": "Nice"}), ScriptedCall("response", {"ok": 1}))
    )
    question = user("weather then answer")

    first = await provider.generate(call(question, tools=(WEATHER,), output_format=output))
    [weather] = first.tool_calls
    second = await provider.generate(
        call(question, answered(weather), result(weather.id, "mild"), tools=(WEATHER,), output_format=output)
    )

    assert fake.requests[0].body["toolConfig"]["toolChoice"] == {"any": {}}
    assert (first.finish_reason, weather.name) == ("tool_calls", "get_weather")
    assert (second.finish_reason, json.loads(second.content)) == ("stop", {"ok": 1})


async def test_reasoning_is_returned_with_its_signature_and_sent_back_unchanged(fake, provider):
    fake.script = Script(reasoning="The user wants weather; call the tool.", tool_calls=(ScriptedCall("get_weather"),))
    thinking = {"reasoning": ReasoningConfig(budget_tokens=2048), "max_tokens": 4096, "tools": (WEATHER,)}
    question = user("weather in Bern")

    first = await provider.generate(call(question, model=SONNET_4, **thinking))
    [reasoning], [weather] = first.reasoning, first.tool_calls
    turn = Message(role="assistant", parts=(reasoning, weather))
    second = await provider.generate(call(question, turn, result(weather.id, "cold"), model=SONNET_4, **thinking))

    body = fake.requests[0].body
    assert body["additionalModelRequestFields"] == {"thinking": {"type": "enabled", "budget_tokens": 2048}}
    assert "temperature" not in body["inferenceConfig"]
    assert reasoning.text == "The user wants weather; call the tool." and reasoning.signature
    assert sent(fake)["messages"][1]["content"][0] == {
        "reasoningContent": {"reasoningText": {"text": reasoning.text, "signature": reasoning.signature}}
    }
    assert second.content == answer_for("cold")


async def test_reasoning_with_a_changed_signature_or_text_or_left_out_is_refused_as_bedrock_does(fake, provider):
    fake.script = Script(tool_calls=(ScriptedCall("get_weather"),))
    thinking = {"reasoning": ReasoningConfig(effort="low"), "max_tokens": 4096, "tools": (WEATHER,)}
    question = user("weather in Bern")
    first = await provider.generate(call(question, model=SONNET_4, **thinking))
    [reasoning], [weather] = first.reasoning, first.tool_calls
    forged = ReasoningPart(text=reasoning.text, signature=reasoning.signature[::-1])

    with pytest.raises(UpstreamBadRequest, match="Invalid `signature`"):
        turn = Message(role="assistant", parts=(forged, weather))
        await provider.generate(call(question, turn, result(weather.id, "cold"), model=SONNET_4, **thinking))
    with pytest.raises(UpstreamBadRequest, match="Invalid `signature`"):
        edited = ReasoningPart(text=reasoning.text + " (edited)", signature=reasoning.signature)
        turn = Message(role="assistant", parts=(edited, weather))
        await provider.generate(call(question, turn, result(weather.id, "cold"), model=SONNET_4, **thinking))
    with pytest.raises(UpstreamBadRequest, match="Invalid `signature`"):
        # A genuine signature moved onto another genuine block's text: the signature is bound to its own text.
        other = (await provider.generate(call(user("and in Basel?"), model=SONNET_4, **thinking))).reasoning[0]
        swapped = ReasoningPart(text=other.text, signature=reasoning.signature)
        turn = Message(role="assistant", parts=(swapped, weather))
        await provider.generate(call(question, turn, result(weather.id, "cold"), model=SONNET_4, **thinking))
    with pytest.raises(UpstreamBadRequest, match="must start with a thinking block"):
        await provider.generate(
            call(question, answered(weather), result(weather.id, "cold"), model=SONNET_4, **thinking)
        )
    assert fake.requests[0].body["additionalModelRequestFields"]["thinking"]["budget_tokens"] == 2048


async def test_streamed_reasoning_comes_as_text_deltas_then_its_signature(fake, provider):
    fake.script = Script(chunks=2, reasoning="step one, step two", redacted_reasoning=b"\x01secret")

    chunks = await collect(
        provider, call(user("think"), model=SONNET_4, reasoning=ReasoningConfig(effort="low"), max_tokens=4096)
    )

    reasoning = [chunk.reasoning for chunk in chunks if chunk.reasoning is not None]
    assert "".join(delta.text for delta in reasoning) == "step one, step two"
    assert [bool(delta.signature) for delta in reasoning] == [False, False, True, False]
    assert reasoning[-1].redacted == b"\x01secret"
    assert "".join(chunk.text for chunk in chunks) == answer_for("think")


async def test_reasoning_with_a_forced_tool_is_refused_because_claude_cannot_think_then(fake, provider):
    output = OutputFormat(type="json_schema", name="response", schema={"type": "object"})
    with pytest.raises(InvalidRequest, match="does not think while a tool is forced"):
        await provider.generate(
            call(
                user("x"),
                model=SONNET_4,
                reasoning=ReasoningConfig(effort="low"),
                max_tokens=4096,
                output_format=output,
            )
        )


async def test_a_long_system_prompt_gets_a_cache_point_and_cache_usage_is_counted(fake, provider):
    system = "You are a meticulous assistant. " * 200
    await provider.generate(call(user("one"), system=system))
    second = await provider.generate(call(user("two"), system=system))

    assert fake.requests[0].body["system"] == [{"text": system}, {"cachePoint": {"type": "default"}}]
    assert second.usage.cache_read_input_tokens == len(system.split())
    assert second.usage.prompt_tokens == len(system.split()) + 1
    assert second.usage.cache_write_input_tokens == 0


async def test_the_first_request_writes_the_cache_and_the_stream_reports_it(fake, provider):
    system = "Remember these instructions carefully. " * 200

    chunks = await collect(provider, call(user("hello"), system=system))

    final = chunks[-1].usage
    assert final is not None
    assert final.cache_write_input_tokens == len(system.split())
    assert final.prompt_tokens == len(system.split()) + 1


async def test_models_without_prompt_caching_get_no_cache_point(fake, provider):
    await provider.generate(call(user("one"), model=LLAMA, system="Be exact. " * 1000))

    assert sent(fake)["system"] == [{"text": "Be exact. " * 1000}]


async def test_top_p_and_stop_sequences_go_in_the_inference_config(fake, provider):
    await provider.generate(call(user("count"), sampling=Sampling(top_p=0.9, stop=("END",), seed=7)))

    assert sent(fake)["inferenceConfig"] == {
        "maxTokens": 512,
        "temperature": 0.5,
        "topP": 0.9,
        "stopSequences": ["END"],
    }


# Bodies that break one rule each, sent straight to the fake: it refuses what Bedrock refuses.
_TOOLS = {"tools": [{"toolSpec": {"name": "t", "inputSchema": {"json": {"type": "object"}}}}]}
_ASK = {"role": "user", "content": [{"text": "hi"}]}
_USE = {"role": "assistant", "content": [{"toolUse": {"toolUseId": "a1", "name": "t", "input": {}}}]}
_RESULT = {"role": "user", "content": [{"toolResult": {"toolUseId": "a1", "content": [{"text": "ok"}]}}]}
_THINK = {"additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": 1024}}}
_SIGNED = {"reasoningContent": {"reasoningText": {"text": "hm", "signature": "not-issued"}}}
CLAUDE_PATH = f"/model/{CLAUDE}/converse"
SONNET_PATH = f"/model/{SONNET_4}/converse"
LLAMA_PATH = f"/model/{LLAMA}/converse"
RULES = {
    "a result without a call": (CLAUDE_PATH, {"messages": [_RESULT], "toolConfig": _TOOLS}, "exceeds the number"),
    "a call without its result": (
        CLAUDE_PATH,
        {"messages": [_ASK, _USE, _ASK], "toolConfig": _TOOLS},
        "Expected toolResult blocks at messages.2.content for the following Ids: a1",
    ),
    "a result for another call": (
        CLAUDE_PATH,
        {
            "messages": [_ASK, _USE, {"role": "user", "content": [{"toolResult": {"toolUseId": "zz", "content": []}}]}],
            "toolConfig": _TOOLS,
        },
        "for the following Ids: a1",
    ),
    "a result two turns after its call": (
        CLAUDE_PATH,
        {
            "messages": [_ASK, _USE, _RESULT, {"role": "assistant", "content": [{"text": "done"}]}, _RESULT],
            "toolConfig": _TOOLS,
        },
        "toolResult blocks at messages.4.content exceeds the number of toolUse blocks of previous turn",
    ),
    "a result in the assistant's own turn": (
        CLAUDE_PATH,
        {
            "messages": [_ASK, {"role": "assistant", "content": [*_USE["content"], *_RESULT["content"]]}, _RESULT],
            "toolConfig": _TOOLS,
        },
        "exceeds the number of toolUse blocks of previous turn",
    ),
    "a blank text block beside a tool result": (
        CLAUDE_PATH,
        {
            "messages": [_ASK, _USE, {"role": "user", "content": [*_RESULT["content"], {"text": ""}]}],
            "toolConfig": _TOOLS,
        },
        "is blank",
    ),
    "tool blocks without a toolConfig": (CLAUDE_PATH, {"messages": [_ASK, _USE, _RESULT]}, "toolConfig field must be"),
    "two user turns in a row": (CLAUDE_PATH, {"messages": [_ASK, _ASK]}, "must alternate"),
    "an assistant turn first": (CLAUDE_PATH, {"messages": [_USE], "toolConfig": _TOOLS}, "must alternate"),
    "no messages": (CLAUDE_PATH, {"messages": []}, "must start with a user message"),
    "a blank text block": (CLAUDE_PATH, {"messages": [{"role": "user", "content": [{"text": " "}]}]}, "is blank"),
    "a forced choice on Llama": (
        LLAMA_PATH,
        {"messages": [_ASK], "toolConfig": {**_TOOLS, "toolChoice": {"any": {}}}},
        "doesn't support the toolConfig.toolChoice.any field",
    ),
    "a result status on Llama": (
        LLAMA_PATH,
        {
            "messages": [
                _ASK,
                _USE,
                {
                    "role": "user",
                    "content": [{"toolResult": {**_RESULT["content"][0]["toolResult"], "status": "error"}}],
                },
            ],
            "toolConfig": _TOOLS,
        },
        "toolResult.status",
    ),
    "a cache point on Llama": (
        LLAMA_PATH,
        {"messages": [_ASK], "system": [{"text": "s"}, {"cachePoint": {"type": "default"}}]},
        "did not allow prompt caching",
    ),
    "thinking on a model that cannot": (CLAUDE_PATH, {"messages": [_ASK], **_THINK}, "Extra inputs are not permitted"),
    "thinking with a temperature": (
        SONNET_PATH,
        {"messages": [_ASK], **_THINK, "inferenceConfig": {"maxTokens": 2048, "temperature": 0.5}},
        "may only be set to 1",
    ),
    "a budget at maxTokens": (
        SONNET_PATH,
        {"messages": [_ASK], **_THINK, "inferenceConfig": {"maxTokens": 1024}},
        "must be greater than `thinking.budget_tokens`",
    ),
    "a budget under 1024": (
        SONNET_PATH,
        {"messages": [_ASK], "additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": 100}}},
        "greater than or equal to 1024",
    ),
    "thinking with a forced tool": (
        SONNET_PATH,
        {"messages": [_ASK], **_THINK, "toolConfig": {**_TOOLS, "toolChoice": {"tool": {"name": "t"}}}},
        "forces tool use",
    ),
    "a signature the model did not give": (
        SONNET_PATH,
        {"messages": [_ASK, {"role": "assistant", "content": [_SIGNED, {"text": "x"}]}, _ASK], **_THINK},
        "Invalid `signature`",
    ),
    "a last tool-calling turn without its reasoning": (
        SONNET_PATH,
        {"messages": [_ASK, _USE, _RESULT], **_THINK, "toolConfig": _TOOLS},
        "must start with a thinking block",
    ),
}


@pytest.fixture
async def http(fake) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fake.url, headers={"Authorization": "Bearer k"}) as client:
        yield client


@pytest.mark.parametrize(("path", "body", "says"), list(RULES.values()), ids=list(RULES))
async def test_the_fake_refuses_each_conversation_rule_bedrock_enforces(http, path, body, says):
    response = await http.post(path.replace(":", "%3A"), json=body)

    assert response.status_code == 400
    assert response.headers["x-amzn-errortype"].startswith("ValidationException:")
    assert says in response.json()["message"]


async def test_the_fake_takes_a_well_formed_tool_conversation(http):
    response = await http.post(
        CLAUDE_PATH.replace(":", "%3A"), json={"messages": [_ASK, _USE, _RESULT], "toolConfig": _TOOLS}
    )

    assert response.status_code == 200
    assert response.json()["output"]["message"]["content"] == [{"text": answer_for("ok")}]


async def test_a_failed_tool_result_carries_the_error_status_to_claude_and_says_so_to_others(fake, provider):
    earlier = ToolCallPart(id="tooluse_9", name="get_weather", arguments="{}")
    history = (user("weather"), answered(earlier), result("tooluse_9", "timeout", is_error=True))

    await provider.generate(call(*history, tools=(WEATHER,)))
    await provider.generate(call(*history, model=LLAMA, tools=(WEATHER,)))

    claude, llama = (request.body["messages"][2]["content"][0]["toolResult"] for request in fake.requests)
    assert (claude["status"], claude["content"]) == ("error", [{"text": "timeout"}])
    assert "status" not in llama
    assert llama["content"] == [{"text": "The tool failed."}, {"text": "timeout"}]


async def test_redacted_reasoning_comes_back_as_bytes_and_is_sent_back_as_is(fake, provider):
    fake.script = Script(redacted_reasoning=b"\x00\xffopaque")
    options = {"model": SONNET_4, "reasoning": ReasoningConfig(effort="low"), "max_tokens": 4096}

    first = await provider.generate(call(user("think hard"), **options))
    turn = Message(role="assistant", parts=(*first.reasoning, TextPart(text=first.content)))
    await provider.generate(call(user("think hard"), turn, user("again"), **options))

    assert first.reasoning[1] == ReasoningPart(redacted=b"\x00\xffopaque")
    sent_back = sent(fake)["messages"][1]["content"][1]["reasoningContent"]["redactedContent"]
    assert base64.b64decode(sent_back) == b"\x00\xffopaque"


async def test_a_json_object_answer_is_a_forced_tool_taking_any_object(fake, provider):
    fake.script = Script(tool_calls=(ScriptedCall("response", {"any": ["thing"]}),))

    completion = await provider.generate(call(user("json please"), output_format=OutputFormat(type="json_object")))

    assert sent(fake)["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"] == {"json": {"type": "object"}}
    assert (json.loads(completion.content), completion.finish_reason) == ({"any": ["thing"]}, "stop")

"""The ``openai`` SDK, sync and async, against the real server in front of the mock (docs/api.md#openai-compatible-api).

Streams are read by the SDK itself and, for what the SDK hides (the order of
the events, the one usage chunk, ``[DONE]``), from the raw wire.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.support.server import ServerProcess

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(24))
WEATHER_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
REPORT_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "celsius": {"type": "number"}},
    "required": ["city", "celsius"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def gateway() -> Iterator[ServerProcess]:
    with ServerProcess({"LOG_LEVEL": "warning"}) as running:
        yield running


@pytest.fixture(scope="module")
def sdk(gateway: ServerProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.base_url + "/v1", api_key="unused-without-keys", max_retries=0)


def user(text: str) -> Any:
    return {"role": "user", "content": text}


def wire_events(gateway: ServerProcess, body: dict[str, Any]) -> list[Any]:
    """The ``data:`` payloads of a stream, decoded, with ``[DONE]`` kept as the string."""
    response = httpx.post(gateway.base_url + "/v1/chat/completions", json=body, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    events: list[Any] = []
    for block in response.text.strip().split("\n\n"):
        data = block.removeprefix("data: ")
        events.append(data if data == "[DONE]" else json.loads(data))
    return events


def test_a_plain_completion_with_a_system_and_a_developer_message(sdk: openai.OpenAI) -> None:
    completion = sdk.chat.completions.create(
        model="mock-1",
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "developer", "content": [{"type": "text", "text": "and kind"}]},
            user("plain question"),
        ],
        temperature=0,
        max_completion_tokens=50,
        seed=7,
        user="end-user-1",
        metadata={"team": "docs"},
    )
    text = completion.choices[0].message.content or ""
    assert text.startswith("Mock answer (turn 1): plain question") and "be brief" in text and "and kind" in text
    assert completion.choices[0].message.role == "assistant" and completion.choices[0].message.tool_calls is None
    assert completion.usage is not None and completion.usage.prompt_tokens_details is not None


def test_the_second_identical_request_is_a_cache_hit_unless_no_cache_is_asked(sdk: openai.OpenAI) -> None:
    create = sdk.chat.completions.with_raw_response.create
    ask = {"model": "mock-1", "messages": [user("cache me please")], "temperature": 0.3}
    assert create(**ask).headers["x-cache"] == "miss"
    hit = create(**ask)
    assert hit.headers["x-cache"] == "hit"
    assert hit.parse().choices[0].message.content == "Mock answer (turn 1): cache me please"
    assert create(**ask, extra_headers={"Cache-Control": "no-cache"}).headers["x-cache"] == "miss"


def test_the_same_question_through_the_native_api_and_the_door_shares_one_cache_entry(
    sdk: openai.OpenAI, gateway: ServerProcess
) -> None:
    native = httpx.post(
        gateway.base_url + "/api/v1/generate", json={"prompt": "one entry", "model": "mock-1"}, timeout=30
    )
    assert native.status_code == 200 and native.json()["cached"] is False
    door = sdk.chat.completions.with_raw_response.create(model="mock-1", messages=[user("one entry")])
    assert door.headers["x-cache"] == "hit"
    assert door.parse().choices[0].message.content == native.json()["content"]


def test_a_stream_with_usage_has_the_role_first_exactly_one_usage_chunk_then_done(
    sdk: openai.OpenAI, gateway: ServerProcess
) -> None:
    chunks = list(
        sdk.chat.completions.create(
            model="mock-1", messages=[user("stream three words")], stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Mock answer (turn 1): stream three words"
    assert chunks[0].choices[0].delta.role == "assistant"
    usage_chunks = [c for c in chunks if c.usage is not None]
    assert len(usage_chunks) == 1 and usage_chunks[0] is chunks[-1] and chunks[-1].choices == []
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    events = wire_events(
        gateway,
        {"model": "mock-1", "messages": [user("raw")], "stream": True, "stream_options": {"include_usage": True}},
    )
    assert events[-1] == "[DONE]" and events.count("[DONE]") == 1
    assert sum(1 for e in events[:-1] if e["usage"] is not None) == 1


def test_a_stream_without_usage_asked_has_no_usage_chunk(gateway: ServerProcess) -> None:
    events = wire_events(gateway, {"model": "mock-1", "messages": [user("no usage")], "stream": True})
    assert events[-1] == "[DONE]"
    assert all("usage" not in e and e["choices"] for e in events[:-1])


def test_a_tool_call_round_trip(sdk: openai.OpenAI) -> None:
    messages: list[Any] = [user("what does get_weather say for Paris?")]
    first = sdk.chat.completions.create(model="mock-1", messages=messages, tools=[WEATHER_TOOL])
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.tool_calls
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.function.name == "get_weather"
    assert "city" in json.loads(call.function.arguments)
    messages += [
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"},
    ]
    second = sdk.chat.completions.create(model="mock-1", messages=messages, tools=[WEATHER_TOOL])
    assert "sunny, 21 C" in (second.choices[0].message.content or "")
    assert second.choices[0].finish_reason == "stop"


def test_a_streamed_tool_call_comes_as_deltas_by_index(sdk: openai.OpenAI) -> None:
    stream = sdk.chat.completions.create(
        model="mock-1", messages=[user("call get_weather")], tools=[WEATHER_TOOL], tool_choice="required", stream=True
    )
    deltas = [d for chunk in stream if chunk.choices for d in chunk.choices[0].delta.tool_calls or ()]
    assert deltas and deltas[0].index == 0 and deltas[0].id and deltas[0].function
    assert deltas[0].function.name == "get_weather"
    arguments = "".join(d.function.arguments or "" for d in deltas if d.function)
    assert "city" in json.loads(arguments)


def test_an_image_as_a_data_url_is_seen_by_the_model(sdk: openai.OpenAI) -> None:
    url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    content: Any = [{"type": "text", "text": "what is this?"}, {"type": "image_url", "image_url": {"url": url}}]
    completion = sdk.chat.completions.create(model="mock-1", messages=[{"role": "user", "content": content}])
    assert "image/png" in (completion.choices[0].message.content or "")


def test_a_json_schema_response_format_is_an_instance_of_the_schema(sdk: openai.OpenAI) -> None:
    completion = sdk.chat.completions.create(
        model="mock-1",
        messages=[user("the weather report")],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "report", "schema": REPORT_SCHEMA, "strict": True},
        },
    )
    report = json.loads(completion.choices[0].message.content or "")
    assert set(report) == {"city", "celsius"}


def test_reasoning_effort_gives_reasoning_content(gateway: ServerProcess) -> None:
    body = {"model": "mock-1", "messages": [user("think first")], "reasoning_effort": "low"}
    answer = httpx.post(gateway.base_url + "/v1/chat/completions", json=body, timeout=30).json()
    message = answer["choices"][0]["message"]
    assert message["reasoning_content"] and message["content"]
    assert answer["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0


def test_a_streamed_answer_reasons_in_reasoning_content_deltas_before_the_text(gateway: ServerProcess) -> None:
    body = {"model": "mock-1", "messages": [user("think aloud")], "reasoning_effort": "medium", "stream": True}
    deltas = [e["choices"][0]["delta"] for e in wire_events(gateway, body)[:-1] if e["choices"]]
    kinds = [next(iter(k for k in d if k in ("reasoning_content", "content") and d[k]), None) for d in deltas]
    seen = [k for k in kinds if k]
    assert "reasoning_content" in seen and seen.index("reasoning_content") < seen.index("content")


def test_a_session_keeps_its_history_before_the_request_messages(sdk: openai.OpenAI) -> None:
    session = {"X-User-ID": "sdk-user", "X-Session-ID": "sdk-session-1"}
    first = sdk.chat.completions.create(model="mock-1", messages=[user("first turn")], extra_headers=session)
    second = sdk.chat.completions.create(model="mock-1", messages=[user("second turn")], extra_headers=session)
    assert first.choices[0].message.content == "Mock answer (turn 1): first turn"
    assert second.choices[0].message.content == "Mock answer (turn 2): second turn"


def test_a_complaint_in_a_session_is_recorded_by_the_feedback_loop(sdk: openai.OpenAI, gateway: ServerProcess) -> None:
    def reports() -> int:
        count: int = httpx.get(gateway.base_url + "/api/v1/cache/stats", timeout=30).json()["reports"]
        return count

    session = {"X-User-ID": "sdk-user", "X-Session-ID": "sdk-feedback-1"}
    before = reports()
    sdk.chat.completions.create(model="mock-1", messages=[user("write a sort function")], extra_headers=session)
    sdk.chat.completions.create(
        model="mock-1", messages=[user("that code has a bug, no funciona")], extra_headers=session
    )
    assert reports() == before + 1


def test_the_sdk_lists_and_retrieves_models(sdk: openai.OpenAI) -> None:
    assert {m.id for m in sdk.models.list()} >= {"mock-1"}
    assert sdk.models.retrieve("mock-1").id == "mock-1"
    assert sdk.models.retrieve("mock/mock-1").id == "mock-1"  # the SDK sends /v1/models/mock%2Fmock-1
    for unknown in ("gpt-nothing", "azure/gpt-4o"):  # azure is not configured here
        with pytest.raises(openai.NotFoundError):
            sdk.models.retrieve(unknown)


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ({"n": 2}, "one choice"),
        ({"n": 0}, "n="),
        ({"temperature": 9}, "temperature"),
        ({"max_tokens": 0}, r"maxTokens|max_tokens"),
        ({"max_tokens": 10, "max_completion_tokens": 10}, "one of them"),
        ({"stream_options": {"include_usage": True}}, "stream_options"),
        ({"tool_choice": "required"}, "needs tools"),
        ({"response_format": {"type": "json_schema"}}, "json_schema"),
        ({"messages": [{"role": "tool", "content": "orphan"}]}, "tool_call_id"),
        ({"messages": [{"role": "function", "content": "old"}]}, "role"),
        ({"messages": []}, "messages"),
        ({"model": ""}, "model"),
    ],
)
def test_what_cannot_be_honoured_is_the_sdks_bad_request_error(
    sdk: openai.OpenAI, extra: dict[str, Any], match: str
) -> None:
    body: dict[str, Any] = {"model": "mock-1", "messages": [user("hi")], **extra}
    with pytest.raises(openai.BadRequestError, match=match) as caught:
        sdk.chat.completions.create(**body)
    assert caught.value.code is not None and caught.value.type == "invalid_request_error"


async def test_the_async_client_completes_streams_and_raises_the_same_classes(gateway: ServerProcess) -> None:
    async with openai.AsyncOpenAI(base_url=gateway.base_url + "/v1", api_key="x", max_retries=0) as client:
        completion = await client.chat.completions.create(model="mock/mock-1", messages=[user("async hello")])
        assert completion.choices[0].message.content == "Mock answer (turn 1): async hello"
        stream = await client.chat.completions.create(
            model="mock-1", messages=[user("async stream")], stream=True, stream_options={"include_usage": True}
        )
        chunks = [chunk async for chunk in stream]
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).endswith("async stream")
        assert chunks[-1].usage is not None
        with pytest.raises(openai.NotFoundError):
            await client.chat.completions.create(model="nobody/knows", messages=[user("hi")])
        models = [m.id async for m in client.models.list()]
        assert "mock-1" in models

"""The ``anthropic`` SDK, sync and async, on the real server in front of the mock (docs/api.md#anthropic-messages-api).

Streams are read by the SDK's own helpers (``text_stream``, ``get_final_message``)
and, for what the SDK hides (the order of the events, the block indexes), from
the raw wire. The SDK's ``messages.create`` has no ``temperature``/``top_p``/
``top_k`` keywords any more: they go in ``extra_body``, as old clients send them.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest

from tests.support.server import ServerProcess

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(24))
WEATHER: Any = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
CLOCK: Any = {"name": "get_time", "input_schema": {"type": "object", "properties": {"zone": {"type": "string"}}}}


@pytest.fixture(scope="module")
def gateway() -> Iterator[ServerProcess]:
    with ServerProcess({"LOG_LEVEL": "warning"}) as running:
        yield running


@pytest.fixture(scope="module")
def sdk(gateway: ServerProcess) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.base_url, api_key="unused-without-keys", max_retries=0)


def user(text: str) -> Any:
    return {"role": "user", "content": text}


def wire_events(gateway: ServerProcess, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``(event name, data)`` of each event of a stream, as sent."""
    response = httpx.post(gateway.base_url + "/v1/messages", json={**body, "stream": True}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    events = []
    for block in response.text.strip().split("\n\n"):
        name_line, data_line = block.split("\n")
        name, data = name_line.removeprefix("event: "), json.loads(data_line.removeprefix("data: "))
        assert data["type"] == name
        events.append((name, data))
    return events


def test_a_plain_message_with_system_blocks_metadata_and_sampling(sdk: anthropic.Anthropic) -> None:
    raw = sdk.messages.with_raw_response.create(
        model="mock-1",
        max_tokens=100,
        system=[{"type": "text", "text": "be brief"}, {"type": "text", "text": "and kind"}],
        messages=[user("plain question")],
        stop_sequences=["never-said"],
        metadata={"user_id": "end-user-1"},
        extra_body={"temperature": 0.2, "top_p": 0.9, "top_k": 40},
        extra_headers={"anthropic-beta": "prompt-caching-2024-07-31"},
    )
    message = raw.parse()
    assert message.type == "message" and message.role == "assistant" and message.model == "mock-1"
    assert message.id == "msg_" + raw.headers["x-request-id"]
    [block] = message.content
    assert block.type == "text" and block.text.startswith("Mock answer (turn 1): plain question")
    assert "be brief" in block.text and "and kind" in block.text
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    assert message.usage.cache_read_input_tokens == 0 and message.usage.cache_creation_input_tokens == 0
    assert raw.headers["x-cache"] == "miss" and float(raw.headers["x-gateway-overhead-ms"]) >= 0


def test_the_answer_cut_by_max_tokens_says_max_tokens(sdk: anthropic.Anthropic) -> None:
    message = sdk.messages.create(model="mock-1", max_tokens=3, messages=[user("one two three four five")])
    assert message.stop_reason == "max_tokens" and message.usage.output_tokens == 3


def test_the_second_identical_request_is_a_cache_hit(sdk: anthropic.Anthropic) -> None:
    create = sdk.messages.with_raw_response.create
    ask: Any = {"model": "mock-1", "max_tokens": 50, "messages": [user("cache me please")]}
    assert create(**ask).headers["x-cache"] == "miss"
    hit = create(**ask)
    assert hit.headers["x-cache"] == "hit"
    assert hit.parse().content[0].text == "Mock answer (turn 1): cache me please"
    assert create(**ask, extra_headers={"Cache-Control": "no-cache"}).headers["x-cache"] == "miss"


def test_a_stop_sequence_that_cuts_the_answer_is_named_plain_streamed_and_from_the_cache(
    sdk: anthropic.Anthropic,
) -> None:
    ask: Any = {"model": "mock-1", "max_tokens": 100, "messages": [user("say alpha STOP beta")]}
    create = sdk.messages.with_raw_response.create
    fresh = create(**ask, stop_sequences=["beta", "STOP"])
    hit = create(**ask, stop_sequences=["beta", "STOP"])
    with sdk.messages.stream(**ask, stop_sequences=["beta", "STOP"]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    for raw, cache in ((fresh, "miss"), (hit, "hit")):
        message = raw.parse()
        assert raw.headers["x-cache"] == cache
        assert message.content[0].text == "Mock answer (turn 1): say alpha "  # type: ignore[union-attr]
        assert message.stop_reason == "stop_sequence" and message.stop_sequence == "STOP"
    assert text == "Mock answer (turn 1): say alpha "
    assert final.stop_reason == "stop_sequence" and final.stop_sequence == "STOP"


def test_a_stop_sequence_in_a_fresh_stream_is_named_on_message_delta(gateway: ServerProcess) -> None:
    body = {"model": "mock-1", "max_tokens": 100, "stop_sequences": ["##"], "messages": [user("fresh one ## two")]}
    events = wire_events(gateway, body)
    assert events[-2][0] == "message_delta"
    assert events[-2][1]["delta"] == {"stop_reason": "stop_sequence", "stop_sequence": "##"}
    assert "".join(data["delta"]["text"] for name, data in events if name == "content_block_delta") == (
        "Mock answer (turn 1): fresh one "
    )


def test_a_stream_read_by_the_sdks_helpers(sdk: anthropic.Anthropic) -> None:
    with sdk.messages.stream(model="mock-1", max_tokens=100, messages=[user("stream three words")]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Mock answer (turn 1): stream three words"
    assert [block.type for block in final.content] == ["text"] and final.content[0].text == text  # type: ignore[union-attr]
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0 and final.usage.input_tokens > 0


def test_the_stream_is_anthropics_event_sequence_exactly(gateway: ServerProcess) -> None:
    events = wire_events(gateway, {"model": "mock-1", "max_tokens": 100, "messages": [user("raw events")]})
    names = [name for name, _ in events]
    assert names[:2] == ["message_start", "content_block_start"]
    assert set(names[2:-3]) == {"content_block_delta"}
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    start = events[0][1]["message"]
    assert start["id"].startswith("msg_") and start["content"] == [] and start["stop_reason"] is None
    assert events[1][1] == {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    assert all(data["index"] == 0 and data["delta"]["type"] == "text_delta" for _, data in events[2:-3])
    delta = events[-2][1]
    assert delta["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert delta["usage"]["output_tokens"] > 0 and delta["usage"]["input_tokens"] > 0


def test_thinking_streams_as_thinking_and_signature_deltas_and_goes_back_unchanged(
    sdk: anthropic.Anthropic, gateway: ServerProcess
) -> None:
    asked: Any = {
        "model": "mock-1",
        "max_tokens": 2000,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "messages": [user("think first")],
    }
    events = wire_events(gateway, asked)
    deltas = [data["delta"]["type"] for name, data in events if name == "content_block_delta"]
    assert deltas[0] == "thinking_delta" and "signature_delta" in deltas and deltas[-1] == "text_delta"
    starts = [data["content_block"]["type"] for name, data in events if name == "content_block_start"]
    assert starts == ["thinking", "text"]
    with sdk.messages.stream(**asked) as stream:
        final = stream.get_final_message()
    thinking, text = final.content
    assert thinking.type == "thinking" and thinking.signature and "think first" in thinking.thinking
    assert text.type == "text"
    history: Any = [user("think first"), {"role": "assistant", "content": [thinking.model_dump(), text.model_dump()]}]
    again = sdk.messages.create(**{**asked, "messages": [*history, user("and now?")]})
    assert again.content[-1].text.startswith("Mock answer (turn 2): and now?")
    altered = {**thinking.model_dump(), "thinking": thinking.thinking + " (edited)"}
    with pytest.raises(anthropic.BadRequestError, match="altered"):
        sdk.messages.create(
            **{**asked, "messages": [user("think first"), {"role": "assistant", "content": [altered]}, user("?")]}
        )


def test_a_tool_round_trip(sdk: anthropic.Anthropic) -> None:
    messages: list[Any] = [user("what does get_weather say for Paris?")]
    first = sdk.messages.create(model="mock-1", max_tokens=200, messages=messages, tools=[WEATHER, CLOCK])
    assert first.stop_reason == "tool_use"
    [call] = [block for block in first.content if block.type == "tool_use"]
    assert call.name == "get_weather" and "city" in call.input
    messages += [
        {"role": "assistant", "content": [block.model_dump() for block in first.content]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": call.id, "content": "sunny, 21 C"},
                {"type": "text", "text": "thanks"},
            ],
        },
    ]
    second = sdk.messages.create(model="mock-1", max_tokens=200, messages=messages, tools=[WEATHER, CLOCK])
    assert second.stop_reason == "end_turn"
    assert "thanks" in second.content[0].text  # type: ignore[union-attr]


def test_a_failed_tool_result_with_blocks_reaches_the_model_as_an_error(sdk: anthropic.Anthropic) -> None:
    first = sdk.messages.create(
        model="mock-1",
        max_tokens=200,
        messages=[user("call get_weather")],
        tools=[WEATHER],
        tool_choice={"type": "any"},
    )
    call = first.content[0]
    assert call.type == "tool_use"
    result: Any = {
        "type": "tool_result",
        "tool_use_id": call.id,
        "is_error": True,
        "content": [{"type": "text", "text": "station offline"}],
    }
    messages: Any = [
        user("call get_weather"),
        {"role": "assistant", "content": [call.model_dump()]},
        {"role": "user", "content": [result]},
    ]
    answer = sdk.messages.create(model="mock-1", max_tokens=200, messages=messages, tools=[WEATHER])
    text = answer.content[0].text  # type: ignore[union-attr]
    assert f"[tool {call.id} error] station offline" in text


def test_tool_choice_any_tool_none_and_no_parallel_calls(sdk: anthropic.Anthropic) -> None:
    both = [user("get_weather then get_time")]
    parallel = sdk.messages.create(model="mock-1", max_tokens=200, messages=both, tools=[WEATHER, CLOCK])
    assert [b.name for b in parallel.content if b.type == "tool_use"] == ["get_weather", "get_time"]
    single = sdk.messages.create(
        model="mock-1",
        max_tokens=200,
        messages=both,
        tools=[WEATHER, CLOCK],
        tool_choice={"type": "auto", "disable_parallel_tool_use": True},
    )
    assert [b.name for b in single.content if b.type == "tool_use"] == ["get_weather"]
    named = sdk.messages.create(
        model="mock-1",
        max_tokens=200,
        messages=[user("anything")],
        tools=[WEATHER, CLOCK],
        tool_choice={"type": "tool", "name": "get_time"},
    )
    assert [b.name for b in named.content if b.type == "tool_use"] == ["get_time"]
    none = sdk.messages.create(
        model="mock-1", max_tokens=200, messages=both, tools=[WEATHER], tool_choice={"type": "none"}
    )
    assert none.stop_reason == "end_turn" and [b.type for b in none.content] == ["text"]


def test_a_streamed_tool_call_comes_as_input_json_deltas(sdk: anthropic.Anthropic, gateway: ServerProcess) -> None:
    asked: Any = {"model": "mock-1", "max_tokens": 200, "messages": [user("use get_weather")], "tools": [WEATHER]}
    events = wire_events(gateway, asked)
    [start] = [data for name, data in events if name == "content_block_start"]
    assert start["content_block"]["type"] == "tool_use" and start["content_block"]["name"] == "get_weather"
    assert start["content_block"]["input"] == {}
    partial = "".join(data["delta"]["partial_json"] for name, data in events if name == "content_block_delta")
    assert "city" in json.loads(partial)
    with sdk.messages.stream(**asked) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use" and final.content[0].input == json.loads(partial)  # type: ignore[union-attr]


def test_images_as_base64_and_as_a_url(sdk: anthropic.Anthropic) -> None:
    content: Any = [
        {"type": "text", "text": "what are these?"},
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": base64.b64encode(PNG).decode()},
        },
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
    ]
    message = sdk.messages.create(model="mock-1", max_tokens=200, messages=[{"role": "user", "content": content}])
    text = message.content[0].text  # type: ignore[union-attr]
    assert f"[image image/png, {len(PNG)} bytes]" in text and "[image https://example.com/cat.png]" in text


def test_count_tokens_is_an_estimate_that_says_so(sdk: anthropic.Anthropic) -> None:
    raw = sdk.messages.with_raw_response.count_tokens(
        model="mock-1", system="a system prompt", messages=[user("count these words, please")], tools=[WEATHER]
    )
    assert raw.headers["x-token-count-estimated"] == "true"
    short = sdk.messages.count_tokens(model="mock-1", messages=[user("hi")]).input_tokens
    assert raw.parse().input_tokens > short >= 1
    with pytest.raises(anthropic.NotFoundError):
        sdk.messages.count_tokens(model="no-such-model", messages=[user("hi")])


def test_a_session_continues_through_the_session_headers(sdk: anthropic.Anthropic) -> None:
    session = {"X-User-ID": "anthropic-user", "X-Session-ID": "anthropic-session-1"}
    first = sdk.messages.create(model="mock-1", max_tokens=50, messages=[user("first")], extra_headers=session)
    second = sdk.messages.create(model="mock-1", max_tokens=50, messages=[user("second")], extra_headers=session)
    assert first.content[0].text.startswith("Mock answer (turn 1)")  # type: ignore[union-attr]
    assert second.content[0].text.startswith("Mock answer (turn 2): second")  # type: ignore[union-attr]


def test_a_complaint_in_a_session_is_recorded_by_the_feedback_loop(
    sdk: anthropic.Anthropic, gateway: ServerProcess
) -> None:
    def reports() -> int:
        count: int = httpx.get(gateway.base_url + "/api/v1/cache/stats", timeout=30).json()["reports"]
        return count

    session = {"X-User-ID": "anthropic-user", "X-Session-ID": "anthropic-feedback-1"}
    before = reports()
    sdk.messages.create(model="mock-1", max_tokens=50, messages=[user("write a sort function")], extra_headers=session)
    sdk.messages.create(
        model="mock-1", max_tokens=50, messages=[user("that code has a bug, no funciona")], extra_headers=session
    )
    assert reports() == before + 1


def test_the_async_client_plain_and_streamed(gateway: ServerProcess) -> None:
    async def run() -> tuple[anthropic.types.Message, str, anthropic.types.Message]:
        async with anthropic.AsyncAnthropic(base_url=gateway.base_url, api_key="x", max_retries=0) as client:
            plain = await client.messages.create(model="mock-1", max_tokens=50, messages=[user("async hello")])
            async with client.messages.stream(model="mock-1", max_tokens=50, messages=[user("async stream")]) as s:
                text = "".join([piece async for piece in s.text_stream])
                final = await s.get_final_message()
            return plain, text, final

    plain, text, final = asyncio.run(run())
    assert plain.content[0].text == "Mock answer (turn 1): async hello"  # type: ignore[union-attr]
    assert text == "Mock answer (turn 1): async stream" and final.stop_reason == "end_turn"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"model": "mock-1", "messages": [{"role": "user", "content": "hi"}]}, "max_tokens"),
        ({"model": "mock-1", "max_tokens": 0, "messages": [{"role": "user", "content": "hi"}]}, "max_tokens"),
        ({"model": "mock-1", "max_tokens": "10", "messages": [{"role": "user", "content": "hi"}]}, "max_tokens"),
        ({"model": "mock-1", "max_tokens": 10, "messages": []}, "messages"),
        ({"model": "mock-1", "max_tokens": 10, "messages": [{"role": "system", "content": "hi"}]}, "role"),
        ({"model": "mock-1", "max_tokens": 10, "messages": [{"role": "user", "content": [{"type": "video"}]}]}, "type"),
        (
            {"model": "mock-1", "max_tokens": 10, "temperature": 1.5, "messages": [{"role": "user", "content": "x"}]},
            "temperature",
        ),
    ],
)
def test_a_malformed_request_is_the_sdks_bad_request_error(sdk: anthropic.Anthropic, body: Any, field: str) -> None:
    with pytest.raises(anthropic.BadRequestError, match=field) as caught:
        sdk.post("/v1/messages", body=body, cast_to=httpx.Response)
    error = caught.value.body
    assert isinstance(error, dict) and error["type"] == "error"
    assert error["error"]["type"] == "invalid_request_error" and error["error"]["message"]


def test_a_tool_result_without_its_tool_use_is_refused(sdk: anthropic.Anthropic) -> None:
    orphan: Any = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_none", "content": "x"}]}
    with pytest.raises(anthropic.BadRequestError, match="toolu_none"):
        sdk.messages.create(model="mock-1", max_tokens=10, messages=[user("hi"), orphan])


# -- a slow upstream: ping events while it is quiet, and 529 when the gateway is full -----------------------------


@pytest.fixture(scope="module")
def slow_gateway() -> Iterator[ServerProcess]:
    env = {
        "LOG_LEVEL": "warning",
        "MOCK_LATENCY_MS": "700",
        "ANTHROPIC_PING_SECONDS": "0.25",
        "POOL_MAX_CONCURRENT": "1",
        "POOL_QUEUE_SIZE": "0",
        "CACHE_ENABLED": "false",
    }
    with ServerProcess(env) as running:
        yield running


def test_a_quiet_stream_gets_ping_events_that_the_sdk_skips(slow_gateway: ServerProcess) -> None:
    body = {"model": "mock-1", "max_tokens": 10, "messages": [user("slow")], "stream": True}
    response = httpx.post(slow_gateway.base_url + "/v1/messages", json=body, timeout=30)
    assert 'event: ping\ndata: {"type":"ping"}' in response.text
    first_ping = response.text.index("event: ping")
    assert response.text.index("event: message_start") < first_ping < response.text.index("event: message_stop")
    client = anthropic.Anthropic(base_url=slow_gateway.base_url, api_key="x", max_retries=0)
    with client.messages.stream(model="mock-1", max_tokens=10, messages=[user("slow")]) as stream:
        assert "".join(stream.text_stream) == "Mock answer (turn 1): slow"


def test_a_full_gateway_is_529_the_sdks_overloaded_error(slow_gateway: ServerProcess) -> None:
    client = anthropic.Anthropic(base_url=slow_gateway.base_url, api_key="x", max_retries=0)
    started = threading.Event()

    def hold_the_only_slot() -> None:
        with client.messages.stream(model="mock-1", max_tokens=10, messages=[user("hold the slot")]) as stream:
            started.set()
            stream.until_done()

    holder = threading.Thread(target=hold_the_only_slot)
    holder.start()
    try:
        assert started.wait(30)
        with pytest.raises(anthropic.InternalServerError) as caught:
            client.messages.create(model="mock-1", max_tokens=10, messages=[user("no room")])
    finally:
        holder.join(60)
    assert isinstance(caught.value, anthropic.OverloadedError) and caught.value.status_code == 529
    assert caught.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]
    assert int(caught.value.response.headers["retry-after"]) >= 1


def test_messages_are_counted_under_their_own_method_label(slow_gateway: ServerProcess) -> None:
    client = anthropic.Anthropic(base_url=slow_gateway.base_url, api_key="x", max_retries=0)
    client.messages.create(model="mock-1", max_tokens=1, messages=[user("count me")])
    deadline = time.monotonic() + 5
    metrics = ""
    while time.monotonic() < deadline and 'method="anthropic_messages"' not in metrics:
        metrics = httpx.get(slow_gateway.base_url + "/metrics").text
    assert 'mcp_requests_total{method="anthropic_messages"' in metrics.replace(", ", ",")

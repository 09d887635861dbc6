"""The OpenAI dialect's pure mappings: wire request → ``GenerateFields``, events → ``chat.completion.chunk`` frames."""

from __future__ import annotations

import base64
import json
from typing import Any

import msgspec
import pytest

from domain.catalogue import Catalogue
from domain.catalogue_data import DEFAULT_MODELS, MOCK_MODELS
from domain.content import (
    ImagePart,
    ReasoningDelta,
    ReasoningPart,
    TextPart,
    ToolCallDelta,
    ToolCallPart,
    ToolResultPart,
)
from domain.errors import InvalidRequest
from domain.models import Answer, StreamDelta, StreamEnd, Usage
from entrypoints.http.openai.chunks import DONE, ChunkRenderer
from entrypoints.http.openai.mapping import completion_json, generate_fields
from entrypoints.http.openai.shapes import ChatCompletionBody

CATALOGUE = Catalogue(MOCK_MODELS, configured=("mock",), default_models=DEFAULT_MODELS)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(8)


def fields(**body: Any) -> Any:
    decoded = msgspec.json.decode(json.dumps({"model": "mock-1", **body}), type=ChatCompletionBody)
    return generate_fields(decoded, CATALOGUE)


def test_a_last_user_text_is_the_prompt_and_system_and_developer_messages_are_system() -> None:
    mapped = fields(
        messages=[
            {"role": "system", "content": "a"},
            {"role": "developer", "content": "b"},
            {"role": "user", "content": "q"},
        ]
    )
    assert mapped.prompt == "q"
    assert [(m.role, m.content) for m in mapped.messages] == [("system", "a"), ("system", "b")]


def test_an_assistant_turn_keeps_its_reasoning_text_and_calls_in_order_and_tool_results_merge() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"x":1}'}}
    mapped = fields(
        messages=[
            {"role": "user", "content": "go"},
            {
                "role": "assistant",
                "content": "calling",
                "tool_calls": [call, {**call, "id": "c2"}],
                "reasoning_content": "hm",
            },
            {"role": "tool", "tool_call_id": "c1", "content": "one"},
            {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "two"}]},
        ]
    )
    assert mapped.prompt is None
    assistant, results = mapped.messages[1], mapped.messages[2]
    assert assistant.parts == (
        ReasoningPart(text="hm"),
        TextPart(text="calling"),
        ToolCallPart(id="c1", name="f", arguments='{"x":1}'),
        ToolCallPart(id="c2", name="f", arguments='{"x":1}'),
    )
    assert results.parts == (ToolResultPart(call_id="c1", content="one"), ToolResultPart(call_id="c2", content="two"))


def test_an_image_data_url_becomes_bytes_and_a_web_url_stays_a_url() -> None:
    data_url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    content = [
        {"type": "text", "text": "see"},
        {"type": "image_url", "image_url": {"url": data_url, "detail": "high"}},
        {"type": "image_url", "image_url": {"url": "https://img.example/cat.png"}},
    ]
    [message] = fields(messages=[{"role": "user", "content": content}]).messages
    assert message.parts[1] == ImagePart(media_type="image/png", data=PNG)
    assert message.parts[2] == ImagePart(url="https://img.example/cat.png")


def test_options_map_onto_the_domain() -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    schema = {"name": "r", "schema": {"type": "object"}, "strict": True}
    mapped = fields(
        messages=[{"role": "user", "content": "q"}],
        tools=[tool],
        tool_choice={"type": "function", "function": {"name": "f"}},
        parallel_tool_calls=False,
        response_format={"type": "json_schema", "json_schema": schema},
        max_completion_tokens=9,
        stop="END",
        seed=3,
        top_p=0.5,
        reasoning_effort="high",
    )
    assert (mapped.tool_choice.mode, mapped.tool_choice.name) == ("tool", "f")
    assert mapped.parallel_tool_calls is False and mapped.max_tokens == 9 and mapped.stop == ("END",)
    assert (mapped.output_format.type, mapped.output_format.name, mapped.output_format.strict) == (
        "json_schema",
        "r",
        True,
    )
    assert mapped.reasoning.effort == "high" and mapped.seed == 3 and mapped.top_p == 0.5
    assert fields(messages=[{"role": "user", "content": "q"}], reasoning_effort="none").reasoning.requested is False


@pytest.mark.parametrize(
    "body",
    [
        {"messages": [{"role": "user", "content": "q"}], "n": 2},
        {"messages": [{"role": "user", "content": "q"}], "max_tokens": 1, "max_completion_tokens": 1},
        {"messages": []},
        {"messages": [{"role": "tool", "content": "x"}]},
        {"messages": [{"role": "user", "content": "q", "tool_call_id": "x"}]},
        {"messages": [{"role": "system", "content": [{"type": "image_url", "image_url": {"url": "https://x"}}]}]},
        {"messages": [{"role": "user", "content": [{"type": "refusal", "refusal": "no"}]}]},
        {"messages": [{"role": "user", "content": "q"}], "response_format": {"type": "json_schema"}},
        {"model": "mock/", "messages": [{"role": "user", "content": "q"}]},
    ],
)
def test_what_cannot_be_honoured_is_refused(body: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest):
        fields(**body)


def answer(**overrides: Any) -> Answer:
    usage = Usage(prompt_tokens=3, completion_tokens=4, cache_read_input_tokens=2, reasoning_tokens=1)
    fields: dict[str, Any] = {"content": "hi", "model": "mock-1", "provider": "mock", "request_id": "r1"}
    return Answer(usage=usage, **{**fields, **overrides})


def test_a_completion_with_only_tool_calls_has_null_content_and_the_usage_details() -> None:
    body = completion_json(
        answer(content="", tool_calls=(ToolCallPart(id="c", name="f"),), finish_reason="tool_calls"), 5
    )
    message = body["choices"][0]["message"]  # type: ignore[index]
    assert message["content"] is None and message["tool_calls"][0]["function"] == {"name": "f", "arguments": "{}"}
    assert body["usage"]["prompt_tokens_details"] == {"cached_tokens": 2}  # type: ignore[index]
    assert body["usage"]["completion_tokens_details"] == {"reasoning_tokens": 1}  # type: ignore[index]


def decode(frames: bytes) -> list[Any]:
    blocks = [b.removeprefix(b"data: ") for b in frames.strip().split(b"\n\n") if b]
    return [b.decode() if b == b"[DONE]" else json.loads(b) for b in blocks]


def test_the_role_comes_once_first_and_the_usage_once_last_before_done() -> None:
    render = ChunkRenderer(completion_id="chatcmpl-r1", created=5, model="mock-1", include_usage=True)
    events = [
        *decode(render(StreamDelta(content="a", index=0))),
        *decode(render(StreamDelta(content="b", index=1))),
        *decode(render(StreamEnd(index=2, answer=answer()))),
    ]
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert [e["choices"][0]["delta"].get("content") for e in events[1:3]] == ["a", "b"]
    assert events[3]["choices"][0]["finish_reason"] == "stop"
    assert events[4]["choices"] == [] and events[4]["usage"]["total_tokens"] == 7 and events[5] == "[DONE]"
    assert all(e["usage"] is None for e in events[:4])


def test_tool_call_deltas_carry_id_and_name_first_then_arguments_and_a_bare_signature_sends_nothing() -> None:
    render = ChunkRenderer(completion_id="c", created=0, model="m", include_usage=False)
    render(StreamDelta(content="", index=0))  # the role went out with it
    first = decode(render(StreamDelta(content="", index=1, tool_calls=(ToolCallDelta(index=0, id="c1", name="f"),))))
    later = decode(render(StreamDelta(content="", index=2, tool_calls=(ToolCallDelta(index=0, arguments='{"a"'),))))
    assert first[0]["choices"][0]["delta"]["tool_calls"] == [
        {"index": 0, "id": "c1", "type": "function", "function": {"name": "f", "arguments": ""}}
    ]
    assert later[0]["choices"][0]["delta"]["tool_calls"] == [{"index": 0, "function": {"arguments": '{"a"'}}]
    assert render(StreamDelta(content="", index=3, reasoning=ReasoningDelta(signature="sig"))) == b""
    assert render(StreamEnd(index=4, answer=answer())).endswith(DONE)

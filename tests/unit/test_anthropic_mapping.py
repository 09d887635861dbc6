"""The Anthropic dialect's pure mapping: blocks onto the domain, answers and stream events back."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from domain.catalogue import Catalogue
from domain.catalogue_data import DEFAULT_MODELS, MOCK_MODELS
from domain.content import ReasoningDelta, TextPart, ToolCallDelta, ToolResultPart
from domain.models import Answer, StreamDelta, StreamEnd, Usage
from entrypoints.http.anthropic.events import EventRenderer
from entrypoints.http.anthropic.mapping import generate_fields, message_json, usage_json
from entrypoints.http.anthropic.shapes import MessagesBody


@pytest.fixture
def catalogue() -> Catalogue:
    return Catalogue(MOCK_MODELS, configured=("mock",), default_models=DEFAULT_MODELS)


def body(**fields: Any) -> MessagesBody:
    return msgspec.convert({"model": "mock-1", "max_tokens": 100, **fields}, MessagesBody)


def events(frames: bytes) -> list[tuple[str, dict[str, Any]]]:
    parsed = []
    for block in frames.decode().strip().split("\n\n"):
        name, data = block.split("\n")
        parsed.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return parsed


def answer(**fields: Any) -> Answer:
    return Answer(**{"content": "", "model": "m", "provider": "mock", "usage": Usage(), **fields})


def test_a_user_message_with_tool_results_becomes_a_tool_turn_then_the_users_words(catalogue: Catalogue) -> None:
    content = [
        {"type": "tool_result", "tool_use_id": "t1", "content": "18 C", "cache_control": {"type": "ephemeral"}},
        {"type": "tool_result", "tool_use_id": "t2", "is_error": True, "content": [{"type": "text", "text": "down"}]},
        {"type": "text", "text": "thanks"},
    ]
    fields = generate_fields(body(messages=[{"role": "user", "content": content}]), catalogue)
    tool, words = fields.messages
    assert tool.role == "tool" and tool.cache_after == (0,)
    first, second = tool.parts
    assert isinstance(first, ToolResultPart) and first.content == "18 C" and not first.is_error
    assert isinstance(second, ToolResultPart) and second.is_error and second.parts == (TextPart(text="down"),)
    assert words.role == "user" and words.content == "thanks" and words.cache_after == ()


def test_cache_control_on_system_and_tools_are_marks(catalogue: Catalogue) -> None:
    fields = generate_fields(
        body(
            system=[
                {"type": "text", "text": "a"},
                {"type": "text", "text": "b", "cache_control": {"type": "ephemeral"}},
            ],
            tools=[{"name": "t", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}}],
            messages=[{"role": "user", "content": "hi"}],
        ),
        catalogue,
    )
    assert fields.system == "a\n\nb" and fields.cache_marks.system and fields.cache_marks.tools


def test_usage_counts_the_uncached_input_as_input_tokens() -> None:
    usage = Usage(prompt_tokens=100, completion_tokens=5, cache_read_input_tokens=60, cache_write_input_tokens=30)
    assert usage_json(usage) == {
        "input_tokens": 10,
        "output_tokens": 5,
        "cache_creation_input_tokens": 30,
        "cache_read_input_tokens": 60,
    }


def test_stop_reasons_and_an_empty_answer() -> None:
    assert message_json(answer(finish_reason="content_filter"))["stop_reason"] == "refusal"
    assert message_json(answer(finish_reason="length"))["stop_reason"] == "max_tokens"
    assert message_json(answer())["content"] == [{"type": "text", "text": ""}]


def test_the_events_open_and_close_one_block_per_kind_and_per_tool_call() -> None:
    render = EventRenderer(message_id="msg_1", model="m")
    frames = b"".join(
        render(item)
        for item in (
            StreamDelta(content="", index=0, reasoning=ReasoningDelta(text="hm")),
            StreamDelta(content="", index=1, reasoning=ReasoningDelta(signature="sig")),
            StreamDelta(content="", index=2, reasoning=ReasoningDelta(redacted=b"\x01")),
            StreamDelta(content="Hel", index=3),
            StreamDelta(content="lo", index=4),
            StreamDelta(content="", index=5, tool_calls=(ToolCallDelta(index=0, id="a", name="f"),)),
            StreamDelta(content="", index=6, tool_calls=(ToolCallDelta(index=0, arguments='{"x":'),)),
            StreamDelta(content="", index=7, tool_calls=(ToolCallDelta(index=0, arguments="1}"),)),
            StreamDelta(content="", index=8, tool_calls=(ToolCallDelta(index=1, id="b", name="g", arguments="{}"),)),
            StreamEnd(
                index=9, answer=answer(finish_reason="tool_calls", usage=Usage(prompt_tokens=3, completion_tokens=4))
            ),
        )
    )
    sequence = events(frames)
    described = [
        (name, data.get("index"), (data.get("content_block") or data.get("delta") or {}).get("type"))
        for name, data in sequence
    ]
    assert described == [
        ("message_start", None, None),
        ("content_block_start", 0, "thinking"),
        ("content_block_delta", 0, "thinking_delta"),
        ("content_block_delta", 0, "signature_delta"),
        ("content_block_stop", 0, None),
        ("content_block_start", 1, "redacted_thinking"),
        ("content_block_stop", 1, None),
        ("content_block_start", 2, "text"),
        ("content_block_delta", 2, "text_delta"),
        ("content_block_delta", 2, "text_delta"),
        ("content_block_stop", 2, None),
        ("content_block_start", 3, "tool_use"),
        ("content_block_delta", 3, "input_json_delta"),
        ("content_block_delta", 3, "input_json_delta"),
        ("content_block_stop", 3, None),
        ("content_block_start", 4, "tool_use"),
        ("content_block_delta", 4, "input_json_delta"),
        ("content_block_stop", 4, None),
        ("message_delta", None, None),
        ("message_stop", None, None),
    ]
    assert sequence[-2][1]["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert sequence[-2][1]["usage"]["output_tokens"] == 4

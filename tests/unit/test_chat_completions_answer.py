"""Reading chat-completion answers the way the OpenAI-compatible servers really send them."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from adapters.providers.chat_completions_answer import StreamFold, WireChunk, WireCompletion, completion
from domain.content import ToolCallDelta
from domain.errors import UpstreamError

decode_chunk = msgspec.json.Decoder(WireChunk).decode
decode_completion = msgspec.json.Decoder(WireCompletion).decode
encode = msgspec.json.encode


def fragment(call: dict[str, Any], finish_reason: str | None = None) -> bytes:
    return encode({"choices": [{"delta": {"tool_calls": [call]}, "finish_reason": finish_reason}]})


def fold(*events: bytes | str) -> tuple[list[ToolCallDelta], str]:
    stream = StreamFold("openai")
    chunks = [chunk for event in events for chunk in stream.add(decode_chunk(event))]
    end = stream.end()
    return [delta for chunk in chunks for delta in chunk.tool_calls], end.finish_reason or ""


@pytest.mark.parametrize(
    ("upstream", "domain"),
    [
        ("stop", "stop"),
        ("length", "length"),
        ("tool_calls", "tool_calls"),
        ("content_filter", "content_filter"),
        ("function_call", "tool_calls"),
        ("eos", "stop"),
        (None, "stop"),
    ],
)
def test_finish_reasons_read_as_the_domains(upstream: str | None, domain: str) -> None:
    body = encode({"choices": [{"message": {"content": "x"}, "finish_reason": upstream}]})
    assert completion(decode_completion(body), "m").finish_reason == domain


def test_a_server_that_says_stop_after_tool_calls_meant_tool_calls() -> None:
    calls = [{"id": "c1", "function": {"name": "f", "arguments": ""}}]
    body = encode({"choices": [{"message": {"content": None, "tool_calls": calls}, "finish_reason": "stop"}]})
    answer = completion(decode_completion(body), "m")
    assert answer.finish_reason == "tool_calls"
    assert [(c.id, c.name, c.arguments) for c in answer.tool_calls] == [("c1", "f", "{}")]


def test_a_call_without_an_id_gets_one() -> None:
    body = b'{"choices":[{"message":{"tool_calls":[{"function":{"name":"f","arguments":"{}"}}]}}]}'
    [call] = completion(decode_completion(body), "m").tool_calls
    assert call.id.startswith("call_") and len(call.id) > len("call_")


def test_a_server_repeating_id_and_name_on_every_fragment_is_read_as_one_call() -> None:
    first = fragment({"index": 0, "id": "c1", "function": {"name": "f", "arguments": '{"a"'}})
    second = fragment({"index": 0, "id": "c1", "function": {"name": "f", "arguments": ": 1}"}}, "tool_calls")
    deltas, finish = fold(first, second)
    assert deltas == [
        ToolCallDelta(index=0, id="c1", name="f", arguments='{"a"'),
        ToolCallDelta(index=0, arguments=": 1}"),
    ]
    assert finish == "tool_calls"


def test_a_streamed_call_ending_with_stop_finishes_as_tool_calls() -> None:
    event = fragment({"index": 0, "id": "c1", "function": {"name": "f", "arguments": "{}"}}, "stop")
    assert fold(event)[1] == "tool_calls"


def test_usage_details_may_be_null() -> None:
    details = {"prompt_tokens_details": None, "completion_tokens_details": {"reasoning_tokens": None}}
    body = encode({"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2, **details}})
    usage = completion(decode_completion(body), "m").usage
    assert (usage.prompt_tokens, usage.cache_read_input_tokens, usage.reasoning_tokens) == (5, 0, 0)


def test_a_stream_without_a_finish_reason_was_cut_short() -> None:
    with pytest.raises(UpstreamError, match="before the answer was complete"):
        fold('{"choices":[{"delta":{"content":"hi"}}]}')

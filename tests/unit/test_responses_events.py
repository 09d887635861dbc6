"""The Responses API's stream events, rendered from the use-case's events (entrypoints/http/openai/responses/events.py).

What the SDK's stream helper needs: numbered events, each item added before its
deltas and done before the end, parallel calls kept apart by their index, and
the final response holding the same items with the same ids.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from domain.content import ReasoningDelta, ReasoningPart, ToolCallDelta, ToolCallPart
from domain.errors import UpstreamError
from domain.models import Answer, GenerationRequest, StreamDelta, StreamEnd, StreamEvent, Usage
from entrypoints.http.openai.responses.events import ResponseEvents
from entrypoints.http.openai.responses.mapping import ResponseHead
from entrypoints.http.openai.responses.shapes import ResponseBody

GENERATION = GenerationRequest(model="mock-1", provider="mock", max_tokens=10, temperature=0.0)


def renderer() -> ResponseEvents:
    body = msgspec.convert({"model": "mock-1", "input": "x"}, ResponseBody)
    return ResponseEvents(ResponseHead(id="resp_abc", created_at=1, body=body, generation=GENERATION))


def events(frames: bytes) -> list[dict[str, Any]]:
    decoded = []
    for block in frames.decode().strip().split("\n\n"):
        kind, data = block.split("\n")
        payload = json.loads(data.removeprefix("data: "))
        assert kind == "event: " + payload["type"]
        decoded.append(payload)
    return decoded


def run(stream: list[StreamEvent]) -> list[dict[str, Any]]:
    render = renderer()
    return events(b"".join(render(event) for event in stream))


def test_reasoning_then_text_then_two_parallel_calls() -> None:
    calls = (ToolCallPart(id="c0", name="f", arguments='{"a":1}'), ToolCallPart(id="c1", name="g", arguments="{}"))
    answer = Answer(
        content="hi", model="mock-1", provider="mock", usage=Usage(prompt_tokens=3, completion_tokens=4),
        finish_reason="tool_calls", tool_calls=calls,
        reasoning=(ReasoningPart(text="think", signature="sig"),),
    )  # fmt: skip
    out = run([
        StreamDelta(content="", index=0, reasoning=ReasoningDelta(text="think")),
        StreamDelta(content="", index=1, reasoning=ReasoningDelta(signature="sig")),
        StreamDelta(content="hi", index=2),
        StreamDelta(content="", index=3, tool_calls=(ToolCallDelta(index=0, id="c0", name="f"),
                                                     ToolCallDelta(index=1, id="c1", name="g"))),
        StreamDelta(content="", index=4, tool_calls=(ToolCallDelta(index=0, arguments='{"a":1}'),)),
        StreamDelta(content="", index=5, tool_calls=(ToolCallDelta(index=1, arguments="{}"),)),
        StreamEnd(index=6, answer=answer),
    ])  # fmt: skip
    assert [e["sequence_number"] for e in out] == list(range(len(out)))
    assert [e["type"] for e in out[:2]] == ["response.created", "response.in_progress"]
    added = [e for e in out if e["type"] == "response.output_item.added"]
    done = [e for e in out if e["type"] == "response.output_item.done"]
    assert [e["item"]["type"] for e in added] == ["reasoning", "message", "function_call", "function_call"]
    assert sorted(e["output_index"] for e in done) == [0, 1, 2, 3]
    deltas = [e for e in out if e["type"] == "response.function_call_arguments.delta"]
    assert [(d["output_index"], d["delta"]) for d in deltas] == [(2, '{"a":1}'), (3, "{}")]
    final = out[-1]
    assert final["type"] == "response.completed"
    output = final["response"]["output"]
    assert [item["id"] for item in output] == [e["item"]["id"] for e in added]
    assert output[0]["encrypted_content"] and output[1]["content"][0]["text"] == "hi"
    assert [(i["call_id"], i["arguments"]) for i in output[2:]] == [("c0", '{"a":1}'), ("c1", "{}")]
    assert final["response"]["usage"]["total_tokens"] == 7


def test_an_empty_answer_is_one_empty_message_and_a_cut_one_is_incomplete() -> None:
    answer = Answer(content="", model="mock-1", provider="mock", usage=Usage(), finish_reason="length")
    out = run([StreamEnd(index=0, answer=answer)])
    assert out[-1]["type"] == "response.incomplete"
    assert out[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert out[-1]["response"]["output"][0]["content"][0]["text"] == ""


def test_a_failure_after_the_start_is_an_error_then_a_failed_response() -> None:
    render = renderer()
    started = render(StreamDelta(content="par", index=0))
    out = events(started + render.error(UpstreamError("upstream broke")))
    assert [e["type"] for e in out[-2:]] == ["error", "response.failed"]
    assert out[-1]["response"]["status"] == "failed" and out[-1]["response"]["error"]["message"] == "upstream broke"
    assert all(item for item in out[-1]["response"]["output"])  # no placeholder of the open message

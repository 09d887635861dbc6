"""Rich conversations through the real server and the mock provider (docs/api.md#messages to #reasoning).

Tool calls (two steps, parallel, streamed, forced), images, JSON Schema output
and reasoning on HTTP, SSE, batch and WebSocket; every validation rule as a 400
that names its field.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets

from tests.support.server import ServerProcess

WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1, "maximum": 7}},
        "required": ["city"],
    },
}
TIME = {"name": "get_time", "parameters": {"type": "object", "properties": {"zone": {"enum": ["UTC", "PET"]}}}}
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(24))


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with ServerProcess(ws=True) as running:
        yield running


def generate(server: ServerProcess, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(server.base_url + "/api/v1/generate", json=body, headers=headers or {}, timeout=30)


def answer(server: ServerProcess, body: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = generate(server, body, headers)
    assert response.status_code == 200, response.text
    decoded: dict[str, Any] = response.json()
    return decoded


def unique(text: str) -> str:
    """A prompt no earlier test sent, so that the cache does not answer it."""
    return f"{text} ({uuid.uuid4().hex[:8]})"


def sse_events(server: ServerProcess, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The stream's events as (event kind, data); the kind is ``message`` when the event names none."""
    response = httpx.post(server.base_url + "/api/v1/generate/stream", json=body, timeout=30)
    assert response.status_code == 200, response.text
    events = []
    for block in response.text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
        events.append((lines.get("event", "message"), json.loads(lines["data"])))
    return events


def assembled(fragments: list[dict[str, Any]]) -> list[dict[str, str]]:
    calls: dict[int, dict[str, str]] = {}
    for fragment in fragments:
        call = calls.setdefault(fragment["index"], {"id": "", "name": "", "arguments": ""})
        call["id"] = call["id"] or fragment.get("id", "")
        call["name"] = call["name"] or fragment.get("name", "")
        call["arguments"] += fragment["arguments"]
    return [calls[i] for i in sorted(calls)]


class TestToolCalls:
    def test_a_two_step_tool_conversation_calls_then_answers_from_the_result(self, server: ServerProcess) -> None:
        asked = {"role": "user", "content": unique("What does get_weather say about Lima?")}
        first = answer(server, {"messages": [asked], "tools": [WEATHER]})
        assert first["finishReason"] == "tool_calls" and first["content"] == ""
        [call] = first["toolCalls"]
        arguments = json.loads(call["arguments"])
        assert call["name"] == "get_weather" and isinstance(arguments["city"], str) and 1 <= arguments["days"] <= 7

        echoed = {"role": "assistant", "content": first["content"], "toolCalls": first["toolCalls"]}
        result = {"role": "tool", "toolCallId": call["id"], "content": "18 C and cloudy"}
        final = answer(server, {"messages": [asked, echoed, result], "tools": [WEATHER]})
        assert final["finishReason"] == "stop" and "toolCalls" not in final
        assert "returned] 18 C and cloudy" in final["content"]

    def test_the_same_conversation_in_a_session_sends_only_the_new_turn(self, server: ServerProcess) -> None:
        headers = {"X-User-ID": "ana", "X-Session-ID": f"s-{uuid.uuid4().hex[:8]}"}
        first = answer(server, {"prompt": unique("call get_weather"), "tools": [WEATHER]}, headers)
        result = {
            "role": "tool",
            "content": [{"type": "toolResult", "callId": first["toolCalls"][0]["id"], "content": "sunny"}],
        }
        final = answer(server, {"messages": [result], "tools": [WEATHER]}, headers)
        assert "sunny" in final["content"]
        session = httpx.get(
            f"{server.base_url}/api/v1/sessions/{headers['X-Session-ID']}", headers={"X-User-ID": "ana"}
        ).json()
        assert [m["role"] for m in session["messages"]] == ["user", "assistant", "tool", "assistant"]
        assert session["messages"][1]["content"][0]["type"] == "toolCall"
        assert session["messages"][2]["content"][0]["callId"] == first["toolCalls"][0]["id"]

    def test_parallel_tool_calls_and_turning_them_off(self, server: ServerProcess) -> None:
        prompt = unique("use get_time and get_weather")
        both = answer(server, {"prompt": prompt, "tools": [WEATHER, TIME]})
        assert [c["name"] for c in both["toolCalls"]] == ["get_time", "get_weather"]
        assert len({c["id"] for c in both["toolCalls"]}) == 2
        one = answer(server, {"prompt": prompt, "tools": [WEATHER, TIME], "parallelToolCalls": False})
        assert [c["name"] for c in one["toolCalls"]] == ["get_time"]

    def test_tool_choice_required_and_named(self, server: ServerProcess) -> None:
        required = answer(server, {"prompt": unique("hello"), "tools": [WEATHER, TIME], "toolChoice": "required"})
        assert [c["name"] for c in required["toolCalls"]] == ["get_weather"]
        named = {"prompt": unique("get_weather"), "tools": [WEATHER, TIME], "toolChoice": {"name": "get_time"}}
        assert [c["name"] for c in answer(server, named)["toolCalls"]] == ["get_time"]
        none = answer(server, {"prompt": unique("get_weather"), "tools": [WEATHER], "toolChoice": "none"})
        assert "toolCalls" not in none and none["finishReason"] == "stop"

    def test_a_streamed_tool_call_arrives_in_fragments_of_their_own_kind(self, server: ServerProcess) -> None:
        events = sse_events(server, {"prompt": unique("get_weather and get_time"), "tools": [WEATHER, TIME]})
        fragments = [f for kind, data in events if kind == "toolCall" for f in data["toolCalls"]]
        assert all(data["type"] == "toolCall" for kind, data in events if kind == "toolCall")
        assert len(fragments) > 4  # the arguments come in pieces
        final = events[-1][1]
        assert final["finished"] is True and final["finishReason"] == "tool_calls"
        assert assembled(fragments) == final["toolCalls"]
        assert [data["index"] for _, data in events] == list(range(len(events)))

    def test_a_tool_call_answer_is_cached(self, server: ServerProcess) -> None:
        body = {"prompt": unique("get_weather"), "tools": [WEATHER]}
        fresh, again = answer(server, body), answer(server, body)
        assert again["cached"] is True and again["toolCalls"] == fresh["toolCalls"]


class TestImagesJsonAndReasoning:
    def test_an_image_as_a_data_url_and_as_base64_data(self, server: ServerProcess) -> None:
        data_url = "data:image/png;base64," + base64.b64encode(PNG).decode()
        content = [
            {"type": "text", "text": unique("what is this?")},
            {"type": "image", "url": data_url},
            {"type": "image", "mediaType": "image/jpeg", "data": base64.b64encode(b"\xff\xd8\xff" * 4).decode()},
        ]
        reply = answer(server, {"messages": [{"role": "user", "content": content}]})
        assert reply["content"].endswith(f"[image image/png, {len(PNG)} bytes] [image image/jpeg, 12 bytes]")

    def test_json_schema_output_is_an_instance_of_the_schema(self, server: ServerProcess) -> None:
        schema = {
            "type": "object",
            "properties": {"city": {"type": "string"}, "temperature": {"type": "number", "minimum": -50}},
            "required": ["city", "temperature"],
            "additionalProperties": False,
        }
        body = {
            "prompt": unique("weather as JSON"),
            "responseFormat": {"type": "json_schema", "name": "w", "schema": schema},
        }
        value = json.loads(answer(server, body)["content"])
        assert set(value) == {"city", "temperature"} and isinstance(value["city"], str) and value["temperature"] >= -50
        plain_json = answer(server, {"prompt": unique("any JSON"), "responseFormat": {"type": "json_object"}})
        assert isinstance(json.loads(plain_json["content"]), dict)

    def test_reasoning_is_returned_and_must_come_back_unchanged(self, server: ServerProcess) -> None:
        asked = {"role": "user", "content": unique("think first")}
        first = answer(server, {"messages": [asked], "reasoning": {"effort": "low"}})
        [block] = first["reasoning"]
        assert block["signature"] and first["reasoningTokens"] > 0
        back = {"role": "assistant", "content": first["content"], "reasoning": first["reasoning"]}
        follow = {"role": "user", "content": "and then?"}
        assert generate(server, {"messages": [asked, back, follow]}).status_code == 200
        altered = {**back, "reasoning": [{**block, "text": block["text"] + " (edited)"}]}
        refused = generate(server, {"messages": [asked, altered, follow]})
        assert refused.status_code == 400 and refused.json()["code"] == "upstream_bad_request"

    def test_streamed_reasoning_is_an_event_kind_of_its_own(self, server: ServerProcess) -> None:
        events = sse_events(server, {"prompt": unique("think"), "reasoning": {"budgetTokens": 1024}})
        thoughts = [data["reasoning"] for kind, data in events if kind == "reasoning"]
        assert "".join(t["text"] for t in thoughts) == events[-1][1]["reasoning"][0]["text"]
        assert thoughts[-1]["signature"] == events[-1][1]["reasoning"][0]["signature"]
        text = "".join(data["content"] for kind, data in events if kind == "message" and not data["finished"])
        assert text.startswith("Mock answer")

    def test_a_plain_prompt_is_answered_as_it_always_was(self, server: ServerProcess) -> None:
        reply = answer(server, {"prompt": "Hello"})
        assert reply["content"] == "Mock answer (turn 1): Hello"
        assert not {"toolCalls", "reasoning", "reasoningTokens", "cacheReadInputTokens"} & set(reply)
        with_messages = answer(server, {"messages": [{"role": "system", "content": "be brief"}], "prompt": "Hello"})
        assert with_messages["content"] == "Mock answer (turn 1): Hello [system: be brief ]"


CALL = {"type": "toolCall", "id": "call_1", "name": "get_weather", "arguments": {"city": "Lima"}}
ASKED = {"role": "user", "content": "weather?"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"messages": [ASKED, {"role": "tool", "toolCallId": "nope", "content": "x"}]},
            "messages[1].content[0].callId",
        ),
        (
            {"messages": [ASKED, {"role": "assistant", "content": [CALL, CALL]}]},
            "messages[1].content[1].id: tool call id 'call_1' is used twice",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "image", "mediaType": "image/tiff", "data": "AAAA"}]}]},
            "messages[0].content[0].mediaType: image type image/tiff",
        ),
        (
            {
                "model": "mock-text-1",
                "messages": [{"role": "user", "content": [{"type": "image", "url": "https://x/a.png"}]}],
            },
            "messages[0].content[0]: model 'mock-text-1' does not take images",
        ),
        ({"model": "mock-text-1", "prompt": "x", "tools": [WEATHER]}, "tools: model 'mock-text-1' does not take tools"),
        (
            {
                "prompt": "x",
                "tools": [{"name": "t", "parameters": {"type": "object", "properties": {"a": {"type": "strng"}}}}],
            },
            "tools[0].parameters.properties.a.type",
        ),
        (
            {"prompt": "x", "responseFormat": {"type": "json_schema", "schema": {"required": "city"}}},
            "responseFormat.schema.required",
        ),
        ({"prompt": "x", "toolChoice": "required"}, "toolChoice 'required' needs tools"),
        ({"prompt": "x", "tools": [WEATHER], "toolChoice": {"name": "other"}}, "toolChoice names tool 'other'"),
        (
            {"messages": [ASKED, {"role": "assistant", "content": [CALL]}, ASKED]},
            "messages[2]: tool call 'call_1' has no result",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "image", "url": "data:image/png,abc"}]}]},
            "messages[0].content[0].url",
        ),
        ({"prompt": "x", "topP": 1.5}, "topP"),
    ],
)
def test_each_validation_rule_is_a_400_naming_the_field(
    server: ServerProcess, body: dict[str, Any], field: str
) -> None:
    response = generate(server, body)
    assert response.status_code == 400, response.text
    assert response.json()["error"].startswith(field)


def test_a_batch_item_may_be_rich_and_a_bad_one_fails_in_its_place(server: ServerProcess) -> None:
    items = [{"prompt": unique("get_weather"), "tools": [WEATHER]}, {"prompt": "x", "toolChoice": "required"}]
    body = httpx.post(server.base_url + "/api/v1/generate/batch", json={"requests": items}, timeout=30).json()
    assert body["responses"][0]["toolCalls"][0]["name"] == "get_weather"
    assert body["responses"][1]["error"].startswith("toolChoice 'required' needs tools")


async def test_the_websocket_sends_tool_call_fragments_as_frames_of_their_own_kind(server: ServerProcess) -> None:
    async with websockets.connect(f"ws://127.0.0.1:{server.ws_port}/ws") as socket:
        await socket.send(json.dumps({"id": 7, "prompt": unique("get_time"), "tools": [TIME]}))
        frames = [json.loads(await socket.recv())]
        while not frames[-1]["finished"]:
            frames.append(json.loads(await socket.recv()))
        fragments = [f for frame in frames if frame.get("type") == "toolCall" for f in frame["toolCalls"]]
        assert assembled(fragments) == frames[-1]["toolCalls"] and frames[-1]["toolCalls"][0]["name"] == "get_time"
        assert all(frame["id"] == 7 for frame in frames)
        await socket.send(
            json.dumps({"id": 8, "messages": [ASKED, {"role": "tool", "toolCallId": "x", "content": "y"}]})
        )
        error = json.loads(await socket.recv())
        assert error["code"] == "invalid_request" and error["error"].startswith("messages[1].content[0].callId")

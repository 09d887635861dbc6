"""Rich conversations through the real server on each real provider: Bedrock, Azure OpenAI, OpenAI-compatible.

One gateway in front of the fake Bedrock and the fake Azure/OpenAI upstream
(docs/api.md#messages to #reasoning). The fakes validate every request as the
vendors do and answer 400 with the vendor's error body otherwise, so an answer
proves the request passed; what they recorded shows the wire shapes (Converse
``toolUse``/``toolResult`` blocks; OpenAI ``tool_calls`` and ``tool`` messages).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import websockets

from tests.support.server import ServerProcess
from tests.support.upstreams import ThreadedFake, generate
from tests.vendors import bedrock_script, openai_script
from tests.vendors.azure_openai import FakeAzureOpenAI
from tests.vendors.bedrock import FakeBedrock

CLAUDE = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"  # tools, vision and thinking
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(24))
DATA_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()
WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
REPORT = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "temperature": {"type": "number", "minimum": -50}},
    "required": ["city", "temperature"],
    "additionalProperties": False,
}
Bedrock = ThreadedFake[FakeBedrock]
OpenAI = ThreadedFake[FakeAzureOpenAI]


@dataclass(frozen=True)
class Flavour:
    """One provider as the tests see it: its key, a model it serves, and its display name in answers."""

    provider: str
    model: str
    answered_by: str

    def __str__(self) -> str:
        return self.provider


AWS = Flavour("aws", CLAUDE, "aws-bedrock")
AZURE = Flavour("azure", "gpt-4o", "azure-openai")
OPENAI = Flavour("openai", "gpt-4o-mini", "openai")
FLAVOURS = [pytest.param(f, id=f.provider) for f in (AWS, AZURE, OPENAI)]


@pytest.fixture(scope="module")
def bedrock() -> Iterator[Bedrock]:
    with ThreadedFake(FakeBedrock) as running:
        yield running


@pytest.fixture(scope="module")
def openai() -> Iterator[OpenAI]:
    with ThreadedFake(lambda: FakeAzureOpenAI(openai_models=frozenset({"gpt-4o-mini"}))) as running:
        yield running


@pytest.fixture(scope="module")
def server(bedrock: Bedrock, openai: OpenAI) -> Iterator[ServerProcess]:
    env = {
        "CACHE_ENABLED": "false",
        "LOG_LEVEL": "warning",
        "PROVIDER_MAX_RETRIES": "0",
        "AWS_BEDROCK_ENDPOINT_URL": bedrock.fake.url,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "fake-secret",
        "AZURE_ENDPOINT": openai.fake.url,
        "AZURE_API_KEY": openai.fake.api_key,
        "OPENAI_BASE_URL": openai.fake.openai_base_url,
        "OPENAI_API_KEY": openai.fake.api_key,
        "OPENAI_MODELS": "gpt-4o-mini",
    }
    with ServerProcess(env, ws=True) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_upstreams(bedrock: Bedrock, openai: OpenAI) -> None:
    async def reset_bedrock() -> None:
        bedrock.fake.script = bedrock_script.Script()
        bedrock.fake.requests.clear()

    async def reset_openai() -> None:
        openai.fake.script = openai_script.Script()
        openai.fake.requests.clear()

    bedrock.run(reset_bedrock())
    openai.run(reset_openai())


def script_calls(flavour: Flavour, bedrock: Bedrock, openai: OpenAI, *calls: tuple[str, dict[str, Any]]) -> None:
    """The tool calls the provider's model makes (Bedrock: each tool once per conversation; OpenAI: until results)."""
    if flavour is AWS:
        scripted = tuple(bedrock_script.ScriptedCall(name, arguments) for name, arguments in calls)
        bedrock.fake.script = bedrock_script.Script(chunks=4, tool_calls=scripted)
    else:
        openai.fake.script = openai_script.Script(
            tool_calls=[(name, json.dumps(arguments)) for name, arguments in calls]
        )


def sent_bodies(flavour: Flavour, bedrock: Bedrock, openai: OpenAI) -> list[dict[str, Any]]:
    """The bodies the provider's fake received, each checked to be on this provider's route."""
    if flavour is AWS:
        assert all(r.status == 200 for r in bedrock.fake.requests), [r.status for r in bedrock.fake.requests]
        return [r.body for r in bedrock.fake.requests]
    azure = flavour is AZURE
    assert all(("/openai/deployments/" in r.path) == azure for r in openai.fake.requests)
    return [r.body for r in openai.fake.requests]


def answer(server: ServerProcess, body: dict[str, Any]) -> dict[str, Any]:
    response = generate(server, body)
    assert response.status_code == 200, response.text
    decoded: dict[str, Any] = response.json()
    return decoded


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


def asked() -> dict[str, Any]:
    content = [{"type": "text", "text": "What is the weather where this picture was taken?"}]
    return {"role": "user", "content": [*content, {"type": "image", "url": DATA_URL}]}


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_two_step_tool_conversation_with_an_image_ends_in_a_json_schema_answer(
    flavour: Flavour, server: ServerProcess, bedrock: Bedrock, openai: OpenAI
) -> None:
    # Bedrock answers JSON through a forced tool named after the format: the model "calls" it with the report.
    script_calls(
        flavour, bedrock, openai, ("get_weather", {"city": "Lima"}), ("report", {"city": "Lima", "temperature": 18})
    )
    base = {"provider": flavour.provider, "model": flavour.model, "tools": [WEATHER]}
    first = answer(server, {**base, "messages": [asked()]})
    assert first["finishReason"] == "tool_calls" and first["provider"] == flavour.answered_by
    [call] = first["toolCalls"]
    assert call["name"] == "get_weather" and json.loads(call["arguments"]) == {"city": "Lima"}

    echoed = {"role": "assistant", "content": first["content"], "toolCalls": first["toolCalls"]}
    result = {"role": "tool", "toolCallId": call["id"], "content": "18 C and cloudy"}
    output = {"type": "json_schema", "name": "report", "schema": REPORT, "strict": True}
    final = answer(server, {**base, "messages": [asked(), echoed, result], "responseFormat": output})
    assert final["finishReason"] == "stop" and "toolCalls" not in final
    report = json.loads(final["content"])
    assert set(report) == {"city", "temperature"} and isinstance(report["city"], str) and report["temperature"] >= -50

    first_sent, final_sent = sent_bodies(flavour, bedrock, openai)
    if flavour is AWS:
        image = {"image": {"format": "png", "source": {"bytes": base64.b64encode(PNG).decode()}}}
        assert image in first_sent["messages"][0]["content"]
        assert [m["role"] for m in final_sent["messages"]] == ["user", "assistant", "user"]
        [use] = [b["toolUse"] for b in final_sent["messages"][1]["content"] if "toolUse" in b]
        assert (use["toolUseId"], use["name"], use["input"]) == (call["id"], "get_weather", {"city": "Lima"})
        [tool_result] = final_sent["messages"][2]["content"]
        assert tool_result["toolResult"]["toolUseId"] == call["id"]
        assert tool_result["toolResult"]["content"] == [{"text": "18 C and cloudy"}]
        specs = {t["toolSpec"]["name"]: t["toolSpec"] for t in final_sent["toolConfig"]["tools"] if "toolSpec" in t}
        assert specs["report"]["inputSchema"]["json"] == REPORT and "get_weather" in specs
    else:
        parts = first_sent["messages"][0]["content"]
        assert {"type": "image_url", "image_url": {"url": DATA_URL}} in parts
        [tool_spec] = first_sent["tools"]
        assert tool_spec["type"] == "function" and tool_spec["function"]["name"] == "get_weather"
        assert tool_spec["function"]["parameters"] == WEATHER["parameters"]
        assistant, tool = final_sent["messages"][-2:]
        assert assistant["role"] == "assistant" and assistant["tool_calls"][0]["id"] == call["id"]
        assert assistant["tool_calls"][0]["function"]["name"] == "get_weather"
        assert (tool["role"], tool["tool_call_id"], tool["content"]) == ("tool", call["id"], "18 C and cloudy")
        assert final_sent["response_format"]["type"] == "json_schema"
        assert final_sent["response_format"]["json_schema"]["schema"] == REPORT


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_streamed_tool_call_is_assembled_from_its_fragments(
    flavour: Flavour, server: ServerProcess, bedrock: Bedrock, openai: OpenAI
) -> None:
    script_calls(flavour, bedrock, openai, ("get_weather", {"city": "San Juan de Lurigancho", "unit": "celsius"}))
    body = {"provider": flavour.provider, "model": flavour.model, "tools": [WEATHER], "messages": [asked()]}
    events = sse_events(server, body)
    fragments = [f for kind, data in events if kind == "toolCall" for f in data["toolCalls"]]
    assert len(fragments) > 2  # the arguments came in pieces
    final = events[-1][1]
    assert final["finished"] is True and final["finishReason"] == "tool_calls"
    assert assembled(fragments) == final["toolCalls"]
    [call] = final["toolCalls"]
    assert json.loads(call["arguments"]) == {"city": "San Juan de Lurigancho", "unit": "celsius"}
    [sent] = sent_bodies(flavour, bedrock, openai)
    if flavour is AWS:
        assert bedrock.fake.requests[0].operation == "ConverseStream"
    else:
        assert sent["stream"] is True


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_one_tool_call_turn_over_the_websocket(
    flavour: Flavour, server: ServerProcess, bedrock: Bedrock, openai: OpenAI
) -> None:
    script_calls(flavour, bedrock, openai, ("get_weather", {"city": "Cusco"}))
    request = {"id": 3, "provider": flavour.provider, "model": flavour.model, "tools": [WEATHER]}
    async with websockets.connect(f"ws://127.0.0.1:{server.ws_port}/ws") as socket:
        await socket.send(json.dumps({**request, "messages": [asked()]}))
        frames = [json.loads(await socket.recv())]
        while not frames[-1].get("finished"):
            frames.append(json.loads(await socket.recv()))
    assert all(frame["id"] == 3 for frame in frames), frames
    final = frames[-1]
    assert final["finishReason"] == "tool_calls" and final["provider"] == flavour.answered_by
    fragments = [f for frame in frames if frame.get("type") == "toolCall" for f in frame["toolCalls"]]
    assert assembled(fragments) == final["toolCalls"]
    assert [json.loads(c["arguments"]) for c in final["toolCalls"]] == [{"city": "Cusco"}]


def test_bedrock_reasoning_is_returned_and_sent_back_on_the_next_turn(server: ServerProcess, bedrock: Bedrock) -> None:
    body: dict[str, Any] = {"provider": "aws", "model": CLAUDE, "maxTokens": 2048, "reasoning": {"budgetTokens": 1024}}
    question = {"role": "user", "content": "Is Lima south of the equator?"}
    first = answer(server, {**body, "messages": [question]})
    [block] = first["reasoning"]
    assert block["text"] == "Thinking about: Is Lima south of the equator?" and block["signature"]
    # Converse's usage has no reasoning figure of its own (the thinking is within outputTokens): none to relay.
    assert "reasoningTokens" not in first and first["completionTokens"] > 0

    back = {"role": "assistant", "content": first["content"], "reasoning": first["reasoning"]}
    follow = {"role": "user", "content": "And Cusco?"}
    second = answer(server, {**body, "messages": [question, back, follow]})
    assert second["content"] == bedrock_script.answer_for("And Cusco?")
    sent = bedrock.fake.requests[-1].body["messages"][1]["content"]
    assert {"reasoningContent": {"reasoningText": {"text": block["text"], "signature": block["signature"]}}} in sent

    # The fake checks the signature (not yet its binding to the text, as Anthropic does): alter the signature.
    altered = {**back, "reasoning": [{**block, "signature": base64.b64encode(b"forged").decode()}]}
    refused = generate(server, {**body, "messages": [question, altered, follow]})
    assert refused.status_code == 400 and refused.json()["code"] == "upstream_bad_request"


def test_bedrock_prompt_cache_usage_is_counted(server: ServerProcess, bedrock: Bedrock) -> None:
    # Long enough that the gateway puts a cache point after the system prompt; the fake then caches the prefix.
    system = " ".join(f"rule{n} answer briefly and politely" for n in range(400))
    body = {"provider": "aws", "model": CLAUDE, "system": system}
    written = answer(server, {**body, "prompt": "first question"})
    read = answer(server, {**body, "prompt": "second question"})
    assert written["cacheWriteInputTokens"] == read["cacheReadInputTokens"] == len(system.split())
    assert "cacheReadInputTokens" not in written and "cacheWriteInputTokens" not in read
    assert read["promptTokens"] >= read["cacheReadInputTokens"]
    assert {"cachePoint": {"type": "default"}} in bedrock.fake.requests[-1].body["system"]


@pytest.mark.parametrize("flavour", [AZURE, OPENAI], ids=str)
def test_openai_cached_and_reasoning_tokens_are_counted(
    flavour: Flavour, server: ServerProcess, openai: OpenAI
) -> None:
    openai.fake.script = openai_script.Script(cached_tokens=3, reasoning_tokens=5)
    reply = answer(server, {"provider": flavour.provider, "model": flavour.model, "prompt": "a cached prefix here"})
    assert reply["cacheReadInputTokens"] == 3 and reply["promptTokens"] >= 3
    assert reply["reasoningTokens"] == 5 and reply["completionTokens"] >= 5
    [sent] = openai.fake.requests
    assert not sent.body.get("stream")

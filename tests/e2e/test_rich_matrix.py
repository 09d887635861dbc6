"""The rich-conversation matrix: every case on every provider, every case kind on every surface.

One gateway (module-scoped) in front of the mock, the fake Bedrock and the
fake Azure/OpenAI upstream (which serves Azure's deployment routes and the
OpenAI-compatible route), with its HTTP, WebSocket and gRPC listeners. Each
request is written once as the HTTP door's JSON body and sent over the
surface of its cell (``tests.support.rich_surfaces``). The fakes refuse what
the vendors refuse; after every test, ``no_request_was_refused`` checks that
each request they received passed (the few tests that provoke a refusal on
purpose take it off the record).

Cells (docs/providers.md, "The rich-conversation matrix"):

- the two-step tool conversation with an image and a JSON-Schema answer:
  every provider on every surface (16 cells);
- each other case kind once per provider, the surface rotating so that each
  kind runs on each surface (a streamed tool call on the three streaming
  surfaces only: the HTTP generate route does not stream);
- each validation rule on each surface, the provider rotating.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support.rich_surfaces import (
    STREAMING_SURFACES,
    SURFACES,
    Reply,
    ask,
    assembled,
    assembled_reasoning,
    refused,
)
from tests.support.server import ServerProcess
from tests.support.upstreams import ThreadedFake
from tests.vendors import bedrock_script, openai_script
from tests.vendors.azure_openai import FakeAzureOpenAI
from tests.vendors.bedrock import FakeBedrock

Bedrock = ThreadedFake[FakeBedrock]
OpenAI = ThreadedFake[FakeAzureOpenAI]

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(24))
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(20))
DATA_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()
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
REPORT = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "temperature": {"type": "number", "minimum": -50}},
    "required": ["city", "temperature"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class Flavour:
    """One provider as the matrix sees it: its key, its models, and its display name in answers."""

    provider: str
    model: str
    answered_by: str
    reasoning_model: str
    without_tools: str | None  # a catalogue model without the tools capability, if the provider has one
    without_vision: str | None
    without_thinking: str

    def __str__(self) -> str:
        return self.provider


MOCK = Flavour("mock", "mock-1", "mock", "mock-1", "mock-text-1", "mock-text-1", "mock-text-1")
AWS = Flavour(
    "aws",
    "us.anthropic.claude-3-7-sonnet-20250219-v1:0",  # tools, vision and thinking
    "aws-bedrock",
    "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
    "us.meta.llama3-2-3b-instruct-v1:0",
    "us.anthropic.claude-3-5-haiku-20241022-v1:0",
    "us.anthropic.claude-3-5-haiku-20241022-v1:0",
)
AZURE = Flavour("azure", "gpt-4o", "azure-openai", "o4-mini", "DeepSeek-R1", "DeepSeek-V3-0324", "gpt-4o")
OPENAI = Flavour("openai", "gpt-4o-mini", "openai", "o3-mini", None, None, "gpt-4o-mini")
PROVIDERS = (MOCK, AWS, AZURE, OPENAI)


def every_cell() -> list[Any]:
    """Every provider on every surface, gRPC's streaming call included."""
    return [pytest.param(f, s, id=f"{f}-{s}") for f in PROVIDERS for s in (*SURFACES, "grpc-stream")]


def rotated(offset: int, surfaces: tuple[str, ...] = SURFACES) -> list[Any]:
    """Each provider once, on surfaces that shift with ``offset``: four kinds with offsets 0-3 fill every
    (kind, surface) pair, and no provider meets the same surface twice in a row."""
    cells = [(f, surfaces[(i + offset) % len(surfaces)]) for i, f in enumerate(PROVIDERS)]
    return [pytest.param(f, s, id=f"{f}-{s}") for f, s in cells]


# ---- the gateway and its fakes ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def bedrock() -> Iterator[Bedrock]:
    with ThreadedFake(FakeBedrock) as running:
        yield running


@pytest.fixture(scope="module")
def openai() -> Iterator[OpenAI]:
    with ThreadedFake(lambda: FakeAzureOpenAI(openai_models=frozenset({"gpt-4o-mini", "o3-mini"}))) as running:
        yield running


def gateway_env(bedrock: Bedrock, openai: OpenAI) -> dict[str, str]:
    return {
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
        "OPENAI_MODELS": "gpt-4o-mini,o3-mini",
    }


@pytest.fixture(scope="module")
def server(bedrock: Bedrock, openai: OpenAI) -> Iterator[ServerProcess]:
    """The gateway of the matrix, without its response cache: every request reaches the provider."""
    with ServerProcess({**gateway_env(bedrock, openai), "CACHE_ENABLED": "false"}, ws=True, grpc=True) as running:
        yield running


@pytest.fixture(scope="module")
def caching_server(bedrock: Bedrock, openai: OpenAI) -> Iterator[ServerProcess]:
    """The same gateway with its response cache (memory), for the replay case only."""
    with ServerProcess({**gateway_env(bedrock, openai), "CACHE_ENABLED": "true"}, ws=True, grpc=True) as running:
        yield running


@pytest.fixture(autouse=True)
def no_request_was_refused(bedrock: Bedrock, openai: OpenAI) -> Iterator[None]:
    """Fresh scripts and records before each test; after it, every request the fakes received passed."""

    async def reset() -> None:
        bedrock.fake.script = bedrock_script.Script()
        bedrock.fake.requests.clear()
        openai.fake.script = openai_script.Script()
        openai.fake.requests.clear()

    bedrock.run(reset())
    yield
    assert [(r.model_id, r.status) for r in bedrock.fake.requests if r.status != 200] == []
    assert [(r.path, r.status, r.body) for r in openai.fake.requests if r.status != 200] == []


def take_refusal_off_the_record(fake: ThreadedFake[Any], status: int = 400) -> None:
    """The last request was refused on purpose: check it was, and drop it from what the fixture checks."""

    async def pop() -> Any:
        return fake.fake.requests.pop()

    assert fake.run(pop()).status == status


def script_calls(
    flavour: Flavour, bedrock: Bedrock, openai: OpenAI, *calls: tuple[str, dict[str, Any]], preamble: str = ""
) -> None:
    """The tool calls the upstream's model makes, after ``preamble`` (the mock calls the tools the prompt
    names, and says nothing first)."""
    if flavour is AWS:
        scripted = tuple(bedrock_script.ScriptedCall(name, arguments) for name, arguments in calls)
        bedrock.fake.script = bedrock_script.Script(chunks=4, tool_calls=scripted, preamble=preamble or None)
    elif flavour in (AZURE, OPENAI):
        openai.fake.script = openai_script.Script(
            tool_calls=[(name, json.dumps(arguments)) for name, arguments in calls], preamble=preamble
        )


def sent_bodies(flavour: Flavour, bedrock: Bedrock, openai: OpenAI) -> list[dict[str, Any]]:
    """What the provider's upstream received (nothing for the mock), each checked to be on its route."""
    if flavour is MOCK:
        assert not bedrock.fake.requests and not openai.fake.requests
        return []
    if flavour is AWS:
        assert not openai.fake.requests
        return [r.body for r in bedrock.fake.requests]
    assert not bedrock.fake.requests
    assert all(("/openai/deployments/" in r.path) == (flavour is AZURE) for r in openai.fake.requests)
    return [r.body for r in openai.fake.requests]


def base(flavour: Flavour, **fields: Any) -> dict[str, Any]:
    return {"provider": flavour.provider, "model": flavour.model, **fields}


def answers(reply: Reply, flavour: Flavour, finish_reason: str) -> None:
    assert reply.provider == flavour.answered_by and reply.finish_reason == finish_reason, reply
    assert reply.usage["promptTokens"] > 0 and reply.usage["completionTokens"] > 0, reply.usage


def streamed_whole(reply: Reply, surface: str) -> None:
    """On a stream, the fragments joined are the final event's tool calls and reasoning."""
    if surface in STREAMING_SURFACES:
        assert assembled(reply.fragments) == reply.tool_calls
        assert assembled_reasoning(reply.reasoning_fragments) == reply.reasoning


def asked(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "text", "text": text}, {"type": "image", "url": DATA_URL}]}


# ---- the "done when" case: every provider on every surface -----------------------------------------


@pytest.mark.parametrize(("flavour", "surface"), every_cell())
async def test_a_two_step_tool_conversation_with_an_image_ends_in_a_json_schema_answer(
    flavour: Flavour, surface: str, server: ServerProcess, bedrock: Bedrock, openai: OpenAI
) -> None:
    # Bedrock answers JSON through a forced tool named after the format: its model "calls" it with the report.
    script_calls(
        flavour, bedrock, openai, ("get_weather", {"city": "Lima"}), ("report", {"city": "Lima", "temperature": 18})
    )
    question = asked("What does get_weather say about where this picture was taken?")
    first = await ask(surface, server, base(flavour, tools=[WEATHER], messages=[question]))
    answers(first, flavour, "tool_calls")
    streamed_whole(first, surface)
    [call] = first.tool_calls
    assert call["name"] == "get_weather" and isinstance(json.loads(call["arguments"])["city"], str)

    result = {"role": "tool", "toolCallId": call["id"], "content": "18 C and cloudy"}
    output = {"type": "json_schema", "name": "report", "schema": REPORT, "strict": True}
    messages = [question, first.echoed(), result]
    final = await ask(surface, server, base(flavour, tools=[WEATHER], messages=messages, responseFormat=output))
    answers(final, flavour, "stop")
    streamed_whole(final, surface)
    assert final.tool_calls == []
    report = json.loads(final.content)
    assert set(report) == {"city", "temperature"} and isinstance(report["city"], str) and report["temperature"] >= -50

    sent = sent_bodies(flavour, bedrock, openai)
    if flavour is AWS:
        image = {"image": {"format": "png", "source": {"bytes": base64.b64encode(PNG).decode()}}}
        assert image in sent[0]["messages"][0]["content"] and image in sent[1]["messages"][0]["content"]
        assert [m["role"] for m in sent[1]["messages"]] == ["user", "assistant", "user"]
        [use] = [b["toolUse"] for b in sent[1]["messages"][1]["content"] if "toolUse" in b]
        assert (use["toolUseId"], use["name"], use["input"]) == (call["id"], "get_weather", {"city": "Lima"})
        [tool_result] = sent[1]["messages"][2]["content"]
        assert tool_result["toolResult"] == {"toolUseId": call["id"], "content": [{"text": "18 C and cloudy"}]}
        specs = {t["toolSpec"]["name"]: t["toolSpec"] for t in sent[1]["toolConfig"]["tools"] if "toolSpec" in t}
        assert specs["report"]["inputSchema"]["json"] == REPORT and "get_weather" in specs
    elif flavour in (AZURE, OPENAI):
        assert {"type": "image_url", "image_url": {"url": DATA_URL}} in sent[0]["messages"][0]["content"]
        assistant, tool = sent[1]["messages"][-2:]
        assert assistant["tool_calls"][0]["id"] == call["id"]
        assert assistant["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": call["arguments"]}
        assert (tool["role"], tool["tool_call_id"], tool["content"]) == ("tool", call["id"], "18 C and cloudy")
        assert sent[1]["response_format"]["json_schema"]["schema"] == REPORT
    streams = surface in STREAMING_SURFACES
    if flavour is AWS:
        assert [r.operation for r in bedrock.fake.requests] == ["ConverseStream" if streams else "Converse"] * 2
    else:
        assert [bool(body.get("stream")) for body in sent] == [streams] * len(sent)


# ---- each other case kind: once per provider, every surface once ------------------------------------


@pytest.mark.parametrize(("flavour", "surface"), rotated(1))
async def test_parallel_tool_calls_and_their_results_in_one_turn(
    flavour: Flavour, surface: str, server: ServerProcess, bedrock: Bedrock, openai: OpenAI
) -> None:
    said = "Let me check both."  # the upstream models say something before their calls
    calls = ("get_time", {"zone": "PET"}), ("get_weather", {"city": "Lima"})
    script_calls(flavour, bedrock, openai, *calls, preamble=said)
    question = {"role": "user", "content": "use get_time and get_weather"}
    first = await ask(surface, server, base(flavour, tools=[WEATHER, TIME], messages=[question]))
    answers(first, flavour, "tool_calls")
    streamed_whole(first, surface)
    assert first.content == ("" if flavour is MOCK else said)
    assert [c["name"] for c in first.tool_calls] == ["get_time", "get_weather"]
    assert len({c["id"] for c in first.tool_calls}) == 2

    time_call, weather_call = first.tool_calls
    results = [
        {"role": "tool", "toolCallId": time_call["id"], "content": "clock offline", "isError": True},
        {"role": "tool", "toolCallId": weather_call["id"], "content": "get_weather is fine"},
    ]
    messages = [question, first.echoed(), *results]
    final = await ask(surface, server, base(flavour, tools=[WEATHER, TIME], messages=messages))
    answers(final, flavour, "stop")
    assert "get_weather is fine" in final.content

    sent = sent_bodies(flavour, bedrock, openai)
    if flavour is MOCK:
        assert f"[tool {time_call['id']} error] clock offline" in final.content
    elif flavour is AWS:  # Bedrock takes the results of one turn in one user message
        assistant, turn = sent[1]["messages"][1:]
        assert assistant["content"][0] == {"text": said}
        assert [b["toolUse"]["toolUseId"] for b in assistant["content"][1:]] == [c["id"] for c in first.tool_calls]
        assert [b["toolResult"]["toolUseId"] for b in turn["content"]] == [c["id"] for c in first.tool_calls]
        assert [b["toolResult"].get("status") for b in turn["content"]] == ["error", None]  # Claude takes a status
    else:
        assert sent[1]["messages"][1]["content"] == said
        tool_messages = [m for m in sent[1]["messages"] if m["role"] == "tool"]
        assert [(m["tool_call_id"], m["content"]) for m in tool_messages] == [
            (time_call["id"], "The tool failed. clock offline"),  # no error flag in chat completions: said so
            (weather_call["id"], "get_weather is fine"),
        ]


@pytest.mark.parametrize(("flavour", "surface"), rotated(0, STREAMING_SURFACES))
async def test_a_streamed_tool_call_is_assembled_from_its_fragments(
    flavour: Flavour, surface: str, server: ServerProcess, bedrock: Bedrock, openai: OpenAI
) -> None:
    arguments = {"city": "San Juan de Lurigancho", "days": 5}
    script_calls(flavour, bedrock, openai, ("get_weather", arguments))
    body = base(flavour, tools=[WEATHER], messages=[{"role": "user", "content": "call get_weather for me"}])
    reply = await ask(surface, server, body)
    answers(reply, flavour, "tool_calls")
    assert len(reply.fragments) > 2  # the arguments came in pieces
    assert assembled(reply.fragments) == reply.tool_calls
    [call] = reply.tool_calls
    assert call["name"] == "get_weather"
    if flavour is not MOCK:  # the mock's arguments are its own instance of the schema
        assert json.loads(call["arguments"]) == arguments
    sent = sent_bodies(flavour, bedrock, openai)
    if flavour is AWS:
        assert bedrock.fake.requests[0].operation == "ConverseStream"
    elif flavour in (AZURE, OPENAI):
        assert sent[0]["stream"] is True


@pytest.mark.parametrize(("flavour", "surface"), rotated(2))
async def test_tool_choice_required_and_a_named_tool(
    flavour: Flavour, surface: str, server: ServerProcess, bedrock: Bedrock, openai: OpenAI
) -> None:
    hello = [{"role": "user", "content": "hello there"}]
    required = await ask(surface, server, base(flavour, tools=[WEATHER, TIME], messages=hello, toolChoice="required"))
    answers(required, flavour, "tool_calls")
    assert required.tool_calls and {c["name"] for c in required.tool_calls} <= {"get_weather", "get_time"}

    named_choice = {"name": "get_time"}
    named = await ask(surface, server, base(flavour, tools=[WEATHER, TIME], messages=hello, toolChoice=named_choice))
    answers(named, flavour, "tool_calls")
    assert [c["name"] for c in named.tool_calls] == ["get_time"]

    sent = sent_bodies(flavour, bedrock, openai)
    if flavour is AWS:
        assert [b["toolConfig"]["toolChoice"] for b in sent] == [{"any": {}}, {"tool": {"name": "get_time"}}]
    elif flavour in (AZURE, OPENAI):
        assert [b["tool_choice"] for b in sent] == ["required", {"type": "function", "function": {"name": "get_time"}}]


@pytest.mark.parametrize(("flavour", "surface"), rotated(3))
async def test_an_image_as_bytes_and_as_a_data_url(
    flavour: Flavour, surface: str, server: ServerProcess, bedrock: Bedrock, openai: OpenAI
) -> None:
    content = [
        {"type": "text", "text": "what are these?"},
        {"type": "image", "mediaType": "image/jpeg", "data": base64.b64encode(JPEG).decode()},
        {"type": "image", "url": DATA_URL},
    ]
    reply = await ask(surface, server, base(flavour, messages=[{"role": "user", "content": content}]))
    answers(reply, flavour, "stop")
    sent = sent_bodies(flavour, bedrock, openai)
    if flavour is MOCK:
        assert reply.content.endswith(f"[image image/jpeg, {len(JPEG)} bytes] [image image/png, {len(PNG)} bytes]")
    elif flavour is AWS:
        blocks = sent[0]["messages"][0]["content"]
        assert [b["image"] for b in blocks if "image" in b] == [
            {"format": "jpeg", "source": {"bytes": base64.b64encode(JPEG).decode()}},
            {"format": "png", "source": {"bytes": base64.b64encode(PNG).decode()}},
        ]
    else:
        parts = sent[0]["messages"][0]["content"]
        assert [p["image_url"]["url"] for p in parts if p["type"] == "image_url"] == [
            "data:image/jpeg;base64," + base64.b64encode(JPEG).decode(),
            DATA_URL,
        ]


def thinking(flavour: Flavour) -> dict[str, Any]:
    return {
        "provider": flavour.provider,
        "model": flavour.reasoning_model,
        "maxTokens": 2048,
        "reasoning": {"budgetTokens": 1024} if flavour is AWS else {"effort": "low"},
    }


def sent_back_reasoning(flavour: Flavour, sent: dict[str, Any], first: Reply, at: int) -> None:
    """The next turn's request carried the reasoning as the upstream takes it: Bedrock's unchanged, first
    in the assistant turn; chat completions none (it has no field for it)."""
    assistant = sent["messages"][at]
    if flavour is AWS:
        back = [
            {"reasoningContent": {"redactedContent": block["redacted"]}}
            if "redacted" in block
            else {"reasoningContent": {"reasoningText": {"text": block["text"], "signature": block["signature"]}}}
            for block in first.reasoning
        ]
        assert assistant["content"][: len(back)] == back
    else:
        assert sent["reasoning_effort"] == "low" and "max_completion_tokens" in sent
        assert not any("reason" in key for key in assistant), assistant


@pytest.mark.parametrize(("flavour", "surface"), rotated(2, ("http", "sse", "ws")))  # gRPC results are text only
async def test_a_tool_that_returns_an_image(
    flavour: Flavour, surface: str, server: ServerProcess, bedrock: Bedrock, openai: OpenAI
) -> None:
    script_calls(flavour, bedrock, openai, ("get_weather", {"city": "Lima"}))
    question = {"role": "user", "content": "What does get_weather show for Lima?"}
    first = await ask(surface, server, base(flavour, tools=[WEATHER], messages=[question]))
    [call] = first.tool_calls
    radar = [{"type": "text", "text": "a radar map"}, {"type": "image", "url": DATA_URL}]
    result = {"role": "tool", "content": [{"type": "toolResult", "callId": call["id"], "content": radar}]}
    final = await ask(surface, server, base(flavour, tools=[WEATHER], messages=[question, first.echoed(), result]))
    answers(final, flavour, "stop")
    assert "a radar map" in final.content
    sent = sent_bodies(flavour, bedrock, openai)
    if flavour is AWS:  # Claude takes images inside the result
        [block] = sent[1]["messages"][2]["content"]
        image = {"image": {"format": "png", "source": {"bytes": base64.b64encode(PNG).decode()}}}
        assert block["toolResult"]["content"] == [{"text": "a radar map"}, image]
    elif flavour in (AZURE, OPENAI):  # a tool message takes text only: the image follows in a user message
        tool, images = sent[1]["messages"][-2:]
        assert (tool["role"], tool["content"], images["role"]) == ("tool", "a radar map", "user")
        assert {"type": "image_url", "image_url": {"url": DATA_URL}} in images["content"]


@pytest.mark.parametrize(("flavour", "surface"), rotated(0, ("http", "sse", "ws", "grpc-stream")))
async def test_a_reasoning_model_returns_its_reasoning_and_takes_it_back_next_turn(
    flavour: Flavour, surface: str, server: ServerProcess, bedrock: Bedrock, openai: OpenAI
) -> None:
    openai.fake.script = openai_script.Script(reasoning="The user asks about Lima; it is south.")
    bedrock.fake.script = bedrock_script.Script(redacted_reasoning=b"\x01encrypted thoughts")
    body = thinking(flavour)
    question = {"role": "user", "content": "Is Lima south of the equator?"}
    first = await ask(surface, server, {**body, "messages": [question]})
    answers(first, flavour, "stop")
    streamed_whole(first, surface)
    assert first.reasoning_fragments or surface == "http"
    block, *more = first.reasoning
    assert block["text"]
    if flavour is AWS:  # Claude's redacted thinking comes back as its bytes, to be sent back as they are
        assert more == [{"text": "", "redacted": base64.b64encode(b"\x01encrypted thoughts").decode()}]
    else:
        assert more == []
    if flavour in (MOCK, AWS):  # these sign their reasoning; chat completions has no signature
        assert block["signature"]
    if flavour is AWS:  # Converse reports no reasoning figure of its own (it is within outputTokens)
        assert "reasoningTokens" not in first.usage
    else:
        assert 0 < first.usage["reasoningTokens"] < first.usage["completionTokens"]

    follow = {"role": "user", "content": "And Cusco?"}
    second = await ask(surface, server, {**body, "messages": [question, first.echoed(), follow]})
    answers(second, flavour, "stop")
    if flavour is not MOCK:
        sent = sent_bodies(flavour, bedrock, openai)
        sent_back_reasoning(flavour, sent[1], first, at=1)
        if flavour is not AWS:
            assert sent[1]["messages"][1] == {"role": "assistant", "content": first.content}


@pytest.mark.parametrize(("flavour", "surface"), rotated(2))
async def test_a_reasoning_model_calls_a_tool_and_its_reasoning_goes_back_with_the_call(
    flavour: Flavour, surface: str, server: ServerProcess, bedrock: Bedrock, openai: OpenAI
) -> None:
    # Claude with thinking on refuses a last tool-calling turn that does not start with its reasoning.
    script_calls(flavour, bedrock, openai, ("get_weather", {"city": "Lima"}))
    openai.fake.script.reasoning = "I need the weather tool."
    if flavour is AWS:
        bedrock.fake.script.reasoning = "I need the weather tool."
    body = {**thinking(flavour), "tools": [WEATHER]}
    question = {"role": "user", "content": "What does get_weather say about Lima?"}
    first = await ask(surface, server, {**body, "messages": [question]})
    answers(first, flavour, "tool_calls")
    streamed_whole(first, surface)
    [call] = first.tool_calls
    [block] = first.reasoning
    assert block["text"]

    result = {"role": "tool", "toolCallId": call["id"], "content": "18 C and cloudy"}
    final = await ask(surface, server, {**body, "messages": [question, first.echoed(), result]})
    answers(final, flavour, "stop")
    assert "18 C and cloudy" in final.content
    if flavour is not MOCK:
        sent = sent_bodies(flavour, bedrock, openai)
        sent_back_reasoning(flavour, sent[1], first, at=1)


@pytest.mark.parametrize("flavour", [MOCK, AWS], ids=str)
async def test_signed_reasoning_sent_back_altered_is_refused_upstream(
    flavour: Flavour, server: ServerProcess, bedrock: Bedrock
) -> None:
    body: dict[str, Any] = {"provider": flavour.provider, "model": flavour.reasoning_model, "maxTokens": 2048}
    body["reasoning"] = {"budgetTokens": 1024}
    question = {"role": "user", "content": "Is Lima south of the equator?"}
    first = await ask("http", server, {**body, "messages": [question]})
    [block] = first.reasoning
    follow = {"role": "user", "content": "And Cusco?"}
    for altered in ({**block, "text": block["text"] + " (edited)"}, {**block, "signature": block["signature"][::-1]}):
        turn = {**first.echoed(), "reasoning": [altered]}
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.post(
                server.base_url + "/api/v1/generate", json={**body, "messages": [question, turn, follow]}
            )
        assert response.status_code == 400 and response.json()["code"] == "upstream_bad_request", response.text
        if flavour is AWS:
            take_refusal_off_the_record(bedrock)


@pytest.mark.parametrize(("flavour", "surface"), rotated(1))
async def test_prompt_cache_usage_is_counted(
    flavour: Flavour, surface: str, server: ServerProcess, bedrock: Bedrock, openai: OpenAI
) -> None:
    openai.fake.script = openai_script.Script(cached_tokens=3)
    # Long enough to cache (Bedrock: the gateway puts a cache point after it; the mock caches it alike).
    system = " ".join(f"rule{n} answer briefly and politely" for n in range(400)) + f" ({uuid.uuid4().hex})"
    written = await ask(surface, server, base(flavour, system=system, messages=[{"role": "user", "content": "one"}]))
    read = await ask(surface, server, base(flavour, system=system, messages=[{"role": "user", "content": "two"}]))
    answers(read, flavour, "stop")
    if flavour in (AZURE, OPENAI):  # OpenAI reports only what it read from its cache
        assert written.usage["cacheReadInputTokens"] == read.usage["cacheReadInputTokens"] == 3
    else:
        assert written.usage["cacheWriteInputTokens"] == read.usage["cacheReadInputTokens"] == len(system.split())
        assert "cacheReadInputTokens" not in written.usage and "cacheWriteInputTokens" not in read.usage
    assert read.usage["promptTokens"] >= read.usage["cacheReadInputTokens"]
    if flavour is AWS:
        assert {"cachePoint": {"type": "default"}} in sent_bodies(flavour, bedrock, openai)[-1]["system"]


@pytest.mark.parametrize(("flavour", "surface"), rotated(1, ("http", "sse", "ws", "grpc-stream")))
async def test_a_cached_tool_call_answer_is_replayed_whole_and_can_be_answered(
    flavour: Flavour, surface: str, caching_server: ServerProcess, bedrock: Bedrock, openai: OpenAI
) -> None:
    # A replay streams its reasoning blocks, its words and its calls again: what the client sends back from it
    # must pass upstream as the fresh answer would (Bedrock checks the signature against its text).
    script_calls(flavour, bedrock, openai, ("get_weather", {"city": "Lima"}), preamble="Let me look.")
    openai.fake.script.reasoning = "I need the weather tool."
    bedrock.fake.script.reasoning = "I need the weather tool."
    question = asked(f"What does get_weather say? ({uuid.uuid4().hex})")  # a question the cache has not seen
    body = {**thinking(flavour), "tools": [WEATHER], "messages": [question]}
    fresh = await ask(surface, caching_server, body)
    again = await ask(surface, caching_server, body)
    assert again.provider == "cache" and fresh.provider == flavour.answered_by
    assert (again.content, again.tool_calls, again.reasoning) == (fresh.content, fresh.tool_calls, fresh.reasoning)
    streamed_whole(again, surface)

    [call] = again.tool_calls
    result = {"role": "tool", "toolCallId": call["id"], "content": "18 C"}
    final = await ask(surface, caching_server, {**body, "messages": [*body["messages"], again.echoed(), result]})
    answers(final, flavour, "stop")
    assert len(sent_bodies(flavour, bedrock, openai)) == (0 if flavour is MOCK else 2)  # the replay sent nothing


# ---- every validation rule, on every surface -------------------------------------------------------

CALL = {"type": "toolCall", "id": "call_1", "name": "get_weather", "arguments": {"city": "Lima"}}
ASKED = {"role": "user", "content": "weather?"}
BAD_SCHEMA = {"type": "object", "properties": {"a": {"type": "strng"}}}
TIFF = {"type": "image", "mediaType": "image/tiff", "data": "AAAA"}


def _rule_bodies(flavour: Flavour) -> dict[str, tuple[dict[str, Any], str] | None]:
    """Each rule of docs/api.md's generation request for ``flavour``: the body and how its error starts
    (``None`` where the provider has no model to break the rule with)."""
    on = base(flavour)
    image = {"type": "image", "url": DATA_URL}
    return {
        "a result without an earlier call": (
            {**on, "messages": [ASKED, {"role": "tool", "toolCallId": "nope", "content": "x"}]},
            "messages[1].content[0].callId: no earlier tool call has id 'nope'",
        ),
        "a call id used twice": (
            {**on, "messages": [ASKED, {"role": "assistant", "content": [CALL, CALL]}]},
            "messages[1].content[1].id: tool call id 'call_1' is used twice",
        ),
        "a call left without its result": (
            {**on, "messages": [ASKED, {"role": "assistant", "content": [CALL]}, ASKED]},
            "messages[2]: tool call 'call_1' has no result",
        ),
        "an image type no model takes": (
            {**on, "messages": [{"role": "user", "content": [TIFF]}]},
            "messages[0].content[0].mediaType: image type image/tiff",
        ),
        "an image to a model without vision": None
        if flavour.without_vision is None
        else (
            {**on, "model": flavour.without_vision, "messages": [{"role": "user", "content": [image]}]},
            f"messages[0].content[0]: model '{flavour.without_vision}' does not take images",
        ),
        "tools to a model without tools": None
        if flavour.without_tools is None
        else (
            {**on, "model": flavour.without_tools, "prompt": "x", "tools": [WEATHER]},
            f"tools: model '{flavour.without_tools}' does not take tools",
        ),
        "reasoning to a model without thinking": (
            {**on, "model": flavour.without_thinking, "prompt": "x", "reasoning": {"effort": "low"}},
            f"reasoning: model '{flavour.without_thinking}' does not take a reasoning config",
        ),
        "tool parameters that are not JSON Schema": (
            {**on, "prompt": "x", "tools": [{"name": "t", "parameters": BAD_SCHEMA}]},
            "tools[0].parameters.properties.a.type",
        ),
        "an output schema that is not JSON Schema": (
            {**on, "prompt": "x", "responseFormat": {"type": "json_schema", "schema": {"required": "city"}}},
            "responseFormat.schema.required",
        ),
        "toolChoice required without tools": (
            {**on, "prompt": "x", "toolChoice": "required"},
            "toolChoice 'required' needs tools",
        ),
        "toolChoice naming a tool not offered": (
            {**on, "prompt": "x", "tools": [WEATHER], "toolChoice": {"name": "other"}},
            "toolChoice names tool 'other'",
        ),
        "topP above 1": ({**on, "prompt": "x", "topP": 1.5}, "topP must be greater than 0.0 and at most 1.0"),
    }


RULES = list(_rule_bodies(MOCK))


def rule_cells() -> list[Any]:
    """Every rule on every surface, each time on the next provider (of those with a model that breaks it)."""
    cells = []
    for r, rule in enumerate(RULES):
        for s, surface in enumerate(SURFACES):
            candidates = [f for f in PROVIDERS if _rule_bodies(f)[rule] is not None]
            flavour = candidates[(r + s) % len(candidates)]
            cells.append(pytest.param(rule, flavour, surface, id=f"{rule}-{flavour}-{surface}"))
    return cells


@pytest.mark.parametrize(("rule", "flavour", "surface"), rule_cells())
async def test_each_validation_rule_is_a_400_naming_the_field(
    rule: str, flavour: Flavour, surface: str, server: ServerProcess, bedrock: Bedrock, openai: OpenAI
) -> None:
    case = _rule_bodies(flavour)[rule]
    assert case is not None
    body, says = case
    message = await refused(surface, server, body)
    assert message.startswith(says), message
    assert not bedrock.fake.requests and not openai.fake.requests  # refused before any upstream was called

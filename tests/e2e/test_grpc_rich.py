"""Rich conversations over gRPC, through the real server and the mock provider (docs/grpc-and-websocket.md).

The same GenerateFields as the HTTP door: a two-step tool conversation, a
streamed tool call assembled from its deltas, JSON Schema output, a bad rich
request as INVALID_ARGUMENT naming its field, and the new messages visible to a
client that knows only server reflection.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.descriptor import FieldDescriptor
from grpclib.client import Channel
from grpclib.const import Status

from entrypoints.grpc.generated import proto as pb
from tests.support.grpc_calls import Outcome, call
from tests.support.realtime import realtime_server
from tests.support.server import ServerProcess

GRPCURL = Path(__file__).resolve().parents[1] / "support" / "grpcurl_like.py"
T = FieldDescriptor
WEATHER = pb.Tool(
    name="get_weather",
    description="The weather in a city",
    parameters_json=json.dumps(
        {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    ),
)
TIME = pb.Tool(name="get_time", parameters_json='{"type": "object", "properties": {"zone": {"enum": ["UTC"]}}}')


@pytest.fixture(scope="module")
def gateway() -> Iterator[ServerProcess]:
    with realtime_server() as running:
        yield running


@pytest.fixture
async def channel(gateway: ServerProcess) -> AsyncIterator[Channel]:
    async with Channel("127.0.0.1", gateway.grpc_port) as opened:
        yield opened


def unique(text: str) -> str:
    """A prompt no earlier test sent, so that the cache does not answer it."""
    return f"{text} ({uuid.uuid4().hex[:8]})"


def user(text: str) -> pb.Message:
    return pb.Message(role="user", content=text)


def refused(outcome: Outcome) -> str:
    assert outcome.error is not None, "expected INVALID_ARGUMENT, the call succeeded"
    assert outcome.error.status == Status.INVALID_ARGUMENT, repr(outcome.error)
    return str(outcome.error.message)


async def test_a_two_step_tool_conversation_calls_then_answers_from_the_result(channel: Channel) -> None:
    asked = user(unique("what is the weather? call get_weather"))
    first = (await call(channel, "Generate", pb.GenerateRequest(messages=[asked], tools=[WEATHER]))).reply
    assert first.finish_reason == "tool_calls" and first.content == ""
    [tool_call] = first.tool_calls
    assert tool_call.name == "get_weather" and isinstance(json.loads(tool_call.arguments)["city"], str)

    echoed = pb.Message(role="assistant", parts=[pb.Part(tool_call=tool_call)])
    result = pb.Message(
        role="tool", parts=[pb.Part(tool_result=pb.ToolResult(call_id=tool_call.id, content="18 C and cloudy"))]
    )
    request = pb.GenerateRequest(messages=[asked, echoed, result], tools=[WEATHER])
    final = (await call(channel, "Generate", request)).reply
    assert final.finish_reason == "stop" and not final.tool_calls
    assert "18 C and cloudy" in final.content


async def test_a_streamed_tool_call_arrives_as_deltas_and_the_last_chunk_has_it_whole(channel: Channel) -> None:
    request = pb.GenerateRequest(prompt=unique("get_weather and get_time"), tools=[WEATHER, TIME])
    outcome = await call(channel, "GenerateStream", request)
    assert outcome.error is None, outcome.error
    *chunks, last = outcome.replies
    deltas = [d for c in chunks for d in c.tool_call_deltas]
    assert all(c.content == "" for c in chunks if c.tool_call_deltas)
    assert len(deltas) > len(last.tool_calls) == 2  # the arguments come in more than one fragment

    calls: dict[int, pb.ToolCall] = {}
    for delta in deltas:
        built = calls.setdefault(delta.index, pb.ToolCall())
        built.id, built.name = built.id or delta.id, built.name or delta.name
        built.arguments += delta.arguments
    assert last.finished and last.finish_reason == "tool_calls"
    assert [(c.id, c.name, c.arguments) for c in last.tool_calls] == [
        (calls[i].id, calls[i].name, calls[i].arguments) for i in sorted(calls)
    ]
    assert [c.name for c in last.tool_calls] == ["get_weather", "get_time"]


async def test_json_schema_output_is_an_instance_of_the_schema(channel: Channel) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "temperature": {"type": "number", "minimum": -50}},
        "required": ["city", "temperature"],
        "additionalProperties": False,
    }
    response_format = pb.ResponseFormat(type="json_schema", name="w", schema_json=json.dumps(schema), strict=True)
    request = pb.GenerateRequest(prompt=unique("weather as JSON"), response_format=response_format, top_p=0.5)
    value = json.loads((await call(channel, "Generate", request)).reply.content)
    assert set(value) == {"city", "temperature"} and value["temperature"] >= -50


async def test_reasoning_comes_back_and_is_accepted_on_the_next_turn(channel: Channel) -> None:
    asked = user(unique("think first"))
    request = pb.GenerateRequest(messages=[asked], reasoning=pb.ReasoningConfig(effort="low"))
    first = (await call(channel, "Generate", request)).reply
    [thought] = first.reasoning
    assert thought.text and first.reasoning_tokens > 0

    parts = [pb.Part(reasoning=thought), pb.Part(text=first.content)]
    turn = [asked, pb.Message(role="assistant", parts=parts), user("and then?")]
    again = await call(channel, "Generate", pb.GenerateRequest(messages=turn, reasoning=request.reasoning))
    assert again.error is None, again.error


@pytest.mark.parametrize(
    ("request_message", "named"),
    [
        (pb.GenerateRequest(messages=[pb.Message(role="robot", content="x")]), "messages[0].role"),
        (pb.GenerateRequest(messages=[pb.Message(role="user", parts=[pb.Part()])]), "messages[0].parts[0]"),
        (pb.GenerateRequest(prompt="x", tools=[pb.Tool(name="t", parameters_json="[1]")]), "tools[0].parameters_json"),
        (pb.GenerateRequest(prompt="x", tool_choice=pb.ToolChoice(mode="always")), "tool_choice.mode"),
        (
            pb.GenerateRequest(prompt="x", response_format=pb.ResponseFormat(type="json_schema", schema_json="{")),
            "response_format.schema_json",
        ),
        (pb.GenerateRequest(prompt="x", tool_choice=pb.ToolChoice(mode="required")), "toolChoice 'required'"),
        (
            pb.GenerateRequest(
                messages=[user("hi"), pb.Message(role="tool", parts=[pb.Part(tool_result=pb.ToolResult(call_id="c"))])]
            ),
            "messages[1]",
        ),
    ],
)
async def test_a_bad_rich_request_is_invalid_argument_naming_the_field(
    channel: Channel, request_message: pb.GenerateRequest, named: str
) -> None:
    assert named in refused(await call(channel, "Generate", request_message))


def test_a_nested_field_of_the_wrong_wire_type_is_invalid_argument_naming_its_path(gateway: ServerProcess) -> None:
    role_as_varint = b"\x08\x05"
    raw = b"\x42" + bytes([len(role_as_varint)]) + role_as_varint  # messages (8) holding role (1) as a varint
    with grpc.insecure_channel(f"127.0.0.1:{gateway.grpc_port}") as opened:
        generate = opened.unary_unary("/proto.AIService/Generate", request_serializer=None, response_deserializer=None)
        with pytest.raises(grpc.RpcError) as raised:
            generate(raw, timeout=10)

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "messages.role" in str(raised.value.details())


def grpcurl(gateway: ServerProcess, *args: str) -> list[Any]:
    done = subprocess.run(
        [sys.executable, str(GRPCURL), f"127.0.0.1:{gateway.grpc_port}", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


RICH_FIELDS = {
    "proto.GenerateRequest": {
        "messages": [8, T.TYPE_MESSAGE],
        "tools": [9, T.TYPE_MESSAGE],
        "tool_choice": [10, T.TYPE_MESSAGE],
        "response_format": [11, T.TYPE_MESSAGE],
        "top_p": [12, T.TYPE_FLOAT],
        "stop": [13, T.TYPE_STRING],
        "seed": [14, T.TYPE_INT64],
        "reasoning": [15, T.TYPE_MESSAGE],
        "parallel_tool_calls": [16, T.TYPE_BOOL],
    },
    "proto.GenerateResponse": {
        "tool_calls": [15, T.TYPE_MESSAGE],
        "reasoning": [16, T.TYPE_MESSAGE],
        "cache_read_input_tokens": [17, T.TYPE_INT32],
        "cache_write_input_tokens": [18, T.TYPE_INT32],
        "reasoning_tokens": [19, T.TYPE_INT32],
    },
    "proto.StreamChunk": {"tool_call_deltas": [17, T.TYPE_MESSAGE], "reasoning_delta": [18, T.TYPE_MESSAGE]},
    "proto.Part": {
        "text": [1, T.TYPE_STRING],
        "image": [2, T.TYPE_MESSAGE],
        "tool_call": [3, T.TYPE_MESSAGE],
        "tool_result": [4, T.TYPE_MESSAGE],
        "reasoning": [5, T.TYPE_MESSAGE],
    },
    "proto.Image": {"media_type": [1, T.TYPE_STRING], "data": [2, T.TYPE_BYTES], "url": [3, T.TYPE_STRING]},
    "proto.ToolCallDelta": {
        "index": [1, T.TYPE_INT32],
        "id": [2, T.TYPE_STRING],
        "name": [3, T.TYPE_STRING],
        "arguments": [4, T.TYPE_STRING],
    },
}


@pytest.mark.parametrize("message", list(RICH_FIELDS))
def test_reflection_describes_the_rich_messages_and_fields(gateway: ServerProcess, message: str) -> None:
    [described] = grpcurl(gateway, "describe", message)

    assert {name: described["fields"][name] for name in RICH_FIELDS[message]} == RICH_FIELDS[message]


def test_a_rich_request_built_from_reflection_and_json(gateway: ServerProcess) -> None:
    tool = {"name": "get_time", "parametersJson": '{"type": "object", "properties": {}}'}
    body = json.dumps({"messages": [{"role": "user", "parts": [{"text": unique("get_time")}]}], "tools": [tool]})

    reply, status = grpcurl(gateway, "call", "proto.AIService/Generate", "-d", body)

    assert status["status"] == "OK"
    assert [c["name"] for c in reply["reply"]["toolCalls"]] == ["get_time"]

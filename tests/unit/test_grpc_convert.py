"""Translation of gRPC requests into the domain's request fields."""

from __future__ import annotations

import base64
import json
import re
import struct

import msgspec
import pytest

from domain.errors import InvalidRequest
from entrypoints.grpc.convert import request_fields, shortest_float32
from entrypoints.grpc.generated import proto as pb
from entrypoints.native_json import GenerateBody


def as_float32(value: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", value))[0])


@pytest.mark.parametrize("meant", [0.0, 0.1, 0.3, 0.7, 1.0, 1.25, 1.9, 2.0, 0.123457])
def test_a_float32_temperature_reads_as_the_decimal_the_client_wrote(meant: float) -> None:
    assert as_float32(meant) != meant or meant in (0.0, 1.0, 1.25, 2.0)
    assert shortest_float32(as_float32(meant)) == meant


def test_proto3_empty_strings_and_absent_optionals_mean_not_given() -> None:
    fields = request_fields(pb.GenerateRequest(prompt="hi"))

    assert fields.prompt == "hi"
    assert fields.model is fields.provider is fields.max_tokens is fields.temperature is None
    assert fields.system is fields.system_prompt is None


def test_an_explicit_zero_temperature_is_kept() -> None:
    decoded = pb.GenerateRequest.FromString(bytes(pb.GenerateRequest(prompt="x", temperature=0.0)))

    assert request_fields(decoded).temperature == 0.0


def test_both_system_spellings_are_passed_on_for_validation_to_choose() -> None:
    fields = request_fields(pb.GenerateRequest(prompt="x", system="short", system_prompt="long"))

    assert (fields.system, fields.system_prompt) == ("short", "long")


def test_a_rich_request_gives_the_same_fields_as_the_same_request_over_http() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    over_grpc = pb.GenerateRequest(
        messages=[
            pb.Message(
                role="user", parts=[pb.Part(text="look"), pb.Part(image=pb.Image(media_type="image/png", data=b"x"))]
            ),
            pb.Message(
                role="assistant",
                parts=[
                    pb.Part(reasoning=pb.Reasoning(text="hm", signature="s")),
                    pb.Part(tool_call=pb.ToolCall(id="c1", name="get_weather", arguments='{"city":"Lima"}')),
                ],
            ),
            pb.Message(role="tool", parts=[pb.Part(tool_result=pb.ToolResult(call_id="c1", content="sunny"))]),
        ],
        tools=[pb.Tool(name="get_weather", description="d", parameters_json=json.dumps(schema))],
        tool_choice=pb.ToolChoice(name="get_weather"),
        response_format=pb.ResponseFormat(type="json_schema", name="w", schema_json=json.dumps(schema), strict=True),
        top_p=0.9,
        stop=["END"],
        seed=7,
        reasoning=pb.ReasoningConfig(effort="low"),
        parallel_tool_calls=False,
    )
    over_http = msgspec.convert(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "look"},
                        {"type": "image", "mediaType": "image/png", "data": base64.b64encode(b"x").decode()},
                    ],
                },
                {
                    "role": "assistant",
                    "content": [
                        {"type": "reasoning", "text": "hm", "signature": "s"},
                        {"type": "toolCall", "id": "c1", "name": "get_weather", "arguments": '{"city":"Lima"}'},
                    ],
                },
                {"role": "tool", "toolCallId": "c1", "content": "sunny"},
            ],
            "tools": [{"name": "get_weather", "description": "d", "parameters": schema}],
            "toolChoice": {"name": "get_weather"},
            "responseFormat": {"type": "json_schema", "name": "w", "schema": schema, "strict": True},
            "topP": 0.9,
            "stop": "END",
            "seed": 7,
            "reasoning": {"effort": "low"},
            "parallelToolCalls": False,
        },
        GenerateBody,
    ).fields()

    assert request_fields(over_grpc) == msgspec.structs.replace(over_http, prompt="")


@pytest.mark.parametrize(
    ("request_message", "named"),
    [
        (pb.GenerateRequest(messages=[pb.Message(role="", content="x")]), "messages[0].role"),
        (pb.GenerateRequest(messages=[pb.Message(role="user", content="x", parts=[pb.Part(text="y")])]), "messages[0]"),
        (pb.GenerateRequest(tools=[pb.Tool(name="t", parameters_json="nope")]), "tools[0].parameters_json"),
        (pb.GenerateRequest(response_format=pb.ResponseFormat(type="yaml")), "response_format.type"),
        (pb.GenerateRequest(reasoning=pb.ReasoningConfig(effort="max")), "reasoning.effort"),
    ],
)
def test_a_rich_field_the_proto_alone_has_is_refused_in_the_protos_spelling(
    request_message: pb.GenerateRequest, named: str
) -> None:
    with pytest.raises(InvalidRequest, match=re.escape(named)):
        request_fields(request_message)

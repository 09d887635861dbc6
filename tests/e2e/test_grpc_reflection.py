"""Off-the-shelf clients that know nothing of our code, only server reflection (docs/api.md#grpc).

``grpcurl_like.py`` (grpcio + grpcio-reflection, in its own process like grpcurl)
lists, describes and calls the service with messages built from the descriptors
it received; raw grpcio calls check the v1 reflection service and malformed input.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import FieldDescriptor
from grpclib.reflection.v1 import reflection_pb2 as reflection_v1

from tests.support.realtime import realtime_server
from tests.support.server import ServerProcess

GRPCURL = Path(__file__).resolve().parents[1] / "support" / "grpcurl_like.py"
T = FieldDescriptor

# The first published contract: message -> field -> [number, type]. Existing clients depend on it.
ORIGINAL_FIELDS = {
    "proto.GenerateRequest": {
        "prompt": [1, T.TYPE_STRING],
        "system_prompt": [2, T.TYPE_STRING],
        "model": [3, T.TYPE_STRING],
        "provider": [4, T.TYPE_STRING],
        "max_tokens": [5, T.TYPE_INT32],
        "temperature": [6, T.TYPE_FLOAT],
        "system": [7, T.TYPE_STRING],
    },
    "proto.GenerateResponse": {
        "content": [1, T.TYPE_STRING],
        "model": [2, T.TYPE_STRING],
        "provider": [3, T.TYPE_STRING],
        "tokens_used": [4, T.TYPE_INT32],
        "duration": [5, T.TYPE_INT64],
        "metadata": [6, T.TYPE_MESSAGE],
    },
    "proto.StreamChunk": {
        "content": [1, T.TYPE_STRING],
        "index": [2, T.TYPE_INT32],
        "finished": [3, T.TYPE_BOOL],
        "timestamp": [4, T.TYPE_INT64],
    },
    "proto.Model": {
        "id": [1, T.TYPE_STRING],
        "name": [2, T.TYPE_STRING],
        "provider": [3, T.TYPE_STRING],
        "max_tokens": [4, T.TYPE_INT32],
        "description": [5, T.TYPE_STRING],
        "capabilities": [6, T.TYPE_STRING],
    },
}


@pytest.fixture(scope="module")
def gateway() -> Iterator[ServerProcess]:
    with realtime_server() as running:
        yield running


@pytest.fixture(scope="module")
def channel(gateway: ServerProcess) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{gateway.grpc_port}") as opened:
        yield opened


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


def test_list_shows_the_service(gateway: ServerProcess) -> None:
    [services] = grpcurl(gateway, "list")

    assert "proto.AIService" in services


def test_describe_shows_the_four_methods(gateway: ServerProcess) -> None:
    [service] = grpcurl(gateway, "describe", "proto.AIService")

    assert list(service["methods"]) == ["Generate", "GenerateStream", "ListModels", "GetStatus"]
    assert service["methods"]["GenerateStream"] == {
        "input": "proto.GenerateRequest",
        "output": "proto.StreamChunk",
        "serverStreaming": True,
    }


@pytest.mark.parametrize("message", list(ORIGINAL_FIELDS))
def test_described_messages_keep_the_original_field_numbers_and_types(gateway: ServerProcess, message: str) -> None:
    [described] = grpcurl(gateway, "describe", message)

    assert {name: described["fields"][name] for name in ORIGINAL_FIELDS[message]} == ORIGINAL_FIELDS[message]


def test_generate_with_a_request_built_from_reflection_and_json(gateway: ServerProcess) -> None:
    body = json.dumps({"prompt": "hola mundo", "systemPrompt": "eres breve", "maxTokens": 50, "temperature": 0.2})

    reply, status = grpcurl(gateway, "call", "proto.AIService/Generate", "-d", body, "-H", "x-request-id:grpcurl-1")

    answer = reply["reply"]
    assert answer["content"] == "Mock answer (turn 1): hola mundo [system: eres breve ]"
    assert answer["provider"] == "mock" and answer["tokensUsed"] > 0
    assert answer["requestId"] == "grpcurl-1"
    assert status == {"status": "OK", "trailing": {"x-request-id": "grpcurl-1"}}


def test_generate_stream_with_a_request_built_from_reflection(gateway: ServerProcess) -> None:
    *replies, status = grpcurl(gateway, "call", "proto.AIService/GenerateStream", "-d", '{"prompt": "uno dos tres"}')

    chunks = [r["reply"] for r in replies]
    assert "".join(c.get("content", "") for c in chunks) == "Mock answer (turn 1): uno dos tres"
    assert chunks[-1]["finished"] is True and chunks[-1]["totalTokens"] > 0
    assert not any(c.get("finished") for c in chunks[:-1])
    assert status["status"] == "OK"


def test_list_models_and_get_status_through_reflection(gateway: ServerProcess) -> None:
    models, _ = grpcurl(gateway, "call", "proto.AIService/ListModels", "-d", "{}")
    status, _ = grpcurl(gateway, "call", "proto.AIService/GetStatus")

    assert "mock-1" in [m["id"] for m in models["reply"]["models"]]
    assert status["reply"]["status"] == "healthy" and "mock" in status["reply"]["providers"]


def test_an_invalid_request_comes_back_as_a_readable_status(gateway: ServerProcess) -> None:
    [status] = grpcurl(gateway, "call", "proto.AIService/Generate", "-d", '{"prompt": "x", "temperature": 7}')

    assert status["status"] == "INVALID_ARGUMENT"
    assert "temperature" in status["details"]
    assert status["trailing"]["x-error-code"] == "invalid_request"


def test_reflection_v1_lists_the_service_and_serves_its_file(channel: grpc.Channel) -> None:
    info = channel.stream_stream(
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        request_serializer=reflection_v1.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_v1.ServerReflectionResponse.FromString,
    )
    requests = [
        reflection_v1.ServerReflectionRequest(list_services=""),
        reflection_v1.ServerReflectionRequest(file_containing_symbol="proto.AIService"),
    ]
    listed, described = list(info(iter(requests), timeout=10))

    assert "proto.AIService" in [s.name for s in listed.list_services_response.service]
    file = descriptor_pb2.FileDescriptorProto.FromString(described.file_descriptor_response.file_descriptor_proto[0])
    assert file.package == "proto"
    assert [m.name for m in file.service[0].method] == ["Generate", "GenerateStream", "ListModels", "GetStatus"]


def test_bytes_that_are_not_a_message_are_invalid_argument(channel: grpc.Channel) -> None:
    raw = channel.unary_unary("/proto.AIService/Generate", request_serializer=None, response_deserializer=None)

    with pytest.raises(grpc.RpcError) as raised:
        raw(b"\xff\xff\xff\xff", timeout=10)

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_an_unknown_method_is_unimplemented(channel: grpc.Channel) -> None:
    raw = channel.unary_unary("/proto.AIService/Nope", request_serializer=None, response_deserializer=None)

    with pytest.raises(grpc.RpcError) as raised:
        raw(b"", timeout=10)

    assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED

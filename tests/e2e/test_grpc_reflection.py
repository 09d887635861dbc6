"""An off-the-shelf client that knows nothing of our code: grpcio plus server reflection (SPEC §6).

It discovers the service the way grpcurl does (``list``, ``describe``), builds
the messages from the descriptors it received, fills them from JSON like
``grpcurl -d``, and calls the RPCs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pb2, json_format, message_factory
from google.protobuf.descriptor import FieldDescriptor, MethodDescriptor
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from grpclib.reflection.v1 import reflection_pb2 as reflection_v1

from tests.e2e.realtime import realtime_server
from tests.e2e.server import ServerProcess

# The original's contract (seed notes §4.2): message -> field -> (number, type). Existing clients depend on it.
ORIGINAL_FIELDS = {
    "proto.GenerateRequest": {
        "prompt": (1, FieldDescriptor.TYPE_STRING),
        "system_prompt": (2, FieldDescriptor.TYPE_STRING),
        "model": (3, FieldDescriptor.TYPE_STRING),
        "provider": (4, FieldDescriptor.TYPE_STRING),
        "max_tokens": (5, FieldDescriptor.TYPE_INT32),
        "temperature": (6, FieldDescriptor.TYPE_FLOAT),
        "system": (7, FieldDescriptor.TYPE_STRING),
    },
    "proto.GenerateResponse": {
        "content": (1, FieldDescriptor.TYPE_STRING),
        "model": (2, FieldDescriptor.TYPE_STRING),
        "provider": (3, FieldDescriptor.TYPE_STRING),
        "tokens_used": (4, FieldDescriptor.TYPE_INT32),
        "duration": (5, FieldDescriptor.TYPE_INT64),
        "metadata": (6, FieldDescriptor.TYPE_MESSAGE),
    },
    "proto.StreamChunk": {
        "content": (1, FieldDescriptor.TYPE_STRING),
        "index": (2, FieldDescriptor.TYPE_INT32),
        "finished": (3, FieldDescriptor.TYPE_BOOL),
        "timestamp": (4, FieldDescriptor.TYPE_INT64),
    },
    "proto.Model": {
        "id": (1, FieldDescriptor.TYPE_STRING),
        "name": (2, FieldDescriptor.TYPE_STRING),
        "provider": (3, FieldDescriptor.TYPE_STRING),
        "max_tokens": (4, FieldDescriptor.TYPE_INT32),
        "description": (5, FieldDescriptor.TYPE_STRING),
        "capabilities": (6, FieldDescriptor.TYPE_STRING),
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


@pytest.fixture(scope="module")
def pool(channel: grpc.Channel) -> DescriptorPool:
    return DescriptorPool(ProtoReflectionDescriptorDatabase(channel))


def method(pool: DescriptorPool, name: str) -> MethodDescriptor:
    found: MethodDescriptor = pool.FindServiceByName("proto.AIService").FindMethodByName(name)
    return found


def unary(channel: grpc.Channel, rpc: MethodDescriptor) -> Any:
    request_class = message_factory.GetMessageClass(rpc.input_type)
    reply_class = message_factory.GetMessageClass(rpc.output_type)
    path = f"/{rpc.containing_service.full_name}/{rpc.name}"
    return request_class, channel.unary_unary(
        path, request_serializer=request_class.SerializeToString, response_deserializer=reply_class.FromString
    )


def test_reflection_v1alpha_lists_the_service(channel: grpc.Channel) -> None:
    services = list(ProtoReflectionDescriptorDatabase(channel).get_services())

    assert "proto.AIService" in services


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


def test_described_messages_keep_the_original_field_numbers_and_types(pool: DescriptorPool) -> None:
    for message_name, fields in ORIGINAL_FIELDS.items():
        descriptor = pool.FindMessageTypeByName(message_name)
        found = {
            name: (descriptor.fields_by_name[name].number, descriptor.fields_by_name[name].type) for name in fields
        }
        assert found == fields, message_name
    assert method(pool, "GenerateStream").server_streaming


def test_generate_with_a_message_built_from_reflection_and_json(channel: grpc.Channel, pool: DescriptorPool) -> None:
    request_class, generate = unary(channel, method(pool, "Generate"))
    request = json_format.ParseDict(
        {"prompt": "hola mundo", "systemPrompt": "eres breve", "maxTokens": 50, "temperature": 0.2}, request_class()
    )

    reply, state = generate.with_call(request, metadata=[("x-request-id", "grpcurl-1")], timeout=10)
    answer = json_format.MessageToDict(reply)

    assert answer["content"] == "Mock answer (turn 1): hola mundo [system: eres breve ]"
    assert answer["provider"] == "mock" and answer["tokensUsed"] > 0
    assert answer["requestId"] == "grpcurl-1"
    assert ("x-request-id", "grpcurl-1") in tuple(state.trailing_metadata())


def test_generate_stream_with_a_message_built_from_reflection(channel: grpc.Channel, pool: DescriptorPool) -> None:
    rpc = method(pool, "GenerateStream")
    request_class = message_factory.GetMessageClass(rpc.input_type)
    chunk_class = message_factory.GetMessageClass(rpc.output_type)
    stream = channel.unary_stream(
        "/proto.AIService/GenerateStream",
        request_serializer=request_class.SerializeToString,
        response_deserializer=chunk_class.FromString,
    )

    chunks = [json_format.MessageToDict(c) for c in stream(request_class(prompt="uno dos tres"), timeout=10)]

    assert "".join(c.get("content", "") for c in chunks) == "Mock answer (turn 1): uno dos tres"
    assert chunks[-1]["finished"] is True and chunks[-1]["totalTokens"] > 0
    assert not any(c.get("finished") for c in chunks[:-1])


def test_list_models_and_get_status_through_reflection(channel: grpc.Channel, pool: DescriptorPool) -> None:
    models_request, list_models = unary(channel, method(pool, "ListModels"))
    status_request, get_status = unary(channel, method(pool, "GetStatus"))

    models = json_format.MessageToDict(list_models(models_request(), timeout=10))
    status = json_format.MessageToDict(get_status(status_request(), timeout=10))

    assert "mock-1" in [m["id"] for m in models["models"]]
    assert status["status"] == "healthy" and "mock" in status["providers"]


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

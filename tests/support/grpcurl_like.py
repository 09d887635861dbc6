"""A tiny grpcurl: a gRPC client that knows nothing of the gateway's code, only what reflection tells it.

    python tests/support/grpcurl_like.py HOST:PORT list
    python tests/support/grpcurl_like.py HOST:PORT describe SYMBOL
    python tests/support/grpcurl_like.py HOST:PORT call SERVICE/METHOD [-d JSON] [-H name:value ...]

It discovers descriptors with grpcio-reflection's ``ProtoReflectionDescriptorDatabase``,
builds message classes from them, fills requests from JSON the way ``grpcurl -d`` does,
and prints JSON: one line per reply, then a line with the status and trailing metadata.
It runs as its own process, as grpcurl would, so its descriptor pool is its own.
Like grpcurl's ``-H``, each header goes with every RPC, reflection included
(a gateway with API keys wants the key there too).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import grpc
from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import Descriptor, MethodDescriptor, ServiceDescriptor
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase


def describe(pool: DescriptorPool, symbol: str) -> dict[str, Any]:
    try:
        service: ServiceDescriptor = pool.FindServiceByName(symbol)
    except KeyError:
        message: Descriptor = pool.FindMessageTypeByName(symbol)
        return {"message": message.full_name, "fields": {f.name: [f.number, f.type] for f in message.fields}}
    return {
        "service": service.full_name,
        "methods": {
            m.name: {
                "input": m.input_type.full_name,
                "output": m.output_type.full_name,
                "serverStreaming": m.server_streaming,
            }
            for m in service.methods
        },
    }


class WithHeaders(
    grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor, grpc.StreamStreamClientInterceptor
):
    """Adds the ``-H`` headers to the metadata of every call made on the channel."""

    def __init__(self, headers: list[str]) -> None:
        self._metadata = [tuple(h.split(":", 1)) for h in headers]

    def _with_headers(self, details: Any) -> Any:
        return details._replace(metadata=[*(details.metadata or ()), *self._metadata])

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._with_headers(details), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._with_headers(details), request)

    def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._with_headers(details), requests)


def call(channel: grpc.Channel, pool: DescriptorPool, target: str, data: str) -> None:
    service_name, method_name = target.rsplit("/", 1)
    method: MethodDescriptor = pool.FindServiceByName(service_name).FindMethodByName(method_name)
    request_class = message_factory.GetMessageClass(method.input_type)
    reply_class = message_factory.GetMessageClass(method.output_type)
    request = json_format.Parse(data or "{}", request_class())
    path = f"/{service_name}/{method_name}"
    kind = channel.unary_stream if method.server_streaming else channel.unary_unary
    rpc = kind(path, request_serializer=request_class.SerializeToString, response_deserializer=reply_class.FromString)
    try:
        if method.server_streaming:
            replies = rpc(request, timeout=30)
            for reply in replies:
                _print({"reply": json_format.MessageToDict(reply)})
            state: Any = replies
        else:
            reply, state = rpc.with_call(request, timeout=30)
            _print({"reply": json_format.MessageToDict(reply)})
        _print({"status": "OK", "trailing": dict(state.trailing_metadata() or ())})
    except grpc.RpcError as error:
        trailing = dict(error.trailing_metadata() or ())  # type: ignore[attr-defined]
        _print({"status": error.code().name, "details": error.details(), "trailing": trailing})  # type: ignore[attr-defined]


def _print(value: object) -> None:
    print(json.dumps(value), flush=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="grpcurl_like")
    parser.add_argument("address")
    parser.add_argument("verb", choices=["list", "describe", "call"])
    parser.add_argument("symbol", nargs="?", default="")
    parser.add_argument("-d", dest="data", default="")
    parser.add_argument("-H", dest="headers", action="append", default=[])
    args = parser.parse_args(argv)
    with grpc.insecure_channel(args.address) as plain:
        channel = grpc.intercept_channel(plain, WithHeaders(args.headers))
        database = ProtoReflectionDescriptorDatabase(channel)
        pool = DescriptorPool(database)
        try:
            if args.verb == "list":
                _print(sorted(database.get_services()))
            elif args.verb == "describe":
                _print(describe(pool, args.symbol))
            else:
                call(channel, pool, args.symbol, args.data)
        except grpc.RpcError as error:  # reflection itself refused: say how, as grpcurl does, and fail
            _print({"status": error.code().name, "details": error.details()})  # type: ignore[attr-defined]
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

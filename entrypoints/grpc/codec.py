"""The protobuf codec with the message size limit of ``GRPC_MAX_MESSAGE_BYTES``.

grpclib has no size limit of its own. A message over the limit, either way, ends
the call with RESOURCE_EXHAUSTED (as grpc-go and grpc-java do); bytes that are
not a valid message end it with INVALID_ARGUMENT instead of an internal error.
"""

from __future__ import annotations

from typing import Any

from grpclib.const import Status
from grpclib.encoding.proto import ProtoCodec
from grpclib.exceptions import GRPCError


class SizeLimitedProtoCodec(ProtoCodec):
    def __init__(self, max_message_bytes: int) -> None:
        self._max = max_message_bytes

    def encode(self, message: Any, message_type: Any) -> bytes:
        data = super().encode(message, message_type)
        if len(data) > self._max:
            raise GRPCError(
                Status.RESOURCE_EXHAUSTED,
                f"response message of {len(data)} bytes exceeds the limit of {self._max} bytes",
            )
        return data

    def decode(self, data: bytes, message_type: Any) -> Any:
        if len(data) > self._max:
            raise GRPCError(
                Status.RESOURCE_EXHAUSTED,
                f"request message of {len(data)} bytes exceeds the limit of {self._max} bytes",
            )
        try:
            return super().decode(data, message_type)
        except Exception as exc:  # any parser failure means the client sent garbage
            raise GRPCError(Status.INVALID_ARGUMENT, "request is not a valid protobuf message") from exc

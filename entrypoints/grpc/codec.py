"""The protobuf codec with the message size limit of ``GRPC_MAX_MESSAGE_BYTES``.

grpclib has no size limit of its own. A message over the limit, either way, ends
the call with RESOURCE_EXHAUSTED (as grpc-go and grpc-java do); bytes that are
not a valid message end it with INVALID_ARGUMENT instead of an internal error.

betterproto2 does not check a field's wire type against its declared type: a
``prompt`` sent as a varint arrived as the int ``5``, a ``max_tokens`` sent
length-delimited as a list, and validation then failed with an internal error
(found by the parser fuzzing, docs/reliability.md#parser-fuzzing). The codec
checks the wire type of every known field first, in nested messages too (a
rich request's messages, parts and tools), and refuses a mismatch as
INVALID_ARGUMENT naming the field's path.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

import betterproto2
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
            mismatch = _field_of_wrong_wire_type(data, message_type)
            message = super().decode(data, message_type)
        except Exception as exc:  # any parser failure means the client sent garbage
            raise GRPCError(Status.INVALID_ARGUMENT, "request is not a valid protobuf message") from exc
        if mismatch is not None:
            raise GRPCError(Status.INVALID_ARGUMENT, f"request field {mismatch} has the wrong wire type")
        return message


_WIRE_TYPES = {
    **dict.fromkeys(betterproto2.WIRE_VARINT_TYPES, betterproto2.WIRE_VARINT),
    **dict.fromkeys(betterproto2.WIRE_FIXED_32_TYPES, betterproto2.WIRE_FIXED_32),
    **dict.fromkeys(betterproto2.WIRE_FIXED_64_TYPES, betterproto2.WIRE_FIXED_64),
    **dict.fromkeys(betterproto2.WIRE_LEN_DELIM_TYPES, betterproto2.WIRE_LEN_DELIM),
}


def _field_of_wrong_wire_type(data: bytes, message_type: Any) -> str | None:
    """The path of the first known field whose wire type its declared type cannot have (packed repeated scalars
    allowed), looking into nested messages.

    Only betterproto2 messages need it: the reflection service's messages are protobuf's own, which check.
    """
    meta = getattr(message_type, "_betterproto", None)
    if meta is None:
        return None
    for parsed in betterproto2.load_fields(BytesIO(data)):
        name: str | None = meta.field_name_by_number.get(parsed.number)
        if name is None:
            continue  # an unknown field is skipped, as protobuf does
        field = meta.meta_by_field_name[name]
        packed = field.repeated and field.proto_type in betterproto2.PACKED_TYPES
        if parsed.wire_type != _WIRE_TYPES.get(field.proto_type) and not (
            packed and parsed.wire_type == betterproto2.WIRE_LEN_DELIM
        ):
            return name
        if field.proto_type == betterproto2.TYPE_MESSAGE and field.map_meta is None:
            inner = _field_of_wrong_wire_type(parsed.value, meta.cls_by_field[name])
            if inner is not None:
                return f"{name}.{inner}"
    return None

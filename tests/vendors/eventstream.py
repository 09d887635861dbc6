"""A small encoder for AWS event-stream framing (``application/vnd.amazon.eventstream``).

Neither botocore nor awscrt ships an encoder for Python, so the fake Bedrock
server frames its stream events here. One message is::

    prelude:  total length (uint32) | headers length (uint32) | CRC32 of those 8 bytes
    headers:  name length (uint8) | name | value type (7 = string) | value length (uint16) | value
    payload
    CRC32 of everything before it

botocore's own ``EventStreamBuffer`` decodes what this produces, which the
tests of this package check.
"""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any

_STRING = 7
_PRELUDE = struct.Struct(">II")
_CRC = struct.Struct(">I")


def encode_headers(headers: dict[str, str]) -> bytes:
    out = bytearray()
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        out += struct.pack(">B", len(raw_name)) + raw_name
        out += struct.pack(">BH", _STRING, len(raw_value)) + raw_value
    return bytes(out)


def encode_message(headers: dict[str, str], payload: bytes) -> bytes:
    raw_headers = encode_headers(headers)
    total = _PRELUDE.size + _CRC.size + len(raw_headers) + len(payload) + _CRC.size
    prelude = _PRELUDE.pack(total, len(raw_headers))
    body = prelude + _CRC.pack(zlib.crc32(prelude)) + raw_headers + payload
    return body + _CRC.pack(zlib.crc32(body))


def event(event_type: str, payload: dict[str, Any]) -> bytes:
    """An ``event`` frame, as Bedrock sends ``messageStart``, ``contentBlockDelta``, ..."""
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return encode_message(headers, json.dumps(payload).encode())


def exception(exception_type: str, message: str) -> bytes:
    """An ``exception`` frame (``throttlingException``, ``modelStreamErrorException``, ...)."""
    headers = {
        ":exception-type": exception_type,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return encode_message(headers, json.dumps({"message": message}).encode())

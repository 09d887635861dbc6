"""A bound on how deeply client JSON may nest, checked before it is decoded.

msgspec decodes nested arrays and objects recursively, unknown fields
included, and gives up with ``RecursionError`` near Python's recursion limit:
2 KB of ``[`` made every JSON route answer 500, and a deep WebSocket ``id``,
echoed in every frame, would have failed the encoder too. Bodies and frames
nested deeper than ``MAX_JSON_DEPTH`` are refused as invalid requests
instead; no request the gateway understands nests deeper than four levels.

Cost: two ``bytes.count`` calls for ordinary requests (``MAX_JSON_DEPTH``
brackets or fewer cannot nest deeper). Past that, all in C and linear: string
contents are cut out (a split on quotes once escapes are dropped), the rest
reduced to its brackets, and one possessive regular expression, which cannot
backtrack, consumes bracket groups up to ``MAX_JSON_DEPTH`` deep. Where it
stops at an opening bracket, that group is too deep or never closed; where it
stops at a closing one, the decoder fails there by itself. Outside strings
this view is exactly the decoder's up to its first syntax error, so nothing
the decoder would descend into is missed.
"""

from __future__ import annotations

import re

MAX_JSON_DEPTH = 64
TOO_DEEP_MESSAGE = f"JSON nests deeper than {MAX_JSON_DEPTH} levels, or leaves an array or object open"

_AS_SQUARE = bytes.maketrans(b"{}", b"[]")  # only the depth matters, not which bracket
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")
_OPEN = ord("[")


def _groups_up_to(depth: int) -> re.Pattern[bytes]:
    pattern = b""
    for _ in range(depth):
        pattern = rb"(?:\[" + pattern + rb"\])*+"
    return re.compile(pattern)


_GROUPS = _groups_up_to(MAX_JSON_DEPTH)


def json_too_deep(raw: str | bytes) -> bool:
    """Whether ``raw`` nests arrays and objects deeper than ``MAX_JSON_DEPTH`` (decoders refuse it then)."""
    if isinstance(raw, str):
        if raw.count("[") + raw.count("{") <= MAX_JSON_DEPTH:
            return False
        raw = raw.encode()
    elif raw.count(b"[") + raw.count(b"{") <= MAX_JSON_DEPTH:
        return False
    shape = _outside_strings(raw).translate(_AS_SQUARE, _NOT_BRACKETS)
    end = _GROUPS.match(shape).end()  # type: ignore[union-attr]  # a pattern of starred groups always matches
    return end < len(shape) and shape[end] == _OPEN


def _outside_strings(raw: bytes) -> bytes:
    if b'"' not in raw:
        return raw
    if b"\\" in raw:  # ``\\`` first, so that the quote of ``"a\\"`` still ends its string
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    return b"".join(raw.split(b'"')[::2])
